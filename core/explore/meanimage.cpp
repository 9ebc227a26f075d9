#include "meanimage.h"

#include "explorecache.h"
#include "imageops.h"
#include "imagepass.h"

#include <QDataStream>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

namespace {

constexpr quint32 kMagic = 0x4d4c4d4e; // "MLMN"
constexpr quint32 kVersion = 1;

struct Accumulator
{
    cv::Mat sum;   // CV_64FC3, 8-bit units
    cv::Mat sumSq; // CV_64FC3, 8-bit units squared
    int count = 0;
};

void writeMat(QDataStream& out, const cv::Mat& m)
{
    const cv::Mat c = m.isContinuous() ? m : m.clone();
    out << qint32(c.rows) << qint32(c.cols) << qint32(c.type())
        << QByteArray(reinterpret_cast<const char*>(c.data), qsizetype(c.total() * c.elemSize()));
}

bool readMat(QDataStream& in, cv::Mat& m)
{
    qint32 rows = 0, cols = 0, type = 0;
    QByteArray bytes;
    in >> rows >> cols >> type >> bytes;
    if (in.status() != QDataStream::Ok || rows < 0 || cols < 0)
        return false;
    if (rows == 0 || cols == 0) {
        m = cv::Mat();
        return bytes.isEmpty();
    }
    if (type != CV_32FC3)
        return false;
    m = cv::Mat(rows, cols, type);
    if (qsizetype(m.total() * m.elemSize()) != bytes.size())
        return false;
    memcpy(m.data, bytes.constData(), size_t(bytes.size()));
    return true;
}

ExploreCacheHeader cacheHeader(const QByteArray& key, int size)
{
    return {kMagic, kVersion, key, qint32(size)};
}

bool loadCache(const QString& path, const QByteArray& key, const QStringList& names, int size,
               MeanImageResult& out)
{
    std::vector<ClassMeanImage> classes(size_t(names.size()));
    const auto readClass = [&](QDataStream& in, int i) {
        ClassMeanImage& c = classes[size_t(i)];
        qint32 count = 0;
        in >> c.className >> count;
        c.count = count;
        return c.className == names.at(i) && readMat(in, c.mean) && readMat(in, c.stddev);
    };
    ExploreCacheCommon common;
    if (!readExploreCache(path, cacheHeader(key, size), int(names.size()), readClass, common))
        return false;
    MeanImageResult r;
    r.size = size;
    r.classes = std::move(classes);
    r.decoded = common.decoded;
    r.failed = std::move(common.failed);
    r.complete = true;
    r.fromCache = true;
    out = std::move(r);
    return true;
}

void saveCache(const QString& path, const QByteArray& key, const MeanImageResult& r)
{
    const auto writeClass = [&](QDataStream& out, int i) {
        const ClassMeanImage& c = r.classes[size_t(i)];
        out << c.className << qint32(c.count);
        writeMat(out, c.mean);
        writeMat(out, c.stddev);
    };
    writeExploreCache(path, cacheHeader(key, r.size), int(r.classes.size()), writeClass,
                      {r.decoded, r.failed});
}

} // namespace

int MeanImageResult::indexOf(const QString& name) const
{
    for (size_t i = 0; i < classes.size(); ++i) {
        if (classes[i].className.compare(name, Qt::CaseInsensitive) == 0)
            return int(i);
    }
    return -1;
}

