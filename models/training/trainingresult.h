#pragma once
// What a training run produces: per-epoch figures, the split, the validation report, the
// classifier and its model card (no torch here).

#include "classifier.h"
#include "evaluation.h"
#include "trainingconfig.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QString>

#include <vector>

namespace ml {

/// Figures of one finished epoch.
struct EpochStats
{
    int epoch = 0; ///< 1-based
    double trainLoss = 0, trainAccuracy = 0;
    double valLoss = 0, valAccuracy = 0;
    double seconds = 0; ///< wall time of the epoch (training + validation)
    double trainImagesPerSecond = 0;
    bool best = false;       ///< lowest validation loss so far (the last epoch of a final fit)
    double learningRate = 0; ///< the rate the epoch trained at
    int epochsPlanned = 0;   ///< epochs its run was set to (a final fit's own count)

    /// One log line ("epoch 3/20  loss 0.1576  acc 0.9565  val_loss ... *best"), the same in
    /// the CLI and on the Train page. An epoch without a validation side (a final fit) has
    /// NaN validation figures and no val_ fields.
    QString logLine() const;
};

/// How the cells were split, for the model card.
struct SplitSummary
{
    QMap<QString, int> trainCells, valCells;       ///< per class name
    QMap<QString, int> trainPatients, valPatients; ///< per class name: patients with a cell of it
    int trainPatientCount = 0, valPatientCount = 0;
    int sharedPatients = 0; ///< patients with cells on both sides (0 for a patient split)
    QJsonObject toJson() const;
};

/// Figures of the cells of one source (lab) scored by a model: Parasitized is the positive
/// class. Empty (`cells` 0) when the source had no cell on that side.
struct SourceFigures
{
    QString source;
    int cells = 0;
    int parasitized = 0; ///< cells labelled Parasitized
    /// The confusion counts at the threshold, which the parasitemia correction reads
    /// (errorRatesFromCard()).
    int truePositive = 0, falseNegative = 0, trueNegative = 0, falsePositive = 0;
    double sensitivity = 0, specificity = 0, balancedAccuracy = 0, auc = 0;
    /// Figures of `scored` (labels 0/1, probabilities of Parasitized) at `threshold`.
    static SourceFigures of(const QString& source, const std::vector<ScoredCell>& scored,
                            double threshold = 0.5);
    /// {source, cells, parasitized, true_positive, false_negative, true_negative,
    /// false_positive, sensitivity, specificity, balanced_accuracy, auc}.
    QJsonObject toJson() const;
    static SourceFigures fromJson(const QJsonObject& o);
    /// "<source>: <cells> cells (<parasitized> parasitized), sensitivity ..., specificity ...,
    /// balanced accuracy ..., AUC ..." (4 decimals), for text output.
    QString describe() const;
};

struct TrainingResult
{
    bool ok = false;
    bool cancelled = false;
    QString error; ///< why training did not start or failed
    TrainingConfig config;
    QList<EpochStats> history;
    int bestEpoch = 0;
    bool stoppedEarly = false;
    double seconds = 0;
    int failedImages = 0; ///< images that could not be decoded (left out)
    /// Training-side cells left out because TrainingConfig::excludedFromTraining named them
    /// or a reviewer marked them unsure.
    QMap<QString, int> excludedCells; ///< per class name
    int unsureCells = 0;              ///< of those, marked unsure by a reviewer
    /// All of excludedCells together.
    int leftOutCells() const;
    SplitSummary split;
    /// Reviewer corrections in the training labels (correctionsUsedJson() of the dataset;
    /// empty when none), recorded in the model card under "label_corrections".
    QJsonObject labelCorrections;
    ValidationReport validation;             ///< of the best weights on the validation split
    std::vector<ScoredCell> validationCells; ///< the cells behind `validation`
    std::vector<int> validationIndices;      ///< their indices into the dataset's images
    Classifier classifier;                   ///< the best weights, with modelCard() as its card
    /// The run stopped because the training loss became NaN or infinite (`error` says at
    /// which epoch and where the last good checkpoint is); ok is false.
    bool diverged = false;
    /// Validation figures per source (ImageEntry::source) of the validation side, best
    /// weights; empty when the images carry no source name.
    QList<SourceFigures> validationBySource;
    /// TrainingConfig::holdoutSource: the left-out source's cells scored by the best weights.
    SourceFigures holdout;
    /// Set by crossValidate() on the model it returns: the per-fold and pooled figures,
    /// added to the card under "cross_validation".
    QJsonObject crossValidation;

    /// The model card (also set as the classifier's card).
    QJsonObject modelCard() const;
    /// History as CSV: epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,best.
    QByteArray historyCsv() const;
};

/// Path of the history CSV beside a model file: <dir>/<base>.history.csv (its card:
/// cardPathForModel(), classifier.h).
QString historyPathFor(const QString& modelPath);
/// Out-of-fold probabilities of a cross-validation run (train --folds): <dir>/<base>.oof.csv.
QString outOfFoldPathFor(const QString& modelPath);

} // namespace ml
