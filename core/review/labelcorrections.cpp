#include "labelcorrections.h"

#include "folderscanner.h"

#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QSet>

#include <algorithm>

namespace ml {

CorrectionSummary applyCorrections(Dataset& ds, const QList<Correction>& rows,
                                   const std::atomic<bool>* cancel)
{
    CorrectionSummary summary;
    QHash<QString, const Correction*> byHash, byPath;
    QSet<qint64> sizes;
    QSet<QString> hashedPaths;
    for (const Correction& c : rows) { // oldest first: later rows replace earlier ones
        if (!c.sha256.isEmpty()) {
            byHash.insert(c.sha256, &c);
            if (c.bytes > 0)
                sizes.insert(c.bytes);
            hashedPaths.insert(c.path);
        } else {
            byPath.insert(c.path, &c);
        }
    }
    QList<qint64> ids;
    for (int i = 0; i < ds.images.size(); ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            summary.cancelled = true;
            break;
        }
        ImageEntry& e = ds.images[i];
        if (e.corrected) { // applying again (e.g. after a review): start from the folder
            e.label = e.folderLabel;
            e.corrected = false;
        }
        e.unsure = false;
        const QString path = ds.absolutePath(i);
        const Correction* c = nullptr;
        // Hash only files that could be a corrected one: same size as a corrected file
        // (a moved or renamed copy) or the path it had.
        if (sizes.contains(e.bytes) || hashedPaths.contains(path)) {
            ++summary.hashed;
            const QString hash = sha256OfFile(path);
            if (!hash.isEmpty())
                c = byHash.value(hash, nullptr);
        }
        if (!c)
            c = byPath.value(path, nullptr);
        if (!c)
            continue;
        if (c->newLabel == unsureLabel()) {
            ++summary.unsure;
            e.unsure = true;
            continue;
        }
        const int label = int(ds.classNames.indexOf(c->newLabel));
        if (label < 0) // a class this folder does not have
            continue;
        if (label == e.label) {
            ++summary.confirmed;
            continue;
        }
        e.folderLabel = e.label;
        e.label = label;
        e.corrected = true;
        ids << c->id;
        ++summary.changed;
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    ds.appliedCorrections = ids;
    return summary;
}

CorrectionSummary applyCorrectionsFrom(Dataset& ds, const QString& databasePath,
                                       const std::atomic<bool>* cancel)
{
    if (!QFileInfo::exists(databasePath))
        return {};
    CorrectionStore store;
    if (!store.open(databasePath)) {
        CorrectionSummary s;
        s.error = store.errorString();
        return s;
    }
    const QList<Correction> rows = store.all();
    if (rows.isEmpty() && !store.errorString().isEmpty() && !store.isReadOnly()) {
        CorrectionSummary s;
        s.error = store.errorString();
        return s;
    }
    return applyCorrections(ds, rows, cancel);
}

Dataset scanFolderWithCorrections(const QString& folder, const QString& databasePath,
                                  CorrectionSummary* summary)
{
    Dataset ds = scanFolder(folder);
    CorrectionSummary s;
    if (ds.error.isEmpty() && ds.isLabelled())
        s = applyCorrectionsFrom(ds, databasePath.isEmpty() ? CorrectionStore::defaultPath()
                                                            : databasePath);
    if (summary)
        *summary = s;
    return ds;
}

QJsonObject correctionsUsedJson(const Dataset& ds)
{
    QJsonArray ids, images;
    for (qint64 id : ds.appliedCorrections)
        ids.append(double(id));
    for (const ImageEntry& e : ds.images) {
        if (!e.corrected)
            continue;
        images.append(QJsonObject{{QStringLiteral("file"), e.relativePath},
                                  {QStringLiteral("folder_label"), ds.className(e.folderLabel)},
                                  {QStringLiteral("label"), ds.className(e.label)}});
    }
    return QJsonObject{{QStringLiteral("count"), int(images.size())},
                       {QStringLiteral("correction_ids"), ids},
                       {QStringLiteral("images"), images}};
}

} // namespace ml
