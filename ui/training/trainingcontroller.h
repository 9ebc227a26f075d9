#pragma once
// Retraining in the application: a non-widget controller that owns the training thread.

#include "trainer.h"
#include "trainingoutcome.h"

#include <QDateTime>
#include <QObject>
#include <QThread>

#include <atomic>
#include <memory>
#include <optional>

namespace ml {

struct Dataset;
class TrainingWorker;

/// A run that was cancelled, crashed or killed and can go on from its checkpoint.
struct InterruptedRun
{
    TrainingConfig config; ///< the settings of the run (resume uses these, not the form's)
    int epochsDone = 0;    ///< epochs in the checkpoint (0: none finished yet)
    bool hasCheckpoint = false;
    QDateTime updated; ///< last progress written
};

/// Runs trainClassifier() on a worker object moved to its own QThread (Controller/Worker).
///
/// Lives in the GUI thread; every signal arrives there queued. cancel() sets an atomic flag
/// the trainer reads between batches. The trainer writes a checkpoint after every epoch
/// (QSaveFile) under <registry root>/.checkpoints, one per dataset folder, with a small JSON
/// beside it holding the run's settings, so a cancelled, crashed or `kill -9`ed run resumes
/// with resume(). On success the model, its card and history go into the ModelRegistry at
/// registryRoot() and finished() carries an independent copy of the classifier; the model the
/// application uses is never changed here. Training gets threadBudget() libtorch threads
/// and a lower scheduling priority so the GUI thread keeps a core.
class TrainingController : public QObject
{
    Q_OBJECT
public:
    explicit TrainingController(QObject* parent = nullptr);
    /// Cancels a running training and waits for the current batch to end.
    ~TrainingController() override;

    /// Registry the finished models go to (default ModelRegistry::defaultRoot()).
    void setRegistryRoot(const QString& root);
    QString registryRoot() const { return m_registryRoot; }

    /// libtorch threads for training: cores - 1 (at least 1), leaving a core to the GUI.
    static int threadBudget();
    /// Why `config` cannot train on `dataset` (one class, fewer images than a batch, bad
    /// settings, a split with an empty side); empty when it can. Cheap: nothing is decoded.
    static QString refusal(const Dataset& dataset, const TrainingConfig& config);
    /// Patients with cells on both sides of the split `config` makes (0 for a patient split).
    static int sharedPatients(const Dataset& dataset, const TrainingConfig& config);

    /// Starts a fresh training (threads, checkpoint and resume of `config` are set here).
    /// False with `error` when busy or refused; then nothing starts. Replaces an interrupted
    /// run of the same folder.
    bool start(std::shared_ptr<const Dataset> dataset, const TrainingConfig& config,
               QString* error = nullptr);
    /// Continues the interrupted run of `dataset` (its own settings) from its checkpoint.
    bool resume(std::shared_ptr<const Dataset> dataset, QString* error = nullptr);
    /// The interrupted run of `dataset`'s folder, if any.
    std::optional<InterruptedRun> interruptedRun(const Dataset& dataset) const;
    /// Forgets the interrupted run of `dataset`'s folder (deletes its checkpoint).
    void discardInterrupted(const Dataset& dataset);

    /// Asks the running training to stop after the current batch; finished() follows with
    /// result.cancelled set. Safe to call at any time.
    void cancel();
    bool isRunning() const { return m_running; }

    /// Checkpoint file of `dataset`'s folder.
    QString checkpointPathFor(const Dataset& dataset) const;

Q_SIGNALS:
    void started(bool resumed, const ml::TrainingConfig& config);
    /// Decoding progress before the first epoch.
    void loadProgress(int done, int total);
    /// Training loss of one batch (1-based epoch and batch).
    void batchDone(int epoch, int batch, int batches, double loss);
    void epochDone(const ml::EpochStats& stats);
    /// A resumed run: the epochs its checkpoint already holds (before any new epochDone).
    void historyRestored(const QList<ml::EpochStats>& history, int bestEpoch);
    void logMessage(const QString& message);
    /// K-fold runs: fold (0-based) of `folds` starts; epochs count from 1 again.
    void foldStarted(int fold, int folds);
    /// The run ended (success, refusal, failure, cancel). isRunning() is false by now.
    void finished(const ml::TrainingOutcome& outcome);

private:
    bool launch(std::shared_ptr<const Dataset> dataset, TrainingConfig config, bool resume,
                QString* error);
    QString sidecarPathFor(const Dataset& dataset) const;

    QThread m_thread;
    TrainingWorker* m_worker = nullptr; // lives in m_thread, deleted when it finishes
    std::atomic<bool> m_cancel{false};
    bool m_running = false;
    QString m_registryRoot;
};

} // namespace ml

Q_DECLARE_METATYPE(ml::TrainingConfig)
