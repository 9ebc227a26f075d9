#pragma once
// Calibrating the classifier to one lab's microscope, camera and stain, from that lab's own
// field images and a few hundred labelled cells.
//
//   fields ──analyseLabFields(): segment + classify (the active model)──▶ cells with
//          P(Parasitized), split by field into adapt fields │ test fields
//   labels ──from box annotations (labelFromAnnotations()), a per-cell CSV or the reviewer's
//          database (calibrationlabels.h), or set by the GUI's reviewer──▶ labelled cells
//   adapt cells ──selectCellsToLabel(budget)──▶ the cells a reviewer labels
//          ──fine-tune the active model (lower rate, few epochs, class-balanced,
//            cross-lab augmentation, early stopping on held-out adapt fields)──▶ lab model
//   test fields: sensitivity, specificity, balanced accuracy and corrected parasitemia,
//          before and after; the card's lab_calibration keeps the lab's own Se/Sp (and
//          their spread between the test fields, designEffect()), which
//          the parasitemia correction then uses (errorRatesFromCard()).
// No torch in this header. Runs in the calling thread (a worker in the GUI).

#include "classifier.h"
#include "labpalecells.h"
#include "prevalence.h"
#include "trainingconfig.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <opencv2/core/mat.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

namespace ml {

struct FieldAnnotationSet;

/// Fewest parasitized cells among the labelled ones before adapting is allowed: below it the
/// lab's sensitivity cannot be estimated (+-15 points at 95 % with 30 cells) nor learnt.
constexpr int kMinParasitizedToAdapt = 30;
/// Fewest labelled adapt cells (both classes) before adapting is allowed: the fine-tuning holds
/// a quarter of them back by field to stop early, and learns in batches of a quarter of them.
constexpr int kMinCellsToAdapt = 50;

/// Estimated healthy-cell false-positive rate the lab's operating threshold aims at: 0.018, a
/// tenth under the limit of 0.02, because the estimate comes from ~25 held-back fields
/// whose rates spread 2-9 times a binomial's (designEffect()): at 0.02, the goal's own command
/// on the 188 IML fields gave 0.0205 on its test fields; at 0.018 it gave 0.0183, and the
/// proxy's five seeds kept every held-out sensitivity (docs/MODEL.md, sixth session). The estimate
/// counts every cell of the held-back fields not labelled parasitized as healthy, except the
/// detections known to be no red cell (CalibrationCell::notACell: box annotations match them to
/// nothing, or a reviewer said "not a cell"), which a healthy-cell rate does not count. So it is an
/// upper bound: the parasites nobody was asked about count as false positives, and so does the
/// debris nobody marked. With annotations and the debris left out, the estimate is the annotated
/// healthy cells' rate on the held-back fields; before the debris was left out it ran 1.5 to 1.8
/// times that rate (docs/MODEL.md, "Calibrating to a lab").
constexpr double kLabFalsePositiveTarget = 0.018;
/// Fewest cells (not labelled parasitized) on the held-back adapt fields before a lab
/// threshold is chosen: with fewer, one false positive moves the estimate by over 0.2 points.
constexpr int kMinCellsForLabThreshold = 500;

/// One segmented cell of a lab's field.
struct CalibrationCell
{
    QString field;          ///< file name of the field image
    QString fieldPath;      ///< absolute path of the field image
    cv::Size fieldSize;     ///< the field image's size
    cv::Rect box;           ///< detection box in the field
    float probability = -1; ///< the starting model's P(Parasitized)
    int label = -1;         ///< 0 Parasitized, 1 Uninfected, -1 not known
    /// The field's box annotations say this detection is no red cell: it matches none of
    /// their objects (debris, a cut or merged cell; labelFromAnnotations()), or a reviewer
    /// labelled it notACellLabel() (applyCellLabels(), the GUI's N key).
    bool notACell = false;
    /// Paler and less red than its field's other cells (PaleCellRule's default bounds over
    /// relativeCellTones() of every detection of the field): what a lab's pale-cell rule calls.
    bool pale = false;
    bool adapt = false; ///< on the adapt side of the field split (else test)
    cv::Mat crop;       ///< 8-bit BGR crop as the classifier sees it
};

/// The cells worth a reviewer's time, in the order they are asked, at most `budget`: taken in
/// turn from three lists (every cell the model calls parasitized, highest first; the most
/// uncertain, closest to `threshold`; a seeded random sample), skipping repeats. Only adapt
/// cells with a known label count (a replayed session labels what a reviewer would).
/// Returns indices into `cells`.
std::vector<int> selectCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                    double threshold, quint32 seed = 42);

