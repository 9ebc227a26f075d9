#include "imagepass.h"

#include "imageio.h"

#include <QMutex>
#include <QMutexLocker>
#include <QThread>

#include <opencv2/core.hpp>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace ml {

int imagePassThreads(const ImagePassOptions& options, int images)
{
    const int budget = options.threads > 0 ? options.threads : QThread::idealThreadCount();
    return std::max(1, std::min(budget, std::max(1, images)));
}

ImagePassResult runImagePass(const Dataset& dataset, const ImagePassOptions& options,
                             const ImageVisitor& visit)
{
    ImagePassResult result;
    const int total = int(dataset.images.size());
    const int threads = imagePassThreads(options, total);
    // Report about 200 times per pass: often enough for a smooth bar, rarely enough that
    // queued signals never pile up in the GUI.
    const int step = std::max(1, total / 200);
    std::atomic<int> next{0};
    std::atomic<int> done{0};
    std::atomic<int> decoded{0};
    QMutex failedLock;

    auto cancelled = [&] { return options.cancel && options.cancel->load(); };
    auto work = [&](int worker) {
        for (;;) {
            if (cancelled())
                return;
            const int i = next.fetch_add(1);
            if (i >= total)
                return;
            const DecodedImage img = decodeImage(dataset.absolutePath(i));
            QString reason;
            if (!img.ok()) {
                reason = img.error.isEmpty() ? QStringLiteral("decode failed") : img.error;
            } else {
                try {
                    visit(worker, i, img.bgr);
                    decoded.fetch_add(1);
                } catch (const cv::Exception& e) {
                    reason = QStringLiteral("processing failed: %1")
                                 .arg(QString::fromStdString(e.msg).trimmed());
                } catch (const std::exception& e) {
                    reason =
                        QStringLiteral("processing failed: %1").arg(QString::fromUtf8(e.what()));
                }
            }
            if (!reason.isEmpty()) {
                QMutexLocker lock(&failedLock);
                result.failed.append({dataset.images.at(i).relativePath, reason});
            }
            const int n = done.fetch_add(1) + 1;
            if (options.progress && (n % step == 0 || n == total))
                options.progress(n, total);
        }
    };

    if (threads == 1) {
        work(0);
    } else {
        std::vector<std::thread> pool;
        pool.reserve(size_t(threads));
        for (int t = 0; t < threads; ++t)
            pool.emplace_back(work, t);
        for (std::thread& t : pool)
            t.join();
    }
    result.decoded = decoded.load();
    result.cancelled = cancelled() && done.load() < total;
    // Workers append failures in completion order; sort so results do not depend on timing.
    std::sort(result.failed.begin(), result.failed.end(),
              [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
    return result;
}

} // namespace ml
