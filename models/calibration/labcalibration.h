#pragma once
// Calibrating the classifier to one lab's microscope, camera and stain, from that lab's own
// field images and a few hundred labelled cells.
//
//   fields ──segment + classify (the active model)──▶ cells with P(Parasitized)
//          ──split by field──▶ adapt fields │ test fields
//   adapt cells ──selectCellsToLabel(budget)──▶ the cells a reviewer labels
//          ──fine-tune the active model (lower rate, few epochs, class-balanced,
//            cross-lab augmentation, early stopping on held-out adapt fields)──▶ lab model
//   test fields: sensitivity, specificity, balanced accuracy and corrected parasitemia,
//          before and after; the card's lab_calibration keeps the lab's own Se/Sp, which
//          the parasitemia correction then uses (errorRatesFromCard()).
// No torch in this header. Runs in the calling thread (a worker in the GUI).

#include "classifier.h"
#include "prevalence.h"

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

/// One segmented cell of a lab's field.
struct CalibrationCell
{
    QString field;          ///< file name of the field image
    cv::Rect box;           ///< detection box in the field
    float probability = -1; ///< the starting model's P(Parasitized)
    int label = -1;         ///< 0 Parasitized, 1 Uninfected, -1 not known
    bool adapt = false;     ///< on the adapt side of the field split (else test)
    cv::Mat crop;           ///< 8-bit BGR crop as the classifier sees it
};

/// The cells worth a reviewer's time, in the order they are asked, at most `budget`: taken in
/// turn from three lists (every cell the model calls parasitized, highest first; the most
/// uncertain, closest to `threshold`; a seeded random sample), skipping repeats. Only adapt
/// cells with a known label count (a replayed session labels what a reviewer would).
/// Returns indices into `cells`.
std::vector<int> selectCellsToLabel(const std::vector<CalibrationCell>& cells, int budget,
                                    double threshold, quint32 seed = 42);

/// Sensitivity, specificity, balanced accuracy and corrected parasitemia on labelled cells.
struct CalibrationFigures
{
    int truePositive = 0, falseNegative = 0, trueNegative = 0, falsePositive = 0;
    double sensitivity = 0, specificity = 0, balancedAccuracy = 0;
    PrevalenceEstimate parasitemia; ///< corrected with the rates given to figuresOn()
    double trueParasitemia = 0;     ///< from the labels
    QJsonObject toJson() const;
};

/// Figures of `probabilities` (same order as `cells`) on the labelled cells of `which`.
CalibrationFigures figuresOn(const std::vector<CalibrationCell>& cells,
                             const std::vector<float>& probabilities, const std::vector<int>& which,
                             double threshold, const std::optional<ErrorRates>& rates);

struct LabCalibrationOptions
{
    QString lab = QStringLiteral("my lab"); ///< the name the user gives
    int budget = 400;                       ///< cells a reviewer labels
    int epochs = 8;
    double learningRate = 2e-4; ///< a fifth of a fresh training's: adapt, do not forget
    int threads = 2;
    quint32 seed = 42;
    QString workDir; ///< where the labelled crops are written for training (a temporary dir)
    const std::atomic<bool>* cancel = nullptr;
    std::function<void(const QString&)> log;
};

struct LabCalibrationResult
{
    QString error;
    bool cancelled = false;
    Classifier model; ///< the calibrated model with its card (lab_calibration)
    CalibrationFigures before, after;
    int cellsUsed = 0, parasitizedUsed = 0;
    QStringList fieldsAdapt, fieldsTest;
    bool ok() const { return error.isEmpty() && !cancelled; }
    /// {before, after, cells_used, parasitized_used, fields_adapt, fields_test, lab}
    QJsonObject toJson() const;
};

/// Segments and classifies `fieldFiles` with `model`, labels the detected cells from
/// `truth` (IML-style boxes, IoU >= 0.5), splits by field, fine-tunes on the selected adapt
/// cells and reports before/after on the test fields. Never throws.
LabCalibrationResult calibrateLab(const QStringList& fieldFiles, const FieldAnnotationSet& truth,
                                  const Classifier& model, const LabCalibrationOptions& options);

/// Fewest parasitized cells among the labelled ones before adapting is allowed: below it the
/// lab's sensitivity cannot be estimated (+-15 points at 95 % with 30 cells) nor learnt.
constexpr int kMinParasitizedToAdapt = 30;

} // namespace ml
