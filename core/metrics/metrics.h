#pragma once
// Evaluation of a binary cell classifier: confusion matrix, classification report
// (scikit-learn's layout), ROC and precision-recall curves, calibration, patient level.
// Pure functions on probabilities: the GUI, the CLI and the reports all call these, so
// every figure is computed in one place.
//
// Convention: class 0 (Parasitized, the first folder in alphabetical order) is the positive
// class; `probability` is P(positive). A cell is predicted positive when
// probability >= threshold.

#include "prevalence.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>
#include <vector>

namespace ml {

/// One classified cell with its true label.
struct ScoredImage
{
    int index = -1;           ///< into Dataset::images (for galleries)
    int label = -1;           ///< true class: 0 positive, 1 negative; other values are ignored
    double probability = 0.0; ///< P(positive)
    QString patient;
};

/// Counts at one threshold. Rows of the matrix are true classes, columns predicted ones,
/// both in folder order (positive first): [[tp, fn], [fp, tn]].
struct BinaryCounts
{
    int tp = 0, fn = 0, fp = 0, tn = 0;
    int total() const { return tp + fn + fp + tn; }
};

/// Precision, recall, F1 and support of one class (or an average).
struct ClassScores
{
    QString name;
    double precision = 0, recall = 0, f1 = 0;
    int support = 0;
    bool precisionUndefined = false; ///< no predictions of this class: reported as 0
    bool recallUndefined = false;    ///< no true cells of this class: reported as 0
};

/// scikit-learn's classification report plus the study's figures.
struct ClassificationReport
{
    QList<ClassScores> perClass; ///< positive class first
    ClassScores macro, weighted;
    double accuracy = 0;
    double sensitivity = 0; ///< recall of the positive class
    double specificity = 0; ///< recall of the negative class
    double precision = 0;   ///< precision of the positive class
    double f1 = 0;          ///< F1 of the positive class
    int falsePositives = 0, falseNegatives = 0;
};

/// Counts at `threshold`.
BinaryCounts countAt(const std::vector<ScoredImage>& cells, double threshold);

/// Report from counts; `classNames` = {positive, negative}. Never divides by zero: an
/// undefined ratio is 0 and flagged.
ClassificationReport reportFrom(const BinaryCounts& counts, const QStringList& classNames);

/// One point of a curve with the threshold that gives it.
struct CurvePoint
{
    double x = 0, y = 0, threshold = 0;
};

/// ROC curve (x = false positive rate, y = true positive rate) from the highest threshold
/// down, starting at (0,0); tied scores make one diagonal step, so the area counts ties half.
struct RocCurve
{
    std::vector<CurvePoint> points;
    std::optional<double> auc; ///< empty when one class is missing
};
RocCurve rocCurve(const std::vector<ScoredImage>& cells);

/// Precision-recall curve (x = recall, y = precision) and average precision (step-wise, as
/// scikit-learn's average_precision_score).
struct PrCurve
{
    std::vector<CurvePoint> points;
    std::optional<double> averagePrecision;
};
PrCurve prCurve(const std::vector<ScoredImage>& cells);

/// Reliability diagram: `bins` equal-width bins of P(positive).
struct CalibrationBin
{
    double lower = 0, upper = 0;
    int count = 0;
    double meanProbability = 0; ///< mean predicted P(positive) in the bin
    double positiveRate = 0;    ///< observed share of positive cells in the bin
};
struct Calibration
{
    std::vector<CalibrationBin> bins;
    double ece = 0; ///< expected calibration error: sum |acc - conf| * n_bin / n
};
Calibration calibration(const std::vector<ScoredImage>& cells, int bins = 10);

/// One patient at one threshold.
struct PatientRow
{
    QString id;
    int cells = 0;
    double trueInfectedShare = 0;      ///< share of cells labelled positive
    double predictedInfectedShare = 0; ///< share of cells predicted positive
    double cellAccuracy = 0;
    bool trulyInfected = false;     ///< any cell labelled positive
    bool predictedInfected = false; ///< the patient decision (see patientTable())
    PrevalenceEstimate prevalence;  ///< corrected parasitemia (ok false without error rates)
    QString decisionRule;           ///< why predictedInfected is what it is
};
/// Patient table at `threshold`, sorted by patient id. With `rates` that apply at `threshold`
/// (ratesApplyAt()), a patient is predicted infected by decideInfection(): the corrected
/// parasitemia's 95 % CI excludes 0. Without them, by the older rule: more than
/// `patientThreshold` of their cells predicted positive.
std::vector<PatientRow> patientTable(const std::vector<ScoredImage>& cells, double threshold,
                                     double patientThreshold, const ErrorRates* rates = nullptr);
/// Patient-level confusion counts (tp = infected patient predicted infected, ...).
BinaryCounts patientCounts(const std::vector<PatientRow>& rows);

/// Everything for one threshold; built once per evaluation, cheap to rebuild when only the
/// threshold moves (curves and calibration do not depend on it).
struct Evaluation
{
    QStringList classNames; ///< {positive, negative}
    double threshold = 0.5;
    double patientThreshold = 0.05;
    BinaryCounts counts;
    ClassificationReport report;
    RocCurve roc;
    PrCurve pr;
    Calibration calibration;
    std::vector<PatientRow> patients;
    BinaryCounts patientLevel;
    int cells = 0;
    std::optional<ErrorRates> errorRates; ///< the model's, for the corrected parasitemia
    PrevalenceEstimate prevalence;        ///< over every cell (ok false without error rates)
    QStringList warnings;                 ///< e.g. "only one class present: AUC undefined"

    /// JSON with keys classes, confusion_matrix, accuracy, sensitivity, specificity,
    /// precision, f1, auc (null when undefined), threshold, ece, patients, report, ...
    QJsonObject toJson() const;
    /// Plain-text report (matrix, scikit-learn style table, AUC, ECE, patients).
    QString toText() const;
};

/// Evaluates `cells` (those with label 0 or 1). `classNames` = {positive, negative}. With
/// the model's `rates` (errorRatesFromCard()), patients are decided from the corrected
/// parasitemia and every figure carries it.
Evaluation evaluate(const std::vector<ScoredImage>& cells, const QStringList& classNames,
                    double threshold = 0.5, double patientThreshold = 0.05,
                    const std::optional<ErrorRates>& rates = std::nullopt);
/// The same evaluation at another threshold: only counts, report and patients change.
void moveThreshold(Evaluation& evaluation, const std::vector<ScoredImage>& cells, double threshold);

} // namespace ml
