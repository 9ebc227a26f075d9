#include "trainingresult.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#include <cmath>
#include <numeric>

namespace ml {

namespace {

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

} // namespace

QString historyPathFor(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".history.csv"));
}

int TrainingResult::leftOutCells() const
{
    return std::accumulate(excludedCells.cbegin(), excludedCells.cend(), 0);
}

QString outOfFoldPathFor(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".oof.csv"));
}

QJsonObject SplitSummary::toJson() const
{
    auto toObj = [](const QMap<QString, int>& m) {
        QJsonObject o;
        for (auto it = m.cbegin(); it != m.cend(); ++it)
            o.insert(it.key(), it.value());
        return o;
    };
    return QJsonObject{{QStringLiteral("train_cells"), toObj(trainCells)},
                       {QStringLiteral("val_cells"), toObj(valCells)},
                       {QStringLiteral("train_patients"), toObj(trainPatients)},
                       {QStringLiteral("val_patients"), toObj(valPatients)},
                       {QStringLiteral("train_patient_count"), trainPatientCount},
                       {QStringLiteral("val_patient_count"), valPatientCount},
                       {QStringLiteral("patients_on_both_sides"), sharedPatients}};
}

QString EpochStats::logLine() const
{
    // The same line with or without a validation side: a final fit shows its rate instead.
    const QString validation =
        std::isnan(valLoss)
            ? QCoreApplication::translate("ml::EpochStats", "rate %1").arg(learningRate, 0, 'g', 3)
            : QCoreApplication::translate("ml::EpochStats", "val_loss %1  val_acc %2")
                  .arg(valLoss, 0, 'f', 4)
                  .arg(valAccuracy, 0, 'f', 4);
    return QCoreApplication::translate("ml::EpochStats",
                                       "epoch %1/%2  loss %3  acc %4  %5  %6 s  %7 img/s%8")
        .arg(epoch)
        .arg(epochsPlanned)
        .arg(trainLoss, 0, 'f', 4)
        .arg(trainAccuracy, 0, 'f', 4)
        .arg(validation)
        .arg(seconds, 0, 'f', 1)
        .arg(trainImagesPerSecond, 0, 'f', 0)
        .arg(best && !std::isnan(valLoss) ? QStringLiteral("  *best") : QString());
}

QByteArray TrainingResult::historyCsv() const
{
    QByteArray csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,train_images_"
                     "per_second,best\n";
    for (const EpochStats& s : history) {
        csv += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                   .arg(s.epoch)
                   .arg(s.trainLoss, 0, 'f', 6)
                   .arg(s.trainAccuracy, 0, 'f', 6)
                   .arg(s.valLoss, 0, 'f', 6)
                   .arg(s.valAccuracy, 0, 'f', 6)
                   .arg(s.seconds, 0, 'f', 2)
                   .arg(s.trainImagesPerSecond, 0, 'f', 1)
                   .arg(s.best ? 1 : 0)
                   .toUtf8();
    }
    return csv;
}

SourceFigures SourceFigures::of(const QString& source, const std::vector<ScoredCell>& scored,
                                double threshold)
{
    SourceFigures f;
    f.source = source;
    for (const ScoredCell& c : scored) {
        if (c.label == 0 || c.label == 1) {
            f.cells += 1;
            f.parasitized += c.label == 0 ? 1 : 0;
        }
    }
    if (f.cells == 0)
        return f;
    // The same figures as the validation report's cell level (evaluateCells()).
    const ValidationReport r = evaluateCells(scored, threshold);
    f.sensitivity = r.cells.sensitivity;
    f.specificity = r.cells.specificity;
    f.balancedAccuracy = (r.cells.sensitivity + r.cells.specificity) / 2.0;
    f.auc = r.cells.auc;
    f.truePositive = r.cells.truePositive;
    f.falseNegative = r.cells.falseNegative;
    f.trueNegative = r.cells.trueNegative;
    f.falsePositive = r.cells.falsePositive;
    return f;
}

QJsonObject SourceFigures::toJson() const
{
    return QJsonObject{{QStringLiteral("source"), source},
                       {QStringLiteral("cells"), cells},
                       {QStringLiteral("parasitized"), parasitized},
                       {QStringLiteral("true_positive"), truePositive},
                       {QStringLiteral("false_negative"), falseNegative},
                       {QStringLiteral("true_negative"), trueNegative},
                       {QStringLiteral("false_positive"), falsePositive},
                       {QStringLiteral("sensitivity"), round4(sensitivity)},
                       {QStringLiteral("specificity"), round4(specificity)},
                       {QStringLiteral("balanced_accuracy"), round4(balancedAccuracy)},
                       {QStringLiteral("auc"), round4(auc)}};
}

QString SourceFigures::describe() const
{
    return QStringLiteral("%1: %2 cells (%3 parasitized), sensitivity %4, specificity %5, "
                          "balanced accuracy %6, AUC %7")
        .arg(source)
        .arg(cells)
        .arg(parasitized)
        .arg(sensitivity, 0, 'f', 4)
        .arg(specificity, 0, 'f', 4)
        .arg(balancedAccuracy, 0, 'f', 4)
        .arg(auc, 0, 'f', 4);
}

SourceFigures SourceFigures::fromJson(const QJsonObject& o)
{
    SourceFigures f;
    f.source = o.value(QStringLiteral("source")).toString();
    f.cells = o.value(QStringLiteral("cells")).toInt();
    f.parasitized = o.value(QStringLiteral("parasitized")).toInt();
    f.truePositive = o.value(QStringLiteral("true_positive")).toInt();
    f.falseNegative = o.value(QStringLiteral("false_negative")).toInt();
    f.trueNegative = o.value(QStringLiteral("true_negative")).toInt();
    f.falsePositive = o.value(QStringLiteral("false_positive")).toInt();
    f.sensitivity = o.value(QStringLiteral("sensitivity")).toDouble();
    f.specificity = o.value(QStringLiteral("specificity")).toDouble();
    f.balancedAccuracy = o.value(QStringLiteral("balanced_accuracy")).toDouble();
    f.auc = o.value(QStringLiteral("auc")).toDouble();
    return f;
}

} // namespace ml
