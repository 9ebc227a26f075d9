#pragma once
// The validation split of a model's training, rebuilt from its model card, so a model can
// be evaluated on the patients its training held out (the honest figures) rather than on
// cells it learnt from. No torch in this header.

#include "dataset.h"

#include <QJsonObject>
#include <QSet>
#include <QString>

#include <vector>

namespace ml {

/// Which images of a folder belong to a model's validation split.
struct ValidationMask
{
    bool applied = false;   ///< false: the card has no split or the folder is another one
    std::vector<bool> keep; ///< per image of the dataset (empty when not applied)
    int cells = 0;          ///< images kept
    QString note;           ///< why it was (not) applied, for the user
};

/// The patients a model card lists as held out by its training (split.val_patients); empty
/// when it lists none.
QSet<QString> heldOutPatients(const QJsonObject& card);

/// When the card lists its held-out patients (split.val_patients), keeps the cells of those
/// patients in any folder (applied when there is at least one). Otherwise rebuilds the split
/// with the card's mode, fraction and seed (splitDataset(), as the
/// trainer did) when `dataset` has exactly the class counts the card records for training
/// plus validation; otherwise `applied` is false and `note` says why.
ValidationMask validationMaskFromCard(const Dataset& dataset, const QJsonObject& card);

} // namespace ml
