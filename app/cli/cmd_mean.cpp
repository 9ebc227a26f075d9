#include "clicommand.h"

#include "explorefigures.h"
#include "folderscanner.h"
#include "imageops.h"
#include "matconvert.h"
#include "meanimage.h"

#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QThread>

#include <opencv2/core.hpp>

namespace ml::cli {

namespace {

// File-name friendly class name ("Parasitized" stays, "my class/x" -> "my_class_x").
QString fileStem(const QString& name)
{
    QString s = name;
    for (QChar& c : s) {
        if (!c.isLetterOrNumber() && c != QLatin1Char('-') && c != QLatin1Char('_'))
            c = QLatin1Char('_');
    }
    return s;
}

bool save(const QImage& image, const QString& path, QStringList& written)
{
    if (image.isNull() || !image.save(path, "PNG")) {
        printError(QStringLiteral("mean: cannot write %1").arg(path));
        return false;
    }
    written << path;
    return true;
}

} // namespace

int runMean(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Per-class mean and standard-deviation images of a folder (each image resized to "
        "NxN, accumulated in double precision) and the difference of the class means "
        "(Parasitized - Uninfected) in a diverging colour map with its scale. Writes PNG files: "
        "mean_<class>.png and std_<class>.png at NxN, difference.png and overview.png enlarged "
        "and labelled."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("folder with class subfolders"));
    p.addOption({QStringLiteral("out"), QStringLiteral("output folder (created)"),
                 QStringLiteral("OUTDIR")});
    p.addOption({QStringLiteral("size"), QStringLiteral("side images are resized to (default 64)"),
                 QStringLiteral("N"), QStringLiteral("64")});
    p.addOption({QStringLiteral("threads"), QStringLiteral("decoding threads (default: cores)"),
                 QStringLiteral("N"), QString::number(QThread::idealThreadCount())});
    p.addOption({QStringLiteral("no-cache"),
                 QStringLiteral("ignore and do not write the per-folder cache")});
    p.addOption({QStringLiteral("json"), QStringLiteral("print JSON")});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1 || !p.isSet(QStringLiteral("out"))) {
        printError(QStringLiteral("mean: expected DIR and --out OUTDIR (see --help)"));
        return 2;
    }
    bool sizeOk = false;
    const int size = p.value(QStringLiteral("size")).toInt(&sizeOk);
    if (!sizeOk || size < 4 || size > 1024) {
        printError(QStringLiteral("mean: --size must be an integer from 4 to 1024"));
        return 2;
    }
    const QString outDir = p.value(QStringLiteral("out"));
    if (!QDir().mkpath(outDir)) {
        printError(QStringLiteral("mean: cannot create %1").arg(outDir));
        return 1;
    }

    QElapsedTimer timer;
    timer.start();
    const Dataset ds = scanFolder(p.positionalArguments().first());
    if (!ds.error.isEmpty()) {
        printError(QStringLiteral("mean: %1").arg(ds.error));
        return 1;
    }
    if (ds.images.isEmpty()) {
        printError(QStringLiteral("mean: no images in %1").arg(ds.root));
        return 1;
    }
    MeanImageOptions opts;
    opts.size = size;
    opts.threads = qMax(1, p.value(QStringLiteral("threads")).toInt());
    opts.useCache = !p.isSet(QStringLiteral("no-cache"));
    const MeanImageResult r = computeMeanImages(ds, opts);
    if (!r.complete) {
        printError(QStringLiteral("mean: not computed: %1").arg(r.error));
        return 1;
    }
    const double seconds = timer.elapsed() / 1000.0;

