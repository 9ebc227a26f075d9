#pragma once
// Records a model's domain (core/cell/domaincheck.h) from the cells it was trained on: for
// each training source, how its cells look and how spread the model's outputs are on them.
// The result goes into the model card (card.domain), which the domain check of every later
// folder and field reads.

#include "domaincheck.h"

#include <QList>
#include <QString>

#include <atomic>
#include <vector>

namespace ml {

class Classifier;
struct Dataset;
struct FieldResult;
struct FieldOptions;

/// One labelled or unlabelled folder of cells, named as a source (a lab).
struct NamedSource
{
    QString name;
    const Dataset* dataset = nullptr;
};

/// Measures up to `perSource` evenly spread cells of every source and runs `classifier` on
/// them (in the calling thread, with its libtorch thread budget). Cells that fail to decode
/// are skipped. `error` is set (and the profile empty) when inference fails.
DomainProfile measureDomain(const QList<NamedSource>& sources, const Classifier& classifier,
                            int perSource = 1000, QString* error = nullptr,
                            const std::atomic<bool>* cancel = nullptr);

/// How the cells of an analysed field look: each segmented cell's crop as the classifier
/// sees it (classifierCrops()), measured with measureCell(). Same order as `result.cells`.
std::vector<CellAppearance> fieldCellAppearances(const cv::Mat& bgr, const FieldResult& result,
                                                 const FieldOptions& options);

} // namespace ml
