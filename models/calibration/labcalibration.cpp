#include "labcalibration.h"

#include "augment.h"
#include "cropclassifier.h"
#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "folderscanner.h"
#include "matconvert.h"
#include "metrics.h"
#include "preprocess.h"
#include "torchthreads.h"
#include "trainer.h"
#include "weightinterpolation.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QSet>
#include <QtConcurrent/QtConcurrentMap>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

namespace ml {

namespace {

// Adapt or test: a seeded hash of the field's name, so a field stays on its side whatever
// other fields the folder holds. MD5, not qHash(): qHash() of a string may differ from one
// process to the next, and a replayed session (calibrate --labels / --db) must split as the
// GUI did.
bool isAdaptField(const QString& name, quint32 seed)
{
    const QByteArray h = QCryptographicHash::hash(name.toUtf8() + '#' + QByteArray::number(seed),
                                                  QCryptographicHash::Md5);
    return (quint8(h.at(0)) & 1u) == 0;
}

struct FieldCells
{
    QString error;
    bool cancelled = false;
    std::vector<CalibrationCell> cells;
};

// Segments and classifies one field; no labels.
FieldCells analyseField(const QString& file, const Classifier& model, double threshold,
                        quint32 seed, const std::atomic<bool>* cancel)
{
    FieldCells out;
    if (cancel && cancel->load()) {
        out.cancelled = true;
        return out;
    }
    setTorchThreads(1);
    FieldOptions options;
    options.threshold = threshold;
    options.classifier = cellCropClassifier(model);
    cv::Mat image;
    const FieldResult r = analyzeField(file, options, &image);
    if (!r.error.isEmpty()) {
        out.error = QStringLiteral("%1: %2").arg(QFileInfo(file).fileName(), r.error);
        return out;
    }
    const QString name = QFileInfo(file).fileName();
    const std::vector<cv::Rect> detections = r.boxes(false);
    std::vector<size_t> all(r.cells.size());
    for (size_t i = 0; i < all.size(); ++i)
        all[i] = i;
    const std::vector<cv::Mat> crops = classifierCrops(image, r.cells, all, options);
    const bool adapt = isAdaptField(name, seed);
    const std::vector<CellTone> tones = relativeCellTones(image, detections);
    const PaleCellRule paleRule;
    for (size_t i = 0; i < r.cells.size(); ++i) {
        CalibrationCell c;
        c.field = name;
        c.fieldPath = QFileInfo(file).absoluteFilePath();
        c.fieldSize = r.imageSize;
        c.box = detections[i];
        c.probability = r.cells[i].probability;
        c.pale = i < tones.size() && paleRule.isPale(tones[i]);
        c.adapt = adapt;
        // A deep copy: the crop must not keep the whole field's pixels alive.
        c.crop = crops[i].clone();
        out.cells.push_back(std::move(c));
    }
    return out;
}

// The calibration's own field lists: the fields holding a labelled cell, per side, in order.
void fieldLists(const std::vector<CalibrationCell>& cells, QStringList* adapt, QStringList* test)
{
    for (const CalibrationCell& c : cells) {
        if (c.label < 0)
            continue;
        QStringList& side = c.adapt ? *adapt : *test;
        if (side.isEmpty() || side.last() != c.field)
            side << c.field;
    }
    adapt->removeDuplicates();
    test->removeDuplicates();
}

bool isKnown(const CalibrationCell& c)
{
    return c.label >= 0 || c.notACell;
}

// Weighted counts of detections and of those called (representedRates(), parasitemiaCount()).
struct WeightedCount
{
    double weight = 0, squares = 0, called = 0;
    void add(double w, bool isCalled)
    {
        weight += w;
        squares += w * w;
        called += isCalled ? w : 0.0;
    }
    // The weighted count over Kish's effective sample size of unequal weights,
    // sum(w)^2 / sum(w^2): how many represented detections one independent cell is worth
    // (ErrorRates' design effects divide the counts by it). 1 when every weight is 1.
    double designEffect() const { return weight > 0 ? squares / weight : 1.0; }
};

// The parasitemia's count of figuresOn() and the labels' own share.
struct ParasitemiaCount
{
    int called = 0, cells = 0;
    double parasitizedShare = 0; ///< of the labelled red cells
};

// Every known detection of `which` (called, all), or with `weights` the detections they
// stand for, counted as the independent cells they are worth: Kish's effective size
// (sum w)^2 / sum w^2, the called share kept, so that a binomial on them has the variance of
// the weighted share. With every weight 1, the plain counts.
ParasitemiaCount parasitemiaCount(const std::vector<CalibrationCell>& cells,
                                  const std::vector<float>& probabilities,
                                  const std::vector<int>& which, double threshold,
                                  const std::vector<double>* weights)
{
    WeightedCount all;
    double red = 0, parasitized = 0;
    for (int i : which) {
        const CalibrationCell& c = cells[size_t(i)];
        const double w = weights ? (*weights)[size_t(i)] : 1.0;
        if (probabilities[size_t(i)] < 0 || !isKnown(c) || w <= 0)
            continue;
        all.add(w, probabilities[size_t(i)] >= threshold);
        red += c.label >= 0 ? w : 0.0;
        parasitized += c.label == 0 ? w : 0.0;
    }
    ParasitemiaCount n;
    if (all.weight <= 0)
        return n;
    const double effective = all.weight / all.designEffect();
    n.cells = int(std::lround(effective));
    n.called = int(std::lround(all.called / all.weight * effective));
    n.parasitizedShare = red > 0 ? parasitized / red : 0;
    return n;
}

// selectCellsToLabel()'s rule over `candidates`: called parasitized (highest first), most
// uncertain, seeded random and, `withPale`, pale (lowest first, at most kPaleCellsAsked), in
// turn, skipping repeats, at most `budget`.
std::vector<int> rankCells(const std::vector<CalibrationCell>& cells,
                           const std::vector<int>& candidates, int budget, double threshold,
                           quint32 seed, bool withPale)
{
    std::vector<int> called, uncertain = candidates, random = candidates, pale;
    for (int i : candidates) {
        if (cells[size_t(i)].probability >= threshold)
            called.push_back(i);
        if (withPale && cells[size_t(i)].pale)
            pale.push_back(i);
    }
    const auto higher = [&](int a, int b) {
        return cells[size_t(a)].probability > cells[size_t(b)].probability;
    };
    std::stable_sort(called.begin(), called.end(), higher);
    // The pale cells the model scores lowest first: where a lab's pale-cell rule and the
    // model disagree most, and what decides whether the rule is turned on (labpalecells.h).
    std::stable_sort(pale.begin(), pale.end(), [&](int a, int b) { return higher(b, a); });
    if (pale.size() > size_t(kPaleCellsAsked))
        pale.resize(size_t(kPaleCellsAsked));
    std::stable_sort(uncertain.begin(), uncertain.end(), [&](int a, int b) {
        return std::abs(cells[size_t(a)].probability - threshold) <
               std::abs(cells[size_t(b)].probability - threshold);
    });
    std::mt19937 rng(seed);
    std::shuffle(random.begin(), random.end(), rng);
    std::vector<int> picked;
    std::set<int> seen;
    size_t k[4] = {0, 0, 0, 0};
    const std::vector<int>* lists[4] = {&called, &uncertain, &random, &pale};
    while (int(picked.size()) < budget) {
        bool any = false;
        for (int l = 0; l < 4 && int(picked.size()) < budget; ++l) {
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

// The adapt cells on the fields the fine-tuning held back for its validation (its split's
// patients are the fields' crop ids, writeCrops()).
std::vector<int> heldBackCells(const std::vector<CalibrationCell>& cells, const Dataset& ds,
                               const std::vector<int>& validationIndices)
{
    QSet<QString> fields;
    for (int i : validationIndices)
        if (i >= 0 && i < ds.images.size())
            fields.insert(ds.images.at(i).patient);
    std::vector<int> out;
    for (size_t i = 0; i < cells.size(); ++i)
        if (cells[i].adapt && fields.contains(fieldCropId(cells[i].field)))
            out.push_back(int(i));
    return out;
}

} // namespace

QString fineTuneName(TrainingConfig::FineTune f)
{
    switch (f) {
    case TrainingConfig::FineTune::FreezeEarly:
        return QStringLiteral("freeze-early");
    case TrainingConfig::FineTune::L2SP:
        return QStringLiteral("l2sp");
    case TrainingConfig::FineTune::Full:
        break;
    }
    return QStringLiteral("full");
}

std::optional<TrainingConfig::FineTune> parseFineTune(const QString& name)
{
    for (auto f : {TrainingConfig::FineTune::Full, TrainingConfig::FineTune::FreezeEarly,
                   TrainingConfig::FineTune::L2SP})
        if (fineTuneName(f) == name)
            return f;
    return std::nullopt;
}

std::vector<int> selectCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                    double threshold, quint32 seed)
{
    std::vector<int> candidates;
    for (size_t i = 0; i < cells.size(); ++i)
        if (cells[i].adapt && cells[i].label >= 0)
            candidates.push_back(int(i));
    return rankCells(cells, candidates, budget, threshold, seed, false);
}

std::vector<int> proposeCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                     double threshold, quint32 seed)
{
    std::vector<int> candidates(cells.size());
    for (size_t i = 0; i < cells.size(); ++i)
        candidates[i] = int(i);
    return rankCells(cells, candidates, budget, threshold, seed, true);
}

CalibrationFigures figuresOn(const std::vector<CalibrationCell>& cells,
                             const std::vector<float>& probabilities, const std::vector<int>& which,
                             double threshold, const std::optional<ErrorRates>& rates,
                             const std::vector<double>* weights)
{
    CalibrationFigures f;
    for (int i : which) {
        const CalibrationCell& c = cells[size_t(i)];
        if (probabilities[size_t(i)] < 0 || !isKnown(c))
            continue;
        const bool called = probabilities[size_t(i)] >= threshold;
        if (c.label < 0) {
            ++f.notACell;
            f.notACellCalled += called;
        } else if (c.label == 0)
            ++(called ? f.truePositive : f.falseNegative);
        else
            ++(called ? f.falsePositive : f.trueNegative);
    }
    const int pos = f.truePositive + f.falseNegative, neg = f.trueNegative + f.falsePositive;
    f.sensitivity = pos > 0 ? double(f.truePositive) / pos : 0;
    f.specificity = neg > 0 ? double(f.trueNegative) / neg : 0;
    f.balancedAccuracy = (f.sensitivity + f.specificity) / 2.0;
    const ParasitemiaCount count =
        parasitemiaCount(cells, probabilities, which, threshold, weights);
    f.trueParasitemia = count.parasitizedShare;
    const int detections = count.cells, called = count.called;
    if (rates) {
        f.parasitemia = estimatePrevalence(called, detections, *rates);
    } else {
        f.parasitemia.cells = detections;
        f.parasitemia.called = called;
        f.parasitemia.apparent = detections > 0 ? double(called) / detections : 0;
        f.parasitemia.error = QStringLiteral("no error rates");
    }
    return f;
}

namespace {

// Marks, in `order` (score order), the known cells in dense runs (representationWeights()).
std::vector<bool> denseRuns(const std::vector<CalibrationCell>& cells,
                            const std::vector<int>& order)
{
    std::vector<bool> dense(order.size(), false);
    size_t k = 0;
    while (k < order.size()) {
        if (!isKnown(cells[size_t(order[k])])) {
            ++k;
            continue;
        }
        size_t last = k;
        int known = 1, gap = 0;
        for (size_t j = k + 1; j < order.size() && gap <= kDenseRunGap; ++j) {
            if (isKnown(cells[size_t(order[j])])) {
                last = j;
                ++known;
                gap = 0;
            } else {
                ++gap;
            }
        }
        if (known >= kDenseRunLabelled)
            std::fill(dense.begin() + long(k), dense.begin() + long(last) + 1, true);
        k = last + 1;
    }
    return dense;
}

} // namespace

std::vector<double> representationWeights(const std::vector<CalibrationCell>& cells,
                                          const std::vector<int>& which)
{
    std::vector<int> order = which;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return cells[size_t(a)].probability > cells[size_t(b)].probability;
    });
    const std::vector<bool> dense = denseRuns(cells, order);
    int elsewhere = 0, knownElsewhere = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        if (!dense[k]) {
            ++elsewhere;
            knownElsewhere += isKnown(cells[size_t(order[k])]);
        }
    }
    std::vector<double> weights(cells.size(), 0.0);
    for (size_t k = 0; k < order.size(); ++k) {
        if (isKnown(cells[size_t(order[k])]))
            weights[size_t(order[k])] = dense[k] ? 1.0 : double(elsewhere) / knownElsewhere;
    }
    return weights;
}

