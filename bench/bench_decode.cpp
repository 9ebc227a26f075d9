// Benchmark: PNG decoding of the shared cells, libspng and the app's own reader against OpenCV,
// one thread, in
// interleaved rounds (every round runs every method once over all files, in a rotated
// order, so load from other work hits all methods alike); prints per-round times and
// medians. See docs/BENCHMARKS.md ("Speed, the next step (issue 19)").
//
//   bench_decode [DIR] [--rounds N] [--limit N] [--only METHOD]   (--only: no timing, for perf)
//
// Methods (all single-threaded, files in the page cache after a warm-up pass):
//   imread          cv::imread(path, IMREAD_UNCHANGED)
//   imdecode        QFile::readAll + cv::imdecode(IMREAD_UNCHANGED)
//   spng            QFile::readAll + ml::bench::decodePngFast (libspng, same cv::Mat as imdecode)
//   decodeImage     ml::decodeImage as shipped (since issue 19: ml::readPngFast, else OpenCV)
//   pngreader       QFile::readAll + ml::readPngFast (libdeflate + SSE2 filters), imdecode for
//                   the files it leaves to OpenCV
// The warm-up pass also checks that spng's and pngreader's pixels equal imdecode's, file by file.

#include "benchstats.h"
#include "imageio.h"
#include "pngreader.h"
#include "spngdecoder.h"

#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QTextStream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <ctime>
#include <functional>
#include <vector>

using ml::bench::median;

