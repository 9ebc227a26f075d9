// malarialens-cli segment: find the red blood cells of whole field images, classify them and
// report parasitemia; with --annotations, compare with the IML ground truth.
#include "clicommand.h"
#include "modeloptions.h"

#include "cellsegmenter.h"
#include "classifier.h"
#include "cropclassifier.h"
#include "domainprofile.h"
#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "matconvert.h"
#include "prevalence.h"
#include "torchthreads.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <QThread>
#include <QThreadPool>
#include <QtConcurrent>

#include <optional>

namespace ml::cli {

namespace {

QJsonValue numberOrNull(bool valid, double v)
{
    return valid ? QJsonValue(v) : QJsonValue(QJsonValue::Null);
}

QJsonObject proportionJson(const Proportion& p)
{
    return QJsonObject{{QStringLiteral("k"), p.k},
                       {QStringLiteral("n"), p.n},
                       {QStringLiteral("p"), p.p},
                       {QStringLiteral("low"), p.low},
                       {QStringLiteral("high"), p.high}};
}

// Touching cells the segmenter could not split: how many clumps, and the cells they hold by
// area, so a reader sees what the cell count leaves out (per field and for the run).
void insertUnsplit(QJsonObject& o, const FieldCounts& c)
{
    o.insert(QStringLiteral("unsplit_regions"), c.unsplitRegions);
    o.insert(QStringLiteral("unsplit_cells_estimate"), c.unsplitCellsEstimate);
}

QString unsplitText(const FieldCounts& c)
{
    if (c.unsplitRegions == 0)
        return {};
    return QStringLiteral("; %1 clumps of touching cells (~%2 cells) not split, not classified")
        .arg(c.unsplitRegions)
        .arg(c.unsplitCellsEstimate);
}

// --csv: one row per cell of every field that could be read (fieldCellsCsvRows()), written
// atomically; fields that failed have no rows (the JSON and text output name them).
template <typename Items>
bool writeCellsCsv(const QString& path, const Items& items, QString* error)
{
    QString csv = fieldCellsCsvHeader();
    for (const auto& it : items)
        csv += fieldCellsCsvRows(it.result);
    return writeFileAtomically(path, csv.toUtf8(), error);
}

// The options of one run, checked, and what they load (annotations, classifier).
struct SegmentRun
{
    double threshold = 0.5;
    double minIou = 0.5;
    QString colour;
    bool excludeEdge = false;
    bool json = false;
    QFileInfo info;
    QStringList files;
    std::optional<FieldAnnotationSet> truth;
    QString overlayDir;
    QString exportDir;
    Classifier classifier;
    bool classify = false;
    QString classifyNote;
    FieldOptions options;
};

// What one field gave: its analysis, evaluation and the files written for it.
struct Item
{
    FieldResult result;
    std::optional<FieldEvaluation> eval;
    QString overlayError;
    int exportedParasitized = 0, exportedUninfected = 0;
    QString exportError;
    std::vector<CellAppearance> appearances; ///< of the classified cells (domain check)
};

void addSegmentOptions(QCommandLineParser& p)
{
    p.setApplicationDescription(QStringLiteral(
        "Find the red blood cells of whole thin-smear field images (one image or every image "
        "of a folder), classify each cell with the active model, and report cells, "
        "parasitized cells and parasitemia with a Wilson 95 % interval. With --annotations "
        "(IML annotations.json), also RBC detection recall/precision at IoU >= 0.5, "
        "parasite-stage sensitivity and the healthy false-positive rate."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("PATH"),
                            QStringLiteral("field image or folder of field images"));
    p.addOption({QStringLiteral("annotations"),
                 QStringLiteral("IML annotations.json to evaluate against"),
                 QStringLiteral("FILE")});
    p.addOption({QStringLiteral("json"), QStringLiteral("print JSON")});
    p.addOption({QStringLiteral("overlay"),
                 QStringLiteral("write <name>_cells.png overlays into DIR"),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("export-crops"),
                 QStringLiteral("with --annotations: write the crops of detected cells that match "
                                "an annotated cell (IoU >= --iou) to DIR/Parasitized and "
                                "DIR/Uninfected (parasite-stage box = Parasitized), prepared as "
                                "for classification, named C<field>_<image>_cell<N>_<type>.png so "
                                "train splits by field"),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("csv"),
                 QStringLiteral("write one row per cell (every cell, edge cells flagged) to FILE: "
                                "field,x,y,w,h (detection box),edge,probability_parasitized,"
                                "called (the last two empty with --no-classify)"),
                 QStringLiteral("FILE")});
    p.addOption({QStringLiteral("model"),
                 QStringLiteral("model file (default: the embedded model)"),
                 QStringLiteral("FILE")});
    p.addOption({QStringLiteral("no-classify"), QStringLiteral("segmentation only")});
    p.addOption(precisionOption());
    p.addOption({QStringLiteral("exclude-edge"),
                 QStringLiteral("leave out cells cut by the image border (with --annotations, "
                                "annotated cells at the border too)")});
    p.addOption(thresholdOption());
    p.addOption({QStringLiteral("colour"),
                 QStringLiteral("recolour crops onto the training colours before classifying: "
                                "none, shift (default) or reinhard"),
                 QStringLiteral("MODE"), QStringLiteral("shift")});
    p.addOption({QStringLiteral("iou"),
                 QStringLiteral("IoU for a detection to match a box (default 0.5)"),
                 QStringLiteral("IOU"), QStringLiteral("0.5")});
    p.addOption({QStringLiteral("threads"),
                 QStringLiteral("fields analysed in parallel (default: cores)"),
                 QStringLiteral("N"), QString::number(QThread::idealThreadCount())});
}

// --threshold, --iou, --colour and the fields to analyse; an exit code when one is wrong.
std::optional<int> parseInputs(const QCommandLineParser& p, SegmentRun& run)
{
    if (p.positionalArguments().size() != 1) {
        printError(QStringLiteral("segment: expected one image or folder (see --help)"));
        return 2;
    }
    bool okThreshold = true, okIou = false;
    // Without --threshold: the model card's (loadClassifier()), as classify does.
    if (p.isSet(QStringLiteral("threshold")))
        run.threshold = p.value(QStringLiteral("threshold")).toDouble(&okThreshold);
    run.minIou = p.value(QStringLiteral("iou")).toDouble(&okIou);
    if (!okThreshold || run.threshold < 0 || run.threshold > 1 || !okIou || run.minIou <= 0 ||
        run.minIou > 1) {
        printError(QStringLiteral("segment: --threshold and --iou take a number in (0, 1]"));
        return 2;
    }
    run.colour = p.value(QStringLiteral("colour"));
    ColourNormalization colourMode = ColourNormalization::Shift;
    if (run.colour == QLatin1String("none"))
        colourMode = ColourNormalization::None;
    else if (run.colour == QLatin1String("reinhard"))
        colourMode = ColourNormalization::Reinhard;
    else if (run.colour != QLatin1String("shift")) {
        printError(QStringLiteral("segment: --colour takes none, shift or reinhard"));
        return 2;
    }
    run.options.threshold = run.threshold;
    run.options.colourNormalization = colourMode;
    run.excludeEdge = p.isSet(QStringLiteral("exclude-edge"));
    run.json = p.isSet(QStringLiteral("json"));

    const QString path = p.positionalArguments().first();
    run.info = QFileInfo(path);
    if (run.info.isDir())
        run.files = fieldImagesInFolder(path);
    else if (run.info.isFile())
        run.files << run.info.absoluteFilePath();
    if (run.files.isEmpty()) {
        printError(run.info.exists() ? QStringLiteral("segment: no images in %1").arg(path)
                                     : QStringLiteral("segment: %1 does not exist").arg(path));
        return 1;
    }
    return std::nullopt;
}

// --annotations, --overlay and --export-crops (folders created); an exit code on failure.
std::optional<int> prepareOutputs(const QCommandLineParser& p, SegmentRun& run)
{
    if (p.isSet(QStringLiteral("annotations"))) {
        run.truth = loadFieldAnnotations(p.value(QStringLiteral("annotations")));
        if (!run.truth->ok()) {
            printError(QStringLiteral("segment: %1").arg(run.truth->error));
            return 1;
        }
    }

    run.overlayDir = p.value(QStringLiteral("overlay"));
    if (!run.overlayDir.isEmpty() && !QDir().mkpath(run.overlayDir)) {
        printError(QStringLiteral("segment: cannot create %1").arg(run.overlayDir));
        return 1;
    }

    // Labelled crops for fine-tuning. They must not land in the folder being analysed (a
    // second run would read them as fields).
    run.exportDir = p.value(QStringLiteral("export-crops"));
    const QString& exportDir = run.exportDir;
    if (!exportDir.isEmpty()) {
        if (!run.truth) {
            printError(QStringLiteral("segment: --export-crops needs --annotations"));
            return 2;
        }
        const QString path = p.positionalArguments().first();
        const QString in =
            QFileInfo(run.info.isDir() ? path : run.info.absolutePath()).absoluteFilePath();
        const QString outAbs = QFileInfo(exportDir).absoluteFilePath();
        if (outAbs == in || outAbs.startsWith(in + QLatin1Char('/'))) {
            printError(QStringLiteral("segment: --export-crops must be outside the image folder"));
            return 2;
        }
        const QDir d(exportDir);
        if (!d.mkpath(QStringLiteral("Parasitized")) || !d.mkpath(QStringLiteral("Uninfected"))) {
            printError(QStringLiteral("segment: cannot create %1").arg(exportDir));
            return 1;
        }
    }
    return std::nullopt;
}

// The classifier: an explicit file must load; without one the embedded model is used
// when the build has it, otherwise segmentation runs alone and says so.
std::optional<int> loadClassifier(const QCommandLineParser& p, SegmentRun& run)
{
    run.classify = !p.isSet(QStringLiteral("no-classify"));
    if (run.classify) {
        if (p.isSet(QStringLiteral("model"))) {
            if (!run.classifier.load(p.value(QStringLiteral("model")))) {
                printError(QStringLiteral("segment: %1").arg(run.classifier.errorString()));
                return 1;
            }
        } else if (!Classifier::hasEmbeddedModel() || !run.classifier.loadEmbedded()) {
            run.classify = false;
            run.classifyNote = QStringLiteral("no model given and none embedded in this build: "
                                              "segmentation only (use --model FILE)");
            printError(QStringLiteral("segment: %1").arg(run.classifyNote));
        }
    }
    if (run.classify &&
        !applyPrecision(p, precisionOption(), run.classifier, QStringLiteral("segment")))
        return 2;
    if (run.classify) {
        // --threshold, else the model card's (a lab-calibrated model carries its lab's).
        run.threshold =
            decisionThreshold(p, thresholdOption(), run.classifier).value_or(run.threshold);
        run.options.threshold = run.threshold;
        run.options.classifier = cellCropClassifier(run.classifier);
        // A lab-calibrated model may call its lab's pale cells too (palecells.h).
        run.options.paleCells = PaleCellRule::fromCard(run.classifier.card());
    }
    return std::nullopt;
}

// Writes the crops of the detections that match an annotated cell; the crop is the one the
// classifier would see (classifierCrops), so fine-tuning trains on inference-time input.
void exportCrops(const cv::Mat& image, const FieldResult& r, const FieldAnnotation& annotation,
                 const FieldOptions& o, double iou, const QDir& out, Item* item)
{
    const FieldAnnotation fa = annotation.clippedTo(r.imageSize);
    std::vector<cv::Rect> truthBoxes;
    std::vector<const AnnotatedObject*> truthObjects;
    for (const AnnotatedObject& obj : fa.objects) {
        if (obj.difficult)
            continue;
        truthBoxes.push_back(obj.box);
        truthObjects.push_back(&obj);
    }
    const std::vector<int> match = matchBoxes(r.boxes(false), truthBoxes, iou);
    std::vector<size_t> which;
    for (size_t i = 0; i < match.size(); ++i)
        if (match[i] >= 0)
            which.push_back(i);
    const std::vector<cv::Mat> crops = classifierCrops(image, r.cells, which, o);
    const QString id = fieldCropId(r.path);
    const QString base = QFileInfo(r.path).completeBaseName();
    for (size_t k = 0; k < which.size(); ++k) {
        if (crops[k].empty())
            continue;
        const AnnotatedObject& obj = *truthObjects[size_t(match[which[k]])];
        QString type = obj.infected ? obj.type.toLower() : QStringLiteral("rbc");
        type.replace(QLatin1Char(' '), QLatin1Char('-'));
        const QString name = QStringLiteral("%1_%2_cell%3_%4.png")
                                 .arg(id, base)
                                 .arg(which[k], 3, 10, QLatin1Char('0'))
                                 .arg(type);
        const QString file = out.filePath(
            (obj.infected ? QStringLiteral("Parasitized/") : QStringLiteral("Uninfected/")) + name);
        if (!matToQImage(crops[k]).save(file)) {
            item->exportError = QStringLiteral("cannot write %1").arg(file);
            return;
        }
        ++(obj.infected ? item->exportedParasitized : item->exportedUninfected);
    }
}

// One field, on a worker thread: analysis, appearances, exported crops, evaluation, overlay.
Item analyzeOne(const SegmentRun& run, const QString& file)
{
    // Each worker gives libtorch one thread: fields run in parallel instead (the per-thread
    // OpenMP budget starts at 1 on these machines anyway, see docs).
    if (run.classify)
        setTorchThreads(1);
    Item item;
    cv::Mat image;
    const bool needImage = !run.overlayDir.isEmpty() || !run.exportDir.isEmpty() || run.classify;
    item.result = analyzeField(file, run.options, needImage ? &image : nullptr);
    if (!item.result.error.isEmpty())
        return item;
    if (run.classify)
        item.appearances = fieldCellAppearances(image, item.result, run.options);
    if (!run.exportDir.isEmpty()) {
        if (const FieldAnnotation* fa = run.truth->find(file))
            exportCrops(image, item.result, *fa, run.options, run.minIou, QDir(run.exportDir),
                        &item);
    }
    if (run.truth) {
        // With --exclude-edge, annotated cells cut by the border leave the ground truth
        // too, so both sides are compared on the same interior cells.
        const bool excludeEdge = run.excludeEdge;
        if (const FieldAnnotation* fa = run.truth->find(file))
            item.eval =
                evaluateField(item.result.boxes(excludeEdge),
                              run.classify ? item.result.flags(excludeEdge) : std::vector<bool>{},
                              excludeEdge ? fa->withoutEdgeObjects(item.result.imageSize) : *fa,
                              item.result.imageSize, run.minIou);
    }
    if (!run.overlayDir.isEmpty()) {
        const QString out =
            QDir(run.overlayDir)
                .filePath(QFileInfo(file).completeBaseName() + QStringLiteral("_cells.png"));
        if (!matToQImage(drawFieldOverlay(image, item.result, run.excludeEdge)).save(out))
            item.overlayError = QStringLiteral("cannot write %1").arg(out);
    }
    return item;
}

// Parasitemia corrected for the model's errors (or the apparent one with the reason it could
// not be corrected), per field and for the whole run (the slide).
struct Estimator
{
    std::optional<ErrorRates> rates;
    QString ratesError;

    /// `countDesignEffect`: the count's spread between the fields it pools (a slide's).
    PrevalenceEstimate operator()(int called, int cells, double countDesignEffect = 1.0) const
    {
        return estimateOrExplain(called, cells, rates,
                                 ratesError.isEmpty() ? QStringLiteral("cells were not classified")
                                                      : ratesError,
                                 countDesignEffect);
    }
};

// The error rates of the training source `source` (the one the slide's cells resemble most)
// when the card has them, else the pooled validation rates; its rates on whole fields (debris
// included) before its rates on crops.
Estimator makeEstimator(const SegmentRun& run, const QString& source)
{
    Estimator est;
    est.rates = run.classify ? errorRatesAt(run.classifier.card(), run.threshold, &est.ratesError,
                                            source, RatesFor::Fields)
                             : std::nullopt;
    return est;
}

// The run's totals and per-field JSON, gathered field by field.
struct RunTotals
{
    FieldCounts total;
    FieldEvaluation eval;
    int evaluated = 0, failed = 0;
    int exportedParasitized = 0, exportedUninfected = 0;
    std::vector<CellAppearance> runCells; ///< classified cells of every field (domain check)
    std::vector<float> runProbs;
    QJsonArray perImage;
    /// Per field: cells called parasitized of cells (the slide count's design effect).
    std::vector<ClusterCount> calledByField;
    /// Per annotated field, classified: parasites called of matched, and non-parasite
    /// detections called of all (the design effects of the detection rates).
    std::vector<ClusterCount> parasitesByField, othersByField;
};

// Every detection as one decision, parasite or not (debris counted): the rates a field's
// apparent parasitemia is made of (the card's validation_on_fields,
// scripts/write-field-rates.py).
QJsonObject detectionConfusionJson(const FieldEvaluation& eval)
{
    return QJsonObject{
        {QStringLiteral("true_positive"), eval.infectedFlagged},
        {QStringLiteral("false_negative"), eval.infectedMatched - eval.infectedFlagged},
        {QStringLiteral("true_negative"), eval.nonParasiteDetections() - eval.nonParasiteFlagged()},
        {QStringLiteral("false_positive"), eval.nonParasiteFlagged()},
        {QStringLiteral("not_a_cell"), eval.notACellDetections()}};
}

// The domain check of one field's classified cells, which are also added to the run's.
DomainVerdict fieldDomain(const DomainProfile& profile, const Item& it, RunTotals& t)
{
    std::vector<float> probs;
    std::vector<CellAppearance> cells;
    for (size_t i = 0; i < it.result.cells.size() && i < it.appearances.size(); ++i) {
        if (it.result.cells[i].probability < 0)
            continue;
        probs.push_back(it.result.cells[i].probability);
        cells.push_back(it.appearances[i]);
    }
    t.runCells.insert(t.runCells.end(), cells.begin(), cells.end());
    t.runProbs.insert(t.runProbs.end(), probs.begin(), probs.end());
    return checkDomain(profile, cells, probs);
}

// The text line of one analysed field (and its overlay error).
void printFieldLine(const SegmentRun& run, const Item& it, const FieldCounts& c,
                    const Proportion& pm, const PrevalenceEstimate& fieldEstimate)
{
    const FieldResult& r = it.result;
    QString line = QStringLiteral("%1: %2 cells").arg(QFileInfo(r.path).fileName()).arg(c.cells);
    if (run.classify)
        line += QStringLiteral(", %1 parasitized (%2 %)")
                    .arg(c.parasitized)
                    .arg(pm.p * 100.0, 0, 'f', 2);
    line += unsplitText(c);
    if (run.classify && fieldEstimate.ok)
        line += QStringLiteral(", corrected %1 %").arg(fieldEstimate.corrected * 100.0, 0, 'f', 2);
    if (it.eval)
        line += QStringLiteral(", recall %1, precision %2")
                    .arg(it.eval->recall(), 0, 'f', 3)
                    .arg(it.eval->precision(), 0, 'f', 3);
    for (const QString& w : r.warnings)
        line += QStringLiteral(" [warning: %1]").arg(w);
    printLine(line);
    if (!it.overlayError.isEmpty())
        printError(QStringLiteral("segment: %1").arg(it.overlayError));
}

// Adds one field to the totals and its JSON to t.perImage; prints its line without --json.
void reportField(const SegmentRun& run, const Item& it, const Estimator& estimate,
                 const DomainProfile& profile, RunTotals& t)
{
    const FieldResult& r = it.result;
    QJsonObject o{{QStringLiteral("path"), r.path}};
    if (!r.error.isEmpty()) {
        ++t.failed;
        o.insert(QStringLiteral("error"), r.error);
        t.perImage.append(o);
        if (!run.json)
            printLine(QStringLiteral("%1: error: %2").arg(r.path, r.error));
        return;
    }
    const bool classify = run.classify;
    const FieldCounts c = r.counts(run.excludeEdge);
    t.total += c;
    t.calledByField.push_back({c.parasitized, c.cells});
    const Proportion pm = c.parasitemia();
    o.insert(QStringLiteral("width"), r.imageSize.width);
    o.insert(QStringLiteral("height"), r.imageSize.height);
    o.insert(QStringLiteral("cells"), c.cells);
    o.insert(QStringLiteral("edge_cells"), c.edgeCells);
    insertUnsplit(o, c);
    o.insert(QStringLiteral("parasitized"), classify ? QJsonValue(c.parasitized) : QJsonValue());
    o.insert(QStringLiteral("parasitemia"), numberOrNull(classify, pm.p));
    const PrevalenceEstimate fieldEstimate = estimate(c.parasitized, c.cells);
    DomainVerdict fieldVerdict;
    if (classify) {
        const QJsonObject ej = fieldEstimate.toJson();
        for (auto k = ej.begin(); k != ej.end(); ++k)
            if (k.key().startsWith(QLatin1String("parasitemia")))
                o.insert(k.key(), k.value());
        fieldVerdict = fieldDomain(profile, it, t);
        o.insert(QStringLiteral("domain"), fieldVerdict.toJson());
    }
    o.insert(QStringLiteral("cell_diameter"), r.cellDiameter);
    o.insert(QStringLiteral("segment_ms"), r.segmentMs);
    if (!r.warnings.isEmpty())
        o.insert(QStringLiteral("warnings"), QJsonArray::fromStringList(r.warnings));
    if (!it.overlayError.isEmpty())
        o.insert(QStringLiteral("overlay_error"), it.overlayError);
    if (it.eval) {
        ++t.evaluated;
        t.eval += *it.eval;
        o.insert(QStringLiteral("rbc_recall"), it.eval->recall());
        o.insert(QStringLiteral("rbc_precision"), it.eval->precision());
        if (classify) {
            o.insert(QStringLiteral("detection_confusion"), detectionConfusionJson(*it.eval));
            t.parasitesByField.push_back({it.eval->infectedFlagged, it.eval->infectedMatched});
            t.othersByField.push_back(
                {it.eval->nonParasiteFlagged(), it.eval->nonParasiteDetections()});
        }
    }
    t.perImage.append(o);
    if (!run.json)
        printFieldLine(run, it, c, pm, fieldEstimate);
}

// The run's slide-level answer: parasitemia, its correction and the domain check.
struct SlideSummary
{
    Proportion pm;
    PrevalenceEstimate slide;
    DomainVerdict domain;
    bool hasEval = false;      // some annotated field was evaluated
    bool hasClassEval = false; // ... and its cells were classified
};

// The evaluation against the annotations, in the run's JSON.
void insertEvaluationJson(QJsonObject& o, const SegmentRun& run, const RunTotals& t,
                          const SlideSummary& s)
{
    const FieldEvaluation& eval = t.eval;
    o.insert(QStringLiteral("annotated_images"), t.evaluated);
    o.insert(QStringLiteral("iou_threshold"), run.minIou);
    o.insert(QStringLiteral("rbc_recall"), numberOrNull(s.hasEval, eval.recall()));
    o.insert(QStringLiteral("rbc_precision"), numberOrNull(s.hasEval, eval.precision()));
    o.insert(QStringLiteral("parasite_sensitivity"),
             numberOrNull(s.hasClassEval && eval.infectedTruth > 0, eval.parasiteSensitivity()));
    o.insert(
        QStringLiteral("healthy_false_positive_rate"),
        numberOrNull(s.hasClassEval && eval.healthyMatched > 0, eval.healthyFalsePositiveRate()));
    o.insert(QStringLiteral("counts"),
             QJsonObject{{QStringLiteral("truth_cells"), eval.truthCells},
                         {QStringLiteral("detections"), eval.detections},
                         {QStringLiteral("matched"), eval.matched},
                         {QStringLiteral("ignored_detections"), eval.ignoredDetections},
                         {QStringLiteral("infected_truth"), eval.infectedTruth},
                         {QStringLiteral("infected_matched"), eval.infectedMatched},
                         {QStringLiteral("infected_flagged"), eval.infectedFlagged},
                         {QStringLiteral("healthy_matched"), eval.healthyMatched},
                         {QStringLiteral("healthy_flagged"), eval.healthyFlagged},
                         {QStringLiteral("unmatched_flagged"), eval.unmatchedFlagged}});
    if (!s.hasClassEval)
        return;
    o.insert(QStringLiteral("parasite_sensitivity_ci95"),
             proportionJson(wilsonInterval(eval.infectedFlagged, eval.infectedTruth)));
    // The spread of those rates between the fields goes with them, for the confidence
    // interval of a corrected parasitemia (ErrorRates::negativesDesignEffect).
    QJsonObject confusion = detectionConfusionJson(eval);
    confusion.insert(QStringLiteral("design_effect_sensitivity"), designEffect(t.parasitesByField));
    confusion.insert(QStringLiteral("design_effect_specificity"), designEffect(t.othersByField));
    o.insert(QStringLiteral("detection_confusion"), confusion);
}

// --json: the run's summary with every field's object under "fields".
void printSummaryJson(const SegmentRun& run, const RunTotals& t, const SlideSummary& s)
{
    const bool classify = run.classify;
    const FieldCounts& total = t.total;
    const Proportion& pm = s.pm;
    QJsonObject o;
    o.insert(QStringLiteral("images"), total.images);
    o.insert(QStringLiteral("failed"), t.failed);
    o.insert(QStringLiteral("cells"), total.cells);
    o.insert(QStringLiteral("edge_cells"), total.edgeCells);
    insertUnsplit(o, total);
    o.insert(QStringLiteral("exclude_edge"), run.excludeEdge);
    o.insert(QStringLiteral("classified"), classify);
    if (!run.classifyNote.isEmpty())
        o.insert(QStringLiteral("note"), run.classifyNote);
    if (classify) {
        o.insert(QStringLiteral("model"), run.classifier.source());
        o.insert(QStringLiteral("precision"), precisionName(run.classifier.precision()));
        if (!run.classifier.precisionNote().isEmpty())
            o.insert(QStringLiteral("precision_note"), run.classifier.precisionNote());
        o.insert(QStringLiteral("threshold"), run.threshold);
        o.insert(QStringLiteral("colour"), run.colour);
        // The lab's pale-cell rule, when its card has one, and how many cells it called.
        if (run.options.paleCells) {
            QJsonObject pale = run.options.paleCells->toJson();
            pale.insert(QStringLiteral("called"), total.paleCalled);
            o.insert(QStringLiteral("pale_cells"), pale);
        }
    }
    o.insert(QStringLiteral("parasitized"),
             classify ? QJsonValue(total.parasitized) : QJsonValue());
    o.insert(QStringLiteral("parasitemia"), numberOrNull(classify, pm.p));
    o.insert(QStringLiteral("parasitemia_percent"), numberOrNull(classify, pm.p * 100.0));
    o.insert(QStringLiteral("parasitemia_ci95"),
             classify ? QJsonValue(QJsonArray{pm.low, pm.high}) : QJsonValue());
    if (classify) {
        const QJsonObject sj = s.slide.toJson();
        for (auto k = sj.begin(); k != sj.end(); ++k)
            if (k.key().startsWith(QLatin1String("parasitemia")) ||
                k.key() == QLatin1String("rates_source") ||
                k.key() == QLatin1String("count_design_effect"))
                o.insert(k.key(), k.value());
        o.insert(QStringLiteral("decision"), decideInfection(s.slide).reason);
        o.insert(QStringLiteral("domain"), s.domain.toJson());
    }
    if (run.truth)
        insertEvaluationJson(o, run, t, s);
    if (!run.exportDir.isEmpty())
        o.insert(QStringLiteral("exported_crops"),
                 QJsonObject{{QStringLiteral("dir"), QFileInfo(run.exportDir).absoluteFilePath()},
                             {QStringLiteral("parasitized"), t.exportedParasitized},
                             {QStringLiteral("uninfected"), t.exportedUninfected}});
    o.insert(QStringLiteral("fields"), t.perImage);
    printJson(o);
}

// Without --json: the run's summary lines.
void printSummaryText(const SegmentRun& run, const RunTotals& t, const SlideSummary& s)
{
    const FieldCounts& total = t.total;
    const FieldEvaluation& eval = t.eval;
    const Proportion& pm = s.pm;
    printLine(QStringLiteral("Images:      %1 (%2 failed)").arg(total.images).arg(t.failed));
    printLine(QStringLiteral("Cells:       %1%2")
                  .arg(total.cells)
                  .arg(run.excludeEdge
                           ? QStringLiteral(" (%1 edge cells excluded)").arg(total.edgeCells)
                           : QStringLiteral(" (%1 touch the edge)").arg(total.edgeCells)));
    if (total.unsplitRegions > 0)
        printLine(QStringLiteral("Unsplit:     %1 clumps of touching cells (~%2 cells) not "
                                 "split into cells, not classified")
                      .arg(total.unsplitRegions)
                      .arg(total.unsplitCellsEstimate));
    if (run.classify && run.options.paleCells)
        printLine(QStringLiteral("Pale cells:  %1 called parasitized by the lab's pale-cell "
                                 "rule (paler and less red than their field's other cells)")
                      .arg(total.paleCalled));
    if (run.classify)
        printLine(QStringLiteral("Parasitized: %1, parasitemia %2 % (95 % CI %3-%4 %)")
                      .arg(total.parasitized)
                      .arg(pm.p * 100.0, 0, 'f', 2)
                      .arg(pm.low * 100.0, 0, 'f', 2)
                      .arg(pm.high * 100.0, 0, 'f', 2));
    if (run.classify) {
        printLine(QStringLiteral("Corrected:   %1").arg(s.slide.explanation()));
        printLine(QStringLiteral("Decision:    %1").arg(decideInfection(s.slide).reason));
        printLine(QStringLiteral("Domain:      %1").arg(s.domain.summary()));
    }
    if (s.hasEval) {
        printLine(QStringLiteral("RBC recall %1 (%2/%3), precision %4 (%5/%6) at IoU >= %7")
                      .arg(eval.recall(), 0, 'f', 3)
                      .arg(eval.matched)
                      .arg(eval.truthCells)
                      .arg(eval.precision(), 0, 'f', 3)
                      .arg(eval.matched)
                      .arg(eval.detections)
                      .arg(run.minIou));
        if (s.hasClassEval)
            printLine(QStringLiteral("Parasite sensitivity %1 (%2/%3), healthy false-positive "
                                     "rate %4 (%5/%6)")
                          .arg(eval.parasiteSensitivity(), 0, 'f', 3)
                          .arg(eval.infectedFlagged)
                          .arg(eval.infectedTruth)
                          .arg(eval.healthyFalsePositiveRate(), 0, 'f', 3)
                          .arg(eval.healthyFlagged)
                          .arg(eval.healthyMatched));
    }
    if (!run.exportDir.isEmpty())
        printLine(QStringLiteral("Crops:       %1 Parasitized, %2 Uninfected written to %3")
                      .arg(t.exportedParasitized)
                      .arg(t.exportedUninfected)
                      .arg(run.exportDir));
}

// Every field's report, then the run's summary (JSON or text); returns the totals.
RunTotals reportRun(const SegmentRun& run, const QList<Item>& items)
{
    RunTotals t;
    for (const Item& it : items) {
        t.exportedParasitized += it.exportedParasitized;
        t.exportedUninfected += it.exportedUninfected;
        if (!it.exportError.isEmpty())
            printError(QStringLiteral("segment: %1").arg(it.exportError));
    }
    const DomainProfile profile = DomainProfile::fromCard(run.classifier.card());
    // The slide's domain decides whose error rates correct its parasitemia.
    std::vector<CellAppearance> slideCells;
    std::vector<float> slideProbs;
    for (const Item& it : items)
        for (size_t i = 0; i < it.result.cells.size() && i < it.appearances.size(); ++i)
            if (it.result.cells[i].probability >= 0) {
                slideCells.push_back(it.appearances[i]);
                slideProbs.push_back(it.result.cells[i].probability);
            }
    const QString nearest =
        run.classify ? checkDomain(profile, slideCells, slideProbs).nearestSource : QString();
    const Estimator estimate = makeEstimator(run, nearest);
    for (const Item& it : items)
        reportField(run, it, estimate, profile, t);

    SlideSummary s;
    s.pm = t.total.parasitemia();
    // The fields of a slide differ (parasites, debris, stain): its count is less certain
    // than a binomial on its cells says (estimatePrevalence()).
    s.slide = estimate(t.total.parasitized, t.total.cells, designEffect(t.calledByField));
    s.domain = run.classify ? checkDomain(profile, t.runCells, t.runProbs) : DomainVerdict{};
    s.hasEval = run.truth.has_value() && t.evaluated > 0;
    s.hasClassEval = s.hasEval && run.classify;
    if (run.json)
        printSummaryJson(run, t, s);
    else
        printSummaryText(run, t, s);
    return t;
}

} // namespace

int runSegment(const QStringList& args)
{
    QCommandLineParser p;
    addSegmentOptions(p);
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    SegmentRun run;
    if (const std::optional<int> exitCode = parseInputs(p, run))
        return *exitCode;
    if (const std::optional<int> exitCode = prepareOutputs(p, run))
        return *exitCode;
    if (const std::optional<int> exitCode = loadClassifier(p, run))
        return *exitCode;

    const int threads = qMax(1, p.value(QStringLiteral("threads")).toInt());
    QThreadPool pool;
    pool.setMaxThreadCount(qMin(threads, int(run.files.size())));
    const std::function<Item(const QString&)> work = [&run](const QString& file) {
        return analyzeOne(run, file);
    };
    const QList<Item> items = QtConcurrent::blockingMapped(&pool, run.files, work);
    if (p.isSet(QStringLiteral("csv"))) {
        QString why;
        if (!writeCellsCsv(p.value(QStringLiteral("csv")), items, &why)) {
            printError(QStringLiteral("segment: %1").arg(why));
            return 1;
        }
    }

    const RunTotals t = reportRun(run, items);
    return t.failed == int(run.files.size()) ? 1 : 0;
}

} // namespace ml::cli