ErrorRates representedRates(const std::vector<CalibrationCell>& cells,
                            const std::vector<float>& probabilities, const std::vector<int>& which,
                            double threshold, const std::vector<double>& weights)
{
    WeightedCount parasitized, others;
    double noCell = 0;
    for (int i : which) {
        const CalibrationCell& c = cells[size_t(i)];
        const double w = weights[size_t(i)];
        if (w <= 0 || probabilities[size_t(i)] < 0 || !isKnown(c))
            continue;
        (c.label == 0 ? parasitized : others).add(w, probabilities[size_t(i)] >= threshold);
        noCell += c.label < 0 ? w : 0.0;
    }
    ErrorRates r;
    r.positives = int(std::lround(parasitized.weight));
    r.negatives = int(std::lround(others.weight));
    r.notACell = int(std::lround(noCell));
    r.sensitivity = parasitized.weight > 0 ? parasitized.called / parasitized.weight : 0;
    r.specificity = others.weight > 0 ? (others.weight - others.called) / others.weight : 0;
    r.positivesDesignEffect = parasitized.designEffect();
    r.negativesDesignEffect = others.designEffect();
    r.threshold = threshold;
    return r;
}

ErrorRates CalibrationFigures::detectionRates(double threshold) const
{
    ErrorRates r;
    r.positives = truePositive + falseNegative;
    r.negatives = trueNegative + falsePositive + notACell;
    r.sensitivity = r.positives > 0 ? double(truePositive) / r.positives : 0;
    r.specificity = r.negatives > 0 ? double(r.negatives - negativesCalled()) / r.negatives : 0;
    r.threshold = threshold;
    r.notACell = notACell;
    return r;
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
                  {QStringLiteral("not_a_cell"), notACell},
                  {QStringLiteral("not_a_cell_called"), notACellCalled},
                  {QStringLiteral("parasitemia_true"), trueParasitemia}};
    const QJsonObject pj = parasitemia.toJson();
    for (auto it = pj.begin(); it != pj.end(); ++it)
        if (it.key().startsWith(QLatin1String("parasitemia")))
            o.insert(it.key(), it.value());
    return o;
}

