// Training throughput of the C++ trainer (issue 5): images/s of training, seconds per full
// epoch (training + validation), decoding time and peak memory, on a subset of nih-cells
// or all of it. Peer: bench/peer_train.py (same se network, data, split sizes, batch size,
// threads in Debian's python3-torch). Results: docs/BENCHMARKS.md, section "Training".
//
//   bench_train [FOLDER] [--per-class N (0 = all)] [--epochs E] [--threads T] [--batch B]
//               [--arch se|gap|base] [--augment] [--normalize none|foreground-median] [--json]

#include "benchstats.h"
#include "folderscanner.h"
#include "preprocess.h"
#include "torchthreads.h"
#include "trainer.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

using namespace ml;

using ml::bench::median;

namespace {

double peakRssMb()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0; // kB on Linux
}

// Every class's files in sorted order, `perClass` of them evenly spaced (as peer_train.py).
Dataset subset(const Dataset& all, int perClass)
{
    if (perClass <= 0)
        return all;
    Dataset d = all;
    d.images.clear();
    for (int label = 0; label < all.classNames.size(); ++label) {
        QList<ImageEntry> cls;
        for (const ImageEntry& e : all.images)
            if (e.label == label)
                cls.append(e);
        const double step = double(cls.size()) / perClass;
        for (int i = 0; i < perClass && i < cls.size(); ++i)
            d.images.append(cls.at(int(i * step)));
    }
    return d;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QString folder = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    int perClass = 1500, epochs = 2, threads = 2, batch = 100;
    QString arch = QStringLiteral("se");
    bool json = false, augment = false;
    QString normalize = QStringLiteral("none");
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        auto next = [&]() { return i + 1 < args.size() ? args.at(++i) : QString(); };
        if (a == QLatin1String("--per-class"))
            perClass = next().toInt();
        else if (a == QLatin1String("--epochs"))
            epochs = next().toInt();
        else if (a == QLatin1String("--threads"))
            threads = next().toInt();
        else if (a == QLatin1String("--batch"))
            batch = next().toInt();
        else if (a == QLatin1String("--arch"))
            arch = next();
        else if (a == QLatin1String("--json"))
            json = true;
        else if (a == QLatin1String("--augment"))
            augment = true; // the shipped recipe's augmentation on the batch path
        else if (a == QLatin1String("--normalize"))
            normalize = next(); // none | foreground-median (the shipped recipe's)
        else if (!a.startsWith(QLatin1String("--")))
            folder = a;
        else {
            std::fprintf(stderr, "unknown option %s\n", qPrintable(a));
            return 2;
        }
    }
    const Dataset all = scanFolder(folder);
    if (!all.error.isEmpty() || all.images.isEmpty()) {
        std::fprintf(stderr, "bench_train: %s: %s\n", qPrintable(folder), qPrintable(all.error));
        return 1;
    }
    const Dataset ds = subset(all, perClass);

    TrainingConfig c;
    c.arch = parseArchitecture(arch).value_or(Architecture::Se);
    c.epochs = epochs;
    c.batchSize = batch;
    c.patience = epochs + 1; // measure every epoch, no early stop
    // Random split: the peer can reproduce the exact train/validation sizes.
    c.split = SplitMode::Random;
    c.valFraction = 0.2;
    c.threads = threads;
    c.decodeThreads = threads;
    c.augment = augment;
    c.normalization = inputNormalizationFromName(normalize);

    QElapsedTimer clock;
    double decodeSeconds = 0;
    TrainingCallbacks cb;
    cb.log = [](const QString&) {};
    cb.loadProgress = [&](int done, int total) {
        if (done == total)
            decodeSeconds = clock.elapsed() / 1000.0;
    };
    cb.epochDone = [&](const EpochStats& s) {
        if (!json)
            std::printf("epoch %d  train %.1f img/s  epoch %.2f s  loss %.4f  val_acc %.4f\n",
                        s.epoch, s.trainImagesPerSecond, s.seconds, s.trainLoss, s.valAccuracy);
        std::fflush(stdout);
    };
    clock.start();
    const TrainingResult r = trainClassifier(ds, c, cb);
    const double total = clock.elapsed() / 1000.0;
    if (!r.ok) {
        std::fprintf(stderr, "bench_train: %s\n", qPrintable(r.error));
        return 1;
    }
    std::vector<double> ips, sec;
    for (const EpochStats& s : r.history) {
        ips.push_back(s.trainImagesPerSecond);
        sec.push_back(s.seconds);
    }
    const int trainCells = [&] {
        int n = 0;
        for (auto v : r.split.trainCells)
            n += v;
        return n;
    }();
    QJsonObject o{{QStringLiteral("impl"),
                   QStringLiteral("C++ libtorch %1").arg(QString::fromLatin1(torchVersion()))},
                  {QStringLiteral("arch"), arch},
                  {QStringLiteral("images"), int(ds.images.size())},
                  {QStringLiteral("train_images"), trainCells},
                  {QStringLiteral("threads"), threads},
                  {QStringLiteral("batch"), batch},
                  {QStringLiteral("epochs"), epochs},
                  {QStringLiteral("augment"), augment},
                  {QStringLiteral("normalize"), normalize},
                  {QStringLiteral("decode_seconds"), decodeSeconds},
                  {QStringLiteral("train_images_per_second_median"), median(ips)},
                  {QStringLiteral("epoch_seconds_median"), median(sec)},
                  {QStringLiteral("total_seconds"), total},
                  {QStringLiteral("peak_rss_mb"), peakRssMb()}};
    if (json) {
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
    } else {
        std::printf("C++ %s: %d images (%d train), %d threads, batch %d: decode %.2f s, training "
                    "%.1f img/s "
                    "(median of %d epochs), full epoch %.2f s, total %.1f s, peak RSS %.0f MB\n",
                    qPrintable(arch), int(ds.images.size()), trainCells, threads, batch,
                    decodeSeconds, median(ips), epochs, median(sec), total, peakRssMb());
    }
    return 0;
}
