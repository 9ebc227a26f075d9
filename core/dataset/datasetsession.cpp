#include "datasetsession.h"

#include "folderscanner.h"
#include "labelcorrections.h"

#include <QtConcurrent/QtConcurrentRun>

namespace ml {

DatasetSession::DatasetSession(QObject* parent) : QObject(parent)
{
    qRegisterMetaType<std::shared_ptr<const ml::Dataset>>();
    qRegisterMetaType<std::shared_ptr<const ml::DatasetSummary>>();
    connect(&m_scanWatcher, &QFutureWatcher<Dataset>::finished, this,
            &DatasetSession::onScanFinished);
    connect(&m_summaryWatcher, &QFutureWatcher<DatasetSummary>::finished, this,
            &DatasetSession::onSummaryFinished);
}

DatasetSession::~DatasetSession()
{
    if (m_cancel)
        *m_cancel = true;
    m_scanWatcher.waitForFinished();
    m_summaryWatcher.waitForFinished();
}

bool DatasetSession::isBusy() const
{
    return m_scanWatcher.isRunning() || m_summaryWatcher.isRunning();
}

void DatasetSession::open(const QString& folder)
{
    if (m_cancel)
        *m_cancel = true;
    // A job still running finishes on its own (it sees the cancel flag); its result is
    // dropped because the watcher is re-pointed at the new future.
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    m_pendingFolder = folder;
    Q_EMIT scanStarted(folder);
    Q_EMIT busyChanged(true);
    auto cancel = m_cancel;
    QPointer<DatasetSession> self(this);
    const QString corrections = m_correctionsDatabase;
    m_scanWatcher.setFuture(QtConcurrent::run([folder, cancel, self, corrections] {
        ScanOptions opts;
        opts.cancel = cancel.get();
        opts.progress = [self](int found) {
            if (self)
                QMetaObject::invokeMethod(self.data(), "scanProgress", Qt::QueuedConnection,
                                          Q_ARG(int, found));
        };
        Dataset ds = scanFolder(folder, opts);
        // Reviewer corrections replace folder labels before anyone sees the listing; a
        // damaged or locked database leaves the folder's labels (the Review page says why).
        if (!corrections.isEmpty() && ds.error.isEmpty() && !ds.cancelled && ds.isLabelled())
            applyCorrectionsFrom(ds, corrections, cancel.get());
        return ds;
    }));
}

void DatasetSession::cancel()
{
    if (m_cancel)
        *m_cancel = true;
}

void DatasetSession::onScanFinished()
{
    if (m_scanWatcher.isCanceled())
        return;
    Dataset ds = m_scanWatcher.result();
    if (ds.cancelled) {
        Q_EMIT cancelled();
        Q_EMIT busyChanged(isBusy());
        return;
    }
    if (!ds.error.isEmpty()) {
        Q_EMIT scanFailed(m_pendingFolder, ds.error);
        Q_EMIT busyChanged(isBusy());
        return;
    }
    m_dataset = std::make_shared<const Dataset>(std::move(ds));
    m_summary.reset();
    Q_EMIT datasetChanged(m_dataset);
    startSummary();
}

void DatasetSession::startSummary()
{
    auto dataset = m_dataset;
    auto cancel = m_cancel;
    const int threads = m_summaryThreads;
    QPointer<DatasetSession> self(this);
    m_summaryWatcher.setFuture(QtConcurrent::run([dataset, cancel, threads, self] {
        SummaryOptions opts;
        opts.threads = threads;
        opts.cancel = cancel.get();
        opts.progress = [self](int done, int total) {
            if (self)
                QMetaObject::invokeMethod(self.data(), "summaryProgress", Qt::QueuedConnection,
                                          Q_ARG(int, done), Q_ARG(int, total));
        };
        return summarizeDataset(*dataset, opts);
    }));
}

void DatasetSession::onSummaryFinished()
{
    const DatasetSummary s = m_summaryWatcher.result();
    if (s.cancelled) {
        if (m_cancel && *m_cancel) // not an older job that open() superseded
            Q_EMIT cancelled();
    } else if (m_dataset && s.files == m_dataset->images.size()) {
        m_summary = std::make_shared<const DatasetSummary>(s);
        Q_EMIT summaryReady(m_summary);
    }
    Q_EMIT busyChanged(isBusy());
}

} // namespace ml
