// malarialens-cli calibrate: adapts a model to one lab from that lab's own field images and
// labelled cells, and reports before/after on the lab's held-out fields.

#include "clicommand.h"
#include "modeloptions.h"

#include "calibrationlabels.h"
#include "classifier.h"
#include "fieldannotations.h"
#include "labcalibration.h"
#include "torchthreads.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>

namespace ml::cli {

namespace {

QStringList fieldImages(const QString& dir)
{
    QStringList out;
    const QDir d(dir);
    for (const QString& f :
         d.entryList({QStringLiteral("*.jpg"), QStringLiteral("*.JPG"), QStringLiteral("*.jpeg"),
                      QStringLiteral("*.png"), QStringLiteral("*.PNG"), QStringLiteral("*.tif"),
                      QStringLiteral("*.tiff")},
                     QDir::Files, QDir::Name))
        out << d.filePath(f);
    return out;
}

void printFigures(const QString& name, const CalibrationFigures& f)
{
    printLine(QStringLiteral("%1 sensitivity %2 (%3/%4), specificity %5, healthy false-positive "
                             "rate %6, balanced accuracy %7; %8")
                  .arg(name, -7)
                  .arg(f.sensitivity, 0, 'f', 3)
                  .arg(f.truePositive)
                  .arg(f.truePositive + f.falseNegative)
                  .arg(f.specificity, 0, 'f', 3)
                  .arg(1.0 - f.specificity, 0, 'f', 3)
                  .arg(f.balancedAccuracy, 0, 'f', 3)
                  .arg(f.parasitemia.explanation()));
}

// The labels of one source (--annotations, --labels or --db), read before the work so that a
// bad file fails at once. Every source ends in the same labelled cells (apply()), which
// calibrateCells() then uses.
struct LabelSource
{
    std::optional<FieldAnnotationSet> truth;
    QList<CellLabel> labels;

    bool load(const QCommandLineParser& p, const QCommandLineOption& annotations,
              const QCommandLineOption& labelsCsv, const QCommandLineOption& db)
    {
        QString error;
        if (p.isSet(annotations)) {
            truth = loadFieldAnnotations(p.value(annotations));
            error = truth->error;
        } else if (p.isSet(labelsCsv)) {
            QFile f(p.value(labelsCsv));
            std::optional<QList<CellLabel>> list;
            if (!f.open(QIODevice::ReadOnly))
                error = f.errorString();
            else if ((list = cellLabelsFromCsv(f.readAll(), &error)))
                labels = *list;
        } else if (const auto list = cellLabelsFromDatabase(p.value(db), &error)) {
            labels = *list;
        }
        if (!error.isEmpty()) {
            const QCommandLineOption& o = p.isSet(annotations) ? annotations
                                          : p.isSet(labelsCsv) ? labelsCsv
                                                               : db;
            printError(QStringLiteral("calibrate: %1: %2").arg(p.value(o), error));
            return false;
        }
        return true;
    }

