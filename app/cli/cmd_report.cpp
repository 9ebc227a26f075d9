// malarialens-cli report: classify a folder and write the PDF report a clinic files.

#include "clicommand.h"
#include "modeloptions.h"

#include "classificationresults.h"
#include "classifier.h"
#include "folderscanner.h"
#include "inference.h"
#include "pdfreport.h"

#include <QCommandLineParser>

namespace ml::cli {

int runReport(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("Classify a folder of cell images and write a PDF "
                                               "report: patients, counts, parasitemia with its "
                                               "95 % confidence interval, the model card summary, "
                                               "the evaluation when the folder is labelled, "
                                               "and a gallery of the cells called parasitized."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("folder of cell images"));
    const QCommandLineOption pdf(QStringLiteral("pdf"), QStringLiteral("the PDF file to write"),
                                 QStringLiteral("OUT.pdf"));
    const QCommandLineOption model = modelOption();
    const QCommandLineOption threshold = thresholdOption();
    const QCommandLineOption gallery(QStringLiteral("gallery"),
                                     QStringLiteral("most cells in the gallery (default 48)"),
                                     QStringLiteral("N"), QStringLiteral("48"));
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption precision = precisionOption();
    p.addOptions({pdf, model, threshold, gallery, threads, precision});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1 || !p.isSet(pdf)) {
        printError(QStringLiteral("report: expected one folder and --pdf OUT.pdf (see --help)"));
        return 2;
    }
    Classifier classifier;
    if (!validPrecision(p, precision)) {
        printError(QStringLiteral("report: invalid --precision (fp32, int8 or auto)"));
        return 2;
    }
    if (!loadModel(p, model, classifier, QStringLiteral("report"), &precision))
        return 1;
    const double t = decisionThreshold(p, threshold, classifier).value_or(-1.0);
    if (t <= 0 || t >= 1) {
        printError(QStringLiteral("report: invalid --threshold"));
        return 2;
    }
    const auto ds = std::make_shared<const Dataset>(scanFolder(p.positionalArguments().first()));
    if (!ds->error.isEmpty()) {
        printError(QStringLiteral("report: %1").arg(ds->error));
        return 1;
    }
    ClassifyOptions options;
    options.threads = std::max(1, p.value(threads).toInt());
    options.threshold = t;
    options.appearanceSample = kDomainSample;
    const ClassifyReport report = classifyDataset(*ds, classifier, options);
    if (!report.ok()) {
        printError(QStringLiteral("report: %1").arg(report.error));
        return 1;
    }
    ClassificationResults results(ds, t);
    for (const CellResult& r : report.results)
        results.set(r.index, r.probability, r.error);
    ReportContent content = buildReport(results,
                                        QStringLiteral("%1 (%2, %3)")
                                            .arg(classifier.source(), classifier.architecture(),
                                                 precisionName(classifier.precision())),
                                        classifier.weightsSha256(), classifier.card(),
                                        std::max(0, p.value(gallery).toInt()));
    content.domain = report.domain(classifier);
    QString error;
    if (!writePdfReport(content, p.value(pdf), &error)) {
        printError(QStringLiteral("report: %1").arg(error));
        return 1;
    }
    printLine(QStringLiteral("wrote %1: %2 cells, %3 called parasitized (parasitemia %4 %)")
                  .arg(p.value(pdf))
                  .arg(content.classified)
                  .arg(content.predictedParasitized)
                  .arg(content.parasitemia * 100, 0, 'f', 2));
    return 0;
}

} // namespace ml::cli
