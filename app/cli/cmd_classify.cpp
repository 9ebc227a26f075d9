// malarialens-cli classify: probability of Parasitized for every cell image of a folder,
// with the embedded default model or a model file.

#include "clicommand.h"
#include "modeloptions.h"

#include "classifier.h"
#include "folderscanner.h"
#include "inference.h"

#include <QCommandLineParser>

namespace ml::cli {

int runClassify(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Classify every cell image of a folder (class subfolders or flat). Prints counts per "
        "predicted class, images per second and, for a labelled folder, the accuracy."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("folder of cell images"));
    const QCommandLineOption model = modelOption();
    const QCommandLineOption csv(QStringLiteral("csv"),
                                 QStringLiteral("write one row per image to OUT"),
                                 QStringLiteral("OUT"));
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption batch(QStringLiteral("batch-size"),
                                   QStringLiteral("images per forward pass (default 256)"),
                                   QStringLiteral("N"), QStringLiteral("256"));
    const QCommandLineOption threshold = thresholdOption();
    const QCommandLineOption precision = precisionOption(PrecisionDefault::Auto);
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print a JSON summary"));
    p.addOptions({model, csv, threads, batch, threshold, precision, json});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1) {
        printError(QStringLiteral("classify: expected one folder (see --help)"));
        return 2;
    }
    ClassifyOptions options;
    bool ok1 = false, ok2 = false;
    // --threads workers each decode their share of a batch and run the network on it.
    options.threads = p.value(threads).toInt(&ok1);
    options.batchSize = p.value(batch).toInt(&ok2);
    // A given threshold is checked before the model loads (a usage error, exit 2; no model
    // yet, so no card): the card's is read after.
    if (!(ok1 && ok2) || options.threads < 1 || options.batchSize < 1 ||
        !decisionThreshold(p, threshold, Classifier()) || !validPrecision(p, precision)) {
        printError(QStringLiteral("classify: invalid --threads, --batch-size, "
                                  "--threshold or --precision"));
        return 2;
    }

    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("classify"), &precision))
        return 1;
    options.threshold = *decisionThreshold(p, threshold, classifier);
    const Dataset ds = scanFolder(p.positionalArguments().first());
    if (!ds.error.isEmpty()) {
        printError(QStringLiteral("classify: %1").arg(ds.error));
        return 1;
    }
    options.appearanceSample = kDomainSample;
    const ClassifyReport report = classifyDataset(ds, classifier, options);
    if (!report.ok()) {
        printError(QStringLiteral("classify: %1").arg(report.error));
        return 1;
    }
    if (p.isSet(csv)) {
        QString why;
        if (!writeFileAtomically(p.value(csv), report.toCsv(ds), &why)) {
            printError(QStringLiteral("classify: %1").arg(why));
            return 1;
        }
    }
    const QJsonObject summary = report.toJson(ds, classifier);
    if (p.isSet(json)) {
        printJson(summary);
        return 0;
    }
    printLine(QStringLiteral("Model:     %1 (%2, %3)")
                  .arg(classifier.source(), classifier.architecture(),
                       precisionName(classifier.precision())));
    printLine(
        QStringLiteral("Images:    %1, %2 failed to decode").arg(report.images).arg(report.failed));
    const QMap<QString, int> predicted = report.predictedPerClass();
    for (auto it = predicted.cbegin(); it != predicted.cend(); ++it)
        printLine(QStringLiteral("  %1 %2").arg(it.key(), -16).arg(it.value()));
    const double acc = report.accuracy(ds);
    if (acc >= 0)
        printLine(QStringLiteral("Accuracy:  %1").arg(acc, 0, 'f', 4));
    printLine(QStringLiteral("Domain:    %1").arg(report.domain(classifier).summary()));
    printParasitemia(summary);
    printLine(QStringLiteral("Time:      %1 s, %2 images/s")
                  .arg(report.seconds, 0, 'f', 2)
                  .arg(report.imagesPerSecond(), 0, 'f', 1));
    for (const CellResult& r : report.results) {
        if (!r.ok())
            printLine(QStringLiteral("Failed:    %1: %2")
                          .arg(ds.images.at(r.index).relativePath, r.error));
    }
    return 0;
}

} // namespace ml::cli
