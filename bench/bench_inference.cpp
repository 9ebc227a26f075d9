// Benchmark: inference speed of a classifier (default: the embedded se model).
//  1. forward pass alone: batches of preprocessed 64x64 cells through Classifier::predict
//     (packing into a tensor + network + softmax), images/s, median of --runs; the optimised
//     path (BatchNorm folded, sliced batches: Classifier::setOptimizedInference) and the
//     reference path (the trained network as is) alternate run by run, so both see the same
//     machine load. Also images per CPU-second of the process, which a busy machine disturbs
//     far less than wall time (with --threads 1 it is the work per image);
//  2. end to end: classifyDataset() over the whole folder (decode + resize + forward, the
//     `malarialens-cli classify` path), images/s, median of --runs.
// Compare with bench/peer_inference.py (the same model and loop in python3-torch +
// python3-opencv); see docs/BENCHMARKS.md.
//
//   bench_inference [DIR] [--runs N] [--threads T] [--decode-threads D] [--batch B]
//                   [--model FILE] [--precision fp32|int8] [--domain-sample N]
//                   [--input NORMALIZATION] [--forward-only] [--json]
//
// --precision int8 runs the model's int8 companion (Classifier::setPrecision(); the bench
// stops when there is none). --domain-sample N measures N evenly spread cells for the domain
// check as `classify` does (default 2000, its setting; 0 = off: the difference is the check's
// cost). --input NAME replaces the card's input normalisation (e.g. canonical-grey): the cost
// of that input per cell on the same network; the probabilities are then meaningless.
// The peak RSS of the process (getrusage) is printed at the end.

#include "allocator.h"
#include "benchstats.h"
#include "blaskernels.h"
#include "classifier.h"
#include "folderscanner.h"
#include "inference.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>

#include <sys/resource.h>

#include <algorithm>
#include <ctime>
#include <vector>

using ml::bench::median;

namespace {

double cpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

double peakRssMb()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0; // kilobytes on Linux
}

QString inputName(const ml::Classifier& c)
{
    return c.card()
        .value(QStringLiteral("input"))
        .toObject()
        .value(QStringLiteral("normalization"))
        .toString(QStringLiteral("none"));
}

QJsonArray toJson(const std::vector<double>& v)
{
    QJsonArray a;
    for (double x : v)
        a.append(std::round(x * 10.0) / 10.0);
    return a;
}

// Command-line settings of a run.
struct BenchOptions
{
    QString dir;
    QString modelPath;
    QString precision = QStringLiteral("fp32");
    QString input; // empty: the card's input normalisation
    int runs = 3, threads = 2, decodeThreads = 1, batch = 256, domainSample = 2000;
    bool forwardOnly = false, json = false;
    bool workers = true; // --pipeline workers (default) | prefetch: ClassifyOptions::workers
};

// Reads the arguments into o; false (after printing the usage) on an unknown option.
bool parseArgs(const QStringList& args, BenchOptions& o)
{
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        auto next = [&]() { return i + 1 < args.size() ? args.at(++i) : QString(); };
        if (a == QLatin1String("--runs"))
            o.runs = std::max(1, next().toInt());
        else if (a == QLatin1String("--threads"))
            o.threads = std::max(1, next().toInt());
        else if (a == QLatin1String("--decode-threads"))
            o.decodeThreads = std::max(1, next().toInt());
        else if (a == QLatin1String("--batch"))
            o.batch = std::max(1, next().toInt());
        else if (a == QLatin1String("--model"))
            o.modelPath = next();
        else if (a == QLatin1String("--precision"))
            o.precision = next();
        else if (a == QLatin1String("--domain-sample"))
            o.domainSample = std::max(0, next().toInt());
        else if (a == QLatin1String("--input"))
            o.input = next();
        else if (a == QLatin1String("--pipeline"))
            o.workers = next() != QLatin1String("prefetch");
        else if (a == QLatin1String("--forward-only"))
            o.forwardOnly = true;
        else if (a == QLatin1String("--json"))
            o.json = true;
        else if (!a.startsWith(QLatin1String("--")))
            o.dir = a;
        else {
            QTextStream(stderr)
                << "usage: bench_inference [DIR] [--runs N] [--threads T] [--decode-threads D] "
                   "[--batch B] [--model FILE] [--precision fp32|int8] [--domain-sample N] "
                   "[--input NORMALIZATION] [--pipeline workers|prefetch] [--forward-only] "
                   "[--json]\n";
            return false;
        }
    }
    return true;
}

