#pragma once
// What a training run of the TrainingController ends with (queued to the GUI thread).

#include "modelregistry.h"
#include "trainer.h"

#include <QMetaType>

namespace ml {

/// The end of a training run: trained and saved, refused, failed, cancelled, or trained but
/// not saved (save target unwritable or full; the previously active model is untouched).
struct TrainingOutcome
{
    /// The trainer's result. On success result.classifier is an independent copy of the best
    /// weights (deserialised from the saved bytes), never the module that was trained.
    TrainingResult result;
    bool saved = false;   ///< the model is in the registry as `entry`
    RegistryEntry entry;  ///< the registry entry (saved only)
    QString error;        ///< empty on success; else what went wrong, for the user
    bool resumed = false; ///< the run continued from a checkpoint
    /// K-fold runs: CrossValidationResult::toJson() (per fold, mean, sd, pooled out-of-fold);
    /// `result` is then the first fold's training. Empty for a single split.
    QJsonObject crossValidation;

    bool ok() const { return result.ok && saved; }
};

} // namespace ml

Q_DECLARE_METATYPE(ml::TrainingOutcome)
Q_DECLARE_METATYPE(ml::EpochStats)