int LabThreshold::parasitesFound() const
{
    return int(std::lround(sensitivity * parasitized));
}

int LabThreshold::parasitesFoundWithinTarget() const
{
    return meetsTarget ? parasitesFound() : 0;
}

QJsonObject LabThreshold::toJson() const
{
    return QJsonObject{{QStringLiteral("threshold"), threshold},
                       {QStringLiteral("chosen"), chosen},
                       {QStringLiteral("meets_target"), meetsTarget},
                       {QStringLiteral("false_positive_rate_estimated"), falsePositiveRate},
                       {QStringLiteral("sensitivity_estimated"), sensitivity},
                       {QStringLiteral("cells"), cells},
                       {QStringLiteral("parasitized"), parasitized},
                       {QStringLiteral("note"), note}};
}

LabThreshold chooseLabThreshold(const std::vector<CalibrationCell>& cells,
                                const std::vector<float>& probabilities,
                                const std::vector<int>& heldBack, double start,
                                double maxFalsePositive)
{
    LabThreshold out;
    out.threshold = start;
    std::vector<float> positives, others;
    for (int i : heldBack) {
        const float p = probabilities[size_t(i)];
        if (p < 0 || cells[size_t(i)].notACell)
            continue;
        (cells[size_t(i)].label == 0 ? positives : others).push_back(p);
    }
    out.cells = int(others.size());
    out.parasitized = int(positives.size());
    // The share of `v` called parasitized at threshold t.
    const auto rateAt = [](const std::vector<float>& v, double t) {
        const auto called = std::count_if(v.begin(), v.end(), [t](float p) { return p >= t; });
        return v.empty() ? 0.0 : double(called) / double(v.size());
    };
    const auto describe = [&](LabThreshold& r) {
        r.falsePositiveRate = rateAt(others, r.threshold);
        r.sensitivity = rateAt(positives, r.threshold);
    };
    if (maxFalsePositive <= 0 || out.cells < kMinCellsForLabThreshold || positives.empty()) {
        describe(out);
        out.note = maxFalsePositive <= 0
                       ? QStringLiteral("the starting model's threshold, as asked")
                       : QStringLiteral("the starting model's threshold: %1 cells and %2 "
                                        "labelled parasitized cells on the held-back adapt "
                                        "fields (at least %3 and 1 are needed to choose one)")
                             .arg(out.cells)
                             .arg(out.parasitized)
                             .arg(kMinCellsForLabThreshold);
        return out;
    }
    // The lowest threshold within the false-positive target (Neyman-Pearson): it finds every
    // parasite the target allows. Ties in the parasites found on the held-back fields are not
    // broken upwards: with the 20-30 labelled parasites a budget leaves there, a plateau says
    // little about the lab's other parasites, and the target bounds the cost. The search goes
    // down to 0.01: a fine-tuned model can score a whole lab low, and the target, not a fixed
    // floor, is what bounds the threshold (docs/MODEL.md, seed 7).
    double best = -1;
    for (int k = 95; k >= 1; --k) {
        const double t = k / 100.0;
        if (rateAt(others, t) > maxFalsePositive)
            break; // lower thresholds only call more cells
        best = t;
    }
    if (best < 0) {
        // Nothing meets the target: the fewest false positives on offer, and say so.
        out.threshold = 0.95;
        out.chosen = true;
        describe(out);
        out.note = QStringLiteral("the target is NOT met: even at 0.95, %1 of the held-back "
                                  "cells are called parasitized (target %2); adapt with more "
                                  "labelled cells or epochs")
                       .arg(out.falsePositiveRate, 0, 'f', 4)
                       .arg(maxFalsePositive);
        return out;
    }
    out.threshold = best;
    out.chosen = true;
    out.meetsTarget = true;
    describe(out);
    out.note = QStringLiteral("the lowest threshold at which at most %1 of the other cells of "
                              "the held-back adapt fields are called parasitized")
                   .arg(maxFalsePositive);
    return out;
}