// Images/s of every run, wall and per CPU-second.
struct Results
{
    bool optimised = false; // the classifier has an optimised path, measured beside the reference
    std::vector<double> forward, forwardCpu, forwardRef, forwardRefCpu;
    std::vector<double> endToEnd, endToEndCpu;
    int classified = 0, failed = 0;
};

// 1. Forward pass alone on real preprocessed cells (the first `batch` of the folder).
void measureForward(const BenchOptions& o, const ml::Classifier& classifier, const ml::Dataset& ds,
                    Results& res)
{
    const int batch = o.batch;
    std::vector<cv::Mat> cells;
    for (int i = 0; i < ds.images.size() && int(cells.size()) < batch; ++i) {
        const ml::PreprocessedImage p = ml::loadPreprocessed(ds.absolutePath(i));
        if (p.ok())
            cells.push_back(p.rgb);
    }
    while (int(cells.size()) < batch)
        cells.push_back(cells[cells.size() % std::max<size_t>(1, cells.size())]);
    ml::Classifier reference = classifier;
    reference.setOptimizedInference(false);
    res.optimised = classifier.hasOptimizedInference();
    classifier.predict(cells); // warm-up: oneDNN primitive creation, allocations
    reference.predict(cells);
    const int passes = 5;
    auto measure = [&](const ml::Classifier& c, std::vector<double>& wall,
                       std::vector<double>& cpu) {
        QElapsedTimer t;
        t.start();
        const double c0 = cpuSeconds();
        for (int k = 0; k < passes; ++k)
            c.predict(cells);
        wall.push_back(double(passes) * batch / (t.nsecsElapsed() / 1e9));
        cpu.push_back(double(passes) * batch / (cpuSeconds() - c0));
    };
    for (int r = 0; r < o.runs; ++r) {
        measure(classifier, res.forward, res.forwardCpu);
        if (res.optimised)
            measure(reference, res.forwardRef, res.forwardRefCpu);
    }
}

// 2. End to end over the folder; false (after printing the error) when classification fails.
bool measureEndToEnd(const BenchOptions& opts, const ml::Classifier& classifier,
                     const ml::Dataset& ds, Results& res)
{
    ml::ClassifyOptions o;
    o.batchSize = opts.batch;
    o.threads = opts.threads;
    o.decodeThreads = opts.decodeThreads;
    o.workers = opts.workers;
    o.appearanceSample = opts.domainSample;
    for (int r = 0; r < opts.runs; ++r) {
        const double c0 = cpuSeconds();
        const ml::ClassifyReport rep = ml::classifyDataset(ds, classifier, o);
        res.endToEndCpu.push_back((rep.processed() - rep.failed) / (cpuSeconds() - c0));
        if (!rep.ok()) {
            QTextStream(stderr) << "bench_inference: " << rep.error << "\n";
            return false;
        }
        res.classified = rep.processed() - rep.failed;
        res.failed = rep.failed;
        res.endToEnd.push_back(rep.imagesPerSecond());
    }
    return true;
}

void printJson(QTextStream& out, const BenchOptions& opts, const ml::Classifier& classifier,
               const Results& res)
{
    QJsonObject o{
        {QStringLiteral("model"), classifier.source()},
        {QStringLiteral("architecture"), classifier.architecture()},
        {QStringLiteral("precision"), ml::precisionName(classifier.precision())},
        {QStringLiteral("input"), inputName(classifier)},
        {QStringLiteral("domain_sample"), opts.domainSample},
        {QStringLiteral("peak_rss_mb"), peakRssMb()},
        {QStringLiteral("threads"), opts.threads},
        {QStringLiteral("decode_threads"), opts.decodeThreads},
        {QStringLiteral("pipeline"),
         opts.workers ? QStringLiteral("workers") : QStringLiteral("prefetch")},
        {QStringLiteral("batch"), opts.batch},
        {QStringLiteral("forward_images_per_second"), toJson(res.forward)},
        {QStringLiteral("forward_median"), std::round(median(res.forward) * 10) / 10},
        {QStringLiteral("forward_per_cpu_second_median"),
         std::round(median(res.forwardCpu) * 10) / 10},
        {QStringLiteral("reference_forward_images_per_second"), toJson(res.forwardRef)},
        {QStringLiteral("reference_forward_median"), std::round(median(res.forwardRef) * 10) / 10},
        {QStringLiteral("reference_forward_per_cpu_second_median"),
         std::round(median(res.forwardRefCpu) * 10) / 10},
        {QStringLiteral("end_to_end_images_per_second"), toJson(res.endToEnd)},
        {QStringLiteral("end_to_end_median"), std::round(median(res.endToEnd) * 10) / 10},
        {QStringLiteral("end_to_end_per_cpu_second_median"),
         std::round(median(res.endToEndCpu) * 10) / 10},
        {QStringLiteral("images"), res.classified},
        {QStringLiteral("failed"), res.failed}};
    out << QJsonDocument(o).toJson(QJsonDocument::Indented);
}

