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
//                   [--model FILE] [--forward-only] [--json]

#include "benchstats.h"
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

QJsonArray toJson(const std::vector<double>& v)
{
    QJsonArray a;
    for (double x : v)
        a.append(std::round(x * 10.0) / 10.0);
    return a;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QString dir = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    QString modelPath;
    int runs = 3, threads = 2, decodeThreads = 1, batch = 256;
    bool forwardOnly = false, json = false;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        auto next = [&]() { return i + 1 < args.size() ? args.at(++i) : QString(); };
        if (a == QLatin1String("--runs"))
            runs = std::max(1, next().toInt());
        else if (a == QLatin1String("--threads"))
            threads = std::max(1, next().toInt());
        else if (a == QLatin1String("--decode-threads"))
            decodeThreads = std::max(1, next().toInt());
        else if (a == QLatin1String("--batch"))
            batch = std::max(1, next().toInt());
        else if (a == QLatin1String("--model"))
            modelPath = next();
        else if (a == QLatin1String("--forward-only"))
            forwardOnly = true;
        else if (a == QLatin1String("--json"))
            json = true;
        else if (!a.startsWith(QLatin1String("--")))
            dir = a;
        else {
            QTextStream(stderr)
                << "usage: bench_inference [DIR] [--runs N] [--threads T] [--decode-threads D] "
                   "[--batch B] [--model FILE] [--forward-only] [--json]\n";
            return 2;
        }
    }
    QTextStream out(stdout);
    ml::Classifier classifier;
    if (!(modelPath.isEmpty() ? classifier.loadEmbedded() : classifier.load(modelPath))) {
        QTextStream(stderr) << "bench_inference: " << classifier.errorString() << "\n";
        return 1;
    }
    const ml::Dataset ds = ml::scanFolder(dir);
    if (!ds.error.isEmpty() || ds.images.isEmpty()) {
        QTextStream(stderr) << "bench_inference: "
                            << (ds.error.isEmpty() ? QStringLiteral("no images") : ds.error)
                            << "\n";
        return 1;
    }
    ml::setTorchThreads(threads);

    // 1. Forward pass alone on real preprocessed cells (the first `batch` of the folder).
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
    const bool optimised = classifier.hasOptimizedInference();
    classifier.predict(cells); // warm-up: oneDNN primitive creation, allocations
    reference.predict(cells);
    std::vector<double> forward, forwardCpu, forwardRef, forwardRefCpu;
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
    for (int r = 0; r < runs; ++r) {
        measure(classifier, forward, forwardCpu);
        if (optimised)
            measure(reference, forwardRef, forwardRefCpu);
    }

    // 2. End to end over the folder.
    std::vector<double> endToEnd, endToEndCpu;
    int classified = 0, failed = 0;
    if (!forwardOnly) {
        ml::ClassifyOptions o;
        o.batchSize = batch;
        o.threads = threads;
        o.decodeThreads = decodeThreads;
        for (int r = 0; r < runs; ++r) {
            const double c0 = cpuSeconds();
            const ml::ClassifyReport rep = ml::classifyDataset(ds, classifier, o);
            endToEndCpu.push_back((rep.processed() - rep.failed) / (cpuSeconds() - c0));
            if (!rep.ok()) {
                QTextStream(stderr) << "bench_inference: " << rep.error << "\n";
                return 1;
            }
            classified = rep.processed() - rep.failed;
            failed = rep.failed;
            endToEnd.push_back(rep.imagesPerSecond());
        }
    }
    if (json) {
        QJsonObject o{
            {QStringLiteral("model"), classifier.source()},
            {QStringLiteral("architecture"), classifier.architecture()},
            {QStringLiteral("threads"), threads},
            {QStringLiteral("decode_threads"), decodeThreads},
            {QStringLiteral("batch"), batch},
            {QStringLiteral("forward_images_per_second"), toJson(forward)},
            {QStringLiteral("forward_median"), std::round(median(forward) * 10) / 10},
            {QStringLiteral("forward_per_cpu_second_median"),
             std::round(median(forwardCpu) * 10) / 10},
            {QStringLiteral("reference_forward_images_per_second"), toJson(forwardRef)},
            {QStringLiteral("reference_forward_median"), std::round(median(forwardRef) * 10) / 10},
            {QStringLiteral("reference_forward_per_cpu_second_median"),
             std::round(median(forwardRefCpu) * 10) / 10},
            {QStringLiteral("end_to_end_images_per_second"), toJson(endToEnd)},
            {QStringLiteral("end_to_end_median"), std::round(median(endToEnd) * 10) / 10},
            {QStringLiteral("end_to_end_per_cpu_second_median"),
             std::round(median(endToEndCpu) * 10) / 10},
            {QStringLiteral("images"), classified},
            {QStringLiteral("failed"), failed}};
        out << QJsonDocument(o).toJson(QJsonDocument::Indented);
        return 0;
    }
    out << "model " << classifier.source() << " (" << classifier.architecture() << "), threads "
        << threads << ", decode threads " << decodeThreads << ", batch " << batch << "\n";
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
    printForward(optimised ? "optimised" : "plain", forward, forwardCpu);
    if (optimised) {
        printForward("reference", forwardRef, forwardRefCpu);
        out << QStringLiteral("optimised / reference: %1 (wall), %2 (CPU)\n")
                   .arg(median(forward) / median(forwardRef), 0, 'f', 2)
                   .arg(median(forwardCpu) / median(forwardRefCpu), 0, 'f', 2);
    }
    if (!forwardOnly) {
        out << QStringLiteral("end to end %1 images (%2 failed): median %3 images/s, %4 "
                              "images/CPU-s (runs:")
                   .arg(classified)
                   .arg(failed)
                   .arg(median(endToEnd), 0, 'f', 1)
                   .arg(median(endToEndCpu), 0, 'f', 1);
        for (double v : endToEnd)
            out << " " << QString::number(v, 'f', 1);
        out << ")\n";
    }
    return 0;
}
