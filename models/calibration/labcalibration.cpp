#include "labcalibration.h"

#include "augment.h"
#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "folderscanner.h"
#include "matconvert.h"
#include "metrics.h"
#include "preprocess.h"
#include "torchthreads.h"
#include "trainer.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QtConcurrent/QtConcurrentMap>

#include <algorithm>
#include <random>
#include <set>

namespace ml {

namespace {

// Adapt or test: a seeded hash of the field's name, so a field stays on its side whatever
// other fields the folder holds.
bool isAdaptField(const QString& name, quint32 seed)
{
    return qHash(name, seed) % 2 == 0;
}

struct FieldCells
{
    QString error;
    std::vector<CalibrationCell> cells;
};

// Segments, classifies and labels one field.
FieldCells analyseField(const QString& file, const FieldAnnotationSet& truth,
                        const Classifier& model, double threshold, quint32 seed)
{
    FieldCells out;
    setTorchThreads(1);
    FieldOptions options;
    options.threshold = threshold;
    options.classifier = [&model](const std::vector<cv::Mat>& crops, QString* error) {
        std::vector<cv::Mat> in;
        in.reserve(crops.size());
        for (const cv::Mat& c : crops)
            in.push_back(preprocessImage(c));
        return model.predict(in, error);
    };
    cv::Mat image;
    const FieldResult r = analyzeField(file, options, &image);
    if (!r.error.isEmpty()) {
        out.error = QStringLiteral("%1: %2").arg(QFileInfo(file).fileName(), r.error);
        return out;
    }
    const QString name = QFileInfo(file).fileName();
    std::vector<int> match;
    std::vector<const AnnotatedObject*> objects;
    if (const FieldAnnotation* fa = truth.find(name)) {
        const FieldAnnotation clipped = fa->clippedTo(r.imageSize);
        std::vector<cv::Rect> boxes;
        for (const AnnotatedObject& o : clipped.objects) {
            if (o.difficult)
                continue;
            boxes.push_back(o.box);
            objects.push_back(&o);
        }
        const std::vector<cv::Rect> detections = r.boxes(false);
        match = matchBoxes(detections, boxes, 0.5);
        std::vector<size_t> all(r.cells.size());
        for (size_t i = 0; i < all.size(); ++i)
            all[i] = i;
        const std::vector<cv::Mat> crops = classifierCrops(image, r.cells, all, options);
        const bool adapt = isAdaptField(name, seed);
        for (size_t i = 0; i < r.cells.size(); ++i) {
            CalibrationCell c;
            c.field = name;
            c.box = detections[i];
            c.probability = r.cells[i].probability;
            c.adapt = adapt;
            c.crop = crops[i];
            if (i < match.size() && match[i] >= 0)
                c.label = objects[size_t(match[i])]->infected ? 0 : 1;
            out.cells.push_back(std::move(c));
        }
        // `objects` points into `clipped`, which dies here: nothing is kept past this line.
    }
    return out;
}

bool writeCrops(const std::vector<CalibrationCell>& cells, const std::vector<int>& which,
                const QString& dir, QString* error)
{
    const QDir d(dir);
    for (const QString& sub : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")})
        if (!d.mkpath(sub)) {
            *error = QStringLiteral("cannot create %1").arg(d.filePath(sub));
            return false;
        }
    for (int i : which) {
        const CalibrationCell& c = cells[size_t(i)];
        // The field's crop id leads the name, so the field is the split's patient.
        const QString file = d.filePath(
            QStringLiteral("%1/%2_%3_x%4y%5.png")
                .arg(c.label == 0 ? QStringLiteral("Parasitized") : QStringLiteral("Uninfected"),
                     fieldCropId(c.field), QFileInfo(c.field).completeBaseName())
                .arg(c.box.x)
                .arg(c.box.y));
        if (!matToQImage(c.crop).save(file)) {
            *error = QStringLiteral("cannot write %1").arg(file);
            return false;
        }
    }
    return true;
}

std::vector<float> predictCells(const Classifier& model, const std::vector<CalibrationCell>& cells,
                                const std::vector<int>& which, QString* error)
{
    std::vector<float> out(cells.size(), -1.0f);
    for (size_t start = 0; start < which.size(); start += 256) {
        std::vector<cv::Mat> batch;
        const size_t end = std::min(which.size(), start + 256);
        for (size_t k = start; k < end; ++k)
            batch.push_back(preprocessImage(cells[size_t(which[k])].crop));
        const auto p = model.predict(batch, error);
        if (!p)
            return {};
        for (size_t k = start; k < end; ++k)
            out[size_t(which[k])] = (*p)[k - start];
    }
    return out;
}

} // namespace

std::vector<int> selectCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                    double threshold, quint32 seed)
{
    std::vector<int> candidates;
    for (size_t i = 0; i < cells.size(); ++i)
        if (cells[i].adapt && cells[i].label >= 0)
            candidates.push_back(int(i));
    std::vector<int> called, uncertain = candidates, random = candidates;
    for (int i : candidates)
        if (cells[size_t(i)].probability >= threshold)
            called.push_back(i);
    std::stable_sort(called.begin(), called.end(), [&](int a, int b) {
        return cells[size_t(a)].probability > cells[size_t(b)].probability;
    });
    std::stable_sort(uncertain.begin(), uncertain.end(), [&](int a, int b) {
        return std::abs(cells[size_t(a)].probability - threshold) <
               std::abs(cells[size_t(b)].probability - threshold);
    });
    std::mt19937 rng(seed);
    std::shuffle(random.begin(), random.end(), rng);
    std::vector<int> picked;
    std::set<int> seen;
    size_t k[3] = {0, 0, 0};
    const std::vector<int>* lists[3] = {&called, &uncertain, &random};
    while (int(picked.size()) < budget) {
        bool any = false;
        for (int l = 0; l < 3 && int(picked.size()) < budget; ++l) {
            while (k[l] < lists[l]->size() && seen.count((*lists[l])[k[l]]))
                ++k[l];
            if (k[l] < lists[l]->size()) {
                const int i = (*lists[l])[k[l]++];
                seen.insert(i);
                picked.push_back(i);
                any = true;
            }
        }
        if (!any)
            break;
    }
    return picked;
}

CalibrationFigures figuresOn(const std::vector<CalibrationCell>& cells,
                             const std::vector<float>& probabilities, const std::vector<int>& which,
                             double threshold, const std::optional<ErrorRates>& rates)
{
    CalibrationFigures f;
    for (int i : which) {
        const CalibrationCell& c = cells[size_t(i)];
        if (c.label < 0 || probabilities[size_t(i)] < 0)
            continue;
        const bool called = probabilities[size_t(i)] >= threshold;
        if (c.label == 0)
            ++(called ? f.truePositive : f.falseNegative);
        else
            ++(called ? f.falsePositive : f.trueNegative);
    }
    const int pos = f.truePositive + f.falseNegative, neg = f.trueNegative + f.falsePositive;
    f.sensitivity = pos > 0 ? double(f.truePositive) / pos : 0;
    f.specificity = neg > 0 ? double(f.trueNegative) / neg : 0;
    f.balancedAccuracy = (f.sensitivity + f.specificity) / 2.0;
    f.trueParasitemia = pos + neg > 0 ? double(pos) / (pos + neg) : 0;
    const int called = f.truePositive + f.falsePositive;
    if (rates) {
        f.parasitemia = estimatePrevalence(called, pos + neg, *rates);
    } else {
        f.parasitemia.cells = pos + neg;
        f.parasitemia.called = called;
        f.parasitemia.apparent = pos + neg > 0 ? double(called) / (pos + neg) : 0;
        f.parasitemia.error = QStringLiteral("no error rates");
    }
    return f;
}

QJsonObject CalibrationFigures::toJson() const
{
    QJsonObject o{{QStringLiteral("sensitivity"), sensitivity},
                  {QStringLiteral("specificity"), specificity},
                  {QStringLiteral("balanced_accuracy"), balancedAccuracy},
                  {QStringLiteral("healthy_false_positive_rate"), 1.0 - specificity},
                  {QStringLiteral("confusion"),
                   QJsonObject{{QStringLiteral("true_positive"), truePositive},
                               {QStringLiteral("false_negative"), falseNegative},
                               {QStringLiteral("true_negative"), trueNegative},
                               {QStringLiteral("false_positive"), falsePositive}}},
                  {QStringLiteral("parasitemia_true"), trueParasitemia}};
    const QJsonObject pj = parasitemia.toJson();
    for (auto it = pj.begin(); it != pj.end(); ++it)
        if (it.key().startsWith(QLatin1String("parasitemia")))
            o.insert(it.key(), it.value());
    return o;
}

QJsonObject LabCalibrationResult::toJson() const
{
    return QJsonObject{{QStringLiteral("before"), before.toJson()},
                       {QStringLiteral("after"), after.toJson()},
                       {QStringLiteral("cells_used"), cellsUsed},
                       {QStringLiteral("parasitized_used"), parasitizedUsed},
                       {QStringLiteral("fields_adapt"), QJsonArray::fromStringList(fieldsAdapt)},
                       {QStringLiteral("fields_test"), QJsonArray::fromStringList(fieldsTest)}};
}

LabCalibrationResult calibrateLab(const QStringList& fieldFiles, const FieldAnnotationSet& truth,
                                  const Classifier& model, const LabCalibrationOptions& o)
{
    LabCalibrationResult result;
    const auto log = [&](const QString& s) {
        if (o.log)
            o.log(s);
    };
    if (!model.isLoaded()) {
        result.error = QStringLiteral("no model loaded");
        return result;
    }
    const double threshold = model.card().value(QStringLiteral("threshold")).toDouble(0.5);
    log(QStringLiteral("segmenting and classifying %1 fields").arg(fieldFiles.size()));
    QThreadPool pool;
    pool.setMaxThreadCount(std::max(1, o.threads));
    const QList<FieldCells> perField = QtConcurrent::blockingMapped(
        &pool, fieldFiles, std::function<FieldCells(const QString&)>([&](const QString& f) {
            return analyseField(f, truth, model, threshold, o.seed);
        }));
    std::vector<CalibrationCell> cells;
    for (const FieldCells& f : perField) {
        if (!f.error.isEmpty()) {
            result.error = f.error;
            return result;
        }
        for (const CalibrationCell& c : f.cells) {
            QStringList& side = c.adapt ? result.fieldsAdapt : result.fieldsTest;
            if (side.isEmpty() || side.last() != c.field)
                side << c.field;
        }
        cells.insert(cells.end(), f.cells.begin(), f.cells.end());
    }
    if (result.fieldsAdapt.isEmpty() || result.fieldsTest.isEmpty()) {
        result.error = QStringLiteral("too few annotated fields to split into adapt and test "
                                      "fields (%1 fields with cells)")
                           .arg(result.fieldsAdapt.size() + result.fieldsTest.size());
        return result;
    }
    if (o.cancel && o.cancel->load()) {
        result.cancelled = true;
        return result;
    }

    std::vector<int> test;
    std::vector<float> before(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) {
        before[i] = cells[i].probability;
        if (!cells[i].adapt)
            test.push_back(int(i));
    }
    result.before = figuresOn(cells, before, test, threshold, errorRatesFromCard(model.card()));

    const std::vector<int> chosen = selectCellsToLabel(cells, o.budget, threshold, o.seed);
    result.cellsUsed = int(chosen.size());
    for (int i : chosen)
        result.parasitizedUsed += cells[size_t(i)].label == 0;
    log(QStringLiteral("%1 cells labelled (%2 parasitized) from %3 adapt fields")
            .arg(result.cellsUsed)
            .arg(result.parasitizedUsed)
            .arg(result.fieldsAdapt.size()));
    if (result.parasitizedUsed < kMinParasitizedToAdapt) {
        result.error = QStringLiteral("only %1 parasitized cells among the %2 labelled: at least "
                                      "%3 are needed to adapt the model to this lab")
                           .arg(result.parasitizedUsed)
                           .arg(result.cellsUsed)
                           .arg(kMinParasitizedToAdapt);
        return result;
    }
    QString error;
    if (!writeCrops(cells, chosen, o.workDir, &error)) {
        result.error = error;
        return result;
    }
    const Dataset ds = scanFolder(o.workDir);
    if (!ds.error.isEmpty()) {
        result.error = ds.error;
        return result;
    }

    TrainingConfig config;
    config.arch = parseArchitecture(model.architecture()).value_or(Architecture::Se);
    config.initialModel = model;
    config.epochs = o.epochs;
    config.learningRate = o.learningRate;
    config.patience = 3;
    config.split = SplitMode::Patient;
    config.valFraction = 0.25;
    config.seed = o.seed;
    config.augment = true;
    config.augmentConfig = AugmentConfig::crossLab();
    config.augmentPreset = QStringLiteral("cross-lab");
    config.balanceClasses = true;
    config.normalization = inputNormalizationFromName(model.card()
                                                          .value(QStringLiteral("input"))
                                                          .toObject()
                                                          .value(QStringLiteral("normalization"))
                                                          .toString());
    config.threads = o.threads;
    TrainingCallbacks callbacks;
    callbacks.log = o.log;
    TrainingResult trained = trainClassifier(ds, config, callbacks, o.cancel);
    if (trained.cancelled) {
        result.cancelled = true;
        return result;
    }
    if (!trained.error.isEmpty()) {
        result.error = trained.error;
        return result;
    }

    const std::vector<float> after = predictCells(trained.classifier, cells, test, &error);
    if (after.empty()) {
        result.error = error;
        return result;
    }
    // The lab's own rates, measured on its test fields: what the correction then uses.
    CalibrationFigures measured = figuresOn(cells, after, test, threshold, std::nullopt);
    ErrorRates labRates;
    labRates.sensitivity = measured.sensitivity;
    labRates.specificity = measured.specificity;
    labRates.positives = measured.truePositive + measured.falseNegative;
    labRates.negatives = measured.trueNegative + measured.falsePositive;
    labRates.threshold = threshold;
    labRates.source = QStringLiteral("lab calibration '%1'").arg(o.lab);
    result.after = figuresOn(cells, after, test, threshold, labRates);

    QJsonObject card = trained.classifier.card();
    card.insert(QStringLiteral("threshold"), threshold);
    card.insert(QStringLiteral("lab_calibration"),
                QJsonObject{{QStringLiteral("lab"), o.lab},
                            {QStringLiteral("sensitivity"), labRates.sensitivity},
                            {QStringLiteral("specificity"), labRates.specificity},
                            {QStringLiteral("positives"), labRates.positives},
                            {QStringLiteral("negatives"), labRates.negatives},
                            {QStringLiteral("threshold"), threshold},
                            {QStringLiteral("started_from"), model.source()},
                            {QStringLiteral("started_from_sha256"), model.weightsSha256()},
                            {QStringLiteral("calibration"), result.toJson()}});
    // The starting model's domain stays: the lab's cells are now part of what it knows,
    // recorded by `malarialens-cli domain` when wanted.
    if (model.card().contains(QStringLiteral("domain")))
        card.insert(QStringLiteral("domain"), model.card().value(QStringLiteral("domain")));
    trained.classifier.setCard(card);
    result.model = trained.classifier;
    return result;
}

} // namespace ml