/// The same rule as selectCellsToLabel() over every cell, labelled or not, on both sides of
/// the split: the order in which the GUI asks its reviewer. A fourth list takes turns with
/// the three: the pale cells (CalibrationCell::pale), lowest score first, at most
/// kPaleCellsAsked. Why: a lab's pale-cell rule is turned on only by labelled pale cells, and
/// a model that misses pale parasites never calls or doubts them. The learning set
/// (selectCellsToLabel()) does not take it: asked there, the pale cells changed which weights
/// two of five proxy seeds kept, for no sensitivity (docs/MODEL.md, "Pale cells"). Test-field cells
/// are asked too, because the before/after report needs labelled cells there; a replayed session
/// (selectCellsToLabel()) then trains on the adapt cells among them.
std::vector<int> proposeCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                     double threshold, quint32 seed = 42);

/// Sensitivity, specificity and balanced accuracy on labelled red cells, and the corrected
/// parasitemia over every known detection.
struct CalibrationFigures
{
    int truePositive = 0, falseNegative = 0, trueNegative = 0, falsePositive = 0;
    /// Detections known to be no red cell (CalibrationCell::notACell), and how many of them
    /// were called parasitized. Not in the sensitivity, specificity or confusion, which are
    /// the red cells' (the goal's healthy-cell false-positive rate); counted in the
    /// parasitemia and in detectionRates(), as a field's count counts every detection.
    int notACell = 0, notACellCalled = 0;
    double sensitivity = 0, specificity = 0, balancedAccuracy = 0;
    /// called / every known detection (labelled or notACell), corrected with the rates given
    /// to figuresOn() (a share of red cells when they count no-cell detections); with weights,
    /// of the detections they stand for (figuresOn())
    PrevalenceEstimate parasitemia;
    /// labelled parasitized / labelled red cells (with weights, each counted as often)
    double trueParasitemia = 0;
    /// The rates a parasitemia correction needs for these detections at `threshold`: the
    /// sensitivity on the parasitized cells, and the specificity on every other known
    /// detection, the red cells and those that are none. Why the latter: the count it corrects
    /// (segment, the Fields page) divides the cells called by every detection, debris
    /// included, and debris is called far more often than healthy cells (43 of the 67 false
    /// calls of the 30 held-out IML fields, seed 42); a specificity of the red cells alone left
    /// the calibrated labs' corrected parasitemia biased high (docs/MODEL.md, seventh
    /// session). The same rule as the embedded cards' field rates (segment --annotations).
    /// Their notACell makes a correction with them a share of red cells (ErrorRates).
    ErrorRates detectionRates(double threshold) const;
    /// Known detections other than parasitized cells that were called parasitized: the
    /// false positives of detectionRates() (red cells and no-cell detections).
    int negativesCalled() const { return falsePositive + notACellCalled; }
    QJsonObject toJson() const;
};

/// Figures of `probabilities` (same order as `cells`) on the known cells of `which`. With
/// `weights` (representationWeights(), same order as `cells`), the parasitemia and
/// trueParasitemia are those of the detections the known cells stand for, the count as the
/// independent cells they are worth (Kish's effective size); the confusion and the rates
/// stay the known cells' own. Why: a reviewer's labels over-represent the cells the model
/// (nearly) calls, so their own share is far above the fields' (36 % against ~1 %).
CalibrationFigures figuresOn(const std::vector<CalibrationCell>& cells,
                             const std::vector<float>& probabilities, const std::vector<int>& which,
                             double threshold, const std::optional<ErrorRates>& rates,
                             const std::vector<double>* weights = nullptr);

/// A run of labelled detections in the starting model's score order stands for itself when it
/// holds at least kDenseRunLabelled labelled cells with at most kDenseRunGap unlabelled ones in
/// a row (a reviewer's skips): representationWeights(). A random share of a few per cent
/// almost never makes one.
constexpr int kDenseRunLabelled = 5;
constexpr int kDenseRunGap = 2;

/// How many of the detections of `which` each known one (labelled, or notACell) stands for,
/// when only some were labelled: a weight per cell of `cells` (0 outside `which` and for
/// unknown cells). Why: a reviewer is asked every cell the starting model calls, the most
/// uncertain and a random sample (proposeCellsToLabel()), and those are no sample of the
/// detections: rates measured on them alone read a specificity of 0.73-0.77 on the IML
/// fields where every detection's is 0.98 (docs/MODEL.md, eighth session), and would
/// correct every later slide of the lab to nearly 0. The asking rule depends only on the
/// starting model's score, so: in score order, dense runs (kDenseRunLabelled) stand for
/// themselves (weight 1; their unknown cells, a reviewer's skips or a difficult box, are left
/// out); the known cells elsewhere, the random sample's, stand for every detection elsewhere
/// (weight: those detections / those known). With no known cell elsewhere, those detections
/// are left out. With every detection known (box annotations) every known weight is 1.
std::vector<double> representationWeights(const std::vector<CalibrationCell>& cells,
                                          const std::vector<int>& which);

