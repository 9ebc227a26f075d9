#pragma once
// Several labelled folders as one training set, each a named source (a lab, a microscope,
// the field crops of segment --export-crops): the sources' images in one Dataset with their
// source recorded, patient ids made unique per source, and the class-balanced draw of the
// training cells. No torch here.

#include "dataset.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <random>
#include <vector>

namespace ml {

/// One labelled folder and the name its figures are reported under.
struct TrainingSource
{
    QString name;
    Dataset dataset;
};

/// The name of a source given as a bare folder: the folder's own name.
QString sourceNameForFolder(const QString& folder);

/// Checks a source name: not empty, no ':' (it prefixes patient ids), no '='.
bool isValidSourceName(const QString& name);

/// One Dataset of `sources` (each labelled with the same class names). Every image's
/// ImageEntry::source is its source's name. With one source the dataset is that source's,
/// unchanged but for the name. With several, root is the sources' common ancestor folder,
/// relative paths lead from it to each file, and each patient id becomes "NAME:id", so a
/// patient, slide or field of one source never merges with another's of the same id and
/// stays whole on one side of every split. Dataset::error says why sources cannot be merged
/// (a source with an error, other class names, a repeated name).
Dataset mergeSources(const QList<TrainingSource>& sources);

/// The source names of `dataset`'s images in order of first appearance (empty when no image
/// is named).
QStringList sourceNames(const Dataset& dataset);

/// A class-balanced epoch: train.size() indices drawn from `train`, half of them of class 0
/// and half of class 1 (labels[i] is image i's class). Each class is drawn without
/// replacement in seeded shuffled passes, a class smaller than its half being repeated
/// (oversampled); the result is shuffled. Deterministic for the state of `rng`. When a
/// class has no cell in `train`, `train` shuffled.
std::vector<int> classBalancedOrder(const std::vector<int>& train, const std::vector<int>& labels,
                                    std::mt19937& rng);

} // namespace ml
