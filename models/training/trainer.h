#pragma once
// Training of the study's CNNs on a labelled folder (plain functions, no GUI; the training
// controller of the application wraps trainClassifier() in a worker thread). No torch here.
//
// Recipe: Adam, cross-entropy, batch 100, early stopping on validation loss with patience 5
// that restores the best weights; optional augmentation with exactly core/augment.h (what
// the exploratory preview shows). Every image is decoded and preprocessed once (64x64
// floats kept in memory: ~48 KB per image), so an epoch never touches the disk.
//
// This header gathers the training API:
//   trainingconfig.h   TrainingConfig, TrainingCallbacks
//   trainingresult.h   EpochStats, SplitSummary, SourceFigures, TrainingResult (the card)
//   datasetsplit.h     splitDataset(), patientFolds()
//   trainingrun.h      TrainingRun (the steps), trainClassifier(), fitEveryCell()
//   crossvalidation.h  crossValidate()
//   multisource.h      several labelled folders as one training set, one source each

#include "crossvalidation.h"
#include "datasetsplit.h"
#include "multisource.h"
#include "trainingconfig.h"
#include "trainingresult.h"
#include "trainingrun.h"