/// CalibrationFigures::detectionRates() of the known cells of `which`, each counted `weights`
/// times (representationWeights()): positives, negatives and notACell are the weighted sums
/// (rounded), the rates their ratios, and the design effects the weighted counts over Kish's
/// effective sample size, sum(w^2) / sum(w), so that the confidence interval counts as many
/// independent cells as the labels are worth (1 when every weight is 1: then the same rates
/// exactly).
ErrorRates representedRates(const std::vector<CalibrationCell>& cells,
                            const std::vector<float>& probabilities, const std::vector<int>& which,
                            double threshold, const std::vector<double>& weights);

/// "full", "freeze-early" or "l2sp" (the CLI's --fine-tune and the card's lab_calibration).
QString fineTuneName(TrainingConfig::FineTune f);
std::optional<TrainingConfig::FineTune> parseFineTune(const QString& name);

/// The lab's operating threshold, chosen on cells the fine-tuning did not learn from.
struct LabThreshold
{
    double threshold = 0.5;
    bool chosen = false;            ///< false: the starting threshold was kept (see note)
    bool meetsTarget = false;       ///< the false-positive target is met at `threshold`
    double falsePositiveRate = 0;   ///< estimated, at `threshold`
    double sensitivity = 0;         ///< on the labelled parasitized cells, at `threshold`
    int cells = 0, parasitized = 0; ///< behind the estimates
    QString note;
    /// The labelled parasitized cells called parasitized at `threshold` (sensitivity x
    /// parasitized, rounded).
    int parasitesFound() const;
    /// parasitesFound() when the false-positive target is met at `threshold`, else 0: what a
    /// candidate that cannot be kept is reported to find (chooseLabWeights()).
    int parasitesFoundWithinTarget() const;
    QJsonObject toJson() const;
};

/// Chooses the lowest threshold (of 0.01, 0.02 ... 0.95) that calls at most `maxFalsePositive`
/// of the cells of `heldBack` not labelled parasitized, parasitized (the Neyman-Pearson
/// operating point: the most parasites the false-positive target allows). Unlabelled cells count as
/// healthy: at a few per cent parasitemia nearly all are, and the few that are not make the
/// estimate cautious. Detections known to be no red cell (notACell) are left out. Keeps `start`
/// (chosen false) with fewer than kMinCellsForLabThreshold such cells or no labelled parasitized
/// one; takes 0.95 (meetsTarget false, the note says so) when no threshold meets the target.
/// `probabilities` are the adapted model's, same order as `cells`.
LabThreshold chooseLabThreshold(const std::vector<CalibrationCell>& cells,
                                const std::vector<float>& probabilities,
                                const std::vector<int>& heldBack, double start,
                                double maxFalsePositive);

/// The weights a lab's model keeps (chooseLabWeights()).
enum class LabWeights { Adapted, Starting };
QString labWeightsName(LabWeights w); ///< "adapted" or "starting"

/// Keeps the fine-tuned weights only when, each at its own lab threshold, they find more of
/// the labelled parasitized cells of the held-back adapt fields than the starting weights
/// do; otherwise (and on a tie) the starting weights, with their own lab threshold. Both
/// candidates are scored on the same held-back cells, which neither learnt from. Why: on 400
/// labels the fine-tuning is unstable (docs/MODEL.md: one seed's model scored 18 of 40
/// held-out parasites under 0.01), and a lab must not receive a model worse than the one it
/// had. A candidate whose threshold was not chosen or misses the false-positive target does
/// not win; with neither chosen (too few held-back cells, or no target asked), the adapted
/// weights are kept as before.
LabWeights chooseLabWeights(const LabThreshold& adapted, const LabThreshold& starting);

