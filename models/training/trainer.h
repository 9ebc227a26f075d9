#pragma once
// Training of the study's CNNs on a labelled folder (plain functions, no GUI; the training
// controller of the application wraps trainClassifier() in a worker thread). No torch here.
//
// Recipe: Adam, cross-entropy, batch 100, early stopping on validation loss with patience 5
// that restores the best weights; optional augmentation with exactly core/augment.h (what
// the exploratory preview shows). Every image is decoded and preprocessed once (64x64
// floats kept in memory: ~48 KB per image), so an epoch never touches the disk.

#include "architecture.h"
#include "augment.h"
#include "classifier.h"
#include "evaluation.h"
#include "preprocess.h"

#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QSet>
#include <QString>

#include <atomic>
#include <functional>

namespace ml {

struct Dataset;

enum class SplitMode {
    Patient, ///< no patient's cells on both sides (the honest figure)
    Random,  ///< cells drawn at random: one patient's cells on both sides inflate accuracy
};

/// Everything that defines a training run. Passed by value to the worker.
struct TrainingConfig
{
    Architecture arch = Architecture::Se;
    int epochs = 20;
    int batchSize = 100;
    double learningRate = 1e-3;
    int patience = 5; ///< epochs without a better validation loss before stopping
    SplitMode split = SplitMode::Patient;
    double valFraction = 0.2;
    /// K-fold cross-validation by patient: when folds > 1 the validation side is patient
    /// fold `fold` (0-based) of patientFolds() instead of a valFraction split; `split` must
    /// be Patient. crossValidate() runs every fold.
    int folds = 0;
    int fold = 0;
    quint32 seed = 42; ///< split, weight init, shuffling and augmentation draws
    bool augment = false;
    AugmentConfig augmentConfig = AugmentConfig::withStainJitter();
    /// Applied to every decoded cell before augmentation, and recorded in the card so that
    /// inference applies it too (Classifier::predict()).
    InputNormalization normalization = InputNormalization::None;
    /// Learning-rate decay on plateau: after this many epochs without a better validation
    /// loss the rate is multiplied by lrFactor (0 = constant rate, the study's recipe).
    /// Lower than `patience`, so the rate drops before early stopping gives up.
    int lrPatience = 0;
    double lrFactor = 0.5;
    int threads = 2;       ///< libtorch intra-op threads of the training thread
    int decodeThreads = 2; ///< threads that decode the images before the first epoch
    /// Written atomically (QSaveFile) after every epoch when not empty: current and best
    /// weights, optimizer state, history, RNG state. trainClassifier() resumes from it
    /// when `resume` is set and the file exists.
    QString checkpointPath;
    bool resume = false;
    /// Cells (Dataset relativePath, e.g. "Uninfected/C1_cell_9.png") left out of the training
    /// side only, after the split, so the split and the validation cells stay exactly as
    /// without it. Used to drop cells whose folder label is doubtful (label noise); the card
    /// records how many were left out and `exclusionSource`.
    /// Cells a reviewer marked "unsure" (ImageEntry::unsure) are left out the same way.
    QSet<QString> excludedFromTraining;
    QString exclusionSource;
    /// Fine-tuning: start from these weights instead of a fresh network (a native model of
    /// the same architecture; ignored when not loaded). Copied, never modified.
    Classifier initialModel;
    /// Final fit on every patient (crossValidate() sets it after the folds): when not empty,
    /// nothing is held out, exactly fixedRates.size() epochs run, epoch e trains at rate
    /// fixedRates[e - 1], and there is no validation, early stopping or rate decay on a
    /// plateau. `epochs`, `learningRate`, `valFraction`, `folds` and `fold` are ignored.
    QList<double> fixedRates;
    /// The fixed schedule's origin, for the card and the log (e.g. "fold 2 of 5").
    QString fixedRatesSource;
};

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

/// Progress reports; each is called from the training thread (may be empty).
struct TrainingCallbacks
{
    std::function<void(const QString& message)> log;
    std::function<void(int done, int total)> loadProgress;
    std::function<void(int epoch, int batch, int batches, double loss)> batchDone;
    std::function<void(const EpochStats& stats)> epochDone;
    /// A resumed run: the epochs already in the checkpoint (before the first new epochDone),
    /// so curves show the whole run, not only what follows the resume.
    std::function<void(const QList<EpochStats>& history, int bestEpoch)> historyRestored;
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
    /// Set by crossValidate() on the model it returns: the per-fold and pooled figures,
    /// added to the card under "cross_validation".
    QJsonObject crossValidation;

