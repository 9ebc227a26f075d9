#include "inferenceengine.h"

namespace ml {

void InferenceWorker::run(const Dataset& dataset, const Classifier& classifier,
                          ClassifyOptions options)
{
    options.cancel = m_cancel;
    options.onBatch = [this](const QList<CellResult>& batch, int done, int total) {
        Q_EMIT resultsReady(batch);
        Q_EMIT progress(done, total);
    };
    const ClassifyReport report = classifyDataset(dataset, classifier, options);
    Q_EMIT finished(report);
}

InferenceEngine::InferenceEngine(QObject* parent) : QObject(parent)
{
    qRegisterMetaType<ml::CellResult>();
    qRegisterMetaType<QList<ml::CellResult>>();
    qRegisterMetaType<ml::ClassifyReport>();
    m_thread.setObjectName(QStringLiteral("InferenceEngine"));
    m_worker = new InferenceWorker(&m_cancel);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    // Worker -> engine: queued (different threads), re-emitted in the engine's thread.
    connect(m_worker, &InferenceWorker::progress, this, &InferenceEngine::progress);
    connect(m_worker, &InferenceWorker::resultsReady, this, &InferenceEngine::resultsReady);
    connect(m_worker, &InferenceWorker::finished, this, [this](const ClassifyReport& report) {
        m_running = false;
        Q_EMIT finished(report);
    });
    m_thread.start();
}

InferenceEngine::~InferenceEngine()
{
    m_cancel = true;
    m_thread.quit();
    m_thread.wait();
}

bool InferenceEngine::start(const Dataset& dataset, const Classifier& classifier,
                            const ClassifyOptions& options)
{
    if (m_running || !classifier.isLoaded())
        return false;
    m_running = true;
    m_cancel = false;
    ClassifyOptions opts = options;
    opts.onBatch = nullptr;
    opts.cancel = nullptr;
    InferenceWorker* worker = m_worker;
    // Copies of the dataset and classifier travel with the call into the worker thread.
    QMetaObject::invokeMethod(
        m_worker, [worker, dataset, classifier, opts] { worker->run(dataset, classifier, opts); },
        Qt::QueuedConnection);
    return true;
}

void InferenceEngine::cancel()
{
    m_cancel = true;
}

} // namespace ml
