#include "evaluation.h"

#include "architecture.h"

#include <QJsonArray>
#include <QMap>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ml {

namespace {

double ratio(int a, int b)
{
    return b > 0 ? double(a) / double(b) : 0.0;
}

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

void finish(BinaryMetrics& m)
{
    m.count = m.truePositive + m.falsePositive + m.trueNegative + m.falseNegative;
    m.accuracy = ratio(m.truePositive + m.trueNegative, m.count);
    m.sensitivity = ratio(m.truePositive, m.truePositive + m.falseNegative);
    m.specificity = ratio(m.trueNegative, m.trueNegative + m.falsePositive);
}

void count(BinaryMetrics& m, bool positive, bool calledPositive)
{
    if (positive)
        (calledPositive ? m.truePositive : m.falseNegative) += 1;
    else
        (calledPositive ? m.falsePositive : m.trueNegative) += 1;
}

} // namespace

QJsonObject BinaryMetrics::toJson() const
{
    return QJsonObject{{QStringLiteral("count"), count},
                       {QStringLiteral("accuracy"), round4(accuracy)},
                       {QStringLiteral("sensitivity"), round4(sensitivity)},
                       {QStringLiteral("specificity"), round4(specificity)},
                       {QStringLiteral("auc"), round4(auc)},
                       {QStringLiteral("true_positive"), truePositive},
                       {QStringLiteral("false_positive"), falsePositive},
                       {QStringLiteral("true_negative"), trueNegative},
                       {QStringLiteral("false_negative"), falseNegative}};
}

QJsonObject ValidationReport::toJson(bool withPerPatient) const
{
    QJsonObject o{{QStringLiteral("threshold"), threshold},
                  {QStringLiteral("cell_level"), cells.toJson()},
                  {QStringLiteral("patient_level"), patients.toJson()},
                  {QStringLiteral("patient_level_rule"),
                   QStringLiteral("patient infected if > %1 % of cells called parasitized; "
                                  "AUC over that share; a patient is truly infected when any "
                                  "cell is labelled Parasitized")
                       .arg(patientThreshold * 100.0)},
                  {QStringLiteral("log_loss"), round4(logLoss)},
                  {QStringLiteral("healthy_patients"), healthyPatients},
                  {QStringLiteral("infected_patients"), infectedPatients},
                  {QStringLiteral("worst_patient_accuracy"), round4(worstPatientAccuracy)},
                  {QStringLiteral("worst_patient"), worstPatient},
                  {QStringLiteral("max_healthy_patient_parasitized_share"),
                   round4(maxHealthyParasitizedShare)},
                  {QStringLiteral("max_healthy_patient"), maxHealthyPatient}};
    if (withPerPatient)
        o.insert(QStringLiteral("per_patient"), perPatient);
    return o;
}

double rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive)
{
    const size_t n = std::min(scores.size(), positive.size());
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    // Mann-Whitney U with average ranks for ties.
    double rankSumPositive = 0;
    size_t nPos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && scores[order[j + 1]] == scores[order[i]])
            ++j;
        const double avgRank = (double(i) + double(j)) / 2.0 + 1.0;
        for (size_t k = i; k <= j; ++k) {
            if (positive[order[k]]) {
                rankSumPositive += avgRank;
                ++nPos;
            }
        }
        i = j + 1;
    }
    const size_t nNeg = n - nPos;
    if (nPos == 0 || nNeg == 0)
        return 0.5;
    return (rankSumPositive - double(nPos) * double(nPos + 1) / 2.0) /
           (double(nPos) * double(nNeg));
}

ValidationReport evaluateCells(const std::vector<ScoredCell>& cells, double threshold,
                               double patientThreshold)
{
    ValidationReport r;
    r.threshold = threshold;
    r.patientThreshold = patientThreshold;
    std::vector<double> scores;
    std::vector<bool> positives;
    struct PatientTally
    {
        int cells = 0, correct = 0, calledParasitized = 0, labelledParasitized = 0;
    };
    QMap<QString, PatientTally> patients;
    double lossSum = 0;
    for (const ScoredCell& c : cells) {
        if (c.label != 0 && c.label != 1)
            continue;
        const bool positive = c.label == kParasitizedClass;
        const bool called = c.probability >= threshold;
        count(r.cells, positive, called);
        scores.push_back(c.probability);
        positives.push_back(positive);
        const double p = std::clamp(double(c.probability), 1e-7, 1.0 - 1e-7);
        lossSum += positive ? -std::log(p) : -std::log(1.0 - p);
        PatientTally& t = patients[c.patient];
        t.cells += 1;
        t.correct += (called == positive) ? 1 : 0;
        t.calledParasitized += called ? 1 : 0;
        t.labelledParasitized += positive ? 1 : 0;
    }
    finish(r.cells);
    r.cells.auc = rocAuc(scores, positives);
    r.logLoss = r.cells.count > 0 ? lossSum / r.cells.count : 0.0;

    std::vector<double> patientScores;
    std::vector<bool> patientPositive;
    for (auto it = patients.cbegin(); it != patients.cend(); ++it) {
        const PatientTally& t = it.value();
        const bool infected = t.labelledParasitized > 0;
        const double share = ratio(t.calledParasitized, t.cells);
        const double accuracy = ratio(t.correct, t.cells);
        count(r.patients, infected, share > patientThreshold);
        patientScores.push_back(share);
        patientPositive.push_back(infected);
        (infected ? r.infectedPatients : r.healthyPatients) += 1;
        if (accuracy < r.worstPatientAccuracy || r.worstPatient.isEmpty()) {
            r.worstPatientAccuracy = accuracy;
            r.worstPatient = it.key();
        }
        if (!infected && (share > r.maxHealthyParasitizedShare || r.maxHealthyPatient.isEmpty())) {
            r.maxHealthyParasitizedShare = share;
            r.maxHealthyPatient = it.key();
        }
        r.perPatient.insert(
            it.key(), QJsonObject{{QStringLiteral("cells"), t.cells},
                                  {QStringLiteral("infected"), infected},
                                  {QStringLiteral("accuracy"), round4(accuracy)},
                                  {QStringLiteral("called_parasitized_share"), round4(share)}});
    }
    finish(r.patients);
    r.patients.auc = rocAuc(patientScores, patientPositive);
    return r;
}

} // namespace ml
