// Benchmark + ground-truth check of whole-field segmentation (issue 7).
//
//   bench_segment [DIR] [--annotations FILE] [--runs N] [--speed-fields N] [--threads T[,T...]]
//                 [--model FILE | --embedded] [--classify-fields N] [--max-pixels N]
//                 [--dump CSV]
//                 [--param min-area|max-area|peak-sep|peak-depth|contrast|resplit|
//                          resplit-sep|resplit-depth|roundness|edge-visible|box-margin=VALUE]
//
// 1. Accuracy: every field of DIR (default ../shared/data/iml-fields/images) is decoded and
//    segmented once; boxes are matched to annotations.json at IoU >= 0.5 (all cells, and
//    interior cells only). --dump writes every detection (image,x,y,w,h,edge,area) as CSV
//    for offline analysis of false positives/negatives.
// 2. Speed of segmentation alone: the first N fields (default 40) are decoded once and held in
//    memory, then segmented `runs` times with T worker threads (one field per task); the
//    median over runs of fields/s is printed. Decoding is timed separately.
// 3. With a model (when the build has the models library): the whole pipeline (decode,
//    segment, crop, classify) on the first --classify-fields fields, fields/s and cells/s,
//    and parasite sensitivity / healthy false-positive rate over those fields.
// The python3-opencv peer of step 2 is bench/peer_segment.py; results in docs/BENCHMARKS.md.

#include "cellsegmenter.h"
#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "imageio.h"

#ifdef MALARIALENS_BENCH_MODELS
#include "benchstats.h"
#include "classifier.h"
#include "preprocess.h"
#include "torchthreads.h"
#endif

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QStringList>
#include <QTextStream>
#include <QThreadPool>
#include <QtConcurrent>

#include <algorithm>
#include <atomic>
#include <vector>

using namespace ml;

using ml::bench::median;

namespace {

QTextStream& out()
{
    static QTextStream s(stdout);
    return s;
}

// Command-line settings of a run.
struct BenchOptions
{
    QString dir;
    QString annotations;
    QString modelPath;
    QString dumpPath;
    bool embedded = false;
    int runs = 5;
    int speedFields = 40;
    int classifyFields = 40;
    SegmentationParams params;
    QList<int> threadCounts{1, 2};
};

// --param name=value for tuning: min-area, max-area, peak-sep, peak-depth, contrast, resplit,
// resplit-sep, resplit-depth, roundness, edge-visible, box-margin
void setParam(SegmentationParams& params, const QString& nameValue)
{
    const QStringList kv = nameValue.split(QLatin1Char('='));
    const double v = kv.value(1).toDouble();
    const QString k = kv.value(0);
    if (k == QLatin1String("min-area"))
        params.minAreaFraction = v;
    else if (k == QLatin1String("max-area"))
        params.maxAreaFraction = v;
    else if (k == QLatin1String("peak-sep"))
        params.peakSeparation = v;
    else if (k == QLatin1String("peak-depth"))
        params.minPeakDepth = v;
    else if (k == QLatin1String("contrast"))
        params.minContrast = v;
    else if (k == QLatin1String("roundness"))
        params.minRoundness = v;
    else if (k == QLatin1String("resplit"))
        params.resplitAbove = v;
    else if (k == QLatin1String("resplit-sep"))
        params.resplitSeparation = v;
    else if (k == QLatin1String("resplit-depth"))
        params.resplitDepth = v;
    else if (k == QLatin1String("edge-visible"))
        params.minEdgeVisible = v;
    else if (k == QLatin1String("box-margin"))
        params.boxMargin = v;
}

// Reads the arguments into o; false (after printing the usage) on an unknown option.
bool parseArgs(const QStringList& args, BenchOptions& o)
{
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        const bool hasValue = i + 1 < args.size();
        if (a == QLatin1String("--runs") && hasValue) {
            o.runs = std::max(1, args.at(++i).toInt());
        } else if (a == QLatin1String("--speed-fields") && hasValue) {
            o.speedFields = std::max(1, args.at(++i).toInt());
        } else if (a == QLatin1String("--classify-fields") && hasValue) {
            o.classifyFields = std::max(0, args.at(++i).toInt());
        } else if (a == QLatin1String("--annotations") && hasValue) {
            o.annotations = args.at(++i);
        } else if (a == QLatin1String("--model") && hasValue) {
            o.modelPath = args.at(++i);
        } else if (a == QLatin1String("--dump") && hasValue) {
            o.dumpPath = args.at(++i);
        } else if (a == QLatin1String("--embedded")) {
            o.embedded = true;
        } else if (a == QLatin1String("--max-pixels") && hasValue) {
            o.params.maxWorkingPixels = args.at(++i).toLongLong();
        } else if (a == QLatin1String("--param") && hasValue) {
            setParam(o.params, args.at(++i));
        } else if (a == QLatin1String("--threads") && hasValue) {
            o.threadCounts.clear();
            for (const QString& t : args.at(++i).split(QLatin1Char(',')))
                o.threadCounts << std::max(1, t.toInt());
        } else if (!a.startsWith(QLatin1String("--"))) {
            o.dir = a;
        } else {
            QTextStream(stderr) << "usage: bench_segment [DIR] [--annotations FILE] [--runs N] "
                                   "[--speed-fields N] [--threads T,..] [--model FILE | "
                                   "--embedded] [--classify-fields N] [--max-pixels N] "
                                   "[--param name=value]\n";
            return false;
        }
    }
    return true;
}

