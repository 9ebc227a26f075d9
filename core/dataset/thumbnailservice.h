#pragma once
// Thumbnails as a service, not a widget: a pure load function, a bounded thread pool,
// a cache capped in bytes, the newest requests served first and the oldest dropped when
// the view has scrolled past them.

#include <QCache>
#include <QHash>
#include <QImage>
#include <QMutex>
#include <QObject>
#include <QSet>
#include <QThreadPool>

#include <deque>

namespace ml {

/// Decodes `path` (via decodeImage) and scales it to fit `edge` x `edge`, keeping the
/// aspect ratio. Returns a null image and sets `error` on failure. Thread-safe.
QImage loadThumbnail(const QString& path, int edge, QString* error = nullptr);

/// Asynchronous, cached thumbnail loading. Lives in (and is used from) one thread, normally
/// the GUI thread; decoding happens on its own pool.
class ThumbnailService : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        int edge = 96;                          ///< thumbnail box in pixels
        qint64 cacheBytes = 64LL * 1024 * 1024; ///< cache cap
        int threads = 2;                        ///< decoding threads
        int maxPending = 256;                   ///< older requests beyond this are dropped
    };

    explicit ThumbnailService(QObject* parent = nullptr);
    ThumbnailService(const Options& options, QObject* parent = nullptr);
    ~ThumbnailService() override;

    /// The cached thumbnail, or a null image after queueing a request (served newest-first).
    /// thumbnailReady() or thumbnailFailed() follow once for a queued path.
    QImage thumbnail(const QString& path);
    /// The cached thumbnail or a null image; never queues a request.
    QImage cached(const QString& path) const
    {
        const QImage* img = m_cache.object(path);
        return img ? *img : QImage();
    }
    /// The failure reason for `path`, if its decode failed.
    QString failure(const QString& path) const { return m_failures.value(path); }
    /// Forgets queued requests (for example when another folder is opened).
    void clearPending();
    /// Forgets everything cached.
    void clear();

    int edge() const { return m_options.edge; }
    qint64 cachedBytes() const { return m_cache.totalCost(); }
    int decodedCount() const { return m_decoded; }
    int pendingCount() const;

Q_SIGNALS:
    void thumbnailReady(const QString& path);
    void thumbnailFailed(const QString& path, const QString& reason);

private:
    void startWorkers();
    void workerLoop();
    void deliver(const QString& path, const QImage& image, const QString& error);

    Options m_options;
    QCache<QString, QImage> m_cache;
    QHash<QString, QString> m_failures;
    QThreadPool m_pool;
    mutable QMutex m_mutex;        // guards m_pending, m_queued, m_generation
    std::deque<QString> m_pending; // back = newest
    QSet<QString> m_queued;
    int m_activeWorkers = 0;
    int m_decoded = 0;
    bool m_stopping = false;
};

} // namespace ml
