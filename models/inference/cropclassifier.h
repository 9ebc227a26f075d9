#pragma once
// The field pipeline's classifier (core/fields has no torch; it takes a CropClassifier): one
// wrapper of a Classifier for the CLI's segment, the Fields page and the lab calibration, so
// all three see a cell exactly alike.

#include "classifier.h"
#include "fieldanalysis.h"

namespace ml {

/// Cell crops (8-bit BGR, as cellCrop() cuts them) -> preprocessImage() -> `classifier`'s
/// P(Parasitized), one per crop. Holds a copy of `classifier` (shared weights); safe to call
/// from one thread at a time per copy, like Classifier::predict().
CropClassifier cellCropClassifier(const Classifier& classifier);

} // namespace ml
