#include "thumbnailservice.h"

#include "imageio.h"
#include "matconvert.h"

#include <QMetaObject>
#include <QSet>

#include <opencv2/imgproc.hpp>

namespace ml {

QImage loadThumbnail(const QString& path, int edge, QString* error)
{
    const DecodedImage img = decodeImage(path);
    if (!img.ok()) {
        if (error)
            *error = img.error;
        return {};
    }
    const double scale = std::min(1.0, double(edge) / std::max(img.bgr.cols, img.bgr.rows));
    cv::Mat small = img.bgr;
    if (scale < 1.0) {
        cv::resize(img.bgr, small,
                   cv::Size(std::max(1, int(img.bgr.cols * scale + 0.5)),
                            std::max(1, int(img.bgr.rows * scale + 0.5))),
                   0, 0, cv::INTER_AREA);
    }
    return matToQImage(small);
}

ThumbnailService::ThumbnailService(QObject* parent) : ThumbnailService(Options{}, parent) {}

ThumbnailService::ThumbnailService(const Options& options, QObject* parent)
    : QObject(parent), m_options(options)
{
    m_cache.setMaxCost(options.cacheBytes);
    m_pool.setMaxThreadCount(std::max(1, options.threads));
}

ThumbnailService::~ThumbnailService()
{
    {
        QMutexLocker lock(&m_mutex);
        m_stopping = true;
        m_pending.clear();
    }
    m_pool.waitForDone();
}

int ThumbnailService::pendingCount() const
{
    QMutexLocker lock(&m_mutex);
    return int(m_pending.size());
}

QImage ThumbnailService::thumbnail(const QString& path)
{
    if (const QImage* img = m_cache.object(path))
        return *img;
    if (m_failures.contains(path))
        return {};
    QMutexLocker lock(&m_mutex);
    if (m_queued.contains(path)) {
        // Asked again: it is visible again, so move it to the front of the line.
        auto it = std::find(m_pending.begin(), m_pending.end(), path);
        if (it != m_pending.end()) {
            m_pending.erase(it);
            m_pending.push_back(path);
        }
        return {};
    }
    m_pending.push_back(path);
    m_queued.insert(path);
    while (int(m_pending.size()) > m_options.maxPending) {
        // The oldest requests belong to rows the user has scrolled away from.
        m_queued.remove(m_pending.front());
        m_pending.pop_front();
    }
    lock.unlock();
    startWorkers();
    return {};
}

void ThumbnailService::clearPending()
{
    QMutexLocker lock(&m_mutex);
    for (const QString& p : m_pending)
        m_queued.remove(p);
    m_pending.clear();
}

void ThumbnailService::clear()
{
    clearPending();
    m_cache.clear();
    m_failures.clear();
}

void ThumbnailService::startWorkers()
{
    QMutexLocker lock(&m_mutex);
    while (m_activeWorkers < m_pool.maxThreadCount() && !m_pending.empty()) {
        ++m_activeWorkers;
        m_pool.start([this] { workerLoop(); });
    }
}

void ThumbnailService::workerLoop()
{
    for (;;) {
        QString path;
        {
            QMutexLocker lock(&m_mutex);
            if (m_pending.empty() || m_stopping) {
                --m_activeWorkers;
                return;
            }
            path = m_pending.back();
            m_pending.pop_back();
        }
        QString error;
        const QImage img = loadThumbnail(path, m_options.edge, &error);
        QMetaObject::invokeMethod(
            this, [this, path, img, error] { deliver(path, img, error); }, Qt::QueuedConnection);
    }
}

void ThumbnailService::deliver(const QString& path, const QImage& image, const QString& error)
{
    {
        QMutexLocker lock(&m_mutex);
        m_queued.remove(path);
    }
    ++m_decoded;
    if (image.isNull()) {
        m_failures.insert(path, error);
        Q_EMIT thumbnailFailed(path, error);
        return;
    }
    m_cache.insert(path, new QImage(image), std::max<qint64>(1, image.sizeInBytes()));
    Q_EMIT thumbnailReady(path);
}

} // namespace ml