void printText(QTextStream& out, const BenchOptions& opts, const ml::Classifier& classifier,
               const Results& res)
{
    const int batch = opts.batch;
    out << "model " << classifier.source() << " (" << classifier.architecture() << ", "
        << ml::precisionName(classifier.precision()) << ", input " << inputName(classifier)
        << ", domain sample " << opts.domainSample << "), threads " << opts.threads
        << ", decode threads " << opts.decodeThreads << ", batch " << batch << "\n";
    auto printForward = [&](const char* label, const std::vector<double>& wall,
                            const std::vector<double>& cpu) {
        out << QStringLiteral("%1 forward batch %2: median %3 images/s, %4 images/CPU-s (runs:")
                   .arg(QLatin1String(label))
                   .arg(batch)
                   .arg(median(wall), 0, 'f', 1)
                   .arg(median(cpu), 0, 'f', 1);
        for (double v : wall)
            out << " " << QString::number(v, 'f', 1);
        out << ")\n";
    };
    printForward(res.optimised ? "optimised" : "plain", res.forward, res.forwardCpu);
    if (res.optimised) {
        printForward("reference", res.forwardRef, res.forwardRefCpu);
        out << QStringLiteral("optimised / reference: %1 (wall), %2 (CPU)\n")
                   .arg(median(res.forward) / median(res.forwardRef), 0, 'f', 2)
                   .arg(median(res.forwardCpu) / median(res.forwardRefCpu), 0, 'f', 2);
    }
    if (!opts.forwardOnly) {
        out << QStringLiteral("end to end %1 images (%2 failed): median %3 images/s, %4 "
                              "images/CPU-s (runs:")
                   .arg(res.classified)
                   .arg(res.failed)
                   .arg(median(res.endToEnd), 0, 'f', 1)
                   .arg(median(res.endToEndCpu), 0, 'f', 1);
        for (double v : res.endToEnd)
            out << " " << QString::number(v, 'f', 1);
        out << ")\n";
    }
    out << QStringLiteral("peak RSS %1 MB\n").arg(peakRssMb(), 0, 'f', 0);
}

// --precision and --input; false (after printing why) when the precision is not available.
bool configure(const BenchOptions& opts, ml::Classifier& classifier)
{
    const std::optional<ml::Precision> p = ml::precisionFromName(opts.precision);
    if (!p || !classifier.setPrecision(*p)) {
        QTextStream(stderr) << "bench_inference: "
                            << (p ? classifier.precisionNote()
                                  : QStringLiteral("--precision fp32|int8"))
                            << "\n";
        return false;
    }
    if (!opts.input.isEmpty()) {
        QJsonObject card = classifier.card();
        QJsonObject input = card.value(QStringLiteral("input")).toObject();
        input.insert(QStringLiteral("normalization"), opts.input);
        card.insert(QStringLiteral("input"), input);
        classifier.setCard(card);
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    ml::ensureBlasKernels(argv);
    ml::keepBatchBuffersInTheHeap();
    QCoreApplication app(argc, argv);
    BenchOptions opts;
    opts.dir = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!parseArgs(app.arguments(), opts))
        return 2;
    QTextStream out(stdout);
    ml::Classifier classifier;
    if (!(opts.modelPath.isEmpty() ? classifier.loadEmbedded() : classifier.load(opts.modelPath))) {
        QTextStream(stderr) << "bench_inference: " << classifier.errorString() << "\n";
        return 1;
    }
    if (!configure(opts, classifier))
        return 1;
    const ml::Dataset ds = ml::scanFolder(opts.dir);
    if (!ds.error.isEmpty() || ds.images.isEmpty()) {
        QTextStream(stderr) << "bench_inference: "
                            << (ds.error.isEmpty() ? QStringLiteral("no images") : ds.error)
                            << "\n";
        return 1;
    }
    ml::setTorchThreads(opts.threads);

    Results res;
    measureForward(opts, classifier, ds, res);
    if (!opts.forwardOnly && !measureEndToEnd(opts, classifier, ds, res))
        return 1;
    if (opts.json)
        printJson(out, opts, classifier, res);
    else
        printText(out, opts, classifier, res);
    return 0;
}
