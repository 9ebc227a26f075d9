#include "inference.h"

#include "csvfield.h"

#include "dataset.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>

#include <cmath>
#include <vector>

namespace ml {

namespace {

const QStringList& modelClassNames()
{
    static const QStringList names{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};
    return names;
}

// Model class index of each dataset label, or -1 (matched by name, so a folder whose
// classes are named differently is not scored against the wrong class).
std::vector<int> labelToModelClass(const Dataset& ds)
{
    std::vector<int> map(size_t(ds.classNames.size()), -1);
    for (int i = 0; i < ds.classNames.size(); ++i) {
        for (int c = 0; c < modelClassNames().size(); ++c) {
            if (ds.classNames.at(i).compare(modelClassNames().at(c), Qt::CaseInsensitive) == 0)
                map[size_t(i)] = c;
        }
    }
    return map;
}

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

} // namespace

double ClassifyReport::imagesPerSecond() const
{
    return seconds > 0 ? double(processed() - failed) / seconds : 0.0;
}

QMap<QString, int> ClassifyReport::predictedPerClass() const
{
    QMap<QString, int> counts;
    for (const QString& c : classNames)
        counts.insert(c, 0);
    for (const CellResult& r : results) {
        if (r.ok() && r.predicted >= 0 && r.predicted < classNames.size())
            counts[classNames.at(r.predicted)] += 1;
    }
    return counts;
}

double ClassifyReport::accuracy(const Dataset& ds) const
{
    if (!ds.isLabelled())
        return -1.0;
    const std::vector<int> map = labelToModelClass(ds);
    int scored = 0, correct = 0;
    for (const CellResult& r : results) {
        if (!r.ok())
            continue;
        const int label = ds.images.at(r.index).label;
        if (label < 0 || label >= int(map.size()) || map[size_t(label)] < 0)
            continue;
        ++scored;
        correct += (map[size_t(label)] == r.predicted) ? 1 : 0;
    }
    return scored > 0 ? double(correct) / scored : -1.0;
}

QJsonObject ClassifyReport::toJson(const Dataset& ds, const Classifier& classifier) const
{
    QJsonObject predicted;
    const QMap<QString, int> perClass = predictedPerClass();
    for (auto it = perClass.cbegin(); it != perClass.cend(); ++it)
        predicted.insert(it.key(), it.value());
    struct Tally
    {
        int cells = 0, parasitized = 0;
    };
    QMap<QString, Tally> patients;
    for (const CellResult& r : results) {
        if (!r.ok())
            continue;
        Tally& t = patients[ds.images.at(r.index).patient];
        t.cells += 1;
        t.parasitized += (r.predicted == kParasitizedClass) ? 1 : 0;
    }
    QJsonObject perPatient;
    for (auto it = patients.cbegin(); it != patients.cend(); ++it) {
        perPatient.insert(it.key(),
                          QJsonObject{{QStringLiteral("cells"), it.value().cells},
                                      {QStringLiteral("called_parasitized_share"),
                                       round4(double(it.value().parasitized) / it.value().cells)}});
    }
    QJsonArray failures;
    for (const CellResult& r : results) {
        if (!r.ok())
            failures.append(
                QJsonObject{{QStringLiteral("file"), ds.images.at(r.index).relativePath},
                            {QStringLiteral("error"), r.error}});
    }
    QJsonObject o{
        {QStringLiteral("folder"), ds.root},
        {QStringLiteral("images"), images},
        {QStringLiteral("processed"), processed()},
        {QStringLiteral("failed"), failed},
        {QStringLiteral("failures"), failures},
        {QStringLiteral("seconds"), round4(seconds)},
        {QStringLiteral("images_per_second"), std::round(imagesPerSecond() * 10.0) / 10.0},
        {QStringLiteral("predicted"), predicted},
        {QStringLiteral("threshold"), threshold},
        {QStringLiteral("cancelled"), cancelled},
        {QStringLiteral("per_patient"), perPatient},
        {QStringLiteral("model"),
         QJsonObject{{QStringLiteral("source"), classifier.source()},
                     {QStringLiteral("architecture"), classifier.architecture()},
                     {QStringLiteral("weights_sha256"), classifier.weightsSha256()}}}};
    const double acc = accuracy(ds);
    if (acc >= 0)
        o.insert(QStringLiteral("accuracy"), round4(acc));
    return o;
}

QByteArray ClassifyReport::toCsv(const Dataset& ds) const
{
    const auto quote = csvField;
    QByteArray csv = "file,patient,true_label,predicted,probability_parasitized,error\n";
    for (const CellResult& r : results) {
        const ImageEntry& e = ds.images.at(r.index);
        const QString predicted = r.ok() && r.predicted >= 0 && r.predicted < classNames.size()
                                      ? classNames.at(r.predicted)
                                      : QString();
        csv += QStringList{quote(e.relativePath),
                           quote(e.patient),
                           e.label >= 0 ? quote(ds.className(e.label)) : QString(),
                           predicted,
                           r.ok() ? QString::number(r.probability, 'f', 6) : QString(),
                           quote(r.error)}
                   .join(QLatin1Char(','))
                   .toUtf8();
        csv += '\n';
    }
    return csv;
}

ClassifyReport classifyDataset(const Dataset& ds, const Classifier& classifier,
                               const ClassifyOptions& options)
{
    ClassifyReport report;
    report.classNames = modelClassNames();
    report.images = int(ds.images.size());
    report.threshold = options.threshold;
    QElapsedTimer timer;
    timer.start();
    if (!classifier.isLoaded()) {
        report.error = QStringLiteral("no model loaded");
        return report;
    }
    setTorchThreads(options.threads);
    const int n = int(ds.images.size());
    const int batchSize = qMax(1, options.batchSize);
    report.results.reserve(n);

    // Decoding runs on its own small pool so the next batch is decoded while the network
    // works on the current one; its size is part of the caller's thread budget.
    QThreadPool pool;
    pool.setMaxThreadCount(qMax(1, options.decodeThreads));
    auto decodeBatch = [&ds, &pool, n, batchSize](int start) {
        QList<int> indices;
        for (int i = start; i < qMin(n, start + batchSize); ++i)
            indices.append(i);
        return QtConcurrent::mapped(&pool, indices,
                                    [&ds](int i) { return loadPreprocessed(ds.absolutePath(i)); });
    };
    QFuture<PreprocessedImage> next = n > 0 ? decodeBatch(0) : QFuture<PreprocessedImage>();
    for (int start = 0; start < n; start += batchSize) {
        const QList<PreprocessedImage> decoded = next.results();
        if (options.cancel && options.cancel->load()) {
            report.cancelled = true;
            break;
        }
        if (start + batchSize < n)
            next = decodeBatch(start + batchSize);
        std::vector<cv::Mat> images;
        std::vector<int> positions;
        QList<CellResult> batch;
        for (int k = 0; k < decoded.size(); ++k) {
            CellResult r;
            r.index = start + k;
            if (decoded.at(k).ok()) {
                images.push_back(decoded.at(k).rgb);
                positions.push_back(k);
            } else {
                r.error = decoded.at(k).error;
                report.failed += 1;
            }
            batch.append(r);
        }
        QString why;
        const auto probs = classifier.predict(images, &why);
        if (!probs) {
            report.error = why;
            next.waitForFinished();
            break;
        }
        for (size_t j = 0; j < positions.size(); ++j) {
            CellResult& r = batch[positions[j]];
            r.probability = (*probs)[j];
            r.predicted =
                r.probability >= options.threshold ? kParasitizedClass : 1 - kParasitizedClass;
        }
        report.results.append(batch);
        if (options.onBatch)
            options.onBatch(batch, int(report.results.size()), n);
    }
    if (next.isRunning())
        next.waitForFinished();
    report.seconds = timer.elapsed() / 1000.0;
    return report;
}

} // namespace ml
