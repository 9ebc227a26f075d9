// Benchmark: per-class mean (and std) images over a folder, as the Explore page computes
// them: scan, decode (decodeImage), resize to NxN, accumulate x and x^2 in double.
// Compare with bench/peer_mean.py (the same loop in python3-opencv); see docs/BENCHMARKS.md.
//
//   bench_mean [DIR] [--runs N] [--threads T[,T...]] [--size N] [--latency]
//
// --latency: one run in the background (QtConcurrent, as the Explore page does) while the
// main thread's event loop runs a 10 ms timer; prints how late the timer fired (the stall
// a GUI would feel).

#include "benchstats.h"
#include "folderscanner.h"
#include "meanimage.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFutureWatcher>
#include <QStringList>
#include <QTextStream>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <vector>

using ml::bench::median;

namespace {

// Runs one mean computation in the background and measures the main event loop meanwhile.
int measureLatency(const QString& dir, int size, int threads)
{
    const ml::Dataset ds = ml::scanFolder(dir);
    ml::MeanImageOptions o;
    o.size = size;
    o.threads = threads;
    o.useCache = false;
    QFutureWatcher<ml::MeanImageResult> watcher;
    QEventLoop loop;
    QObject::connect(&watcher, &QFutureWatcher<ml::MeanImageResult>::finished, &loop,
                     &QEventLoop::quit);
    std::vector<double> late;
    QElapsedTimer clock;
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(10);
    qint64 last = 0;
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        late.push_back(std::max(0.0, (now - last) / 1e6 - 10.0));
        last = now;
    });
    clock.start();
    tick.start();
    watcher.setFuture(QtConcurrent::run([&ds, o] { return ml::computeMeanImages(ds, o); }));
    loop.exec();
    const double seconds = clock.nsecsElapsed() / 1e9;
    std::sort(late.begin(), late.end());
    const double p99 = late.empty() ? 0 : late[size_t(double(late.size() - 1) * 0.99)];
    QTextStream(stdout) << QStringLiteral(
                               "latency threads %1: %2 s, %3 ticks, timer late by median %4 ms, "
                               "p99 %5 ms, max %6 ms\n")
                               .arg(threads)
                               .arg(seconds, 0, 'f', 2)
                               .arg(late.size())
                               .arg(late.empty() ? 0 : late[late.size() / 2], 0, 'f', 2)
                               .arg(p99, 0, 'f', 2)
                               .arg(late.empty() ? 0 : late.back(), 0, 'f', 2);
    return watcher.result().complete ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QString dir = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    int runs = 5;
    int size = 64;
    QList<int> threadCounts{2};
    bool latency = false;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        if (a == QLatin1String("--runs") && i + 1 < args.size()) {
            runs = std::max(1, args.at(++i).toInt());
        } else if (a == QLatin1String("--size") && i + 1 < args.size()) {
            size = args.at(++i).toInt();
        } else if (a == QLatin1String("--threads") && i + 1 < args.size()) {
            threadCounts.clear();
            for (const QString& t : args.at(++i).split(QLatin1Char(',')))
                threadCounts << std::max(1, t.toInt());
        } else if (a == QLatin1String("--latency")) {
            latency = true;
        } else if (!a.startsWith(QLatin1String("--"))) {
            dir = a;
        } else {
            QTextStream(stderr) << "usage: bench_mean [DIR] [--runs N] [--threads T[,T...]] "
                                   "[--size N] [--latency]\n";
            return 2;
        }
    }
    if (latency)
        return measureLatency(dir, size, threadCounts.first());
    QTextStream out(stdout);
    for (int threads : threadCounts) {
        std::vector<double> totals, computes;
        int images = 0;
        for (int r = 0; r < runs; ++r) {
            QElapsedTimer t;
            t.start();
            const ml::Dataset ds = ml::scanFolder(dir);
            if (!ds.error.isEmpty()) {
                QTextStream(stderr) << "bench_mean: " << ds.error << "\n";
                return 1;
            }
            const qint64 scanned = t.nsecsElapsed();
            ml::MeanImageOptions o;
            o.size = size;
            o.threads = threads;
            o.useCache = false; // measure the work, not the cache
            const ml::MeanImageResult res = ml::computeMeanImages(ds, o);
            const double total = t.nsecsElapsed() / 1e9;
            if (!res.complete) {
                QTextStream(stderr) << "bench_mean: incomplete: " << res.error << "\n";
                return 1;
            }
            images = res.decoded;
            totals.push_back(total);
            computes.push_back(total - scanned / 1e9);
            out << QStringLiteral("run %1 threads %2: %3 images, total %4 s (scan %5 s)\n")
                       .arg(r + 1)
                       .arg(threads)
                       .arg(images)
                       .arg(total, 0, 'f', 3)
                       .arg(scanned / 1e9, 0, 'f', 3);
            out.flush();
        }
        out << QStringLiteral(
                   "median threads %1: total %2 s, mean/std pass %3 s, %4 images/s over %5 runs\n")
                   .arg(threads)
                   .arg(median(totals), 0, 'f', 3)
                   .arg(median(computes), 0, 'f', 3)
                   .arg(images / median(totals), 0, 'f', 0)
                   .arg(runs);
        out.flush();
    }
    return 0;
}
