#pragma once
// The few figures of a model card a user reads first (About the model), as rich text.

#include <QJsonObject>
#include <QString>

namespace ml {

/// Validation figures of `card` (split, cell accuracy, AUC, sensitivity/specificity, worst
/// patient, largest share called parasitized in a healthy patient) and, when the card has
/// one, its k-fold cross-validation by patient (mean ± sd accuracy, pooled AUC). Lines
/// joined by <br>; empty when the card has no validation section (e.g. an imported model).
QString modelCardSummary(const QJsonObject& card);

} // namespace ml
