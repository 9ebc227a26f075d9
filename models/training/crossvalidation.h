#pragma once
// K-fold cross-validation by patient, and the final fit on every patient that follows it:
// both are compositions of the steps of a TrainingRun (trainingrun.h). No torch here.

#include "trainingresult.h"

#include <QJsonObject>
#include <QList>
#include <QString>

#include <atomic>
#include <functional>

namespace ml {

struct Dataset;

/// The result of crossValidate().
struct CrossValidationResult
{
    bool ok = false;
    bool cancelled = false;
    QString error;
    QList<TrainingResult> folds; ///< one finished training per fold (validation = that fold)
    /// Out-of-fold figures: every cell scored by the model that did not see its patient,
    /// all folds together. The patient-level figures cover every patient of the folder.
    ValidationReport pooled;
    /// The model to keep when crossValidate() ran with finalFit: trained on every patient for
    /// the epochs and learning rates of the fold with the median best epoch; its validation
    /// figures (and card) are `pooled`, its card carries the whole cross-validation.
    TrainingResult final;
    /// {"folds": k, "per_fold": [...], "mean": {...}, "sd": {...}, "pooled": {...}}.
    QJsonObject toJson() const;
};

/// Checkpoint of fold `fold` of a cross-validation whose run checkpoints to `checkpointPath`.
QString foldCheckpointPath(const QString& checkpointPath, int fold);

/// K-fold cross-validation by patient: trains `config` once per fold of patientFolds()
/// (config.folds = k, config.fold = i; each fold checkpoints to foldCheckpointPath() and
/// resumes from it). `foldStarted` (may be empty) is called before each fold. Every
/// fold's classifier has its own card. With `finalFit`, one more training on every patient
/// follows (CrossValidationResult::final; foldStarted(k, k), checkpoint
/// foldCheckpointPath(..., k)): the model a user keeps, since each fold's model saw only
/// (k-1)/k of the patients. Never throws.
CrossValidationResult
crossValidate(const Dataset& dataset, const TrainingConfig& config, int k,
              const TrainingCallbacks& callbacks = {}, const std::atomic<bool>* cancel = nullptr,
              const std::function<void(int fold, int folds)>& foldStarted = {},
              bool finalFit = false);

} // namespace ml