namespace {

QByteArray readFile(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

cv::Mat imdecodeBytes(const QByteArray& data)
{
    const cv::Mat buf(1, int(data.size()), CV_8UC1,
                      const_cast<uchar*>(reinterpret_cast<const uchar*>(data.constData())));
    return cv::imdecode(buf, cv::IMREAD_UNCHANGED);
}

bool samePixels(const cv::Mat& a, const cv::Mat& b)
{
    if (a.type() != b.type() || a.size() != b.size())
        return false;
    return cv::norm(a, b, cv::NORM_INF) == 0.0;
}

struct Method
{
    QString name;
    std::function<bool(const QString&)> decodeOne; // false on failure
    std::vector<double> seconds = {};
    std::vector<double> cpuSeconds = {};
};

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    const int rounds = ml::bench::takeIntOption(args, QStringLiteral("--rounds"), 5);
    const int limit = ml::bench::takeIntOption(args, QStringLiteral("--limit"), 0);
    const int onlyAt = int(args.indexOf(QStringLiteral("--only"))); // one method, for perf
    QString only;
    if (onlyAt >= 0 && onlyAt + 1 < args.size()) {
        only = args.at(onlyAt + 1);
        args.remove(onlyAt, 2);
    }
    const QString dir =
        args.isEmpty() ? QStringLiteral(MALARIALENS_SHARED_DATA "/nih-cells") : args.first();
    QTextStream out(stdout);

    QStringList files;
    QDirIterator it(dir, {QStringLiteral("*.png")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext())
        files << it.next();
    files.sort();
    if (limit > 0 && files.size() > limit)
        files = files.mid(0, limit);
    if (files.isEmpty()) {
        out << "no PNG files under " << dir << "\n";
        return 1;
    }
    cv::setNumThreads(1);

    // Warm-up: every file into the page cache, and spng's pixels checked against imdecode's.
    int mismatches = 0, spngDeclined = 0;
    qint64 bytes = 0;
    for (const QString& path : files) {
        const QByteArray data = readFile(path);
        bytes += data.size();
        const ml::bench::PngDecodeResult fast = ml::bench::decodePngFast(data, 100'000'000);
        if (fast.status != ml::bench::PngDecodeResult::Status::Decoded) {
            ++spngDeclined;
            continue;
        }
        if (!samePixels(fast.raw, imdecodeBytes(data)))
            ++mismatches;
    }
    int readerDeclined = 0, readerMismatches = 0;
    for (const QString& path : files) {
        const QByteArray data = readFile(path);
        cv::Mat mine;
        if (!ml::readPngFast(reinterpret_cast<const uchar*>(data.constData()), size_t(data.size()),
                             100'000'000, mine))
            ++readerDeclined;
        else if (!samePixels(mine, imdecodeBytes(data)))
            ++readerMismatches;
    }
    out << files.size() << " PNG files, " << bytes / 1e6 << " MB; libspng declined " << spngDeclined
        << ", pixel mismatches against imdecode: " << mismatches << "; pngreader declined "
        << readerDeclined << ", mismatches: " << readerMismatches << "\n";
    mismatches += readerMismatches;
    out.flush();

    std::vector<Method> methods;
    methods.push_back({QStringLiteral("imread"), [](const QString& p) {
                           return !cv::imread(p.toStdString(), cv::IMREAD_UNCHANGED).empty();
                       }});
    methods.push_back({QStringLiteral("imdecode"),
                       [](const QString& p) { return !imdecodeBytes(readFile(p)).empty(); }});
    methods.push_back({QStringLiteral("spng"), [](const QString& p) {
                           return ml::bench::decodePngFast(readFile(p), 100'000'000).status ==
                                  ml::bench::PngDecodeResult::Status::Decoded;
                       }});
    methods.push_back(
        {QStringLiteral("decodeImage"), [](const QString& p) { return ml::decodeImage(p).ok(); }});
    methods.push_back({QStringLiteral("pngreader"), [](const QString& p) {
                           const QByteArray data = readFile(p);
                           cv::Mat m;
                           return ml::readPngFast(reinterpret_cast<const uchar*>(data.constData()),
                                                  size_t(data.size()), 100'000'000, m) ||
                                  !imdecodeBytes(data).empty();
                       }});

    if (!only.isEmpty()) {
        methods.erase(std::remove_if(methods.begin(), methods.end(),
                                     [&](const Method& m) { return m.name != only; }),
                      methods.end());
        if (methods.empty()) {
            out << "no method named " << only << "\n";
            return 1;
        }
        for (int r = 0; r < rounds; ++r)
            for (const QString& path : files)
                methods.front().decodeOne(path);
        return 0;
    }
    for (int r = 0; r < rounds; ++r) {
        out << "round " << r + 1 << ":";
        for (size_t k = 0; k < methods.size(); ++k) {
            Method& m = methods[(k + size_t(r)) % methods.size()];
            int failed = 0;
            QElapsedTimer t;
            const double cpu0 = threadCpuSeconds();
            t.start();
            for (const QString& path : files)
                failed += m.decodeOne(path) ? 0 : 1;
            const double s = t.nsecsElapsed() / 1e9;
            const double cpu = threadCpuSeconds() - cpu0;
            m.seconds.push_back(s);
            m.cpuSeconds.push_back(cpu);
            out << "  " << m.name << " " << QString::number(s, 'f', 3) << " s ("
                << QString::number(cpu, 'f', 3) << " CPU)";
            if (failed)
                out << " (" << failed << " failed)";
        }
        out << "\n";
        out.flush();
    }

    out << "\nmedian of " << rounds << " rounds, 1 thread, " << files.size() << " files:\n";
    const double imread = median(methods[0].seconds), imreadCpu = median(methods[0].cpuSeconds);
    const double baseline = median(methods[3].seconds),
                 baselineCpu = median(methods[3].cpuSeconds); // decodeImage
    for (const Method& m : methods) {
        const double s = median(m.seconds), cpu = median(m.cpuSeconds);
        out << "  " << m.name.leftJustified(15) << " wall " << QString::number(s, 'f', 3) << " s, "
            << QString::number(files.size() / s, 'f', 0) << " images/s; CPU "
            << QString::number(cpu, 'f', 3) << " s, " << QString::number(files.size() / cpu, 'f', 0)
            << " images/CPU-s; imread/this " << QString::number(imread / s, 'f', 2) << "x (CPU "
            << QString::number(imreadCpu / cpu, 'f', 2) << "x), decodeImage/this "
            << QString::number(baseline / s, 'f', 2) << "x (CPU "
            << QString::number(baselineCpu / cpu, 'f', 2) << "x)\n";
    }
    return mismatches == 0 ? 0 : 2;
}
