#pragma once
// The object that runs trainClassifier() on the training controller's thread. Internal to
// TrainingController (ui/trainingcontroller.h); not meant for other users.

#include "trainer.h"
#include "trainingoutcome.h"

#include <QObject>

#include <atomic>
#include <memory>

namespace ml {

struct Dataset;

/// One training job as the controller hands it over (by value, across threads).
struct TrainingJob
{
    std::shared_ptr<const Dataset> dataset;
    TrainingConfig config;
    QString registryRoot; ///< where the finished model is saved
    QString sidecarPath;  ///< JSON beside the checkpoint describing the run (for resume)
    QJsonObject sidecar;  ///< its content without the progress fields
};

/// Lives in the training thread. run() blocks that thread for the whole training and talks
/// to the GUI only through queued signals; cancel is the controller's atomic flag, read
/// between batches by the trainer (a queued cancel slot would never run during training).
class TrainingWorker : public QObject
{
    Q_OBJECT
public:
    /// `cancel` is owned by the controller and outlives the worker.
    explicit TrainingWorker(const std::atomic<bool>* cancel);

    /// Trains, saves into the registry on success, then emits finished(). Training thread only.
    void run(const ml::TrainingJob& job);

Q_SIGNALS:
    void loadProgress(int done, int total);
    void batchDone(int epoch, int batch, int batches, double loss);
    void epochDone(const ml::EpochStats& stats);
    void historyRestored(const QList<ml::EpochStats>& history, int bestEpoch);
    void logMessage(const QString& message);
    /// K-fold runs: fold (0-based) of `folds` starts.
    void foldStarted(int fold, int folds);
    void finished(const ml::TrainingOutcome& outcome);

private:
    const std::atomic<bool>* m_cancel;
};

} // namespace ml