QString labWeightsName(LabWeights w)
{
    return w == LabWeights::Starting ? QStringLiteral("starting") : QStringLiteral("adapted");
}

LabWeights chooseLabWeights(const LabThreshold& adapted, const LabThreshold& starting)
{
    const auto usable = [](const LabThreshold& t) { return t.chosen && t.meetsTarget; };
    if (!usable(starting))
        return LabWeights::Adapted;
    if (!usable(adapted))
        return LabWeights::Starting;
    // Both estimates count the same labelled parasites, so this compares parasites found.
    return adapted.sensitivity > starting.sensitivity ? LabWeights::Adapted : LabWeights::Starting;
}

QJsonObject LabCalibrationResult::toJson() const
{
    return QJsonObject{{QStringLiteral("before"), before.toJson()},
                       {QStringLiteral("after"), after.toJson()},
                       {QStringLiteral("threshold_before"), thresholdBefore},
                       {QStringLiteral("lab_threshold"), labThreshold.toJson()},
                       {QStringLiteral("weights"), labWeightsName(weights)},
                       {QStringLiteral("lab_threshold_other"), otherThreshold.toJson()},
                       {QStringLiteral("fine_tune"), fineTune},
                       {QStringLiteral("cells_used"), cellsUsed},
                       {QStringLiteral("parasitized_used"), parasitizedUsed},
                       {QStringLiteral("fields_adapt"), QJsonArray::fromStringList(fieldsAdapt)},
                       {QStringLiteral("fields_test"), QJsonArray::fromStringList(fieldsTest)},
                       {QStringLiteral("pale_cells"), paleCells.toJson()}};
}