struct LabCalibrationOptions
{
    QString lab = QStringLiteral("my lab"); ///< the name the user gives
    int budget = 400;                       ///< cells a reviewer labels
    int epochs = 8;
    double learningRate = 2e-4; ///< a fifth of a fresh training's: adapt, do not forget
    int threads = 2;
    quint32 seed = 42;
    QString workDir; ///< where the labelled crops are written for training (a temporary dir)
    /// Fewest parasitized adapt cells to adapt (kMinParasitizedToAdapt). Lower only for trials
    /// and tests on a handful of fields: below 30 the lab's sensitivity is a guess.
    int minParasitized = kMinParasitizedToAdapt;
    /// How the fine-tuning keeps what the model knew. Measured on the IML fields (docs/MODEL.md,
    /// "Calibrating to a lab"): L2-SP at weight 10 came within 0.005 of full fine-tuning's
    /// balanced accuracy on the lab's test fields and lost less of the NIH AUC; freezing the
    /// first two blocks lost the least NIH AUC but learnt the lab least; L2-SP at 0.01 was
    /// full fine-tuning.
    TrainingConfig::FineTune fineTune = TrainingConfig::FineTune::L2SP;
    double l2spWeight = 10.0; ///< L2-SP's weight (TrainingConfig::l2spWeight)
    /// Share of the starting weights in the adapted model: its weights are this mix of the
    /// starting and the fine-tuned ones (interpolateWeights()); 0 keeps the fine-tune as is.
    double startWeightShare = 0.0;
    /// The lab's operating threshold is the lowest at which at most this share of the cells of
    /// the held-back adapt fields not labelled parasitized is called parasitized
    /// (chooseLabThreshold()); 0 keeps the starting model's threshold.
    double maxFalsePositive = kLabFalsePositiveTarget;
    const std::atomic<bool>* cancel = nullptr;
    std::function<void(const QString&)> log;
    /// Fields segmented and classified so far (from worker threads: must be thread-safe).
    std::function<void(int done, int total)> fieldProgress;
    /// Fine-tuning progress (from the calling thread): curves in the GUI. `log` is used
    /// for the training's log lines.
    std::function<void(int epoch, int batch, int batches, double loss)> batchDone;
    std::function<void(const EpochStats& stats)> epochDone;
};

/// A lab's fields, segmented and classified, split by field.
struct LabCells
{
    QString error;
    bool cancelled = false;
    double threshold = 0.5; ///< the starting model's decision threshold (its card's)
    std::vector<CalibrationCell> cells;
};

/// Segments and classifies every field of `fieldFiles` with `model` (options.threads worker
/// threads, options.cancel polled per field) and puts each field on its side of the split
/// (a seeded hash of its name). No labels yet. Never throws.
LabCells analyseLabFields(const QStringList& fieldFiles, const Classifier& model,
                          const LabCalibrationOptions& options);

/// Labels the cells from IML-style boxes (detections matched with IoU >= 0.5; difficult
/// objects left out); a detection matching no object (nor a difficult one) is marked
/// notACell. Returns how many cells got a label.
int labelFromAnnotations(std::vector<CalibrationCell>& cells, const FieldAnnotationSet& truth);

struct LabCalibrationResult
{
    QString error;
    bool cancelled = false;
    Classifier model;                 ///< the calibrated model with its card (lab_calibration)
    CalibrationFigures before, after; ///< before at the starting threshold, after at the lab's
    double thresholdBefore = 0.5;
    LabThreshold labThreshold; ///< the after figures' threshold and how it was chosen
    /// The other candidate's lab threshold on the same held-back cells (the starting
    /// weights' when the adapted ones were kept, and the reverse).
    LabThreshold otherThreshold;
    LabWeights weights = LabWeights::Adapted; ///< which weights the model keeps
    int cellsUsed = 0, parasitizedUsed = 0;
    QStringList fieldsAdapt, fieldsTest;
    QString fineTune; ///< "full", "freeze-early" or "l2sp"
    /// The lab's known pale cells on its adapt side (every one labelled or marked no cell, not
    /// only the budget's) and whether the pale-cell rule is on: when it is, the lab threshold, the
    /// after figures and the card's rates count its calls, and the card records it
    /// (lab_calibration.pale_cells), so segment and the Fields page apply it.
    PaleCellEvidence paleCells;
    bool ok() const { return error.isEmpty() && !cancelled; }
    /// {before, after, threshold_before, lab_threshold, weights ("adapted" or "starting"),
    /// lab_threshold_other (the other candidate's), fine_tune, cells_used, parasitized_used,
    /// fields_adapt, fields_test, pale_cells}
    QJsonObject toJson() const;
};

/// Segments and classifies `fieldFiles` with `model`, labels the detected cells from
/// `truth` (IML-style boxes, IoU >= 0.5), splits by field, fine-tunes on the selected adapt
/// cells and reports before/after on the test fields. Never throws.
/// = analyseLabFields() + labelFromAnnotations() + calibrateCells().
LabCalibrationResult calibrateLab(const QStringList& fieldFiles, const FieldAnnotationSet& truth,
                                  const Classifier& model, const LabCalibrationOptions& options);

/// The labels-provided path shared by every label source (the CLI's --annotations, --labels
/// and --db, and the GUI's reviewer): fields with a labelled cell form the adapt and test
/// lists; before figures on the labelled test cells; selectCellsToLabel(options.budget)
/// among the labelled adapt cells; at least options.minParasitized parasitized among them;
/// fine-tuning on them (options.workDir receives their crops); a lab threshold for the
/// fine-tuned and for the starting weights, and the better of the two (chooseLabWeights());
/// after figures and the card's lab_calibration. `threshold` is the starting model's
/// (LabCells::threshold). Never throws.
LabCalibrationResult calibrateCells(const std::vector<CalibrationCell>& cells, double threshold,
                                    const Classifier& model, const LabCalibrationOptions& options);

} // namespace ml
