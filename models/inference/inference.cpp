#include "inference.h"
#include "prevalence.h"

#include "csvfield.h"

#include "dataset.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QMutex>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <vector>

namespace ml {

namespace {

// A decoded cell and, for the sampled ones, how it looks.
struct DecodedCell
{
    PreprocessedImage image;
    CellAppearance appearance;
};

// The cells most worth a reviewer's look: highest P(Parasitized) first.
constexpr int kCellsToConfirm = 12;

} // namespace

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

// Decodes cell i of `ds` into the model's input; every `stride`-th cell (stride > 0) is also
// measured for the domain check, as it came, before the normalisation.
DecodedCell decodeCell(const Dataset& ds, const Classifier& classifier, int i, int stride)
{
    DecodedCell d{loadPreprocessed(ds.absolutePath(i)), {}};
    if (d.image.ok()) {
        if (stride > 0 && i % stride == 0)
            d.appearance = measureCell(d.image.rgb, d.image.originalSize);
        d.image.rgb = classifier.modelInput(d.image.rgb);
    }
    return d;
}

// Cells a worker takes at a time in classifyInWorkers(): two inference slices, small enough
// that the workers end a batch within a chunk's time of each other.
constexpr int kWorkerChunk = 32;

// The results of cells [start, start + count) of `ds` (ClassifyOptions::workers): `workers`
// threads of `pool` take chunks of kWorkerChunk cells from a shared counter, decode them and
// run the network on them with one intra-op thread each. CellResult::predicted is left for
// the caller; a failed network call is returned in `error` (the first one).
QList<CellResult> classifyInWorkers(const Dataset& ds, const Classifier& classifier, int start,
                                    int count, int stride, int workers, QThreadPool& pool,
                                    QString* error)
{
    QList<CellResult> batch(count);
    std::atomic<int> next{0};
    QMutex errorLock;
    const auto work = [&] {
        // OpenMP thread counts are per thread: one here, whatever the pool thread had.
        setTorchThreads(1);
        for (int c = next.fetch_add(kWorkerChunk); c < count; c = next.fetch_add(kWorkerChunk)) {
            std::vector<cv::Mat> images;
            std::vector<int> positions;
            for (int k = c; k < std::min(count, c + kWorkerChunk); ++k) {
                const DecodedCell d = decodeCell(ds, classifier, start + k, stride);
                CellResult& r = batch[k];
                r.index = start + k;
                if (d.image.ok()) {
                    images.push_back(d.image.rgb);
                    positions.push_back(k);
                    r.appearance = d.appearance;
                } else {
                    r.error = d.image.error;
                }
            }
            QString why;
            const auto probs = classifier.predictModelInputs(images, &why);
            if (!probs) {
                const QMutexLocker lock(&errorLock);
                if (error->isEmpty())
                    *error = why;
                next = count; // the other workers stop after their current chunk
                return;
            }
            for (size_t j = 0; j < positions.size(); ++j)
                batch[positions[j]].probability = (*probs)[j];
        }
    };
    QList<QFuture<void>> running;
    for (int w = 0; w < workers; ++w)
        running.append(QtConcurrent::run(&pool, work));
    for (QFuture<void>& f : running)
        f.waitForFinished();
    return batch;
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
        std::vector<std::pair<float, int>> suspicious; // (probability, dataset index)
    };
    QMap<QString, Tally> patients;
    Tally run;
    for (const CellResult& r : results) {
        if (!r.ok())
            continue;
        Tally& t = patients[ds.images.at(r.index).patient];
        for (Tally* x : {&t, &run}) {
            x->cells += 1;
            x->parasitized += (r.predicted == kParasitizedClass) ? 1 : 0;
        }
        t.suspicious.emplace_back(r.probability, r.index);
    }
    // Corrected parasitemia from the model's own error rates (at the threshold they hold at).
    const DomainVerdict verdict = domain(classifier);
    QString ratesError;
    const std::optional<ErrorRates> rates =
        errorRatesAt(classifier.card(), threshold, &ratesError, verdict.nearestSource);
    const auto estimate = [&](const Tally& t) {
        return estimateOrExplain(t.parasitized, t.cells, rates, ratesError);
    };
    const QJsonObject domainJson = verdict.toJson();
    QJsonObject perPatient;
    for (auto it = patients.begin(); it != patients.end(); ++it) {
        Tally& t = it.value();
        const PrevalenceEstimate e = estimate(t);
        const InfectionDecision d = decideInfection(e);
        std::sort(t.suspicious.begin(), t.suspicious.end(), std::greater<>());
        QJsonArray confirm;
        for (size_t k = 0; k < t.suspicious.size() && k < size_t(kCellsToConfirm); ++k)
            confirm.append(QJsonObject{
                {QStringLiteral("file"), ds.images.at(t.suspicious[k].second).relativePath},
                {QStringLiteral("probability_parasitized"), round4(t.suspicious[k].first)}});
        QJsonObject row{
            {QStringLiteral("cells"), t.cells},
            {QStringLiteral("called_parasitized_share"), round4(double(t.parasitized) / t.cells)},
            {QStringLiteral("predicted_infected"), d.infected},
            {QStringLiteral("decision"), d.reason},
            {QStringLiteral("cells_to_confirm"), confirm},
            {QStringLiteral("domain"), domainJson}};
        const QJsonObject ej = e.toJson();
        for (auto k = ej.begin(); k != ej.end(); ++k)
            row.insert(k.key(), k.value());
        perPatient.insert(it.key(), row);
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
                     {QStringLiteral("precision"), precisionName(classifier.precision())},
                     {QStringLiteral("weights_sha256"), classifier.weightsSha256()}}}};
    if (!classifier.precisionNote().isEmpty()) {
        QJsonObject model = o.value(QStringLiteral("model")).toObject();
        model.insert(QStringLiteral("precision_note"), classifier.precisionNote());
        o.insert(QStringLiteral("model"), model);
    }
    const double acc = accuracy(ds);
    if (acc >= 0)
        o.insert(QStringLiteral("accuracy"), round4(acc));
    const PrevalenceEstimate whole = estimate(run);
    const QJsonObject wj = whole.toJson();
    for (auto k = wj.begin(); k != wj.end(); ++k)
        o.insert(k.key(), k.value());
    o.insert(QStringLiteral("decision"), decideInfection(whole).reason);
    o.insert(QStringLiteral("domain"), domainJson);
    return o;
}

