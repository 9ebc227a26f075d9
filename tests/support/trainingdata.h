#pragma once
// Small real training folders for the retraining tests: NIH cells symlinked (never copied)
// from the shared data folder into a temporary folder.

#include <QString>

namespace ml::testing {

/// The shared nih-cells folder (MALARIALENS_SHARED_DATA/nih-cells).
QString nihCellsFolder();
/// True when nihCellsFolder() has both class folders.
bool hasNihCells();

/// Links `perClass` cells of each class of nih-cells into `dest`/<class>/, spread evenly over
/// the sorted file list so many patients are represented. `classes` = 1 links Parasitized
/// only (a one-class folder). False with `error` when something cannot be linked.
bool linkNihSubset(const QString& dest, int perClass, QString* error, int classes = 2);

} // namespace ml::testing
