#pragma once
// On-disk cache of the folder-wide exploratory results (mean images, HSV histograms), so
// reopening a folder of 14,000 cells shows its views at once until the folder changes.
//
// One cache file per folder and parameter set (named after a hash of both), holding the
// content key of the folder at the time it was computed: a changed folder gives a new
// content key, the stale file is recomputed and overwritten, so the cache never grows
// past one entry per folder and setting.

#include "dataset.h"

#include <QByteArray>
#include <QString>

namespace ml {

/// Default cache folder: QStandardPaths::CacheLocation + "/explore".
QString defaultExploreCacheDir();

/// Hash (SHA-1) of what a folder-wide result depends on: class names and, for every image,
/// relative path, label, size in bytes and modification time (read from disk now, so call
/// it off the GUI thread: about 14,000 stat calls for nih-cells).
QByteArray datasetContentKey(const Dataset& dataset);

/// File in `cacheDir` (empty: defaultExploreCacheDir()) for the result `kind` (e.g. "mean")
/// of `dataset`'s folder computed with `parameters` (e.g. "size=64").
QString exploreCacheFile(const QString& cacheDir, const QString& kind, const Dataset& dataset,
                         const QString& parameters);

} // namespace ml