// What step 1 measured over every field.
struct Accuracy
{
    FieldEvaluation all, interior, evenHalf, oddHalf;
    QString perField; // the per-field distribution line
    std::vector<double> decodeMs;
    int fieldsWithWarnings = 0, cells = 0;
};

// Step 1, field by field (two threads): the results of every field, by index.
struct FieldRuns
{
    std::vector<FieldEvaluation> evAll, evInt;
    std::vector<int> nCells, warned;
    std::vector<double> dec;
    std::vector<QString> dumpRows;
};

FieldRuns analyzeAllFields(const BenchOptions& o, const QStringList& files,
                           const FieldAnnotationSet& truth)
{
    const size_t n = size_t(files.size());
    FieldRuns fr{std::vector<FieldEvaluation>(n), std::vector<FieldEvaluation>(n),
                 std::vector<int>(n, 0),          std::vector<int>(n, 0),
                 std::vector<double>(n, 0.0),     std::vector<QString>(n)};
    std::vector<int> idx(n);
    for (int i = 0; i < files.size(); ++i)
        idx[size_t(i)] = i;
    QThreadPool::globalInstance()->setMaxThreadCount(2);
    QtConcurrent::blockingMap(idx, [&](int i) {
        FieldOptions fo;
        fo.segmentation = o.params;
        const FieldResult r = analyzeField(files.at(i), fo);
        fr.dec[size_t(i)] = r.decodeMs;
        fr.nCells[size_t(i)] = int(r.cells.size());
        fr.warned[size_t(i)] = r.warnings.isEmpty() ? 0 : 1;
        if (!o.dumpPath.isEmpty()) {
            QString& rows = fr.dumpRows[size_t(i)];
            const QString name = QFileInfo(files.at(i)).fileName();
            for (const FieldCell& c : r.cells)
                rows += QStringLiteral("%1,%2,%3,%4,%5,%6,%7\n")
                            .arg(name)
                            .arg(c.cell.detectionBox.x)
                            .arg(c.cell.detectionBox.y)
                            .arg(c.cell.detectionBox.width)
                            .arg(c.cell.detectionBox.height)
                            .arg(c.cell.touchesEdge ? 1 : 0)
                            .arg(c.cell.area, 0, 'f', 0);
        }
        if (!truth.ok() || !r.error.isEmpty())
            return;
        const FieldAnnotation* fa = truth.find(files.at(i));
        if (!fa)
            return;
        fr.evAll[size_t(i)] = evaluateField(r.boxes(false), {}, *fa, r.imageSize);
        // Interior: only cells away from the border on both sides.
        const FieldAnnotation inner = fa->withoutEdgeObjects(r.imageSize);
        fr.evInt[size_t(i)] = evaluateField(r.boxes(true), {}, inner, r.imageSize);
    });
    return fr;
}

