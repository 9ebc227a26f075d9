#include "validationsplit.h"
#include "trainer.h"

#include <QJsonArray>
#include <QSet>

namespace ml {

QSet<QString> heldOutPatients(const QJsonObject& card)
{
    QSet<QString> patients;
    const QJsonArray listed = card.value(QStringLiteral("split"))
                                  .toObject()
                                  .value(QStringLiteral("val_patients"))
                                  .toArray();
    for (const QJsonValue& v : listed)
        patients.insert(v.toString());
    return patients;
}

ValidationMask validationMaskFromCard(const Dataset& dataset, const QJsonObject& card)
{
    ValidationMask mask;
    const QJsonObject split = card.value(QStringLiteral("split")).toObject();
    const QJsonObject data = card.value(QStringLiteral("training_data")).toObject();
    QMap<QString, int> expected;
    for (const char* side : {"train_cells", "val_cells"}) {
        const QJsonObject o = data.value(QLatin1String(side)).toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            expected[it.key()] += it.value().toInt();
    }
    if (split.isEmpty() || expected.isEmpty()) {
        mask.note = QStringLiteral("the model card records no training split: all cells are used");
        return mask;
    }
    if (split.value(QStringLiteral("mode")).toString() == QLatin1String("none")) {
        mask.note = QStringLiteral(
            "the model trained on every patient of its folder (a final fit after a k-fold "
            "cross-validation): no cell was held out, so figures on this folder are training "
            "figures; the card's cross-validation figures are its estimate. All cells are used");
        return mask;
    }
    // A card that lists its held-out patients (split.val_patients) names them in any folder:
    // a model trained on several labs' folders linked together still finds its held-out
    // patients in one lab's own folder.
    const QSet<QString> patients = heldOutPatients(card);
    if (!patients.isEmpty()) {
        mask.keep.assign(size_t(dataset.images.size()), false);
        for (int i = 0; i < dataset.images.size(); ++i) {
            if (patients.contains(dataset.images.at(i).patient)) {
                mask.keep[size_t(i)] = true;
                mask.cells += 1;
            }
        }
        mask.applied = mask.cells > 0;
        if (!mask.applied)
            mask.keep.clear();
        mask.note = mask.applied
                        ? QStringLiteral("validation split of the model's training only (%1 "
                                         "held-out cells of the %2 patients its card lists)")
                              .arg(mask.cells)
                              .arg(patients.size())
                        : QStringLiteral("none of the %1 patients the model's training held out "
                                         "is in this folder: all cells are used")
                              .arg(patients.size());
        return mask;
    }
    // Cells that failed to decode in training are not in the card's counts, so a folder
    // with unreadable files never matches: better all cells than a wrong split.
    if (expected != dataset.countPerClass()) {
        mask.note = QStringLiteral(
            "this folder is not the model's training folder (its class counts differ from "
            "the card's): all cells are used");
        return mask;
    }
    std::vector<int> train, val;
    const SplitMode mode = split.value(QStringLiteral("mode")).toString() == QLatin1String("random")
                               ? SplitMode::Random
                               : SplitMode::Patient;
    const quint32 seed = quint32(split.value(QStringLiteral("seed")).toInt(42));
    const int folds = split.value(QStringLiteral("folds")).toInt(0);
    if (folds > 1) {
        // A k-fold run's model: its validation side is its own patient fold.
        const int fold = split.value(QStringLiteral("fold")).toInt(0);
        const std::vector<int> foldOf = patientFolds(dataset, folds, seed);
        for (int i = 0; i < int(foldOf.size()); ++i)
            (foldOf[size_t(i)] == fold ? val : train).push_back(i);
    } else {
        splitDataset(dataset, mode, split.value(QStringLiteral("val_fraction")).toDouble(0.2), seed,
                     &train, &val);
    }
    mask.applied = true;
    mask.keep.assign(size_t(dataset.images.size()), false);
    for (int i : val)
        mask.keep[size_t(i)] = true;
    mask.cells = int(val.size());
    mask.note =
        QStringLiteral(
            "validation split of the model's training only (%1 held-out cells, split by %2)")
            .arg(mask.cells)
            .arg(split.value(QStringLiteral("mode")).toString());
    return mask;
}

} // namespace ml
