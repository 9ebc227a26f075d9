#pragma once
// BatchNorm statistics recomputed on clean cells after each epoch ("precise BN").
//
// Why: during training every BatchNorm layer normalises with the statistics of its own batch
// of *augmented* cells, and keeps an exponential average (momentum 0.1) of them, dominated by
// the last ~20 batches of the epoch. With the cross-lab augmentation (stain, gamma, blur,
// noise, JPEG) those batches look unlike the clean cells the model sees in use. Measured on
// the two-lab training (docs/MODEL.md, "Across labs"): the validation accuracy in eval mode
// fell to the parasitized share (0.42) every 2-3 epochs while the training accuracy rose
// steadily. Averaging the statistics over a few thousand clean training cells makes the eval
// mode normalise clean cells as a batch of clean cells would be normalised in training.

#include "networks.h"

#include <functional>

namespace ml {

/// Resets the running mean and variance of every BatchNorm layer of `net` and recomputes them
/// as the plain average over `batches` forward passes of `batch(i)` (i = 0..batches-1) in
/// training mode, without gradients. The layers' momentum is restored afterwards; `net` is
/// left in training mode. Returns the number of BatchNorm layers updated (0: nothing to do,
/// `batch` is not called).
int recomputeBatchNormStatistics(CellNetImpl& net, const std::function<torch::Tensor(int)>& batch,
                                 int batches);

} // namespace ml
