#pragma once
// The settings of a training run and its progress callbacks (no torch here).

#include "architecture.h"
#include "augment.h"
#include "classifier.h"
#include "datasetsplit.h"
#include "preprocess.h"

#include <QList>
#include <QSet>
#include <QString>

#include <functional>

namespace ml {

struct EpochStats;

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
    /// When not empty (and no folds): the validation side is exactly the cells of these
    /// patients, the rest trains (train --val-patients-from CARD). A second training stage
    /// that starts from a model keeps that model's held-out patients held out, whatever the
    /// folder's cell counts (which a valFraction split depends on).
    QSet<QString> validationPatients;
    quint32 seed = 42; ///< split, weight init, shuffling and augmentation draws
    bool augment = false;
    AugmentConfig augmentConfig = AugmentConfig::withStainJitter();
    /// The preset augmentConfig came from (train --augment-preset: study, stain, cross-lab),
    /// for the card; empty when not chosen by name.
    QString augmentPreset;
    /// Applied to every cell after augmentation (training cells are cached as
    /// preprocessImage() returns them, augmented per batch, then normalised; validation
    /// cells are normalised once), and recorded in the card so that inference applies it too
    /// (Classifier::predict()).
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
    /// How a fine-tuning (initialModel loaded) keeps what the starting model knew.
    enum class FineTune {
        Full,        ///< every weight learns
        FreezeEarly, ///< the first two convolution blocks (conv1, bn1, conv2, bn2) keep their
                     ///< weights; their BatchNorm statistics still follow the new cells
        L2SP         ///< every weight learns, pulled back towards the starting weights (L2-SP:
                     ///< loss + l2spWeight / 2 * sum of squared distances to them)
    };
    FineTune fineTune = FineTune::Full;
    double l2spWeight = 0.01; ///< L2-SP's weight (FineTune::L2SP only)
    /// Final fit on every patient (crossValidate() sets it after the folds): when not empty,
    /// nothing is held out, exactly fixedRates.size() epochs run, epoch e trains at rate
    /// fixedRates[e - 1], and there is no validation, early stopping or rate decay on a
    /// plateau. `epochs`, `learningRate`, `valFraction`, `folds` and `fold` are ignored.
    QList<double> fixedRates;
    /// The fixed schedule's origin, for the card and the log (e.g. "fold 2 of 5").
    QString fixedRatesSource;
    /// Class-balanced sampling: every epoch draws as many training cells as the training
    /// side holds, half of each class (the smaller class oversampled, a seeded draw that
    /// resumes with the run), instead of every training cell once. For sources such as the
    /// IML field crops (1 infected cell in 70). Recorded in the card.
    bool balanceClasses = false;
    /// After every epoch, the BatchNorm statistics are recomputed as the average over this
    /// many clean (unaugmented) training cells, drawn as the epoch draws them (see
    /// batchnormstatistics.h for why). 0: the running averages of the augmented batches are
    /// kept, as before 2026-12-01 (the embedded default model was trained so). Recorded in
    /// the card.
    int batchNormCells = 0;
    /// Leave-one-source-out: the images whose ImageEntry::source is this name are neither
    /// trained nor validated on; the others are split as usual (their own patient split for
    /// early stopping) and the best weights are then tested on the left-out source
    /// (TrainingResult::holdout, the card's "holdout"). Empty: every source takes part.
    QString holdoutSource;
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

} // namespace ml
