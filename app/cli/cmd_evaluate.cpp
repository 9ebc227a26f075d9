// malarialens-cli evaluate: confusion matrix, classification report, AUC, calibration and
// the patient table of a labelled folder, computed by core/metrics as the GUI does.

#include "clicommand.h"
#include "modeloptions.h"

#include "classificationresults.h"
#include "classifier.h"
#include "folderscanner.h"
#include "inference.h"
#include "labelcorrections.h"
#include "metrics.h"
#include "validationsplit.h"

#include <QCommandLineParser>

namespace ml::cli {

int runEvaluate(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Evaluate a model on a labelled folder (class subfolders Parasitized and Uninfected): "
        "confusion matrix, precision/recall/F1 per class, sensitivity, specificity, ROC AUC, "
        "expected calibration error and the per-patient table. Parasitized is the positive "
        "class."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"),
                            QStringLiteral("labelled folder of cell images"));
    const QCommandLineOption model = modelOption();
    const QCommandLineOption threshold = thresholdOption();
    const QCommandLineOption patientThreshold(
        QStringLiteral("patient-threshold"),
        QStringLiteral("share of cells called parasitized above which a "
                       "patient is called infected (default 0.05)"),
        QStringLiteral("S"), QStringLiteral("0.05"));
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption validationSplit(
        QStringLiteral("validation-split"),
        QStringLiteral("evaluate only the patients the model's training held out "
                       "(rebuilt from its card; DIR must be its training folder)"));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    const QCommandLineOption noCorrections(
        QStringLiteral("no-corrections"),
        QStringLiteral("use the folder labels only, not the reviewer's corrections"));
    const QCommandLineOption precision = precisionOption();
    p.addOptions({model, threshold, patientThreshold, threads, validationSplit, json, noCorrections,
                  precision});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1) {
        printError(QStringLiteral("evaluate: expected one folder (see --help)"));
        return 2;
    }
    if (!validPrecision(p, precision)) {
        printError(QStringLiteral("evaluate: invalid --precision (fp32, int8 or auto)"));
        return 2;
    }
    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("evaluate"), &precision))
        return 1;
    const std::optional<double> t = decisionThreshold(p, threshold, classifier);
    bool okP = false;
    const double pt = p.value(patientThreshold).toDouble(&okP);
    const int nThreads = p.value(threads).toInt();
    // 0 and 1 call every cell one class: nothing left to evaluate.
    if (!t || *t <= 0 || *t >= 1 || !okP || pt < 0 || pt >= 1 || nThreads < 1) {
        printError(
            QStringLiteral("evaluate: invalid --threshold, --patient-threshold or --threads"));
        return 2;
    }
    // Labels are the folder's with the reviewer's corrections applied (Review page).
    const QString folder = p.positionalArguments().first();
    auto ds = std::make_shared<const Dataset>(
        p.isSet(noCorrections) ? scanFolder(folder) : scanFolderWithCorrections(folder));
    if (!ds->error.isEmpty()) {
        printError(QStringLiteral("evaluate: %1").arg(ds->error));
        return 1;
    }
    if (!ds->isLabelled()) {
        printError(QStringLiteral("evaluate: %1 has no class subfolders, so there are no labels to "
                                  "compare with (use classify for unlabeled folders)")
                       .arg(ds->root));
        return 1;
    }
    ValidationMask mask;
    if (p.isSet(validationSplit)) {
        mask = validationMaskFromCard(*ds, classifier.card());
        if (!mask.applied) {
            printError(QStringLiteral("evaluate: --validation-split: %1").arg(mask.note));
            return 1;
        }
        // Classify only the held-out images.
        auto held = std::make_shared<Dataset>(*ds);
        held->images.clear();
        for (int i = 0; i < ds->images.size(); ++i)
            if (mask.keep[size_t(i)])
                held->images.append(ds->images.at(i));
        ds = held;
    }
    ClassifyOptions options;
    options.threads = nThreads;
    options.threshold = *t;
    options.appearanceSample = kDomainSample;
    const ClassifyReport report = classifyDataset(*ds, classifier, options);
    if (!report.ok()) {
        printError(QStringLiteral("evaluate: %1").arg(report.error));
        return 1;
    }
    // The same scored cells the GUI builds: folder labels matched to the model's classes by
    // name, failed images left out (and counted).
    std::vector<ScoredImage> cells;
    int unknownClass = 0;
    for (const CellResult& r : report.results) {
        if (!r.ok())
            continue;
        const ImageEntry& e = ds->images.at(r.index);
        const int label = int(modelClassNames().indexOf(ds->className(e.label)));
        if (label < 0) {
            ++unknownClass;
            continue;
        }
        cells.push_back({r.index, label, double(r.probability), e.patient});
    }
    if (cells.empty()) {
        printError(QStringLiteral("evaluate: no image of %1 is in a class the model knows (%2)")
                       .arg(ds->root, modelClassNames().join(QStringLiteral(", "))));
        return 1;
    }
    // Patients are decided from the parasitemia corrected for the model's own errors.
    QString ratesError;
    const std::optional<ErrorRates> rates = errorRatesFromCard(classifier.card(), &ratesError);
    Evaluation e = evaluate(cells, modelClassNames(), *t, pt, rates);
    if (!rates)
        e.warnings << ratesError;
    if (unknownClass)
        e.warnings << QStringLiteral("%1 images in classes the model does not know were left out")
                          .arg(unknownClass);
    if (report.failed)
        e.warnings << QStringLiteral("%1 images could not be decoded and were left out")
                          .arg(report.failed);
    if (p.isSet(json)) {
        QJsonObject o = e.toJson();
        o.insert(QStringLiteral("images"), report.images);
        o.insert(QStringLiteral("failed"), report.failed);
        o.insert(QStringLiteral("seconds"), report.seconds);
        o.insert(QStringLiteral("model"), classifier.source());
        o.insert(QStringLiteral("model_sha256"), classifier.weightsSha256());
        o.insert(QStringLiteral("precision"), precisionName(classifier.precision()));
        if (!classifier.precisionNote().isEmpty())
            o.insert(QStringLiteral("precision_note"), classifier.precisionNote());
        o.insert(QStringLiteral("validation_split_only"), mask.applied);
        o.insert(QStringLiteral("corrected_labels"), int(ds->appliedCorrections.size()));
        o.insert(QStringLiteral("domain"), report.domain(classifier).toJson());
        printJson(o);
    } else {
        printLine(QStringLiteral("Model %1 (%2, %3), %4 cells of %5")
                      .arg(classifier.source(), classifier.architecture(),
                           precisionName(classifier.precision()))
                      .arg(e.cells)
                      .arg(ds->root));
        printLine(e.toText());
        printLine(QStringLiteral("Domain: %1").arg(report.domain(classifier).summary()));
        if (e.prevalence.cells > 0)
            printLine(QStringLiteral("Parasitemia: %1").arg(e.prevalence.explanation()));
    }
    return 0;
}

} // namespace ml::cli