LabCells analyseLabFields(const QStringList& fieldFiles, const Classifier& model,
                          const LabCalibrationOptions& o)
{
    LabCells out;
    if (!model.isLoaded()) {
        out.error = QStringLiteral("no model loaded");
        return out;
    }
    out.threshold = model.cardThreshold();
    if (o.log)
        o.log(QStringLiteral("segmenting and classifying %1 fields").arg(fieldFiles.size()));
    QThreadPool pool;
    pool.setMaxThreadCount(std::max(1, o.threads));
    std::atomic<int> done{0};
    const int total = int(fieldFiles.size());
    const double threshold = out.threshold;
    const QList<FieldCells> perField = QtConcurrent::blockingMapped(
        &pool, fieldFiles, std::function<FieldCells(const QString&)>([&](const QString& f) {
            FieldCells c = analyseField(f, model, threshold, o.seed, o.cancel);
            if (o.fieldProgress)
                o.fieldProgress(++done, total);
            return c;
        }));
    for (const FieldCells& f : perField) {
        if (f.cancelled || (o.cancel && o.cancel->load())) {
            out.cancelled = true;
            out.cells.clear();
            return out;
        }
        if (!f.error.isEmpty()) {
            out.error = f.error;
            out.cells.clear();
            return out;
        }
        out.cells.insert(out.cells.end(), f.cells.begin(), f.cells.end());
    }
    return out;
}

namespace {

// Whether `box` overlaps any of `boxes` at IoU >= 0.5 (the matching's own criterion).
bool overlapsAny(const cv::Rect& box, const std::vector<cv::Rect>& boxes)
{
    return std::any_of(boxes.begin(), boxes.end(),
                       [&box](const cv::Rect& b) { return boxIou(box, b) >= 0.5; });
}

} // namespace