    QStringList written;
    const float maxStd = maxStandardDeviation(r);
    const QDir dir(outDir);
    for (const ClassMeanImage& c : r.classes) {
        if (c.count == 0)
            continue;
        const QString stem = fileStem(c.className);
        save(matToQImage(meanDisplayImage(c.mean)),
             dir.filePath(QStringLiteral("mean_%1.png").arg(stem)), written);
        save(matToQImage(stdDisplayImage(c.stddev, maxStd)),
             dir.filePath(QStringLiteral("std_%1.png").arg(stem)), written);
    }
    const auto [a, b] = differencePair(r);
    const cv::Mat diff = meanDifference(r, a, b);
    const float scale = symmetricScale(diff);
    double diffMin = 0, diffMax = 0;
    if (!diff.empty()) {
        cv::minMaxLoc(diff, &diffMin, &diffMax);
        const QString title =
            QStringLiteral("%1 \u2212 %2 (mean of R,G,B)")
                .arg(r.classes[size_t(a)].className, r.classes[size_t(b)].className);
        save(renderDifferenceFigure(diff, scale, 256, title),
             dir.filePath(QStringLiteral("difference.png")), written);
    }
    save(renderMeanOverview(r, 192), dir.filePath(QStringLiteral("overview.png")), written);
    if (written.size() < 1)
        return 1;

    if (p.isSet(QStringLiteral("json"))) {
        QJsonObject o;
        o.insert(QStringLiteral("folder"), ds.root);
        o.insert(QStringLiteral("size"), r.size);
        o.insert(QStringLiteral("images"), r.decoded);
        o.insert(QStringLiteral("seconds"), seconds);
        o.insert(QStringLiteral("fromCache"), r.fromCache);
        QJsonArray classes;
        for (const ClassMeanImage& c : r.classes) {
            QJsonObject co;
            co.insert(QStringLiteral("name"), c.className);
            co.insert(QStringLiteral("images"), c.count);
            if (c.count > 0) {
                const cv::Scalar m = cv::mean(c.mean);
                // Channels are stored B,G,R; report R,G,B as people read colours.
                co.insert(QStringLiteral("meanRGB"), QJsonArray{m[2], m[1], m[0]});
            }
            classes.append(co);
        }
        o.insert(QStringLiteral("classes"), classes);
        if (!diff.empty()) {
            QJsonObject d;
            d.insert(QStringLiteral("minuend"), r.classes[size_t(a)].className);
            d.insert(QStringLiteral("subtrahend"), r.classes[size_t(b)].className);
            d.insert(QStringLiteral("min"), diffMin);
            d.insert(QStringLiteral("max"), diffMax);
            d.insert(QStringLiteral("scale"), double(scale));
            o.insert(QStringLiteral("difference"), d);
        }
        o.insert(QStringLiteral("stdScale"), double(maxStd));
        QJsonArray skipped;
        for (const SkippedFile& f : r.failed)
            skipped.append(QJsonObject{{QStringLiteral("path"), f.path},
                                       {QStringLiteral("reason"), f.reason}});
        o.insert(QStringLiteral("skipped"), skipped);
        o.insert(QStringLiteral("written"), QJsonArray::fromStringList(written));
        printJson(o);
        return 0;
    }
    printLine(QStringLiteral("Folder:     %1").arg(ds.root));
    printLine(QStringLiteral("Size:       %1 x %1").arg(r.size));
    printLine(QStringLiteral("Images:     %1 averaged, %2 skipped (unreadable)%3")
                  .arg(r.decoded)
                  .arg(r.failed.size())
                  .arg(r.fromCache ? QStringLiteral(", from cache") : QString()));
    for (const ClassMeanImage& c : r.classes)
        printLine(QStringLiteral("  %1 %2").arg(c.className, -16).arg(c.count));
    if (!diff.empty())
        printLine(QStringLiteral("Difference: %1 - %2, min %3, max %4 (scale +-%5)")
                      .arg(r.classes[size_t(a)].className, r.classes[size_t(b)].className)
                      .arg(diffMin, 0, 'f', 4)
                      .arg(diffMax, 0, 'f', 4)
                      .arg(double(scale), 0, 'f', 4));
    else
        printLine(QStringLiteral("Difference: needs two classes with images"));
    printLine(QStringLiteral("Std images: white = %1").arg(double(maxStd), 0, 'f', 4));
    for (const SkippedFile& f : r.failed)
        printLine(QStringLiteral("Skipped:    %1: %2").arg(f.path, f.reason));
    for (const QString& w : written)
        printLine(QStringLiteral("Wrote:      %1").arg(w));
    printLine(QStringLiteral("Time:       %1 s").arg(seconds, 0, 'f', 2));
    return 0;
}

} // namespace ml::cli