    /// The model card (also set as the classifier's card).
    QJsonObject modelCard() const;
    /// History as CSV: epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,best.
    QByteArray historyCsv() const;
};

/// Trains on `dataset` (labelled, exactly 2 classes, class 0 = Parasitized). Runs in the
/// calling thread and sets its libtorch thread budget. `cancel` (may be null) is checked
/// between batches; a cancelled run returns cancelled = true and no classifier. Never throws.
TrainingResult trainClassifier(const Dataset& dataset, const TrainingConfig& config,
                               const TrainingCallbacks& callbacks = {},
                               const std::atomic<bool>* cancel = nullptr);

/// The split trainClassifier() uses: indices into dataset.images for training and
/// validation. Deterministic for a seed. For SplitMode::Patient, infected patients (any
/// Parasitized cell) and healthy patients are split separately so both sides get both kinds.
void splitDataset(const Dataset& dataset, SplitMode mode, double valFraction, quint32 seed,
                  std::vector<int>* train, std::vector<int>* val);

/// Patient folds for k-fold cross-validation: the fold (0..k-1) of every image. Every
/// patient is in exactly one fold. Infected and healthy patients are dealt separately (as in
/// splitDataset()) so every fold has both kinds, each patient going to the fold with the
/// fewest cells so far (largest patients first, ties broken by a seeded shuffle).
/// Deterministic for a seed. Empty when k < 2 or there are fewer patients than folds.
std::vector<int> patientFolds(const Dataset& dataset, int k, quint32 seed);

/// The result of crossValidate().
struct CrossValidationResult
{
    bool ok = false;
    bool cancelled = false;
    QString error;
    QList<TrainingResult> folds; ///< one finished training per fold (validation = that fold)
    /// Out-of-fold figures: every cell scored by the model that did not see its patient,
    /// all folds together. The patient-level figures cover every patient of the folder.
    ValidationReport pooled;
    /// The model to keep when crossValidate() ran with finalFit: trained on every patient for
    /// the epochs and learning rates of the fold with the median best epoch; its validation
    /// figures (and card) are `pooled`, its card carries the whole cross-validation.
    TrainingResult final;
    /// {"folds": k, "per_fold": [...], "mean": {...}, "sd": {...}, "pooled": {...}}.
    QJsonObject toJson() const;
};

/// Checkpoint of fold `fold` of a cross-validation whose run checkpoints to `checkpointPath`.
QString foldCheckpointPath(const QString& checkpointPath, int fold);

/// K-fold cross-validation by patient: trains `config` once per fold of patientFolds()
/// (config.folds = k, config.fold = i; each fold checkpoints to foldCheckpointPath() and
/// resumes from it). `foldStarted` (may be empty) is called before each fold. Every
/// fold's classifier has its own card. With `finalFit`, one more training on every patient
/// follows (CrossValidationResult::final; foldStarted(k, k), checkpoint
/// foldCheckpointPath(..., k)): the model a user keeps, since each fold's model saw only
/// (k-1)/k of the patients. Never throws.
CrossValidationResult
crossValidate(const Dataset& dataset, const TrainingConfig& config, int k,
              const TrainingCallbacks& callbacks = {}, const std::atomic<bool>* cancel = nullptr,
              const std::function<void(int fold, int folds)>& foldStarted = {},
              bool finalFit = false);

/// Path of the history CSV / model card beside a model file: <dir>/<base>.history.csv, .json.
QString historyPathFor(const QString& modelPath);
QString cardPathForModel(const QString& modelPath);
/// Out-of-fold probabilities of a cross-validation run (train --folds): <dir>/<base>.oof.csv.
QString outOfFoldPathFor(const QString& modelPath);

} // namespace ml