int labelFromAnnotations(std::vector<CalibrationCell>& cells, const FieldAnnotationSet& truth)
{
    int labelled = 0;
    for (size_t begin = 0; begin < cells.size();) {
        size_t end = begin;
        while (end < cells.size() && cells[end].field == cells[begin].field)
            ++end;
        if (const FieldAnnotation* fa = truth.find(cells[begin].field)) {
            const FieldAnnotation clipped = fa->clippedTo(cells[begin].fieldSize);
            std::vector<cv::Rect> boxes;
            std::vector<bool> infected;
            std::vector<cv::Rect> difficult;
            for (const AnnotatedObject& o : clipped.objects) {
                if (o.difficult) {
                    difficult.push_back(o.box);
                    continue;
                }
                boxes.push_back(o.box);
                infected.push_back(o.infected);
            }
            std::vector<cv::Rect> detections;
            for (size_t i = begin; i < end; ++i)
                detections.push_back(cells[i].box);
            const std::vector<int> match = matchBoxes(detections, boxes, 0.5);
            // A detection matching no object is no red cell by the annotations (the
            // healthy-cell false-positive rate does not count it). One overlapping a
            // "difficult" object is neither: that object is left out of every figure.
            for (size_t i = 0; i < match.size(); ++i) {
                if (match[i] >= 0) {
                    cells[begin + i].label = infected[size_t(match[i])] ? 0 : 1;
                    ++labelled;
                } else {
                    cells[begin + i].notACell = !overlapsAny(cells[begin + i].box, difficult);
                }
            }
        }
        begin = end;
    }
    return labelled;
}

namespace {

TrainingConfig adaptConfig(const Classifier& model, const LabCalibrationOptions& o, int cells)
{
    TrainingConfig config;
    // Batches of a quarter of the cells, at most the usual 100: a small lab's few hundred
    // labels still make several steps an epoch, and a hundred labels are not one batch.
    config.batchSize = std::clamp(cells / 4, 8, 100);
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
    config.fineTune = o.fineTune;
    config.l2spWeight = o.l2spWeight;
    config.normalization = inputNormalizationFromName(model.card()
                                                          .value(QStringLiteral("input"))
                                                          .toObject()
                                                          .value(QStringLiteral("normalization"))
                                                          .toString());
    config.threads = o.threads;
    return config;
}

// The spread of the lab's rates between its test fields (designEffect()): the known cells
// of one field share its stain and focus, so they are not independent. Each field is counted
// by figuresOn() and detectionRates(), the rule the rates themselves come from. Multiplies
// the design effects `rates` has (representedRates()' unequal weights): the two are
// treated as independent, an approximation.
void setDesignEffects(const std::vector<CalibrationCell>& cells,
                      const std::vector<float>& probabilities, const std::vector<int>& test,
                      double threshold, ErrorRates& rates)
{
    std::map<QString, std::vector<int>> byField;
    for (int i : test)
        byField[cells[size_t(i)].field].push_back(i);
    std::vector<ClusterCount> parasites, others;
    for (const auto& [field, which] : byField) {
        const CalibrationFigures f =
            figuresOn(cells, probabilities, which, threshold, std::nullopt);
        const ErrorRates fieldRates = f.detectionRates(threshold);
        parasites.push_back({f.truePositive, fieldRates.positives});
        others.push_back({f.negativesCalled(), fieldRates.negatives});
    }
    rates.positivesDesignEffect *= designEffect(parasites);
    rates.negativesDesignEffect *= designEffect(others);
}

// The cells of the test side's fields with at least one known cell (labelled, or marked no
// cell): a field nobody looked at is no part of the test fields.
std::vector<int> testCells(const std::vector<CalibrationCell>& cells)
{
    QSet<QString> looked;
    for (const CalibrationCell& c : cells)
        if (!c.adapt && isKnown(c))
            looked.insert(c.field);
    std::vector<int> out;
    for (size_t i = 0; i < cells.size(); ++i)
        if (!cells[i].adapt && looked.contains(cells[i].field))
            out.push_back(int(i));
    return out;
}

// The after figures with the lab's own rates, and the card that records them.
// `test`: the test fields' cells (testCells()); `weights`: what each known one stands for
// (representationWeights()).
void finishResult(LabCalibrationResult& result, const std::vector<CalibrationCell>& cells,
                  const std::vector<float>& after, const std::vector<int>& test,
                  const std::vector<double>& weights, const Classifier& start, Classifier trained,
                  const LabCalibrationOptions& o)
{
    const double threshold = result.labThreshold.threshold;
    // The lab's own rates, measured on every known detection of its test fields, each
    // standing for as many of the fields' detections as representationWeights() says: what
    // the correction then uses (CalibrationFigures::detectionRates() says why every
    // detection).
    const CalibrationFigures measured = figuresOn(cells, after, test, threshold, std::nullopt);
    ErrorRates labRates = representedRates(cells, after, test, threshold, weights);
    setDesignEffects(cells, after, test, threshold, labRates);
    labRates.source = QStringLiteral("lab calibration '%1'").arg(o.lab);
    result.after = figuresOn(cells, after, test, threshold, labRates, &weights);

    QJsonObject card = trained.card();
    card.insert(QStringLiteral("threshold"), threshold);
    QJsonObject lab{{QStringLiteral("lab"), o.lab},
                    {QStringLiteral("sensitivity"), labRates.sensitivity},
                    {QStringLiteral("specificity"), labRates.specificity},
                    {QStringLiteral("positives"), labRates.positives},
                    {QStringLiteral("negatives"), labRates.negatives},
                    {QStringLiteral("not_a_cell"), labRates.notACell},
                    {QStringLiteral("labelled"), measured.truePositive + measured.falseNegative +
                                                     measured.trueNegative +
                                                     measured.falsePositive + measured.notACell},
                    {QStringLiteral("design_effect_sensitivity"), labRates.positivesDesignEffect},
                    {QStringLiteral("design_effect_specificity"), labRates.negativesDesignEffect},
                    {QStringLiteral("threshold"), threshold},
                    {QStringLiteral("threshold_choice"), result.labThreshold.toJson()},
                    {QStringLiteral("fine_tune"), result.fineTune},
                    {QStringLiteral("weights"), labWeightsName(result.weights)},
                    {QStringLiteral("start_weight_share"), o.startWeightShare},
                    {QStringLiteral("started_from"), start.source()},
                    {QStringLiteral("started_from_sha256"), start.weightsSha256()},
                    {QStringLiteral("calibration"), result.toJson()}};
    if (result.paleCells.enabled) {
        // The rule segment and the Fields page apply (PaleCellRule::fromCard()), with the
        // labelled pale cells that turned it on.
        QJsonObject pale = PaleCellRule().toJson();
        pale.insert(QStringLiteral("parasitized"), result.paleCells.parasitized);
        pale.insert(QStringLiteral("other"), result.paleCells.other);
        lab.insert(QStringLiteral("pale_cells"), pale);
    }
    card.insert(QStringLiteral("lab_calibration"), lab);
    // The starting model's domain stays: the lab's cells are now part of what it knows,
    // recorded by `malarialens-cli domain` when wanted.
    if (start.card().contains(QStringLiteral("domain")))
        card.insert(QStringLiteral("domain"), start.card().value(QStringLiteral("domain")));
    trained.setCard(card);
    result.model = trained;
}

} // namespace

