#pragma once
// The order in which a reviewer sees the cells of a classified folder. Pure functions.

#include "dataset.h"

#include <QSet>
#include <QString>

#include <vector>

namespace ml {

/// Which cells come first.
enum class ReviewOrder {
    Uncertainty,  ///< P(Parasitized) nearest the threshold first (the model cannot decide)
    Disagreement, ///< only cells whose label differs from the prediction, the most confident
                  ///< prediction first (the likeliest label errors)
    Confidence,   ///< the most confident predictions first
};

/// Short name for settings and the CLI: "uncertainty", "disagreement", "confidence".
QString reviewOrderName(ReviewOrder order);

/// One cell in the queue.
struct ReviewItem
{
    int index = -1;             ///< into Dataset::images
    float probability = -1;     ///< P(Parasitized)
    int predicted = -1;         ///< model class at the threshold: 0 Parasitized, 1 Uninfected
    int labelAsModelClass = -1; ///< the image's label as a model class, -1 unlabeled/unknown
};

/// Orders the classified images of `dataset` (probability[i] < 0 = not classified: left
/// out). Labels are compared with predictions by class name (Parasitized/Uninfected), as the
/// evaluation does. Images in `exclude` (e.g. reviewed already) are left out. Ties keep
/// folder order, so the queue is deterministic.
std::vector<ReviewItem> buildReviewQueue(const Dataset& dataset,
                                         const std::vector<float>& probability, double threshold,
                                         ReviewOrder order, const QSet<int>& exclude = {});

} // namespace ml
