#include "crossvalidation.h"

#include "datasetsplit.h"
#include "trainingrun.h"

#include <QJsonArray>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ml {

namespace {

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

} // namespace

QString foldCheckpointPath(const QString& checkpointPath, int fold)
{
    return checkpointPath + QStringLiteral(".fold%1").arg(fold);
}

QJsonObject CrossValidationResult::toJson() const
{
    // The figures a reader compares across folds: cell-level and patient-level quality and
    // the two per-patient worst cases the model card reports.
    struct Figure
    {
        const char* name;
        std::function<double(const ValidationReport&)> get;
    };
    const std::vector<Figure> figures{
        {"accuracy", [](const ValidationReport& r) { return r.cells.accuracy; }},
        {"auc", [](const ValidationReport& r) { return r.cells.auc; }},
        {"sensitivity", [](const ValidationReport& r) { return r.cells.sensitivity; }},
        {"specificity", [](const ValidationReport& r) { return r.cells.specificity; }},
        {"patient_accuracy", [](const ValidationReport& r) { return r.patients.accuracy; }},
        {"worst_patient_accuracy",
         [](const ValidationReport& r) { return r.worstPatientAccuracy; }},
        {"max_healthy_patient_parasitized_share",
         [](const ValidationReport& r) { return r.maxHealthyParasitizedShare; }},
        {"log_loss", [](const ValidationReport& r) { return r.logLoss; }},
    };
    QJsonArray perFold;
    for (int i = 0; i < folds.size(); ++i) {
        const TrainingResult& f = folds.at(i);
        QJsonObject o{{QStringLiteral("fold"), i},
                      {QStringLiteral("cells"), f.validation.cells.count},
                      {QStringLiteral("patients"),
                       f.validation.healthyPatients + f.validation.infectedPatients},
                      {QStringLiteral("best_epoch"), f.bestEpoch},
                      {QStringLiteral("epochs_run"), int(f.history.size())},
                      {QStringLiteral("worst_patient"), f.validation.worstPatient},
                      {QStringLiteral("max_healthy_patient"), f.validation.maxHealthyPatient}};
        for (const Figure& fig : figures)
            o.insert(QLatin1String(fig.name), round4(fig.get(f.validation)));
        perFold.append(o);
    }
    QJsonObject mean, sd;
    for (const Figure& fig : figures) {
        double sum = 0, sq = 0;
        for (const TrainingResult& f : folds) {
            const double v = fig.get(f.validation);
            sum += v;
            sq += v * v;
        }
        const double n = double(std::max<qsizetype>(1, folds.size()));
        const double m = sum / n;
        mean.insert(QLatin1String(fig.name), round4(m));
        sd.insert(
            QLatin1String(fig.name),
            round4(folds.size() > 1 ? std::sqrt(std::max(0.0, (sq - n * m * m) / (n - 1))) : 0.0));
    }
    return QJsonObject{{QStringLiteral("folds"), int(folds.size())},
                       {QStringLiteral("split"), QStringLiteral("patient")},
                       {QStringLiteral("per_fold"), perFold},
                       {QStringLiteral("mean"), mean},
                       {QStringLiteral("sd"), sd},
                       {QStringLiteral("pooled_out_of_fold"), pooled.toJson(false)}};
}

CrossValidationResult crossValidate(const Dataset& ds, const TrainingConfig& config, int k,
                                    const TrainingCallbacks& callbacks,
                                    const std::atomic<bool>* cancel,
                                    const std::function<void(int, int)>& foldStarted, bool finalFit)
{
    CrossValidationResult cv;
    if (k < 2) {
        cv.error = QStringLiteral("cross-validation needs at least 2 folds");
        return cv;
    }
    if (config.split != SplitMode::Patient) {
        cv.error = QStringLiteral("cross-validation is by patient only (a random split would "
                                  "put one patient's cells on both sides)");
        return cv;
    }
    std::vector<ScoredCell> all;
    for (int i = 0; i < k; ++i) {
        if (foldStarted)
            foldStarted(i, k);
        TrainingConfig c = config;
        c.folds = k;
        c.fold = i;
        if (!config.checkpointPath.isEmpty())
            c.checkpointPath = foldCheckpointPath(config.checkpointPath, i);
        TrainingResult r = trainClassifier(ds, c, callbacks, cancel);
        if (!r.ok) {
            cv.cancelled = r.cancelled;
            cv.error = r.cancelled
                           ? r.error
                           : QStringLiteral("fold %1 of %2: %3").arg(i + 1).arg(k).arg(r.error);
            return cv;
        }
        all.insert(all.end(), r.validationCells.begin(), r.validationCells.end());
        cv.folds.append(std::move(r));
    }
    cv.pooled = evaluateCells(all);
    const QJsonObject summary = cv.toJson();
    for (TrainingResult& r : cv.folds) {
        r.crossValidation = summary;
        r.classifier.setCard(r.modelCard());
    }
    if (finalFit) {
        // The fold with the median best epoch (the lower middle for an even k) sets the final
        // fit's length and its learning rate per epoch, so the decays its plateaus triggered
        // happen at the same points without a validation side to detect them.
        std::vector<int> order(static_cast<size_t>(k));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&cv](int a, int b) {
            return cv.folds.at(a).bestEpoch < cv.folds.at(b).bestEpoch;
        });
        const int median = order[size_t((k - 1) / 2)];
        const TrainingResult& m = cv.folds.at(median);
        TrainingConfig c = config;
        c.folds = k;
        c.fold = 0;
        c.fixedRatesSource = QStringLiteral("fold %1 of %2").arg(median + 1).arg(k);
        for (int e = 0; e < m.bestEpoch && e < m.history.size(); ++e) {
            const double rate = m.history.at(e).learningRate;
            // 0: a history resumed from a checkpoint that predates per-epoch rates.
            c.fixedRates.append(rate > 0 ? rate : config.learningRate);
        }
        if (c.fixedRates.isEmpty())
            c.fixedRates.append(config.learningRate);
        if (!config.checkpointPath.isEmpty())
            c.checkpointPath = foldCheckpointPath(config.checkpointPath, k);
        if (foldStarted)
            foldStarted(k, k);
        cv.final = fitEveryCell(ds, c, callbacks, cancel);
        if (!cv.final.ok) {
            cv.cancelled = cv.final.cancelled;
            cv.error = cv.final.cancelled
                           ? cv.final.error
                           : QStringLiteral("final fit on every patient: %1").arg(cv.final.error);
            return cv;
        }
        cv.final.validation = cv.pooled;
        cv.final.crossValidation = summary;
        cv.final.classifier.setCard(cv.final.modelCard());
    }
    cv.ok = true;
    return cv;
}

} // namespace ml