LabCalibrationResult calibrateCells(const std::vector<CalibrationCell>& cells, double threshold,
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
    fieldLists(cells, &result.fieldsAdapt, &result.fieldsTest);
    if (result.fieldsAdapt.isEmpty() || result.fieldsTest.isEmpty()) {
        result.error = QStringLiteral("too few labelled fields to split into adapt and test "
                                      "fields (%1 adapt, %2 test fields with a labelled cell)")
                           .arg(result.fieldsAdapt.size())
                           .arg(result.fieldsTest.size());
        return result;
    }
    const std::vector<int> test = testCells(cells);
    const std::vector<double> weights = representationWeights(cells, test);
    std::vector<float> before(cells.size());
    for (size_t i = 0; i < cells.size(); ++i)
        before[i] = cells[i].probability;
    // A starting model that is itself a lab's with the pale-cell rule calls pale cells today:
    // "before" is what it says. The candidates below get the rule only if this calibration
    // turns it on.
    result.before = figuresOn(
        cells, PaleCellRule::fromCard(model.card()) ? withPaleCellsCalled(cells, before) : before,
        test, threshold, errorRatesFromCard(model.card()), &weights);
    result.thresholdBefore = threshold;
    result.fineTune = fineTuneName(o.fineTune);

    const std::vector<int> chosen = selectCellsToLabel(cells, o.budget, threshold, o.seed);
    result.cellsUsed = int(chosen.size());
    for (int i : chosen)
        result.parasitizedUsed += cells[size_t(i)].label == 0;
    log(QStringLiteral("%1 cells labelled (%2 parasitized) from %3 adapt fields")
            .arg(result.cellsUsed)
            .arg(result.parasitizedUsed)
            .arg(result.fieldsAdapt.size()));
    if (result.cellsUsed < kMinCellsToAdapt) {
        result.error = QStringLiteral("only %1 labelled cells on the adapt fields: at least %2 "
                                      "are needed to adapt the model to this lab")
                           .arg(result.cellsUsed)
                           .arg(kMinCellsToAdapt);
        return result;
    }
    if (result.parasitizedUsed < o.minParasitized) {
        result.error = QStringLiteral("only %1 parasitized cells among the %2 labelled: at least "
                                      "%3 are needed to adapt the model to this lab")
                           .arg(result.parasitizedUsed)
                           .arg(result.cellsUsed)
                           .arg(o.minParasitized);
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
    TrainingCallbacks callbacks;
    callbacks.log = o.log;
    callbacks.batchDone = o.batchDone;
    callbacks.epochDone = o.epochDone;
    const TrainingResult trained =
        trainClassifier(ds, adaptConfig(model, o, result.cellsUsed), callbacks, o.cancel);
    if (trained.cancelled) {
        result.cancelled = true;
        return result;
    }
    if (!trained.error.isEmpty()) {
        result.error = trained.error;
        return result;
    }
    Classifier adaptedModel = trained.classifier;
    if (o.startWeightShare > 0) {
        adaptedModel = interpolateWeights(model, trained.classifier, o.startWeightShare, &error);
        if (!adaptedModel.isLoaded()) {
            result.error = error;
            return result;
        }
        log(QStringLiteral("adapted weights: %1 of the starting ones, %2 of the fine-tuned ones")
                .arg(o.startWeightShare)
                .arg(1.0 - o.startWeightShare));
    }
    // The held-back adapt fields (the fine-tuning's own validation side) choose the lab's
    // threshold; the test fields only report.
    const std::vector<int> heldBack = heldBackCells(cells, ds, trained.validationIndices);
    std::vector<int> scored = test;
    scored.insert(scored.end(), heldBack.begin(), heldBack.end());
    // Every label of the adapt side decides the pale-cell rule, not only the budget's: the
    // budget limits what the network learns from, and the rule is one yes or no.
    std::vector<int> adaptKnown;
    for (size_t i = 0; i < cells.size(); ++i)
        if (cells[i].adapt && isKnown(cells[i]))
            adaptKnown.push_back(int(i));
    result.paleCells = paleCellEvidence(cells, adaptKnown);
    std::vector<float> after = predictCells(adaptedModel, cells, scored, &error);
    if (after.empty()) {
        result.error = error;
        return result;
    }
    if (result.paleCells.enabled) {
        log(QStringLiteral("pale-cell rule on: %1 of the %2 labelled pale cells on the adapt "
                           "fields are parasitized")
                .arg(result.paleCells.parasitized)
                .arg(result.paleCells.parasitized + result.paleCells.other));
        after = withPaleCellsCalled(cells, std::move(after));
        before = withPaleCellsCalled(cells, std::move(before));
    }
    // Two candidates, each with its own lab threshold on the same held-back cells: the
    // fine-tuned weights and the starting ones (chooseLabWeights()).
    const LabThreshold adapted =
        chooseLabThreshold(cells, after, heldBack, threshold, o.maxFalsePositive);
    const LabThreshold starting =
        chooseLabThreshold(cells, before, heldBack, threshold, o.maxFalsePositive);
    result.weights = chooseLabWeights(adapted, starting);
    const bool keepStart = result.weights == LabWeights::Starting;
    result.labThreshold = keepStart ? starting : adapted;
    result.otherThreshold = keepStart ? adapted : starting;
    const auto describe = [](const LabThreshold& t) {
        return QStringLiteral("threshold %1, estimated false-positive rate %2, sensitivity %3")
            .arg(t.threshold)
            .arg(t.falsePositiveRate, 0, 'f', 4)
            .arg(t.sensitivity, 0, 'f', 3);
    };
    log(QStringLiteral("on the held-back adapt fields (%1 cells, %2 labelled parasitized): "
                       "adapted weights %3; starting weights %4")
            .arg(adapted.cells)
            .arg(adapted.parasitized)
            .arg(describe(adapted), describe(starting)));
    log(QStringLiteral("keeping the %1 weights, lab threshold %2 (%3)")
            .arg(labWeightsName(result.weights))
            .arg(result.labThreshold.threshold)
            .arg(result.labThreshold.note));
    if (keepStart)
        finishResult(result, cells, before, test, weights, model, model, o);
    else
        finishResult(result, cells, after, test, weights, model, adaptedModel, o);
    return result;
}

LabCalibrationResult calibrateLab(const QStringList& fieldFiles, const FieldAnnotationSet& truth,
                                  const Classifier& model, const LabCalibrationOptions& o)
{
    LabCells lab = analyseLabFields(fieldFiles, model, o);
    LabCalibrationResult result;
    result.error = lab.error;
    result.cancelled = lab.cancelled;
    if (!result.ok())
        return result;
    labelFromAnnotations(lab.cells, truth);
    return calibrateCells(lab.cells, lab.threshold, model, o);
}

} // namespace ml
