#pragma once
// Classification of a folder on a worker thread, for the GUI. No torch in this header.

#include "classifier.h"
#include "dataset.h"
#include "inference.h"

#include <QObject>
#include <QThread>

#include <atomic>

namespace ml {

/// Runs classifyDataset() in its own thread. Lives in the engine's thread; not for direct use.
class InferenceWorker : public QObject
{
    Q_OBJECT
public:
    explicit InferenceWorker(const std::atomic<bool>* cancel) : m_cancel(cancel) {}
    /// Runs one classification (called in the worker thread through a queued call).
    void run(const ml::Dataset& dataset, const ml::Classifier& classifier,
             ml::ClassifyOptions options);

Q_SIGNALS:
    void progress(int done, int total);
    void resultsReady(const QList<ml::CellResult>& results);
    void finished(const ml::ClassifyReport& report);

private:
    const std::atomic<bool>* m_cancel;
};

/// Controller of background classification (Controller/Worker pattern of the QThread docs).
///
/// Owns a QThread with an InferenceWorker. start() hands a dataset and a classifier (both
/// copied; the classifier shares its immutable network) to the worker; results stream back
/// through queued signals into the thread that owns the engine (the GUI thread), batch by
/// batch. cancel() sets an atomic flag checked between batches, so it works although the
/// worker never returns to its event loop during a run. One run at a time. The destructor
/// cancels, quits and joins the thread. The libtorch thread budget is
/// ClassifyOptions::threads (workers that decode and run the network; + decodeThreads with
/// ClassifyOptions::workers false). The GUI's ModelSession runs one worker per core: the GUI
/// thread sleeps but for the batches' results, and the scheduler gives it its share.
class InferenceEngine : public QObject
{
    Q_OBJECT
public:
    explicit InferenceEngine(QObject* parent = nullptr);
    ~InferenceEngine() override;

    /// Starts classifying; false (nothing started) when a run is still going or the
    /// classifier holds no model. ClassifyOptions::onBatch and ::cancel are ignored (the
    /// engine uses its signals and cancel()).
    bool start(const Dataset& dataset, const Classifier& classifier,
               const ClassifyOptions& options = {});
    /// Asks the running classification to stop after the current batch; finished() follows
    /// with cancelled = true. Safe from any thread.
    void cancel();
    bool isRunning() const { return m_running; }

Q_SIGNALS:
    void progress(int done, int total);
    /// Results of one batch, in dataset order.
    void resultsReady(const QList<ml::CellResult>& results);
    /// The run ended (completed, cancelled or failed: see report.error / report.cancelled).
    void finished(const ml::ClassifyReport& report);

private:
    QThread m_thread;
    InferenceWorker* m_worker = nullptr; // owned by m_thread (deleted on its finished())
    std::atomic<bool> m_cancel{false};
    bool m_running = false;
};

} // namespace ml
