#pragma once
// Parasitemia corrected for the classifier's known errors, and the slide/patient decision
// made from it.
//
// The apparent share (cells called parasitized / cells) is biased: at a false-positive rate
// near 3 % per cell and 1-2 % true parasitemia, false positives outnumber parasites. The
// Rogan-Gladen estimator undoes the bias with the classifier's sensitivity (Se) and
// specificity (Sp):
//     corrected = (apparent + Sp - 1) / (Se + Sp - 1), clamped to [0, 1].
// Its 95 % CI carries the uncertainty of the count AND of Se and Sp (each measured on a
// finite number of validation cells), by the delta method on Agresti-Coull-adjusted
// proportions (Lang & Reiczigel 2014, Prev. Vet. Med. 113:13-22), which keeps its coverage
// near 95 % at prevalences close to 0, where the plain Wald interval fails.
// Pure functions, no Qt widgets, thread-safe.

#include <QJsonObject>
#include <QString>

#include <optional>
#include <vector>

namespace ml {

/// The classifier's error rates and where they were measured.
struct ErrorRates
{
    double sensitivity = 0; ///< P(called parasitized | parasitized cell)
    double specificity = 0; ///< P(called uninfected | uninfected cell)
    int positives = 0;      ///< parasitized cells Se was measured on
    int negatives = 0;      ///< uninfected cells Sp was measured on
    double threshold = -1;  ///< cell threshold Se and Sp hold at (-1: not recorded)
    /// How much more Se (Sp) varies than a binomial on `positives` (`negatives`) independent
    /// cells says, because the cells came in fields that differ (designEffect()): the
    /// confidence interval counts positives / positivesDesignEffect cells. 1: independent.
    double positivesDesignEffect = 1;
    double negativesDesignEffect = 1;
    /// Of the `negatives`, the detections known to be no red cell (debris, cut or merged
    /// cells). Field rates only (RatesFor::Fields); 0 for crop rates and cell counts. Why:
    /// with them among the negatives, Rogan-Gladen estimates the parasitized share of the
    /// *detections*, but a parasitemia is a share of red cells, larger by the factor
    /// 1 / (1 - notACell / (positives + negatives)) (the no-cell share: 9 % of the held-out
    /// IML fields' detections, docs/MODEL.md, eighth session). estimatePrevalence() applies
    /// it, on the assumption that the field counted holds debris in the share the rates'
    /// fields did.
    int notACell = 0;
    /// Plain words for reports: "model card validation (2,834 NIH cells)",
    /// "lab calibration 'Clinic A' (412 cells)".
    QString source;
};

/// One field's (or patient's) share of a rate: `events` (cells called parasitized) of
/// `trials` cells.
struct ClusterCount
{
    int events = 0;
    int trials = 0;
};

/// Kish's design effect of a rate pooled over clusters (fields, patients): the between-cluster
/// variance of the pooled ratio sum(events) / sum(trials) (the linearised cluster-sampling
/// variance, k/(k-1) * sum (events_i - p trials_i)^2 / N^2) over the binomial variance
/// p(1-p)/N of as many independent cells. Why: a model's false-positive rate differs between
/// fields far more than a binomial allows (docs/MODEL.md measured 3 to 8 on IML fields), so
/// rates measured on a few dozen fields are less certain than their cell count says.
/// Never below 1 (a spread under the binomial's is read as chance, not as more certainty);
/// 1 with fewer than two clusters holding a trial, or p at 0 or 1.
double designEffect(const std::vector<ClusterCount>& clusters);

/// What the counts to correct are of: cell crops (the classify path), or the detections of
/// whole fields (the segment path), which include debris and cut cells the crop figures never
/// saw.
enum class RatesFor { Cells, Fields };

/// Reads the error rates a card holds, in order of preference: a lab calibration
/// (card.lab_calibration, written by the calibrate flow), then the cell-level validation
/// figures (card.validation.cell_level: true/false positives/negatives). nullopt with
/// `*error` when the card has neither ("the model card has no validation figures ...").
/// With `source` (the training source the cells resemble most, DomainVerdict::nearestSource),
/// that source's own validation figures (card.validation_by_source[source], with its
/// true/false positive/negative counts) come before the pooled ones: a model is not equally
/// right on every lab it was trained on. For RatesFor::Fields, that source's figures on every
/// detection of the annotated fields the training held out (card.validation_on_fields, the
/// same counts, debris counted among the negatives) come before its crop figures: a model
/// that calls some debris parasitized has a lower specificity on fields than on crops. A lab
/// calibration's rates still come first (measured on every known detection of the lab's test
/// fields, debris among the negatives likewise: CalibrationFigures::detectionRates()).
/// Field rates carry how many of their negatives were no red cell (the card's `not_a_cell`,
/// ErrorRates::notACell) for RatesFor::Fields only: crops hold no debris to scale away.
std::optional<ErrorRates> errorRatesFromCard(const QJsonObject& card, QString* error = nullptr,
                                             const QString& source = {},
                                             RatesFor counts = RatesFor::Cells);

/// The corrected parasitemia of one field, slide, patient or run.
struct PrevalenceEstimate
{
    bool ok = false;
    QString error;        ///< why there is no estimate (never NaN): see estimatePrevalence()
    int cells = 0;        ///< cells classified
    int called = 0;       ///< cells called parasitized
    double apparent = 0;  ///< called / cells
    double corrected = 0; ///< Rogan-Gladen, clamped to [0, 1]
    double low = 0;       ///< 95 % CI, clamped to [0, 1]
    double high = 0;
    QString ratesSource; ///< ErrorRates::source
    /// How much more the count varies than a binomial on its cells, because they came in
    /// fields that differ (designEffect() of the per-field counts; 1: one field, or not
    /// given). The CI counts the cells as cells / countDesignEffect independent ones.
    double countDesignEffect = 1;