// Per-field distribution of recall and precision, one line; also fills the split by file
// order (even / odd index), so parameters chosen on one half can be judged on the other.
QString perFieldSummary(const std::vector<FieldEvaluation>& evAll, Accuracy& acc)
{
    std::vector<double> fieldRecall, fieldPrecision;
    for (size_t i = 0; i < evAll.size(); ++i) {
        if (evAll[i].truthCells > 0) {
            fieldRecall.push_back(evAll[i].recall());
            fieldPrecision.push_back(evAll[i].precision());
        }
        (i % 2 ? acc.oddHalf : acc.evenHalf) += evAll[i];
    }
    auto quantile = [](std::vector<double> v, double q) {
        if (v.empty())
            return 0.0;
        std::sort(v.begin(), v.end());
        return v[size_t(std::lround(q * double(v.size() - 1)))];
    };
    return QStringLiteral("per field (%1): recall median %2, p10 %3, min %4; precision "
                          "median %5, p10 %6, min %7; fields with both >= 0.9: %8\n")
        .arg(fieldRecall.size())
        .arg(median(fieldRecall), 0, 'f', 3)
        .arg(quantile(fieldRecall, 0.1), 0, 'f', 3)
        .arg(quantile(fieldRecall, 0.0), 0, 'f', 3)
        .arg(median(fieldPrecision), 0, 'f', 3)
        .arg(quantile(fieldPrecision, 0.1), 0, 'f', 3)
        .arg(quantile(fieldPrecision, 0.0), 0, 'f', 3)
        .arg(std::count_if(evAll.begin(), evAll.end(), [](const FieldEvaluation& e) {
            return e.truthCells > 0 && e.recall() >= 0.9 && e.precision() >= 0.9;
        }));
}

// --dump: every detection as CSV.
void writeDump(const QString& dumpPath, const std::vector<QString>& dumpRows)
{
    QFile f(dumpPath);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        QTextStream ts(&f);
        ts << "image,x,y,w,h,edge,area\n";
        for (const QString& rows : dumpRows)
            ts << rows;
    } else {
        QTextStream(stderr) << "bench_segment: cannot write " << dumpPath << "\n";
    }
}

// 1. Accuracy over every field.
Accuracy measureAccuracy(const BenchOptions& o, const QStringList& files,
                         const FieldAnnotationSet& truth)
{
    Accuracy acc;
    const FieldRuns fr = analyzeAllFields(o, files, truth);
    acc.perField = perFieldSummary(fr.evAll, acc);
    for (size_t i = 0; i < fr.evAll.size(); ++i) {
        acc.all += fr.evAll[i];
        acc.interior += fr.evInt[i];
        acc.cells += fr.nCells[i];
        acc.fieldsWithWarnings += fr.warned[i];
    }
    acc.decodeMs = fr.dec;
    if (!o.dumpPath.isEmpty())
        writeDump(o.dumpPath, fr.dumpRows);
    return acc;
}

void printAccuracy(const BenchOptions& o, const QStringList& files, const FieldAnnotationSet& truth,
                   const Accuracy& acc)
{
    out() << "fields: " << files.size() << " in " << o.dir << "\n";
    out() << "cells found: " << acc.cells << ", fields with warnings: " << acc.fieldsWithWarnings
          << "\n";
    out() << "decode 1280x960 JPEG: median " << QString::number(median(acc.decodeMs), 'f', 1)
          << " ms\n";
    if (truth.ok()) {
        const FieldEvaluation& all = acc.all;
        const FieldEvaluation& interior = acc.interior;
        out() << QStringLiteral("all cells:      recall %1 (%2/%3), precision %4 (%5/%6)\n")
                     .arg(all.recall(), 0, 'f', 3)
                     .arg(all.matched)
                     .arg(all.truthCells)
                     .arg(all.precision(), 0, 'f', 3)
                     .arg(all.matched)
                     .arg(all.detections);
        out() << QStringLiteral("interior cells: recall %1 (%2/%3), precision %4 (%5/%6)\n")
                     .arg(interior.recall(), 0, 'f', 3)
                     .arg(interior.matched)
                     .arg(interior.truthCells)
                     .arg(interior.precision(), 0, 'f', 3)
                     .arg(interior.matched)
                     .arg(interior.detections);
        out() << acc.perField;
        out() << QStringLiteral("even-indexed fields: recall %1, precision %2; odd-indexed: "
                                "recall %3, precision %4\n")
                     .arg(acc.evenHalf.recall(), 0, 'f', 3)
                     .arg(acc.evenHalf.precision(), 0, 'f', 3)
                     .arg(acc.oddHalf.recall(), 0, 'f', 3)
                     .arg(acc.oddHalf.precision(), 0, 'f', 3);
    }
    out().flush();
}

