#include "datasetsummary.h"

#include "imageio.h"

#include <QJsonArray>
#include <QMutex>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>

#include <opencv2/core.hpp>

#include <algorithm>
#include <numeric>

namespace ml {

namespace {

struct Probe
{
    bool ok = false;
    QString reason;
    int width = 0, height = 0, channels = 0;
    int minPixel = 255, maxPixel = 0;
};

int median(std::vector<int> v)
{
    if (v.empty())
        return 0;
    std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
    return v[v.size() / 2];
}

} // namespace

DatasetSummary summarizeDataset(const Dataset& dataset, const SummaryOptions& options)
{
    DatasetSummary s;
    s.files = int(dataset.images.size());
    s.skipped = dataset.skipped;
    std::vector<Probe> probes(size_t(dataset.images.size()));
    std::vector<int> indices(probes.size());
    std::iota(indices.begin(), indices.end(), 0);
    std::atomic<int> done{0};

    QThreadPool pool;
    pool.setMaxThreadCount(std::max(1, options.threads));
    QtConcurrent::blockingMap(&pool, indices, [&](int i) {
        if (options.cancel && options.cancel->load())
            return;
        Probe& p = probes[size_t(i)];
        const DecodedImage img = decodeImage(dataset.absolutePath(i));
        if (!img.ok()) {
            p.reason = img.error;
        } else {
            p.ok = true;
            p.width = img.size.width();
            p.height = img.size.height();
            p.channels = img.channels;
            double lo = 0, hi = 0;
            cv::minMaxLoc(img.bgr.reshape(1), &lo, &hi);
            p.minPixel = int(lo);
            p.maxPixel = int(hi);
        }
        const int n = ++done;
        if (options.progress && (n % 200 == 0 || n == int(probes.size())))
            options.progress(n, int(probes.size()));
    });
    s.cancelled = options.cancel && options.cancel->load();

    for (const QString& c : dataset.classNames)
        s.perClass.insert(c, 0);
    std::vector<int> widths, heights;
    s.minPixel = 255;
    s.maxPixel = 0;
    for (size_t i = 0; i < probes.size(); ++i) {
        const Probe& p = probes[i];
        const ImageEntry& e = dataset.images.at(int(i));
        if (!p.ok) {
            if (!s.cancelled)
                s.skipped.append({e.relativePath, p.reason});
            continue;
        }
        ++s.images;
        s.perClass[dataset.className(e.label)] += 1;
        s.perPatient[e.patient] += 1;
        widths.push_back(p.width);
        heights.push_back(p.height);
        s.minPixel = std::min(s.minPixel, p.minPixel);
        s.maxPixel = std::max(s.maxPixel, p.maxPixel);
        s.channelCounts[p.channels] += 1;
    }
    if (s.images == 0) {
        s.minPixel = s.maxPixel = 0;
    } else {
        s.minWidth = *std::min_element(widths.begin(), widths.end());
        s.maxWidth = *std::max_element(widths.begin(), widths.end());
        s.minHeight = *std::min_element(heights.begin(), heights.end());
        s.maxHeight = *std::max_element(heights.begin(), heights.end());
        s.medianWidth = median(widths);
        s.medianHeight = median(heights);
    }
    return s;
}

QJsonObject summaryToJson(const Dataset& dataset, const DatasetSummary& s)
{
    QJsonObject classes;
    for (auto it = s.perClass.cbegin(); it != s.perClass.cend(); ++it)
        classes.insert(it.key(), it.value());
    QJsonObject patientCounts;
    for (auto it = s.perPatient.cbegin(); it != s.perPatient.cend(); ++it)
        patientCounts.insert(it.key(), it.value());
    QJsonObject channels;
    for (auto it = s.channelCounts.cbegin(); it != s.channelCounts.cend(); ++it)
        channels.insert(QString::number(it.key()), it.value());
    QJsonArray skipped;
    for (const SkippedFile& f : s.skipped)
        skipped.append(
            QJsonObject{{QStringLiteral("path"), f.path}, {QStringLiteral("reason"), f.reason}});
    QJsonArray classNames;
    for (const QString& c : dataset.classNames)
        classNames.append(c);

    QJsonObject o;
    o.insert(QStringLiteral("folder"), dataset.root);
    o.insert(QStringLiteral("labelled"), dataset.isLabelled());
    o.insert(QStringLiteral("class_names"), classNames);
    o.insert(QStringLiteral("images"), s.images);
    o.insert(QStringLiteral("files"), s.files);
    o.insert(QStringLiteral("classes"), classes);
    o.insert(QStringLiteral("patients"), int(s.perPatient.size()));
    o.insert(QStringLiteral("patient_counts"), patientCounts);
    o.insert(QStringLiteral("width"), QJsonObject{{QStringLiteral("min"), s.minWidth},
                                                  {QStringLiteral("median"), s.medianWidth},
                                                  {QStringLiteral("max"), s.maxWidth}});
    o.insert(QStringLiteral("height"), QJsonObject{{QStringLiteral("min"), s.minHeight},
                                                   {QStringLiteral("median"), s.medianHeight},
                                                   {QStringLiteral("max"), s.maxHeight}});
    o.insert(QStringLiteral("pixel"),
             QJsonObject{{QStringLiteral("min"), s.minPixel}, {QStringLiteral("max"), s.maxPixel}});
    o.insert(QStringLiteral("channels"), channels);
    o.insert(QStringLiteral("skipped"), skipped);
    o.insert(QStringLiteral("cancelled"), s.cancelled);
    return o;
}

} // namespace ml
