#pragma once
// One training run in named steps. trainClassifier() and crossValidate() compose them:
//
//   prepareAndValidate()  refuse a folder or settings that cannot work; thread budget, seed
//   split()               validation = a patient/random split, a patient fold, or nothing
//                         (takeEveryCell(), a final fit); a held-out source is set aside
//   start()               decode every image once, build the network and the optimizer,
//                         resume from the checkpoint
//   epoch(rate)           one pass over the training side; stops on cancel or a NaN loss
//   evaluate()            validation loss: best weights, early stopping, rate decay
//   keepAsBest()          (a final fit instead of evaluate(): the last epoch is kept)
//   recordEpoch()         the epoch's figures join the history
//   checkpoint()          current and best weights, optimizer, history, RNG, atomically
//   reportEpoch()         epochDone callback
//   card()                best weights restored, validation (and held-out source) figures,
//                         the classifier and its model card
//
// No torch here (pimpl). Not copyable; one run per object; used from one thread.

#include "trainingresult.h"

#include <atomic>
#include <memory>

namespace ml {

struct Dataset;

class TrainingRun
{
public:
    /// `dataset`, `callbacks` and `cancel` must outlive the run; `cancel` may be null.
    TrainingRun(const Dataset& dataset, const TrainingConfig& config,
                const TrainingCallbacks& callbacks = {}, const std::atomic<bool>* cancel = nullptr);
    ~TrainingRun();
    TrainingRun(const TrainingRun&) = delete;
    TrainingRun& operator=(const TrainingRun&) = delete;

    /// Checks the folder (labelled, 2 classes, none empty, at least one batch) and the
    /// settings; sets the calling thread's libtorch thread budget and the seed. Nothing is
    /// decoded for a run that cannot work. False: result().error says why.
    bool prepareAndValidate();
    /// The validation side: fold config.fold of patientFolds() when config.folds > 1, else
    /// splitDataset(). Images of config.holdoutSource are on neither side. Cells listed in
    /// config.excludedFromTraining or marked unsure then leave the training side only.
    bool split();
    /// A final fit: every image trains (but a held-out source's), nothing validates.
    bool takeEveryCell();
    /// Decodes every image once (in parallel, progress reported), builds the network (or
    /// copies config.initialModel) and the optimizer, and resumes from config.checkpointPath
    /// when config.resume is set and the file exists.
    bool start();

    /// Whether another epoch is due: fewer than `plannedEpochs` run and early stopping has
    /// not fired.
    bool wantsEpoch(int plannedEpochs) const;
    /// 1-based number of the epoch epoch() runs next.
    int nextEpoch() const;
    /// The rate the next epoch trains at without a fixed schedule (decayed on plateaus).
    double learningRate() const;
    /// Trains one epoch at `rate` over the training side (shuffled, class-balanced when
    /// config.balanceClasses, augmented when config.augment). False when cancelled or when
    /// the loss became NaN or infinite (result().diverged; the checkpoint on disk, written
    /// after the previous epoch, is left as it is).
    bool epoch(double rate, int plannedEpochs);
    /// Validation loss and accuracy of the current weights for the epoch just trained; a
    /// better loss keeps the weights as the best, otherwise the patience counters advance
    /// (rate decay after config.lrPatience epochs, early stop after config.patience).
    /// False when libtorch failed (result().error).
    bool evaluate();
    /// A run without validation: the epoch just trained is the best when it is the last.
    bool keepAsBest(bool last);
    /// Adds the epoch's figures (with its wall time) to the history.
    void recordEpoch();
    /// Writes the checkpoint (when config.checkpointPath is set); a failure is logged and
    /// training goes on.
    void checkpoint();
    /// Calls callbacks.epochDone with the epoch's figures.
    void reportEpoch();
    /// Restores the best weights, evaluates them on the validation side (unless
    /// `withValidation` is false: a final fit), per source and on the held-out source, and
    /// returns the finished result with its classifier and card.
    TrainingResult card(bool withValidation);

    /// The result so far (error, cancelled, diverged, history ...).
    const TrainingResult& result() const;
    /// Moves the result out (for a run that stopped before card()).
    TrainingResult takeResult();

private:
    void evaluateStep();
    void keepAsBestStep(bool last);
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Trains on `dataset` (labelled, exactly 2 classes, class 0 = Parasitized) with early
/// stopping on the validation loss: prepareAndValidate, split, start, then epoch, evaluate,
/// recordEpoch, checkpoint, reportEpoch per epoch, then card. With config.fixedRates set it
/// runs fitEveryCell() instead. Runs in the calling thread and sets its libtorch thread
/// budget. `cancel` (may be null) is checked between batches; a cancelled run returns
/// cancelled = true and no classifier. Never throws.
TrainingResult trainClassifier(const Dataset& dataset, const TrainingConfig& config,
                               const TrainingCallbacks& callbacks = {},
                               const std::atomic<bool>* cancel = nullptr);

/// The final fit of a cross-validation: every patient trains for config.fixedRates.size()
/// epochs, epoch e at rate fixedRates[e - 1]; no validation, early stopping or decay; the
/// last epoch's weights are kept. Never throws.
TrainingResult fitEveryCell(const Dataset& dataset, const TrainingConfig& config,
                            const TrainingCallbacks& callbacks = {},
                            const std::atomic<bool>* cancel = nullptr);

} // namespace ml
