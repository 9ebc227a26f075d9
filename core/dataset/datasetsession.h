#pragma once

#include "dataset.h"
#include "datasetsummary.h"

#include <QFutureWatcher>
#include <QObject>

#include <atomic>
#include <memory>

namespace ml {

/// The folder the user has open: owns the scanned Dataset and its summary, runs the scan
/// and the summary off the GUI thread and announces results through signals. Widgets only
/// listen. Lives in the GUI thread.
class DatasetSession : public QObject
{
    Q_OBJECT
public:
    explicit DatasetSession(QObject* parent = nullptr);
    ~DatasetSession() override;

    /// Starts scanning `folder` (cancelling any running job). Returns at once.
    void open(const QString& folder);
    /// Cancels the running scan or summary; the previous dataset stays.
    void cancel();
    bool isBusy() const;

    std::shared_ptr<const Dataset> dataset() const { return m_dataset; }
    /// The summary of the current dataset, or nullptr while it is being computed.
    std::shared_ptr<const DatasetSummary> summary() const { return m_summary; }
    /// Threads used for decoding in the summary job.
    void setSummaryThreads(int threads) { m_summaryThreads = threads; }
    /// The reviewer's corrections database: every scan applies its corrections to the labels
    /// (core/labelcorrections.h) in the scan job. Empty (the default) = folder labels only.
    void setCorrectionsDatabase(const QString& path) { m_correctionsDatabase = path; }
    QString correctionsDatabase() const { return m_correctionsDatabase; }

Q_SIGNALS:
    void scanStarted(const QString& folder);
    void scanProgress(int filesFound);
    /// A new folder is listed (its summary follows later).
    void datasetChanged(std::shared_ptr<const ml::Dataset> dataset);
    void scanFailed(const QString& folder, const QString& reason);
    void summaryProgress(int done, int total);
    void summaryReady(std::shared_ptr<const ml::DatasetSummary> summary);
    void cancelled();
    void busyChanged(bool busy);

private:
    void onScanFinished();
    void onSummaryFinished();
    void startSummary();

    std::shared_ptr<const Dataset> m_dataset;
    std::shared_ptr<const DatasetSummary> m_summary;
    QFutureWatcher<Dataset> m_scanWatcher;
    QFutureWatcher<DatasetSummary> m_summaryWatcher;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    QString m_pendingFolder;
    int m_summaryThreads = 1;
    QString m_correctionsDatabase;
};

} // namespace ml

Q_DECLARE_METATYPE(std::shared_ptr<const ml::Dataset>)
Q_DECLARE_METATYPE(std::shared_ptr<const ml::DatasetSummary>)
