#include "prevalence.h"

#include <QJsonArray>
#include <QLocale>

#include <algorithm>
#include <cmath>

namespace ml {

namespace {

constexpr double kZ = 1.959963984540054; // two-sided 95 %

double clamp01(double v)
{
    return std::clamp(v, 0.0, 1.0);
}

// Agresti-Coull: add z^2/2 successes and z^2/2 failures.
struct Adjusted
{
    double p;
    double n;
};
Adjusted adjust(double successes, double trials)
{
    const double n = trials + kZ * kZ;
    return {(successes + kZ * kZ / 2.0) / n, n};
}

QString percent(double v)
{
    return QStringLiteral("%1 %").arg(v * 100.0, 0, 'f', v < 0.1 ? 2 : 1);
}

// Says when the interval counts the rates' spread between fields (designEffect()).
QString spreadNote(const ErrorRates& r)
{
    if (r.positivesDesignEffect <= 1.0 && r.negativesDesignEffect <= 1.0)
        return {};
    return QStringLiteral("; the rates' spread between fields counted (design effect: "
                          "sensitivity %1, specificity %2)")
        .arg(r.positivesDesignEffect, 0, 'f', 1)
        .arg(r.negativesDesignEffect, 0, 'f', 1);
}

// Says when the figure was scaled from a share of detections to one of red cells.
QString redCellNote(const ErrorRates& r)
{
    if (r.notACell <= 0)
        return {};
    return QStringLiteral("; a share of red cells: %1 of the detections behind the rates were "
                          "no red cell")
        .arg(percent(double(r.notACell) / (r.positives + r.negatives)));
}

// Why counts and rates give no estimate, or empty.
QString inputError(int called, int cells, const ErrorRates& rates)
{
    if (cells <= 0)
        return QStringLiteral("no cells were classified: there is no parasitemia to estimate");
    if (called < 0 || called > cells)
        return QStringLiteral("%1 cells called parasitized of %2 is not a valid count")
            .arg(called)
            .arg(cells);
    const double se = rates.sensitivity, sp = rates.specificity;
    if (!(se >= 0 && se <= 1 && sp >= 0 && sp <= 1))
        return QStringLiteral("the model's sensitivity and specificity are missing or not "
                              "proportions: the parasitemia cannot be corrected");
    if (se + sp <= 1.0)
        return QStringLiteral("the model's sensitivity (%1) plus specificity (%2) is not "
                              "above 1: it is no better than chance, so no correction is "
                              "possible")
            .arg(se, 0, 'f', 3)
            .arg(sp, 0, 'f', 3);
    if (rates.positives <= 0 || rates.negatives <= 0)
        return QStringLiteral("the sensitivity and specificity come without the number of "
                              "validation cells behind them: no confidence interval");
    if (rates.notACell < 0 || rates.notACell >= rates.negatives)
        return QStringLiteral("the rates say %1 of their %2 negatives were no red cell: not a "
                              "valid count")
            .arg(rates.notACell)
            .arg(rates.negatives);
    return {};
}

// A share of detections `centre` with `variance` (Rogan-Gladen's, delta method) as a share
// of red cells: divided by the red cells' share of the rates' detections, whose own
// binomial variance joins by the delta method. That share is adjusted (Agresti-Coull) over
// as many independent detections as the specificity's design effect leaves: the debris share
// varies between fields about as the specificity does (design effect 6.4 against 6.55 on the
// 30 held-out IML fields).
void scaleToRedCells(const ErrorRates& rates, double& centre, double& variance)
{
    const double detections =
        (rates.positives + rates.negatives) / std::max(1.0, rates.negativesDesignEffect);
    const double share = double(rates.notACell) / (rates.positives + rates.negatives);
    const Adjusted noCell = adjust(share * detections, detections);
    const double red = 1.0 - noCell.p;
    variance = variance / (red * red) +
               centre * centre * noCell.p * (1 - noCell.p) / noCell.n / (red * red * red * red);
    centre /= red;
}

} // namespace

double designEffect(const std::vector<ClusterCount>& clusters)
{
    double events = 0, trials = 0;
    int k = 0;
    for (const ClusterCount& c : clusters) {
        if (c.trials <= 0)
            continue;
        events += c.events;
        trials += c.trials;
        ++k;
    }
    if (k < 2 || events <= 0 || events >= trials)
        return 1.0;
    const double p = events / trials;
    double squares = 0;
    for (const ClusterCount& c : clusters)
        if (c.trials > 0)
            squares += (c.events - p * c.trials) * (c.events - p * c.trials);
    const double clustered = double(k) / (k - 1) * squares / (trials * trials);
    const double binomial = p * (1 - p) / trials;
    return std::max(1.0, clustered / binomial);
}

bool ratesApplyAt(const ErrorRates& rates, double threshold)
{
    return rates.threshold < 0 || std::abs(rates.threshold - threshold) < 1e-6;
}

namespace {

// The rates' spread between fields, when the object records it (designEffect()).
void readDesignEffects(const QJsonObject& o, ErrorRates& r)
{
    r.positivesDesignEffect =
        std::max(1.0, o.value(QStringLiteral("design_effect_sensitivity")).toDouble(1.0));
    r.negativesDesignEffect =
        std::max(1.0, o.value(QStringLiteral("design_effect_specificity")).toDouble(1.0));
}

// Rates from an object with true_positive, false_negative, true_negative, false_positive.
std::optional<ErrorRates> ratesFromCounts(const QJsonObject& o)
{
    const QStringList keys = {QStringLiteral("true_positive"), QStringLiteral("false_negative"),
                              QStringLiteral("true_negative"), QStringLiteral("false_positive")};
    for (const QString& k : keys)
        if (!o.value(k).isDouble())
            return std::nullopt;
    const int tp = o.value(keys[0]).toInt(), fn = o.value(keys[1]).toInt();
    const int tn = o.value(keys[2]).toInt(), fp = o.value(keys[3]).toInt();
    ErrorRates r;
    r.positives = tp + fn;
    r.negatives = tn + fp;
    r.sensitivity = r.positives > 0 ? double(tp) / r.positives : -1;
    r.specificity = r.negatives > 0 ? double(tn) / r.negatives : -1;
    readDesignEffects(o, r);
    return r;
}

// One source's validation entry: the trainer writes an array of {source, counts...}
// (SourceFigures::toJson()); an object keyed by source name is read too.
QJsonObject sourceEntry(const QJsonObject& card, const QString& source,
                        const QString& key = QStringLiteral("validation_by_source"))
{
    const QJsonValue v = card.value(key);
    if (v.isObject())
        return v.toObject().value(source).toObject();
    const QJsonArray entries = v.toArray();
    for (const QJsonValue& e : entries) {
        if (e.toObject().value(QStringLiteral("source")).toString() == source)
            return e.toObject();
    }
    return {};
}

// The source's rates on the detections of its held-out annotated fields.
std::optional<ErrorRates> fieldRates(const QJsonObject& card, const QString& source)
{
    const QJsonObject entry = sourceEntry(card, source, QStringLiteral("validation_on_fields"));
    std::optional<ErrorRates> r = ratesFromCounts(entry);
    if (r) {
        r->source = QStringLiteral("model card validation on the %1 %2 fields it held out (%3 "
                                   "detections, debris included)")
                        .arg(entry.value(QStringLiteral("fields")).toInt())
                        .arg(source)
                        .arg(QLocale::c().toString(r->positives + r->negatives));
        r->threshold = card.value(QStringLiteral("threshold")).toDouble(-1);
        r->notACell = entry.value(QStringLiteral("not_a_cell")).toInt();
    }
    return r;
}

} // namespace

std::optional<ErrorRates> errorRatesFromCard(const QJsonObject& card, QString* error,
                                             const QString& source, RatesFor counts)
{
    const double cardThreshold = card.value(QStringLiteral("threshold")).toDouble(-1);
    const QJsonObject lab = card.value(QStringLiteral("lab_calibration")).toObject();
    if (!lab.isEmpty() && lab.contains(QStringLiteral("sensitivity")) &&
        lab.contains(QStringLiteral("specificity"))) {
        ErrorRates r;
        r.sensitivity = lab.value(QStringLiteral("sensitivity")).toDouble(-1);
        r.specificity = lab.value(QStringLiteral("specificity")).toDouble(-1);
        r.positives = lab.value(QStringLiteral("positives")).toInt();
        r.negatives = lab.value(QStringLiteral("negatives")).toInt();
        readDesignEffects(lab, r);
        const QString name = lab.value(QStringLiteral("lab")).toString(QStringLiteral("unnamed"));
        // A reviewer's labels stand for more detections than they are (the card's
        // "labelled"; representationWeights() in models/calibration).
        const int labelled = lab.value(QStringLiteral("labelled")).toInt(-1);
        r.source = labelled >= 0 && labelled < r.positives + r.negatives
                       ? QStringLiteral("lab calibration '%1' (%2 labelled cells standing for "
                                        "%3 detections of its test fields)")
                             .arg(name)
                             .arg(labelled)
                             .arg(QLocale::c().toString(r.positives + r.negatives))
                       : QStringLiteral("lab calibration '%1' (%2 test cells)")
                             .arg(name)
                             .arg(r.positives + r.negatives);
        r.threshold = lab.value(QStringLiteral("threshold")).toDouble(cardThreshold);
        if (counts == RatesFor::Fields)
            r.notACell = lab.value(QStringLiteral("not_a_cell")).toInt();
        return r;
    }
    if (!source.isEmpty() && counts == RatesFor::Fields) {
        if (auto r = fieldRates(card, source))
            return r;
    }
    if (!source.isEmpty()) {
        if (auto r = ratesFromCounts(sourceEntry(card, source))) {
            r->source = QStringLiteral("model card validation on the %1 cells it held out (%2 "
                                       "cells)")
                            .arg(source)
                            .arg(QLocale::c().toString(r->positives + r->negatives));
            r->threshold = cardThreshold;
            return r;
        }
    }
    std::optional<ErrorRates> r = ratesFromCounts(card.value(QStringLiteral("validation"))
                                                      .toObject()
                                                      .value(QStringLiteral("cell_level"))
                                                      .toObject());
    if (!r) {
        if (error)
            *error = QStringLiteral("the model card has no validation figures (sensitivity "
                                    "and specificity): the parasitemia cannot be corrected "
                                    "for the model's errors");
        return std::nullopt;
    }
    r->source = QStringLiteral("model card validation (%1 cells)")
                    .arg(QLocale::c().toString(r->positives + r->negatives));
    r->threshold = cardThreshold;
    return r;
}

std::optional<ErrorRates> errorRatesAt(const QJsonObject& card, double threshold, QString* error,
                                       const QString& source, RatesFor counts)
{
    std::optional<ErrorRates> rates = errorRatesFromCard(card, error, source, counts);
    if (rates && !ratesApplyAt(*rates, threshold)) {
        if (error)
            *error = QStringLiteral("the model's sensitivity and specificity were measured at "
                                    "threshold %1, not %2")
                         .arg(rates->threshold)
                         .arg(threshold);
        return std::nullopt;
    }
    return rates;
}

PrevalenceEstimate estimateOrExplain(int called, int cells, const std::optional<ErrorRates>& rates,
                                     const QString& whyNot, double countDesignEffect)
{
    if (rates)
        return estimatePrevalence(called, cells, *rates, countDesignEffect);
    PrevalenceEstimate e;
    e.cells = cells;
    e.called = called;
    e.apparent = cells > 0 ? double(std::clamp(called, 0, cells)) / cells : 0.0;
    e.error = whyNot;
    return e;
}

PrevalenceEstimate estimatePrevalence(int called, int cells, const ErrorRates& rates,
                                      double countDesignEffect)
{
    PrevalenceEstimate e;
    e.cells = cells;
    e.called = called;
    e.countDesignEffect = std::isfinite(countDesignEffect) ? std::max(1.0, countDesignEffect) : 1.0;
    e.ratesSource = rates.source + spreadNote(rates) + redCellNote(rates);
    e.apparent = cells > 0 ? double(std::clamp(called, 0, cells)) / cells : 0.0;
    e.error = inputError(called, cells, rates);
    if (!e.error.isEmpty())
        return e;

    const double se = rates.sensitivity, sp = rates.specificity;
    const double youden = se + sp - 1.0;
    e.corrected = clamp01((e.apparent + sp - 1.0) / youden);

    // Delta-method variance on adjusted proportions (Lang & Reiczigel 2014).
    // The count's cells, as the independent ones they are worth (countDesignEffect).
    const Adjusted pa = adjust(called / e.countDesignEffect, cells / e.countDesignEffect);
    // Cells that came in fields count as fewer independent ones (designEffect()).
    const double positives = rates.positives / std::max(1.0, rates.positivesDesignEffect);
    const double negatives = rates.negatives / std::max(1.0, rates.negativesDesignEffect);
    const Adjusted sea = adjust(se * positives, positives);
    const Adjusted spa = adjust(sp * negatives, negatives);
    const double ja = sea.p + spa.p - 1.0;
    if (ja <= 0) {
        e.error = QStringLiteral("too few validation cells behind the sensitivity and "
                                 "specificity for a confidence interval");
        return e;
    }
    double centre = (pa.p + spa.p - 1.0) / ja;
    double variance = (pa.p * (1 - pa.p) / pa.n + centre * centre * sea.p * (1 - sea.p) / sea.n +
                       (1 - centre) * (1 - centre) * spa.p * (1 - spa.p) / spa.n) /
                      (ja * ja);
    if (rates.notACell > 0) {
        e.corrected = clamp01(e.corrected * (rates.positives + rates.negatives) /
                              (rates.positives + rates.negatives - rates.notACell));
        scaleToRedCells(rates, centre, variance);
    }
    const double half = kZ * std::sqrt(std::max(0.0, variance));
    e.low = clamp01(centre - half);
    e.high = clamp01(centre + half);
    // The point estimate lies inside its interval even where the adjustment moved the centre.
    e.low = std::min(e.low, e.corrected);
    e.high = std::max(e.high, e.corrected);
    e.ok = true;
    return e;
}

QString PrevalenceEstimate::explanation() const
{
    if (!ok)
        return QStringLiteral("apparent %1 (%2 of %3 cells called parasitized); no corrected "
                              "figure: %4")
            .arg(percent(apparent))
            .arg(called)
            .arg(cells)
            .arg(error);
    const QString spread =
        countDesignEffect > 1.0
            ? QStringLiteral("; the count's spread between its fields counted (design effect %1)")
                  .arg(countDesignEffect, 0, 'f', 1)
            : QString();
    return QStringLiteral("apparent %1 (%2 of %3 cells called parasitized), corrected %4 "
                          "(95 % CI %5-%6) for the model's known errors, from %7%8")
        .arg(percent(apparent))
        .arg(called)
        .arg(cells)
        .arg(percent(corrected), percent(low), percent(high), ratesSource, spread);
}

QJsonObject PrevalenceEstimate::toJson() const
{
    QJsonObject o{{QStringLiteral("parasitemia_apparent"), apparent},
                  {QStringLiteral("cells"), cells},
                  {QStringLiteral("called_parasitized"), called}};
    if (ok) {
        o.insert(QStringLiteral("parasitemia_corrected"), corrected);
        o.insert(QStringLiteral("parasitemia_corrected_ci95"), QJsonArray{low, high});
        o.insert(QStringLiteral("rates_source"), ratesSource);
        o.insert(QStringLiteral("count_design_effect"), countDesignEffect);
    } else {
        o.insert(QStringLiteral("parasitemia_corrected"), QJsonValue::Null);
        o.insert(QStringLiteral("parasitemia_corrected_ci95"), QJsonValue::Null);
        o.insert(QStringLiteral("parasitemia_error"), error);
    }
    return o;
}

InfectionDecision decideInfection(const PrevalenceEstimate& estimate, int confirmedParasites)
{
    InfectionDecision d;
    if (confirmedParasites > 0) {
        d.infected = d.decided = true;
        d.reason = QStringLiteral("%1 parasitized cell(s) confirmed by a reviewer")
                       .arg(confirmedParasites);
        return d;
    }
    if (!estimate.ok) {
        d.reason = QStringLiteral("undecided: %1").arg(estimate.error);
        return d;
    }
    d.decided = true;
    d.infected = estimate.low > 0.0;
    d.reason = d.infected
                   ? QStringLiteral("infected: more cells called parasitized (%1 of %2) than "
                                    "the model's false-positive rate explains (corrected 95 % "
                                    "CI above 0)")
                         .arg(estimate.called)
                         .arg(estimate.cells)
                   : QStringLiteral("not shown infected: %1 of %2 cells called parasitized is "
                                    "within the model's false-positive rate (corrected 95 % CI "
                                    "includes 0); confirm the listed cells")
                         .arg(estimate.called)
                         .arg(estimate.cells);
    return d;
}

} // namespace ml
