#pragma once
// On-disk cache of the folder-wide exploratory results (mean images, HSV histograms), so
// reopening a folder of 14,000 cells shows its views at once until the folder changes.
//
// One cache file per folder and parameter set (named after a hash of both), holding the
// content key of the folder at the time it was computed: a changed folder gives a new
// content key, the stale file is recomputed and overwritten, so the cache never grows
// past one entry per folder and setting.

#include "dataset.h"
#include "imagepass.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <functional>

class QDataStream;

namespace ml {

/// How a folder-wide Explore pass runs: the image pass (threads, cancel, progress) plus the
/// cache. A cancelled pass returns a result flagged incomplete that holds no class data.
struct ExplorePassOptions : ImagePassOptions
{
    /// Read and write the per-folder cache.
    bool useCache = true;
    /// Cache folder; empty means defaultExploreCacheDir().
    QString cacheDir;
};

/// The class slots of a folder-wide result: the dataset's classes in order, or a single
/// "unlabeled" slot for an unlabeled folder.
QStringList exploreClassSlots(const Dataset& dataset);

/// What identifies a cache file's contents: a wrong magic or version (another kind or an
/// older format), another content key (the folder changed) or another parameter (another
/// mean size or HSV threshold) makes readExploreCache() ignore the file.
struct ExploreCacheHeader
{
    quint32 magic = 0;
    quint32 version = 0;
    QByteArray contentKey; ///< datasetContentKey() of the folder
    qint32 parameter = 0;  ///< the result's one setting
};

/// The parts of a result every cache file holds besides the per-class data.
struct ExploreCacheCommon
{
    int decoded = 0;
    QList<SkippedFile> failed;
};

/// Reads one class's data; false rejects the whole file.
using ExploreClassReader = std::function<bool(QDataStream& in, int classIndex)>;
/// Writes one class's data, in the order its reader reads it.
using ExploreClassWriter = std::function<void(QDataStream& out, int classIndex)>;

/// Reads the cache file `path` written by writeExploreCache() with the header `expected` and
/// `classes` class entries, calling `readClass` for each. False, with `common` untouched, when
/// the file is missing, another header's, truncated or rejected by `readClass`.
bool readExploreCache(const QString& path, const ExploreCacheHeader& expected, int classes,
                      const ExploreClassReader& readClass, ExploreCacheCommon& common);

/// Writes the cache file `path` atomically (QSaveFile: a crash or a second writer never
/// leaves half a file). A failure is logged, never fatal: the cache is only a shortcut.
void writeExploreCache(const QString& path, const ExploreCacheHeader& header, int classes,
                       const ExploreClassWriter& writeClass, const ExploreCacheCommon& common);

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
