#include "clicommand.h"

#include "folderscanner.h"
#include "gridrenderer.h"
#include "imageops.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>

namespace ml::cli {

int runGrid(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Render the labelled 3x3 or 6x6 grid of cells the Explore page shows (same code): "
        "images picked with the seed, shown as RGB, HSV hue (cyclic colour map), Gaussian blur "
        "or one random augmentation each (flips, brightness +-0.2, contrast 0.7-1.3)."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("folder of images"));
    p.addOption({QStringLiteral("mode"), QStringLiteral("rgb, hsv, blur or augment (default rgb)"),
                 QStringLiteral("MODE"), QStringLiteral("rgb")});
    p.addOption({QStringLiteral("size"), QStringLiteral("tiles per side: 3 or 6 (default 3)"),
                 QStringLiteral("N"), QStringLiteral("3")});
    p.addOption({QStringLiteral("out"), QStringLiteral("output PNG"), QStringLiteral("FILE")});
    p.addOption({QStringLiteral("seed"),
                 QStringLiteral("picks the images and augmentations (default 1)"),
                 QStringLiteral("S"), QStringLiteral("1")});
    p.addOption({QStringLiteral("kernel"), QStringLiteral("blur kernel size, odd (default 5)"),
                 QStringLiteral("K"), QStringLiteral("5")});
    p.addOption({QStringLiteral("sigma"),
                 QStringLiteral("blur sigma, 0 = from the kernel (default 0)"), QStringLiteral("S"),
                 QStringLiteral("0")});
    p.addOption({QStringLiteral("tile"), QStringLiteral("tile side in pixels (default 160)"),
                 QStringLiteral("PX"), QStringLiteral("160")});
    p.addOption({QStringLiteral("json"), QStringLiteral("print JSON")});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1 || !p.isSet(QStringLiteral("out"))) {
        printError(QStringLiteral("grid: expected DIR and --out FILE (see --help)"));
        return 2;
    }
    GridOptions opts;
    const auto mode = gridModeFromName(p.value(QStringLiteral("mode")));
    if (!mode) {
        printError(QStringLiteral("grid: --mode must be rgb, hsv, blur or augment"));
        return 2;
    }
    opts.mode = *mode;
    bool ok = false;
    opts.size = p.value(QStringLiteral("size")).toInt(&ok);
    if (!ok || (opts.size != 3 && opts.size != 6)) {
        printError(QStringLiteral("grid: --size must be 3 or 6"));
        return 2;
    }
    opts.seed = p.value(QStringLiteral("seed")).toUInt(&ok);
    if (!ok) {
        printError(QStringLiteral("grid: --seed must be a non-negative integer"));
        return 2;
    }
    opts.kernelSize = p.value(QStringLiteral("kernel")).toInt(&ok);
    if (!ok || opts.kernelSize < 1 || opts.kernelSize % 2 == 0 || opts.kernelSize > 99) {
        printError(QStringLiteral("grid: --kernel must be an odd integer from 1 to 99"));
        return 2;
    }
    opts.sigma = p.value(QStringLiteral("sigma")).toDouble(&ok);
    if (!ok || opts.sigma < 0) {
        printError(QStringLiteral("grid: --sigma must be a number >= 0"));
        return 2;
    }
    opts.tilePixels = p.value(QStringLiteral("tile")).toInt(&ok);
    if (!ok || opts.tilePixels < 32 || opts.tilePixels > 1024) {
        printError(QStringLiteral("grid: --tile must be from 32 to 1024"));
        return 2;
    }

    const Dataset ds = scanFolder(p.positionalArguments().first());
    if (!ds.error.isEmpty()) {
        printError(QStringLiteral("grid: %1").arg(ds.error));
        return 1;
    }
    const GridResult r = renderGrid(ds, opts);
    if (!r.ok()) {
        printError(QStringLiteral("grid: %1").arg(r.error));
        return 1;
    }
    const QString out = p.value(QStringLiteral("out"));
    const QString parent = QFileInfo(out).absolutePath();
    if (!QDir().mkpath(parent) || !r.image.save(out, "PNG")) {
        printError(QStringLiteral("grid: cannot write %1").arg(out));
        return 1;
    }
    if (p.isSet(QStringLiteral("json"))) {
        QJsonObject o;
        o.insert(QStringLiteral("folder"), ds.root);
        o.insert(QStringLiteral("mode"), gridModeName(opts.mode));
        o.insert(QStringLiteral("size"), opts.size);
        o.insert(QStringLiteral("seed"), qint64(opts.seed));
        o.insert(QStringLiteral("description"), gridModeDescription(opts));
        o.insert(QStringLiteral("out"), QFileInfo(out).absoluteFilePath());
        o.insert(QStringLiteral("width"), r.image.width());
        o.insert(QStringLiteral("height"), r.image.height());
        QJsonArray images;
        for (int i : r.indices) {
            const ImageEntry& e = ds.images.at(i);
            images.append(QJsonObject{{QStringLiteral("path"), e.relativePath},
                                      {QStringLiteral("class"), ds.className(e.label)}});
        }
        o.insert(QStringLiteral("images"), images);
        QJsonArray skipped;
        for (const SkippedFile& f : r.failed)
            skipped.append(QJsonObject{{QStringLiteral("path"), f.path},
                                       {QStringLiteral("reason"), f.reason}});
        o.insert(QStringLiteral("unreadable"), skipped);
        printJson(o);
        return 0;
    }
    printLine(QStringLiteral("Wrote %1 (%2x%2 %3, seed %4, %5x%6 px)")
                  .arg(out)
                  .arg(opts.size)
                  .arg(gridModeDescription(opts))
                  .arg(opts.seed)
                  .arg(r.image.width())
                  .arg(r.image.height()));
    for (const SkippedFile& f : r.failed)
        printLine(QStringLiteral("Unreadable: %1: %2").arg(f.path, f.reason));
    return 0;
}

} // namespace ml::cli
