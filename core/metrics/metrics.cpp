#include "metrics.h"

#include <QJsonArray>
#include <QMap>
#include <QTextStream>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ml {

namespace {

bool labelled(const ScoredImage& c)
{
    return c.label == 0 || c.label == 1;
}

double ratio(double a, double b, bool* undefined = nullptr)
{
    if (b <= 0) {
        if (undefined)
            *undefined = true;
        return 0.0;
    }
    return a / b;
}

double f1Of(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

// Labelled cells sorted by decreasing probability; the curves walk this order.
std::vector<const ScoredImage*> sortedByScore(const std::vector<ScoredImage>& cells, int* positives,
                                              int* negatives)
{
    std::vector<const ScoredImage*> order;
    order.reserve(cells.size());
    *positives = *negatives = 0;
    for (const ScoredImage& c : cells) {
        if (!labelled(c))
            continue;
        order.push_back(&c);
        (c.label == 0 ? *positives : *negatives) += 1;
    }
    std::stable_sort(order.begin(), order.end(), [](const ScoredImage* a, const ScoredImage* b) {
        return a->probability > b->probability;
    });
    return order;
}

} // namespace

BinaryCounts countAt(const std::vector<ScoredImage>& cells, double threshold)
{
    BinaryCounts c;
    for (const ScoredImage& s : cells) {
        if (!labelled(s))
            continue;
        const bool predictedPositive = s.probability >= threshold;
        if (s.label == 0)
            (predictedPositive ? c.tp : c.fn) += 1;
        else
            (predictedPositive ? c.fp : c.tn) += 1;
    }
    return c;
}

ClassificationReport reportFrom(const BinaryCounts& k, const QStringList& classNames)
{
    ClassificationReport r;
    ClassScores pos, neg;
    pos.name = classNames.value(0, QStringLiteral("positive"));
    neg.name = classNames.value(1, QStringLiteral("negative"));
    pos.precision = ratio(k.tp, k.tp + k.fp, &pos.precisionUndefined);
    pos.recall = ratio(k.tp, k.tp + k.fn, &pos.recallUndefined);
    pos.f1 = f1Of(pos.precision, pos.recall);
    pos.support = k.tp + k.fn;
    neg.precision = ratio(k.tn, k.tn + k.fn, &neg.precisionUndefined);
    neg.recall = ratio(k.tn, k.tn + k.fp, &neg.recallUndefined);
    neg.f1 = f1Of(neg.precision, neg.recall);
    neg.support = k.fp + k.tn;
    r.perClass = {pos, neg};

    r.macro.name = QStringLiteral("macro avg");
    r.macro.precision = (pos.precision + neg.precision) / 2;
    r.macro.recall = (pos.recall + neg.recall) / 2;
    r.macro.f1 = (pos.f1 + neg.f1) / 2;
    r.macro.support = k.total();
    r.weighted.name = QStringLiteral("weighted avg");
    const double n = k.total();
    if (n > 0) {
        r.weighted.precision = (pos.precision * pos.support + neg.precision * neg.support) / n;
        r.weighted.recall = (pos.recall * pos.support + neg.recall * neg.support) / n;
        r.weighted.f1 = (pos.f1 * pos.support + neg.f1 * neg.support) / n;
    }
    r.weighted.support = k.total();
    r.accuracy = ratio(k.tp + k.tn, n);
    r.sensitivity = pos.recall;
    r.specificity = neg.recall;
    r.precision = pos.precision;
    r.f1 = pos.f1;
    r.falsePositives = k.fp;
    r.falseNegatives = k.fn;
    return r;
}

RocCurve rocCurve(const std::vector<ScoredImage>& cells)
{
    RocCurve roc;
    int P = 0, N = 0;
    const auto order = sortedByScore(cells, &P, &N);
    roc.points.push_back({0.0, 0.0, std::numeric_limits<double>::infinity()});
    int tp = 0, fp = 0;
    for (size_t i = 0; i < order.size();) {
        const double score = order[i]->probability;
        // All cells with the same score cross the threshold together: one (diagonal) step.
        for (; i < order.size() && order[i]->probability == score; ++i)
            (order[i]->label == 0 ? tp : fp) += 1;
        roc.points.push_back({ratio(fp, N), ratio(tp, P), score});
    }
    if (P > 0 && N > 0) {
        double area = 0;
        for (size_t i = 1; i < roc.points.size(); ++i)
            area += (roc.points[i].x - roc.points[i - 1].x) *
                    (roc.points[i].y + roc.points[i - 1].y) / 2;
        roc.auc = area;
    }
    return roc;
}

PrCurve prCurve(const std::vector<ScoredImage>& cells)
{
    PrCurve pr;
    int P = 0, N = 0;
    const auto order = sortedByScore(cells, &P, &N);
    pr.points.push_back({0.0, 1.0, std::numeric_limits<double>::infinity()});
    int tp = 0, fp = 0;
    double ap = 0, lastRecall = 0;
    for (size_t i = 0; i < order.size();) {
        const double score = order[i]->probability;
        for (; i < order.size() && order[i]->probability == score; ++i)
            (order[i]->label == 0 ? tp : fp) += 1;
        const double recall = ratio(tp, P), precision = ratio(tp, tp + fp);
        pr.points.push_back({recall, precision, score});
        ap += (recall - lastRecall) * precision;
        lastRecall = recall;
    }
    if (P > 0)
        pr.averagePrecision = ap;
    return pr;
}

Calibration calibration(const std::vector<ScoredImage>& cells, int bins)
{
    Calibration cal;
    bins = std::max(1, bins);
    cal.bins.resize(size_t(bins));
    std::vector<double> sumP(size_t(bins), 0.0);
    std::vector<int> positives(size_t(bins), 0);
    int n = 0;
    for (const ScoredImage& c : cells) {
        if (!labelled(c))
            continue;
        const int b = std::clamp(int(c.probability * bins), 0, bins - 1);
        cal.bins[size_t(b)].count += 1;
        sumP[size_t(b)] += c.probability;
        positives[size_t(b)] += c.label == 0 ? 1 : 0;
        ++n;
    }
    for (int b = 0; b < bins; ++b) {
        CalibrationBin& bin = cal.bins[size_t(b)];
        bin.lower = double(b) / bins;
        bin.upper = double(b + 1) / bins;
        if (bin.count == 0)
            continue;
        bin.meanProbability = sumP[size_t(b)] / bin.count;
        bin.positiveRate = double(positives[size_t(b)]) / bin.count;
        cal.ece += std::abs(bin.positiveRate - bin.meanProbability) * bin.count / n;
    }
    return cal;
}

std::vector<PatientRow> patientTable(const std::vector<ScoredImage>& cells, double threshold,
                                     double patientThreshold, const ErrorRates* rates)
{
    const bool corrected = rates && ratesApplyAt(*rates, threshold);
    struct Acc
    {
        int cells = 0, truePos = 0, predPos = 0, correct = 0;
    };
    QMap<QString, Acc> acc;
    for (const ScoredImage& c : cells) {
        if (!labelled(c))
            continue;
        Acc& a = acc[c.patient];
        const bool pred = c.probability >= threshold;
        a.cells += 1;
        a.truePos += c.label == 0;
        a.predPos += pred;
        a.correct += pred == (c.label == 0);
    }
    std::vector<PatientRow> rows;
    rows.reserve(size_t(acc.size()));
    for (auto it = acc.cbegin(); it != acc.cend(); ++it) {
        PatientRow r;
        r.id = it.key();
        r.cells = it->cells;
        r.trueInfectedShare = double(it->truePos) / it->cells;
        r.predictedInfectedShare = double(it->predPos) / it->cells;
        r.cellAccuracy = double(it->correct) / it->cells;
        r.trulyInfected = it->truePos > 0;
        r.predictedInfected = r.predictedInfectedShare > patientThreshold;
        r.decisionRule = QStringLiteral("more than %1 % of cells called parasitized")
                             .arg(patientThreshold * 100.0);
        if (corrected) {
            r.prevalence = estimatePrevalence(it->predPos, it->cells, *rates);
            const InfectionDecision d = decideInfection(r.prevalence);
            if (d.decided) {
                r.predictedInfected = d.infected;
                r.decisionRule = d.reason;
            }
        }
        rows.push_back(r);
    }
    return rows;
}

BinaryCounts patientCounts(const std::vector<PatientRow>& rows)
{
    BinaryCounts c;
    for (const PatientRow& r : rows) {
        if (r.trulyInfected)
            (r.predictedInfected ? c.tp : c.fn) += 1;
        else
            (r.predictedInfected ? c.fp : c.tn) += 1;
    }
    return c;
}

void moveThreshold(Evaluation& e, const std::vector<ScoredImage>& cells, double threshold)
{
    e.threshold = threshold;
    e.counts = countAt(cells, threshold);
    e.report = reportFrom(e.counts, e.classNames);
    e.patients =
        patientTable(cells, threshold, e.patientThreshold, e.errorRates ? &*e.errorRates : nullptr);
    e.patientLevel = patientCounts(e.patients);
    e.prevalence = PrevalenceEstimate{};
    if (e.errorRates && ratesApplyAt(*e.errorRates, threshold))
        e.prevalence =
            estimatePrevalence(e.counts.tp + e.counts.fp, e.counts.total(), *e.errorRates);
}

Evaluation evaluate(const std::vector<ScoredImage>& cells, const QStringList& classNames,
                    double threshold, double patientThreshold,
                    const std::optional<ErrorRates>& rates)
{
    Evaluation e;
    e.classNames = classNames;
    e.patientThreshold = patientThreshold;
    e.errorRates = rates;
    e.roc = rocCurve(cells);
    e.pr = prCurve(cells);
    e.calibration = calibration(cells);
    moveThreshold(e, cells, threshold);
    e.cells = e.counts.total();
    const int positives = e.counts.tp + e.counts.fn, negatives = e.counts.fp + e.counts.tn;
    if (e.cells == 0)
        e.warnings << QStringLiteral("no labelled cells to evaluate");
    else if (positives == 0 || negatives == 0)
        e.warnings << QStringLiteral("only one class present (%1): AUC, and the recall of the "
                                     "missing class, are undefined")
                          .arg(positives == 0 ? e.classNames.value(1) : e.classNames.value(0));
    if (rates && !ratesApplyAt(*rates, threshold))
        e.warnings << QStringLiteral("the model's sensitivity and specificity were measured at "
                                     "threshold %1, not %2: no corrected parasitemia; patients "
                                     "decided by the share of cells called")
                          .arg(rates->threshold)
                          .arg(threshold);
    for (const ClassScores& s : e.report.perClass)
        if (s.precisionUndefined && s.support > 0)
            e.warnings << QStringLiteral("no cell was predicted %1: its precision is undefined "
                                         "and reported as 0")
                              .arg(s.name);
    return e;
}

QJsonObject Evaluation::toJson() const
{
    auto scores = [](const ClassScores& s) {
        return QJsonObject{{QStringLiteral("precision"), s.precision},
                           {QStringLiteral("recall"), s.recall},
                           {QStringLiteral("f1"), s.f1},
                           {QStringLiteral("support"), s.support}};
    };
    QJsonObject reportJson;
    for (const ClassScores& s : report.perClass)
        reportJson.insert(s.name, scores(s));
    reportJson.insert(QStringLiteral("macro avg"), scores(report.macro));
    reportJson.insert(QStringLiteral("weighted avg"), scores(report.weighted));
    reportJson.insert(QStringLiteral("accuracy"), report.accuracy);

    QJsonArray patientsJson;
    for (const PatientRow& p : patients) {
        QJsonObject row{{QStringLiteral("id"), p.id},
                        {QStringLiteral("cells"), p.cells},
                        {QStringLiteral("true_infected_share"), p.trueInfectedShare},
                        {QStringLiteral("predicted_infected_share"), p.predictedInfectedShare},
                        {QStringLiteral("cell_accuracy"), p.cellAccuracy},
                        {QStringLiteral("truly_infected"), p.trulyInfected},
                        {QStringLiteral("predicted_infected"), p.predictedInfected},
                        {QStringLiteral("decision_rule"), p.decisionRule}};
        if (p.prevalence.cells > 0) {
            const QJsonObject pj = p.prevalence.toJson();
            for (auto it = pj.begin(); it != pj.end(); ++it)
                row.insert(it.key(), it.value());
        }
        patientsJson.append(row);
    }
    QJsonArray bins;
    for (const CalibrationBin& b : calibration.bins)
        bins.append(QJsonObject{{QStringLiteral("lower"), b.lower},
                                {QStringLiteral("upper"), b.upper},
                                {QStringLiteral("count"), b.count},
                                {QStringLiteral("mean_probability"), b.meanProbability},
                                {QStringLiteral("positive_rate"), b.positiveRate}});
    auto matrix = [](const BinaryCounts& c) {
        return QJsonArray{QJsonArray{c.tp, c.fn}, QJsonArray{c.fp, c.tn}};
    };
    QJsonObject o;
    o.insert(QStringLiteral("classes"), QJsonArray::fromStringList(classNames));
    o.insert(QStringLiteral("positive_class"), classNames.value(0));
    o.insert(QStringLiteral("cells"), cells);
    o.insert(QStringLiteral("confusion_matrix"), matrix(counts));
    o.insert(QStringLiteral("accuracy"), report.accuracy);
    o.insert(QStringLiteral("sensitivity"), report.sensitivity);
    o.insert(QStringLiteral("specificity"), report.specificity);
    o.insert(QStringLiteral("precision"), report.precision);
    o.insert(QStringLiteral("f1"), report.f1);
    o.insert(QStringLiteral("false_positives"), report.falsePositives);
    o.insert(QStringLiteral("false_negatives"), report.falseNegatives);
    o.insert(QStringLiteral("auc"), roc.auc ? QJsonValue(*roc.auc) : QJsonValue());
    o.insert(QStringLiteral("average_precision"),
             pr.averagePrecision ? QJsonValue(*pr.averagePrecision) : QJsonValue());
    o.insert(QStringLiteral("threshold"), threshold);
    o.insert(QStringLiteral("ece"), calibration.ece);
    o.insert(QStringLiteral("calibration"), bins);
    o.insert(QStringLiteral("report"), reportJson);
    o.insert(QStringLiteral("patients"), patientsJson);
    o.insert(QStringLiteral("patient_threshold"), patientThreshold);
    o.insert(QStringLiteral("patient_confusion_matrix"), matrix(patientLevel));
    o.insert(QStringLiteral("warnings"), QJsonArray::fromStringList(warnings));
    // The whole run's parasitemia, apparent and corrected (null with the reason when the
    // model's error rates are missing or do not apply).
    PrevalenceEstimate run = prevalence;
    if (run.cells == 0) {
        run.cells = counts.total();
        run.called = counts.tp + counts.fp;
        run.apparent = run.cells > 0 ? double(run.called) / run.cells : 0.0;
        run.error = errorRates ? QStringLiteral("the model's error rates do not apply at this "
                                                "threshold")
                               : QStringLiteral("the model card has no validation figures");
    }
    const QJsonObject pj = run.toJson();
    for (auto it = pj.begin(); it != pj.end(); ++it)
        o.insert(it.key(), it.value());
    return o;
}

QString Evaluation::toText() const
{
    QString s;
    QTextStream out(&s);
    const QString pos = classNames.value(0), neg = classNames.value(1);
    const int w = int(std::max({pos.size(), neg.size(), qsizetype(12)}));
    out << "Confusion matrix (rows: true, columns: predicted), threshold " << threshold << "\n";
    out << QString().leftJustified(w + 2) << pos.rightJustified(w) << "  " << neg.rightJustified(w)
        << "\n";
    out << pos.leftJustified(w + 2) << QString::number(counts.tp).rightJustified(w) << "  "
        << QString::number(counts.fn).rightJustified(w) << "\n";
    out << neg.leftJustified(w + 2) << QString::number(counts.fp).rightJustified(w) << "  "
        << QString::number(counts.tn).rightJustified(w) << "\n\n";
    out << QString().leftJustified(w + 2) << "precision    recall  f1-score   support\n";
    auto row = [&](const ClassScores& c) {
        out << c.name.rightJustified(w + 2)
            << QString::number(c.precision, 'f', 4).rightJustified(9)
            << QString::number(c.recall, 'f', 4).rightJustified(10)
            << QString::number(c.f1, 'f', 4).rightJustified(10)
            << QString::number(c.support).rightJustified(10) << "\n";
    };
    for (const ClassScores& c : report.perClass)
        row(c);
    out << "\n"
        << QStringLiteral("accuracy").rightJustified(w + 2) << QString().rightJustified(19)
        << QString::number(report.accuracy, 'f', 4).rightJustified(10)
        << QString::number(counts.total()).rightJustified(10) << "\n";
    row(report.macro);
    row(report.weighted);
    out << "\nsensitivity " << QString::number(report.sensitivity, 'f', 4) << ", specificity "
        << QString::number(report.specificity, 'f', 4) << ", false positives "
        << report.falsePositives << ", false negatives " << report.falseNegatives << "\n";
    out << "AUC " << (roc.auc ? QString::number(*roc.auc, 'f', 4) : QStringLiteral("undefined"))
        << ", average precision "
        << (pr.averagePrecision ? QString::number(*pr.averagePrecision, 'f', 4)
                                : QStringLiteral("undefined"))
        << ", expected calibration error " << QString::number(calibration.ece, 'f', 4) << "\n";
    out << "\nPatients (infected when more than " << patientThreshold * 100
        << " % of cells are called " << pos << ")\n";
    out << "patient        cells  true_share  predicted_share  cell_accuracy\n";
    for (const PatientRow& p : patients)
        out << p.id.leftJustified(14) << QString::number(p.cells).rightJustified(6)
            << QString::number(p.trueInfectedShare, 'f', 3).rightJustified(12)
            << QString::number(p.predictedInfectedShare, 'f', 3).rightJustified(17)
            << QString::number(p.cellAccuracy, 'f', 3).rightJustified(15) << "\n";
    out << "patient level: " << patientLevel.tp << " infected called infected, " << patientLevel.fn
        << " infected missed, " << patientLevel.fp << " healthy called infected, "
        << patientLevel.tn << " healthy called healthy\n";
    for (const QString& warning : warnings)
        out << "warning: " << warning << "\n";
    return s;
}

} // namespace ml