// 2. Speed of segmentation alone, for each thread count.
void benchSegmentationSpeed(const BenchOptions& o, const QStringList& files)
{
    std::vector<cv::Mat> images;
    for (int i = 0; i < std::min<int>(o.speedFields, files.size()); ++i) {
        DecodedImage d = decodeImage(files.at(i), FieldOptions().limits);
        if (d.ok())
            images.push_back(std::move(d.bgr));
    }
    for (int threads : o.threadCounts) {
        QThreadPool pool;
        pool.setMaxThreadCount(threads);
        std::vector<double> rates;
        std::atomic<int> found{0};
        for (int run = 0; run < o.runs; ++run) {
            QElapsedTimer t;
            t.start();
            QtConcurrent::blockingMap(&pool, images, [&](const cv::Mat& m) {
                found += int(segmentCells(m, o.params).cells.size());
            });
            rates.push_back(images.size() / (t.nsecsElapsed() / 1e9));
        }
        out() << QStringLiteral("segmentation, %1 thread(s): median %2 fields/s over %3 runs of "
                                "%4 fields (%5 ms/field/thread)\n")
                     .arg(threads)
                     .arg(median(rates), 0, 'f', 1)
                     .arg(o.runs)
                     .arg(images.size())
                     .arg(1000.0 * threads / median(rates), 0, 'f', 1);
        out().flush();
    }
    images.clear();
}

#ifdef MALARIALENS_BENCH_MODELS
// 3. Whole pipeline with classification; the exit code (1 when the model or a field fails).
int benchPipeline(const BenchOptions& opts, const QStringList& files,
                  const FieldAnnotationSet& truth)
{
    Classifier clf;
    const bool loaded = opts.embedded ? clf.loadEmbedded() : clf.load(opts.modelPath);
    if (!loaded) {
        QTextStream(stderr) << "bench_segment: " << clf.errorString() << "\n";
        return 1;
    }
    setTorchThreads(2);
    FieldOptions o;
    o.segmentation = opts.params;
    o.classifier = [&clf](const std::vector<cv::Mat>& crops, QString* error) {
        std::vector<cv::Mat> in;
        in.reserve(crops.size());
        for (const cv::Mat& c : crops)
            in.push_back(preprocessImage(c));
        return clf.predict(in, error);
    };
    FieldEvaluation ev;
    std::vector<double> perField;
    int nCells = 0;
    QElapsedTimer total;
    total.start();
    const int n = std::min<int>(opts.classifyFields, files.size());
    for (int i = 0; i < n; ++i) {
        QElapsedTimer t;
        t.start();
        const FieldResult r = analyzeField(files.at(i), o);
        perField.push_back(t.nsecsElapsed() / 1e6);
        if (!r.ok()) {
            QTextStream(stderr) << "bench_segment: " << r.path << ": " << r.error << "\n";
            return 1;
        }
        nCells += int(r.cells.size());
        if (const FieldAnnotation* fa = truth.ok() ? truth.find(files.at(i)) : nullptr)
            ev += evaluateField(r.boxes(false), r.flags(false), *fa, r.imageSize);
    }
    const double secs = total.nsecsElapsed() / 1e9;
    out() << QStringLiteral("pipeline (decode+segment+classify, %1, 2 torch threads): %2 "
                            "fields/s, %3 cells/s, median %4 ms/field over %5 fields\n")
                 .arg(clf.architecture())
                 .arg(n / secs, 0, 'f', 2)
                 .arg(nCells / secs, 0, 'f', 0)
                 .arg(median(perField), 0, 'f', 0)
                 .arg(n);
    out() << QStringLiteral("  on those fields: parasite sensitivity %1 (%2/%3), healthy "
                            "false-positive rate %4 (%5/%6)\n")
                 .arg(ev.parasiteSensitivity(), 0, 'f', 3)
                 .arg(ev.infectedFlagged)
                 .arg(ev.infectedTruth)
                 .arg(ev.healthyFalsePositiveRate(), 0, 'f', 3)
                 .arg(ev.healthyFlagged)
                 .arg(ev.healthyMatched);
    return 0;
}
#endif

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const QString data = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    BenchOptions o;
    o.dir = data + QStringLiteral("/images");
    o.annotations = data + QStringLiteral("/annotations.json");
    if (!parseArgs(app.arguments(), o))
        return 2;
    const QStringList files = fieldImagesInFolder(o.dir);
    if (files.isEmpty()) {
        QTextStream(stderr) << "bench_segment: no images in " << o.dir << "\n";
        return 1;
    }
    const FieldAnnotationSet truth = loadFieldAnnotations(o.annotations);
    if (!truth.ok())
        QTextStream(stderr) << "bench_segment: " << truth.error << " (accuracy skipped)\n";

    printAccuracy(o, files, truth, measureAccuracy(o, files, truth));
    benchSegmentationSpeed(o, files);

#ifdef MALARIALENS_BENCH_MODELS
    if ((o.embedded || !o.modelPath.isEmpty()) && o.classifyFields > 0)
        return benchPipeline(o, files, truth);
#else
    if (o.embedded || !o.modelPath.isEmpty())
        QTextStream(stderr) << "bench_segment: built without the models library\n";
#endif
    return 0;
}
