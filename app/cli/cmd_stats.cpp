#include "clicommand.h"

#include "datasetsummary.h"
#include "folderscanner.h"

#include <QCommandLineParser>
#include <QJsonObject>
#include <QThread>

namespace ml::cli {

int runStats(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Summarise a folder of cell images: images per class and patient, image sizes, pixel "
        "range, channels, and every file that cannot be used with its reason."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"),
                            QStringLiteral("folder of images (class subfolders or flat)"));
    p.addOption({QStringLiteral("json"), QStringLiteral("print JSON")});
    p.addOption({QStringLiteral("threads"), QStringLiteral("decoding threads (default: cores)"),
                 QStringLiteral("N"), QString::number(QThread::idealThreadCount())});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1) {
        printError(QStringLiteral("stats: expected one folder (see --help)"));
        return 2;
    }
    const Dataset ds = scanFolder(p.positionalArguments().first());
    if (!ds.error.isEmpty()) {
        printError(QStringLiteral("stats: %1").arg(ds.error));
        return 1;
    }
    SummaryOptions opts;
    opts.threads = qMax(1, p.value(QStringLiteral("threads")).toInt());
    const DatasetSummary s = summarizeDataset(ds, opts);
    if (p.isSet(QStringLiteral("json"))) {
        printJson(summaryToJson(ds, s));
        return 0;
    }
    printLine(QStringLiteral("Folder:    %1 (%2)")
                  .arg(ds.root,
                       ds.isLabelled() ? QStringLiteral("labelled") : QStringLiteral("unlabeled")));
    printLine(QStringLiteral("Images:    %1 usable of %2 files, %3 skipped")
                  .arg(s.images)
                  .arg(s.files)
                  .arg(s.skipped.size()));
    for (auto it = s.perClass.cbegin(); it != s.perClass.cend(); ++it)
        printLine(QStringLiteral("  %1 %2").arg(it.key(), -16).arg(it.value()));
    printLine(QStringLiteral("Patients:  %1").arg(s.perPatient.size()));
    printLine(QStringLiteral("Width:     min %1, median %2, max %3")
                  .arg(s.minWidth)
                  .arg(s.medianWidth)
                  .arg(s.maxWidth));
    printLine(QStringLiteral("Height:    min %1, median %2, max %3")
                  .arg(s.minHeight)
                  .arg(s.medianHeight)
                  .arg(s.maxHeight));
    printLine(QStringLiteral("Pixels:    min %1, max %2").arg(s.minPixel).arg(s.maxPixel));
    for (auto it = s.channelCounts.cbegin(); it != s.channelCounts.cend(); ++it)
        printLine(QStringLiteral("Channels:  %1 in %2 images").arg(it.key()).arg(it.value()));
    for (const SkippedFile& f : s.skipped)
        printLine(QStringLiteral("Skipped:   %1: %2").arg(f.path, f.reason));
    return 0;
}

} // namespace ml::cli
