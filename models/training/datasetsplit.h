#pragma once
// Which images train and which validate: the patient (or random) split and the patient
// folds of a cross-validation. Pure functions, deterministic for a seed (no torch here).

#include <QtGlobal>

#include <vector>

namespace ml {

struct Dataset;

enum class SplitMode {
    Patient, ///< no patient's cells on both sides (the honest figure)
    Random,  ///< cells drawn at random: one patient's cells on both sides inflate accuracy
};

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

} // namespace ml