    bool apply(std::vector<CalibrationCell>& cells) const
    {
        int found = 0;
        if (truth) {
            found = labelFromAnnotations(cells, *truth);
        } else {
            found = applyCellLabels(cells, labels);
            if (found < labels.size())
                printError(QStringLiteral("calibrate: %1 of %2 labels match no cell found in "
                                          "these fields (same field name, same box or IoU >= "
                                          "0.5); they are not used")
                               .arg(labels.size() - found)
                               .arg(labels.size()));
        }
        if (found == 0) {
            printError(QStringLiteral("calibrate: no labelled cell among the cells found in "
                                      "these fields"));
            return false;
        }
        return true;
    }
};

// Segments and classifies the lab's fields, labels their cells from `source` and calibrates;
// nothing when a step failed (it said why).
std::optional<LabCalibrationResult> calibrateFields(const QStringList& files,
                                                    const Classifier& classifier,
                                                    const LabelSource& source,
                                                    const LabCalibrationOptions& o)
{
    setTorchThreads(o.threads);
    LabCells cells = analyseLabFields(files, classifier, o);
    if (!cells.error.isEmpty() || cells.cancelled) {
        printError(QStringLiteral("calibrate: %1")
                       .arg(cells.cancelled ? QStringLiteral("cancelled") : cells.error));
        return std::nullopt;
    }
    if (!source.apply(cells.cells))
        return std::nullopt;
    const LabCalibrationResult r = calibrateCells(cells.cells, cells.threshold, classifier, o);
    if (!r.ok()) {
        printError(QStringLiteral("calibrate: %1")
                       .arg(r.cancelled ? QStringLiteral("cancelled") : r.error));
        return std::nullopt;
    }
    return r;
}

// Saves the calibrated model to `outPath`, then prints the result: JSON, or the before and
// after figures as text. The exit code.
int saveAndReport(const LabCalibrationResult& r, const QString& lab, const QString& outPath,
                  bool json)
{
    QString error;
    if (!r.model.save(outPath, &error)) {
        printError(QStringLiteral("calibrate: %1").arg(error));
        return 1;
    }
    if (json) {
        QJsonObject j = r.toJson();
        j.insert(QStringLiteral("lab"), lab);
        j.insert(QStringLiteral("model"), QFileInfo(outPath).absoluteFilePath());
        printJson(j);
        return 0;
    }
    printLine(QStringLiteral("Lab %1: %2 adapt fields, %3 test fields, %4 cells labelled (%5 "
                             "parasitized)")
                  .arg(lab)
                  .arg(r.fieldsAdapt.size())
                  .arg(r.fieldsTest.size())
                  .arg(r.cellsUsed)
                  .arg(r.parasitizedUsed));
    printFigures(QStringLiteral("Before (threshold %1):").arg(r.thresholdBefore), r.before);
    printFigures(QStringLiteral("After (the lab's threshold %1, %2):")
                     .arg(r.labThreshold.threshold)
                     .arg(r.labThreshold.note),
                 r.after);
    if (r.weights == LabWeights::Starting) {
        printLine(QStringLiteral("Kept the starting weights, with the lab's threshold: adapted, "
                                 "they found %1 of the %2 labelled parasites on the held-back "
                                 "adapt fields, the starting ones %3")
                      .arg(r.otherThreshold.parasitesFoundWithinTarget())
                      .arg(r.labThreshold.parasitized)
                      .arg(r.labThreshold.parasitesFound()));
    }
    printLine(QStringLiteral("Model written to %1").arg(outPath));
    return 0;
}

} // namespace

int runCalibrate(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Calibrate the classifier for one lab: segment and classify FIELDS_DIR, split it by "
        "field into adapt and test fields, take the labels of the cells a reviewer would be "
        "asked about (--budget), fine-tune the model on them and report sensitivity, "
        "specificity, balanced accuracy and corrected parasitemia on the test fields, before "
        "and after. Writes the model and its card (lab_calibration: the lab's own sensitivity "
        "and specificity, used by the parasitemia correction)."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("FIELDS_DIR"),
                            QStringLiteral("folder of the lab's field images"));
    const QCommandLineOption annotations(QStringLiteral("annotations"),
                                         QStringLiteral("labels from IML-style box annotations"),
                                         QStringLiteral("ANN.json"));
    const QCommandLineOption labels(
        QStringLiteral("labels"),
        QStringLiteral("labels from a per-cell CSV: the segment --csv columns (field, x, y, w, "
                       "h, ...) plus 'label' (Parasitized, Uninfected, unsure or empty); a row "
                       "labels the cell of its field with the same box or IoU >= 0.5"),
        QStringLiteral("CELLS.csv"));
    const QCommandLineOption db(
        QStringLiteral("db"),
        QStringLiteral("labels from the reviewer's corrections database (the cells labelled "
                       "in the GUI's Calibrate for this lab flow)"),
        QStringLiteral("CORRECTIONS.sqlite"));
    const QCommandLineOption minParasitized(
        QStringLiteral("min-parasitized"),
        QStringLiteral("fewest parasitized adapt cells to adapt (default 30; fewer only for "
                       "trials: the lab's sensitivity is then a guess)"),
        QStringLiteral("N"), QString::number(kMinParasitizedToAdapt));
    const QCommandLineOption budget(QStringLiteral("budget"),
                                    QStringLiteral("cells a reviewer labels (default 400)"),
                                    QStringLiteral("N"), QStringLiteral("400"));
    const QCommandLineOption lab(QStringLiteral("lab"), QStringLiteral("the lab's name"),
                                 QStringLiteral("NAME"), QStringLiteral("my lab"));
    const QCommandLineOption epochs(QStringLiteral("epochs"),
                                    QStringLiteral("fine-tuning epochs (default 8)"),
                                    QStringLiteral("N"), QStringLiteral("8"));
    const QCommandLineOption fineTune(
        QStringLiteral("fine-tune"),
        QStringLiteral("how the model keeps what it knew: l2sp (default: pulled towards its "
                       "starting weights), freeze-early (first two blocks frozen) or full"),
        QStringLiteral("HOW"), fineTuneName(LabCalibrationOptions().fineTune));
    const QCommandLineOption maxFalsePositive(
        QStringLiteral("max-false-positive"),
        QStringLiteral("healthy-cell false-positive rate the lab's threshold aims at on the "
                       "held-back adapt fields (default %1; 0 keeps the model's threshold)")
            .arg(kLabFalsePositiveTarget),
        QStringLiteral("RATE"), QString::number(kLabFalsePositiveTarget));
    const QCommandLineOption l2spWeight(
        QStringLiteral("l2sp-weight"),
        QStringLiteral("how strongly l2sp pulls towards the starting weights (default %1)")
            .arg(LabCalibrationOptions().l2spWeight),
        QStringLiteral("W"), QString::number(LabCalibrationOptions().l2spWeight));
    const QCommandLineOption startShare(
        QStringLiteral("start-share"),
        QStringLiteral("share of the starting weights in the adapted model, whose weights are "
                       "then that mix of the starting and the fine-tuned ones (default %1; 0: "
                       "the fine-tuned weights as they are)")
            .arg(LabCalibrationOptions().startWeightShare),
        QStringLiteral("S"), QString::number(LabCalibrationOptions().startWeightShare));
    const QCommandLineOption seed(
        QStringLiteral("seed"),
        QStringLiteral("seed of the budget's random share, the fine-tuning's split and its "
                       "draws (default %1): other seeds show how much the figures vary")
            .arg(LabCalibrationOptions().seed),
        QStringLiteral("N"), QString::number(LabCalibrationOptions().seed));
    const QCommandLineOption model = modelOption();
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("model file to write"),
                                 QStringLiteral("MODEL.pt"));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    p.addOptions({annotations, labels, db, budget, lab, epochs, minParasitized, fineTune,
                  l2spWeight, startShare, maxFalsePositive, seed, model, threads, out, json});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    bool okBudget = false, okEpochs = false, okMin = false, okFp = false;
    const int n = p.value(budget).toInt(&okBudget);
    const int e = p.value(epochs).toInt(&okEpochs);
    const int minP = p.value(minParasitized).toInt(&okMin);
    const double fp = p.value(maxFalsePositive).toDouble(&okFp);
    bool okL2sp = false, okSeed = false, okShare = false;
    const double l2sp = p.value(l2spWeight).toDouble(&okL2sp);
    const double share = p.value(startShare).toDouble(&okShare);
    const uint seedValue = p.value(seed).toUInt(&okSeed);
    const std::optional<TrainingConfig::FineTune> how = parseFineTune(p.value(fineTune));
    if (p.positionalArguments().size() != 1 || !p.isSet(out) || !okBudget || n < 10 || !okEpochs ||
        e < 1 || !okMin || minP < 1 || !okFp || fp < 0 || fp >= 1 || !how || !okL2sp || l2sp < 0 ||
        !okShare || share < 0 || share >= 1 || !okSeed) {
        printError(QStringLiteral("calibrate: expected FIELDS_DIR, --out MODEL.pt, --budget >= "
                                  "10, --epochs >= 1, --min-parasitized >= 1, --fine-tune "
                                  "l2sp|freeze-early|full, --max-false-positive and "
                                  "--start-share in [0, 1) and a whole --seed (see --help)"));
        return 2;
    }
    if (int(p.isSet(annotations)) + int(p.isSet(labels)) + int(p.isSet(db)) != 1) {
        printError(QStringLiteral("calibrate: give one label source: --annotations ANN.json, "
                                  "--labels CELLS.csv or --db CORRECTIONS.sqlite"));
        return 2;
    }
    // Checked before the work, not after it: the output folder must exist.
    if (!QFileInfo(p.value(out)).absoluteDir().exists()) {
        printError(QStringLiteral("calibrate: the folder of %1 does not exist").arg(p.value(out)));
        return 2;
    }
    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("calibrate")))
        return 1;
    LabelSource source;
    if (!source.load(p, annotations, labels, db))
        return 1;
    const QStringList files = fieldImages(p.positionalArguments().first());
    if (files.isEmpty()) {
        printError(QStringLiteral("calibrate: no field images in %1")
                       .arg(p.positionalArguments().first()));
        return 1;
    }
    QTemporaryDir work;
    if (!work.isValid()) {
        printError(QStringLiteral("calibrate: cannot create a temporary folder"));
        return 1;
    }
    LabCalibrationOptions o;
    o.lab = p.value(lab);
    o.budget = n;
    o.epochs = e;
    o.threads = std::max(1, p.value(threads).toInt());
    o.minParasitized = minP;
    o.fineTune = *how;
    o.maxFalsePositive = fp;
    o.l2spWeight = l2sp;
    o.startWeightShare = share;
    o.seed = quint32(seedValue);
    o.workDir = work.path();
    if (!p.isSet(json))
        o.log = [](const QString& s) { printLine(QStringLiteral("calibrate: %1").arg(s)); };
    const std::optional<LabCalibrationResult> r = calibrateFields(files, classifier, source, o);
    if (!r)
        return 1;
    return saveAndReport(*r, o.lab, p.value(out), p.isSet(json));
}

} // namespace ml::cli