DomainVerdict ClassifyReport::domain(const Classifier& classifier) const
{
    std::vector<CellAppearance> cells;
    std::vector<float> probabilities;
    for (const CellResult& r : results) {
        if (!r.ok())
            continue;
        probabilities.push_back(r.probability);
        if (r.appearance.cellFound)
            cells.push_back(r.appearance);
    }
    if (cells.empty())
        return {};
    return checkDomain(DomainProfile::fromCard(classifier.card()), cells, probabilities);
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

namespace {

// Sets CellResult::predicted from the probability of every decoded cell of `batch`, turns a
// non-finite probability into that cell's failure, and counts the failures in `report`.
void callCells(QList<CellResult>& batch, double threshold, ClassifyReport& report)
{
    for (CellResult& r : batch) {
        if (!r.ok()) {
            report.failed += 1;
            continue;
        }
        // A NaN compares false with the threshold and would be called Uninfected: the worst
        // silent failure for a diagnostic aid. It is a failure of that image.
        if (!std::isfinite(r.probability)) {
            r.probability = 0.0f;
            r.error = QStringLiteral("the model returned no valid probability (NaN or infinite) "
                                     "for this image");
            report.failed += 1;
            continue;
        }
        r.predicted = r.probability >= threshold ? kParasitizedClass : 1 - kParasitizedClass;
    }
}

// ClassifyOptions::workers == false: decodeThreads decode the next batch while the calling
// thread runs the network on the current one (classifyDecoded()).
class PrefetchingDecoder
{
public:
    PrefetchingDecoder(const Dataset& ds, const Classifier& classifier, int batchSize, int stride,
                       int threads)
        : m_ds(ds), m_classifier(classifier), m_batchSize(batchSize), m_stride(stride)
    {
        m_pool.setMaxThreadCount(qMax(1, threads));
    }
    ~PrefetchingDecoder()
    {
        if (m_next.isRunning())
            m_next.waitForFinished();
    }
    void start(int first) { m_next = decode(first); }
    // The batch at `start` (the one start() or the previous call asked for), and begins
    // decoding the one after it.
    QList<DecodedCell> take(int start)
    {
        const QList<DecodedCell> decoded = m_next.results();
        if (start + m_batchSize < int(m_ds.images.size()))
            m_next = decode(start + m_batchSize);
        return decoded;
    }

private:
    QFuture<DecodedCell> decode(int start)
    {
        QList<int> indices;
        for (int i = start; i < qMin(int(m_ds.images.size()), start + m_batchSize); ++i)
            indices.append(i);
        return QtConcurrent::mapped(&m_pool, indices, [this](int i) {
            return decodeCell(m_ds, m_classifier, i, m_stride);
        });
    }
    const Dataset& m_ds;
    const Classifier& m_classifier;
    const int m_batchSize, m_stride;
    QThreadPool m_pool;
    QFuture<DecodedCell> m_next;
};

// The network on a batch decoded by PrefetchingDecoder, on this thread's intra-op threads.
// CellResult::predicted is left for the caller; on a failed network call, empty and `error`
// says why.
QList<CellResult> classifyDecoded(const QList<DecodedCell>& decoded, int start,
                                  const Classifier& classifier, QString* error)
{
    QList<CellResult> batch(decoded.size());
    std::vector<cv::Mat> images;
    std::vector<int> positions;
    for (int k = 0; k < decoded.size(); ++k) {
        CellResult& r = batch[k];
        r.index = start + k;
        const PreprocessedImage& image = decoded.at(k).image;
        if (image.ok()) {
            images.push_back(image.rgb);
            positions.push_back(k);
            r.appearance = decoded.at(k).appearance;
        } else {
            r.error = image.error;
        }
    }
    const auto probs = classifier.predictModelInputs(images, error);
    if (!probs)
        return {};
    for (size_t j = 0; j < positions.size(); ++j)
        batch[positions[j]].probability = (*probs)[j];
    return batch;
}

} // namespace

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
    // Every `stride`-th cell is measured for the domain check, where it is decoded.
    const int stride = options.appearanceSample > 0
                           ? qMax(1, (n + options.appearanceSample - 1) / options.appearanceSample)
                           : 0;
    // The decoding threads also apply the model's input normalisation (the per-cell colour
    // normalisation or the canonical cell), so the network runs only the network: predict()
    // would do the same per cell, serially, between two forward passes.
    const int workers = qMax(1, options.threads);
    QThreadPool workerPool;
    workerPool.setMaxThreadCount(workers);
    std::optional<PrefetchingDecoder> prefetch;
    if (!options.workers) {
        prefetch.emplace(ds, classifier, batchSize, stride, options.decodeThreads);
        if (n > 0)
            prefetch->start(0);
    }
    for (int start = 0; start < n; start += batchSize) {
        QList<DecodedCell> decoded;
        if (prefetch)
            decoded = prefetch->take(start);
        if (options.cancel && options.cancel->load()) {
            report.cancelled = true;
            break;
        }
        QString why;
        QList<CellResult> batch =
            prefetch ? classifyDecoded(decoded, start, classifier, &why)
                     : classifyInWorkers(ds, classifier, start, qMin(batchSize, n - start), stride,
                                         workers, workerPool, &why);
        if (!why.isEmpty()) {
            report.error = why;
            break;
        }
        callCells(batch, options.threshold, report);
        report.results.append(batch);
        if (options.onBatch)
            options.onBatch(batch, int(report.results.size()), n);
    }
    report.seconds = timer.elapsed() / 1000.0;
    return report;
}

} // namespace ml
