#pragma once
// Reviewer corrections applied to a scanned folder: the labels every later stage reads
// (browser, evaluation, training) become the corrected ones, and the folder's own label
// stays in ImageEntry::folderLabel. Files are matched by content hash, so a renamed or
// moved image keeps its correction; rows without a hash (hand-written CSV) match by path.

#include "correctionstore.h"
#include "dataset.h"

#include <QJsonObject>
#include <QList>
#include <QString>

#include <atomic>

namespace ml {

/// What applyCorrections() did.
struct CorrectionSummary
{
    int changed = 0;   ///< labels replaced by a correction
    int confirmed = 0; ///< reviewed, and the folder label was kept or confirmed
    int unsure = 0;    ///< latest decision "unsure": label left as it was, out of training
    int hashed = 0;    ///< files read to compute their hash
    bool cancelled = false;
    QString error; ///< the database could not be read (labels are the folder's)
};

/// Applies `rows` (every row of a CorrectionStore, oldest first; the latest decision per
/// image wins) to `dataset`. Only files whose size or path matches a correction are read and
/// hashed, so a folder of 30,000 images with a few hundred corrections reads a few hundred
/// files. Run off the GUI thread. `cancel` is checked between files.
CorrectionSummary applyCorrections(Dataset& dataset, const QList<Correction>& rows,
                                   const std::atomic<bool>* cancel = nullptr);

/// Opens `databasePath` (read-only is enough) and applies its rows. A missing database is
/// no error (nothing to apply). Creates its own connection: any thread.
CorrectionSummary applyCorrectionsFrom(Dataset& dataset, const QString& databasePath,
                                       const std::atomic<bool>* cancel = nullptr);

/// scanFolder() followed by applyCorrectionsFrom(): the folder as every labelled stage of the
/// command line (evaluate, train) reads it. `databasePath` empty = the user's database
/// (CorrectionStore::defaultPath()); a missing database leaves the folder's labels.
Dataset scanFolderWithCorrections(const QString& folder, const QString& databasePath = {},
                                  CorrectionSummary* summary = nullptr);

/// For a model card: which corrections a training run used (ids, files, old and new labels).
QJsonObject correctionsUsedJson(const Dataset& dataset);

} // namespace ml
