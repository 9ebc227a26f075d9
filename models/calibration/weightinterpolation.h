#pragma once
// A model between two others in weight space: the starting weights and a fine-tune of them.
// Interpolating a fine-tuned network back towards the weights it started from keeps more of
// what the start knew while keeping most of what the fine-tune learnt (Wortsman et al.,
// "Robust fine-tuning of zero-shot models", CVPR 2022, "WiSE-FT"). On 400 labels of a lab
// the fine-tune alone is unstable from seed to seed (docs/MODEL.md, "Calibrating to a lab").
// No torch in this header.

#include "classifier.h"

#include <QString>

namespace ml {

/// A native model whose every parameter and buffer (BatchNorm statistics included) is
/// `startShare` * start's + (1 - startShare) * adapted's; integer buffers (BatchNorm's batch
/// counter) are taken from `adapted`. Both must be native models of the same architecture
/// (a fine-tune of `start` is). The card is `adapted`'s. On a mismatch returns an unloaded
/// Classifier and says why in `error`. Never throws.
Classifier interpolateWeights(const Classifier& start, const Classifier& adapted, double startShare,
                              QString* error = nullptr);

} // namespace ml
