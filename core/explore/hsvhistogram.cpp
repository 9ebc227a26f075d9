#include "hsvhistogram.h"

#include "explorecache.h"
#include "imagepass.h"

#include <QDataStream>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

namespace {

constexpr quint32 kMagic = 0x4d4c4856; // "MLHV"
constexpr quint32 kVersion = 1;

QDataStream& operator<<(QDataStream& out, const std::vector<double>& v)
{
    out << qint32(v.size());
    for (double d : v)
        out << d;
    return out;
}

bool readVector(QDataStream& in, std::vector<double>& v)
{
    qint32 n = 0;
    in >> n;
    if (in.status() != QDataStream::Ok || n != qint32(v.size()))
        return false;
    for (double& d : v)
        in >> d;
    return in.status() == QDataStream::Ok;
}

ExploreCacheHeader cacheHeader(const QByteArray& key, int minValue)
{
    return {kMagic, kVersion, key, qint32(minValue)};
}

bool loadCache(const QString& path, const QByteArray& key, const QStringList& names, int minValue,
               HsvHistogramResult& out)
{
    std::vector<ClassHsvHistogram> classes(size_t(names.size()));
    const auto readClass = [&](QDataStream& in, int i) {
        ClassHsvHistogram& h = classes[size_t(i)];
        qint32 images = 0;
        in >> h.className >> images >> h.pixels;
        h.images = images;
        return h.className == names.at(i) && readVector(in, h.hue) &&
               readVector(in, h.saturation) && readVector(in, h.value);
    };
    ExploreCacheCommon common;
    if (!readExploreCache(path, cacheHeader(key, minValue), int(names.size()), readClass, common))
        return false;
    HsvHistogramResult r;
    r.minValue = minValue;
    r.classes = std::move(classes);
    r.decoded = common.decoded;
    r.failed = std::move(common.failed);
    r.complete = true;
    r.fromCache = true;
    out = std::move(r);
    return true;
}

void saveCache(const QString& path, const QByteArray& key, const HsvHistogramResult& r)
{
    const auto writeClass = [&](QDataStream& out, int i) {
        const ClassHsvHistogram& h = r.classes[size_t(i)];
        out << h.className << qint32(h.images) << h.pixels << h.hue << h.saturation << h.value;
    };
    writeExploreCache(path, cacheHeader(key, r.minValue), int(r.classes.size()), writeClass,
                      {r.decoded, r.failed});
}

} // namespace

const std::vector<double>& ClassHsvHistogram::counts(HsvChannel channel) const
{
    switch (channel) {
    case HsvChannel::Hue:
        return hue;
    case HsvChannel::Saturation:
        return saturation;
    case HsvChannel::Value:
        break;
    }
    return value;
}

std::vector<double> ClassHsvHistogram::fractions(HsvChannel channel) const
{
    std::vector<double> out = counts(channel);
    if (pixels > 0) {
        for (double& d : out)
            d /= pixels;
    }
    return out;
}

void accumulateHsv(const cv::Mat& bgr8, int minValue, ClassHsvHistogram& h)
{
    if (bgr8.empty() || bgr8.type() != CV_8UC3)
        return;
    cv::Mat hsv;
    cv::cvtColor(bgr8, hsv, cv::COLOR_BGR2HSV);
    // Integer counts per image, added to the doubles once: the inner loop stays cheap.
    int hc[ClassHsvHistogram::kHueBins] = {};
    int sc[ClassHsvHistogram::kLevelBins] = {};
    int vc[ClassHsvHistogram::kLevelBins] = {};
    int counted = 0;
    for (int y = 0; y < hsv.rows; ++y) {
        const cv::Vec3b* p = hsv.ptr<cv::Vec3b>(y);
        for (int x = 0; x < hsv.cols; ++x) {
            if (p[x][2] < minValue)
                continue;
            ++hc[std::min<int>(p[x][0], ClassHsvHistogram::kHueBins - 1)];
            ++sc[p[x][1]];
            ++vc[p[x][2]];
            ++counted;
        }
    }
    for (int i = 0; i < ClassHsvHistogram::kHueBins; ++i)
        h.hue[size_t(i)] += hc[i];
    for (int i = 0; i < ClassHsvHistogram::kLevelBins; ++i) {
        h.saturation[size_t(i)] += sc[i];
        h.value[size_t(i)] += vc[i];
    }
    h.pixels += counted;
    ++h.images;
}

HsvHistogramResult computeHsvHistograms(const Dataset& dataset, const HsvHistogramOptions& options)
{
    HsvHistogramResult result;
    const int minValue = std::clamp(options.minValue, 0, 256);
    result.minValue = minValue;
    if (!dataset.error.isEmpty()) {
        result.error = dataset.error;
        return result;
    }
    const QStringList names = exploreClassSlots(dataset);

    QByteArray key;
    QString cachePath;
    const bool cacheable = options.useCache && !dataset.cancelled;
    if (cacheable) {
        key = datasetContentKey(dataset);
        cachePath = exploreCacheFile(options.cacheDir, QStringLiteral("hsv"), dataset,
                                     QStringLiteral("min=%1;v=%2").arg(minValue).arg(kVersion));
        if (loadCache(cachePath, key, names, minValue, result)) {
            if (options.progress)
                options.progress(int(dataset.images.size()), int(dataset.images.size()));
            return result;
        }
    }

    const ImagePassOptions& pass = options;
    const int workers = imagePassThreads(pass, int(dataset.images.size()));
    std::vector<std::vector<ClassHsvHistogram>> acc(
        size_t(workers), std::vector<ClassHsvHistogram>(size_t(names.size())));
    const ImagePassResult pr =
        runImagePass(dataset, pass, [&](int worker, int index, const cv::Mat& bgr) {
            const int label = dataset.images.at(index).label;
            accumulateHsv(bgr, minValue, acc[size_t(worker)][size_t(std::max(0, label))]);
        });
    result.failed = pr.failed;
    result.decoded = pr.decoded;
    for (int c = 0; c < names.size(); ++c) {
        ClassHsvHistogram h;
        h.className = names.at(c);
        result.classes.push_back(std::move(h));
    }
    if (pr.cancelled || dataset.cancelled) {
        if (!pr.cancelled)
            result.error = QStringLiteral("the folder listing was cancelled: not the whole folder");
        // Empty counts: part of a folder must not be mistaken for the folder.
        result.cancelled = pr.cancelled;
        return result;
    }
    for (int c = 0; c < names.size(); ++c) {
        ClassHsvHistogram& h = result.classes[size_t(c)];
        for (int w = 0; w < workers; ++w) {
            const ClassHsvHistogram& a = acc[size_t(w)][size_t(c)];
            h.images += a.images;
            h.pixels += a.pixels;
            for (size_t i = 0; i < h.hue.size(); ++i)
                h.hue[i] += a.hue[i];
            for (size_t i = 0; i < h.saturation.size(); ++i) {
                h.saturation[i] += a.saturation[i];
                h.value[i] += a.value[i];
            }
        }
    }
    result.complete = true;
    if (cacheable)
        saveCache(cachePath, key, result);
    return result;
}

} // namespace ml