    /// "apparent 35.4 %, corrected 1.2 % (95 % CI 0.0-3.1 %) for the model's sensitivity 0.96
    /// and specificity 0.97 (model card validation ...)" or the error.
    QString explanation() const;
    /// {"parasitemia_apparent", "parasitemia_corrected", "parasitemia_corrected_ci95": [lo, hi],
    ///  "rates_source", "count_design_effect"} or {"parasitemia_apparent",
    ///  "parasitemia_corrected": null, "parasitemia_error"} when !ok.
    QJsonObject toJson() const;
};

/// True when `rates` describe decisions made at `threshold` (or record no threshold): Se and
/// Sp measured at one threshold do not correct counts made at another.
bool ratesApplyAt(const ErrorRates& rates, double threshold);

/// errorRatesFromCard() when its rates apply at `threshold` (ratesApplyAt()); nullopt with
/// the reason in `*error` otherwise. The one place the callers' "which rates, if any" lives.
std::optional<ErrorRates> errorRatesAt(const QJsonObject& card, double threshold,
                                       QString* error = nullptr, const QString& source = {},
                                       RatesFor counts = RatesFor::Cells);

/// estimatePrevalence() with `rates`; without them, the apparent share only, with `whyNot`
/// as the estimate's error (never NaN).
PrevalenceEstimate estimateOrExplain(int called, int cells, const std::optional<ErrorRates>& rates,
                                     const QString& whyNot, double countDesignEffect = 1.0);

/// Estimates the true share of parasitized cells from `called` of `cells`. When the rates
/// count detections that are no red cell (ErrorRates::notACell), `cells` are a field's
/// detections, and the figure and its CI are scaled to a share of red cells (the share's
/// own uncertainty counted).
/// Errors (ok false, never NaN): cells <= 0; called outside [0, cells]; Se or Sp outside
/// [0, 1]; Se + Sp <= 1 (the classifier is no better than chance: nothing can be corrected);
/// no validation cell counts behind Se or Sp; notACell outside [0, negatives).
/// `countDesignEffect`: the count's own spread between the fields it pooled (designEffect()
/// of each field's called / cells): a slide's fields differ in parasites and in the debris
/// and stain that draw false calls (3 to 6 on 30 IML fields, docs/MODEL.md, eighth session),
/// so its cells are fewer independent ones than their number. Values under 1 count as 1.
PrevalenceEstimate estimatePrevalence(int called, int cells, const ErrorRates& rates,
                                      double countDesignEffect = 1.0);

/// The slide or patient decision.
struct InfectionDecision
{
    bool infected = false;
    bool decided = false; ///< false when there is no estimate and no confirmed parasite
    QString reason;       ///< one line for the report
};

/// Decides infected / not infected:
///  - a parasite confirmed by a reviewer makes the slide infected, whatever the estimate;
///  - otherwise infected when the corrected estimate's 95 % CI excludes 0 (low > 0): the
///    number of cells called is more than the model's false-positive rate explains, with
///    the uncertainty of that rate included;
///  - no estimate (bad input) and no confirmation: undecided, with the estimate's error.
/// The rule and its measurement are in docs/MODEL.md.
InfectionDecision decideInfection(const PrevalenceEstimate& estimate, int confirmedParasites = 0);

} // namespace ml