MeanImageResult computeMeanImages(const Dataset& dataset, const MeanImageOptions& options)
{
    MeanImageResult result;
    const int size = std::clamp(options.size, 4, 1024);
    result.size = size;
    if (!dataset.error.isEmpty()) {
        result.error = dataset.error;
        return result;
    }
    const QStringList names = exploreClassSlots(dataset);

    QByteArray key;
    QString cachePath;
    // A listing cut short by a cancelled scan is not the folder: never cache it.
    const bool cacheable = options.useCache && !dataset.cancelled;
    if (cacheable) {
        key = datasetContentKey(dataset);
        cachePath = exploreCacheFile(options.cacheDir, QStringLiteral("mean"), dataset,
                                     QStringLiteral("size=%1;v=%2").arg(size).arg(kVersion));
        if (loadCache(cachePath, key, names, size, result)) {
            if (options.progress)
                options.progress(int(dataset.images.size()), int(dataset.images.size()));
            return result;
        }
    }

    const ImagePassOptions& pass = options;
    const int workers = imagePassThreads(pass, int(dataset.images.size()));
    // One accumulator per worker and class: no locks in the hot loop.
    std::vector<std::vector<Accumulator>> acc(size_t(workers),
                                              std::vector<Accumulator>(size_t(names.size())));
    for (auto& perWorker : acc) {
        for (Accumulator& a : perWorker) {
            a.sum = cv::Mat::zeros(size, size, CV_64FC3);
            a.sumSq = cv::Mat::zeros(size, size, CV_64FC3);
        }
    }
    const ImagePassResult pr =
        runImagePass(dataset, pass, [&](int worker, int index, const cv::Mat& bgr) {
            const int label = dataset.images.at(index).label;
            Accumulator& a = acc[size_t(worker)][size_t(std::max(0, label))];
            cv::Mat small;
            cv::resize(bgr, small, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
            cv::accumulate(small, a.sum);
            cv::accumulateSquare(small, a.sumSq);
            ++a.count;
        });
    result.failed = pr.failed;
    if (pr.cancelled || dataset.cancelled) {
        if (!pr.cancelled)
            result.error = QStringLiteral("the folder listing was cancelled: not the whole folder");
        result.cancelled = pr.cancelled;
        result.decoded = pr.decoded;
        // No images: a mean over part of the folder must not be mistaken for the folder's.
        for (const QString& n : names)
            result.classes.push_back({n, 0, {}, {}});
        return result;
    }

    result.decoded = pr.decoded;
    for (int c = 0; c < names.size(); ++c) {
        cv::Mat sum = cv::Mat::zeros(size, size, CV_64FC3);
        cv::Mat sumSq = cv::Mat::zeros(size, size, CV_64FC3);
        int count = 0;
        for (int w = 0; w < workers; ++w) {
            const Accumulator& a = acc[size_t(w)][size_t(c)];
            sum += a.sum;
            sumSq += a.sumSq;
            count += a.count;
        }
        ClassMeanImage cm;
        cm.className = names.at(c);
        cm.count = count;
        if (count > 0) {
            const cv::Mat mean = sum / double(count);
            // Var = E[x^2] - E[x]^2 in double; rounding can make it a hair negative.
            cv::Mat var = sumSq / double(count) - mean.mul(mean);
            cv::max(var, cv::Scalar::all(0.0), var); // every channel (see augment.cpp)
            cv::Mat sd;
            cv::sqrt(var, sd);
            mean.convertTo(cm.mean, CV_32F, 1.0 / 255.0);
            sd.convertTo(cm.stddev, CV_32F, 1.0 / 255.0);
        }
        result.classes.push_back(std::move(cm));
    }
    result.complete = true;
    if (cacheable)
        saveCache(cachePath, key, result);
    return result;
}

std::pair<int, int> differencePair(const MeanImageResult& result)
{
    auto hasImages = [&](int i) { return i >= 0 && result.classes[size_t(i)].count > 0; };
    const int p = result.indexOf(QStringLiteral("Parasitized"));
    const int u = result.indexOf(QStringLiteral("Uninfected"));
    if (hasImages(p) && hasImages(u))
        return {p, u};
    std::vector<int> with;
    for (int i = 0; i < int(result.classes.size()); ++i) {
        if (hasImages(i))
            with.push_back(i);
    }
    if (with.size() < 2)
        return {-1, -1};
    return {with[0], with[1]};
}

cv::Mat meanDifference(const MeanImageResult& result, int a, int b)
{
    const int n = int(result.classes.size());
    if (a < 0 || b < 0 || a >= n || b >= n)
        return {};
    const cv::Mat& ma = result.classes[size_t(a)].mean;
    const cv::Mat& mb = result.classes[size_t(b)].mean;
    if (ma.empty() || mb.empty() || ma.size() != mb.size())
        return {};
    return channelMeanDifference(ma, mb);
}

} // namespace ml
