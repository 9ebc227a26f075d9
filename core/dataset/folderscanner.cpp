#include "folderscanner.h"

#include "imageio.h"
#include "patientid.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QSet>

#include <algorithm>

namespace ml {

namespace {

struct Walker
{
    const ScanOptions& options;
    Dataset& out;
    QSet<QString> visitedDirs; // canonical paths: guards against symlink loops
    int found = 0;
    int usedFolderPatient = 0;
    int usedNamePatient = 0;

    bool cancelled() const { return options.cancel && options.cancel->load(); }

    QString relative(const QString& absolute) const
    {
        return QDir(out.root).relativeFilePath(absolute);
    }

    void addFile(const QFileInfo& fi, int label, const QString& relDir)
    {
        // Built from the walk's own prefix: QDir::relativeFilePath per file costs more
        // than the rest of the listing.
        const QString rel =
            relDir.isEmpty() ? fi.fileName() : relDir + QLatin1Char('/') + fi.fileName();
        if (fi.isSymLink() && !fi.exists()) {
            out.skipped.append({rel, QStringLiteral("broken symbolic link")});
            return;
        }
        if (!fi.isReadable()) {
            out.skipped.append({rel, QStringLiteral("unreadable (permission denied)")});
            return;
        }
        if (fi.size() == 0) {
            out.skipped.append({rel, QStringLiteral("empty file (0 bytes)")});
            return;
        }
        ImageEntry e;
        e.relativePath = rel;
        e.label = label;
        e.bytes = fi.size();
        e.patient = patientIdFromFileName(fi.fileName());
        if (e.patient.isEmpty()) {
            // Not NIH-style: one patient per folder holding the image.
            const QString dir = QFileInfo(rel).path();
            e.patient = dir == QLatin1String(".") ? QDir(out.root).dirName() : dir;
            ++usedFolderPatient;
        } else {
            ++usedNamePatient;
        }
        out.images.append(e);
        if (++found % 500 == 0 && options.progress)
            options.progress(found);
    }

    // Walks one folder recursively; returns false when cancelled.
    bool walk(const QString& dirPath, const QString& relDir, int label)
    {
        const QString canonical = QFileInfo(dirPath).canonicalFilePath();
        if (canonical.isEmpty()) {
            out.skipped.append(
                {relative(dirPath), QStringLiteral("folder disappeared during the scan")});
            return true;
        }
        if (visitedDirs.contains(canonical)) {
            out.skipped.append(
                {relative(dirPath), QStringLiteral("symbolic link loop (folder already listed)")});
            return true;
        }
        visitedDirs.insert(canonical);
        QDir dir(dirPath);
        const QFileInfoList entries = dir.entryInfoList(
            QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot | QDir::System, QDir::Name);
        for (const QFileInfo& fi : entries) {
            if (cancelled())
                return false;
            if (fi.fileName().startsWith(QLatin1Char('.')))
                continue;
            if (fi.isDir()) {
                if (!walk(fi.absoluteFilePath(), relDir + QLatin1Char('/') + fi.fileName(), label))
                    return false;
            } else if (hasImageExtension(fi.fileName())) {
                addFile(fi, label, relDir);
            }
        }
        return true;
    }
};

} // namespace

Dataset scanFolder(const QString& folder, const ScanOptions& options)
{
    Dataset out;
    const QFileInfo rootInfo(folder);
    if (!rootInfo.exists()) {
        out.root = rootInfo.absoluteFilePath();
        out.error = QStringLiteral("folder not found: %1").arg(folder);
        return out;
    }
    if (!rootInfo.isDir()) {
        out.root = rootInfo.absoluteFilePath();
        out.error = QStringLiteral("not a folder: %1").arg(folder);
        return out;
    }
    out.root = rootInfo.canonicalFilePath();
    QDir root(out.root);
    if (!root.isReadable()) {
        out.error = QStringLiteral("folder is not readable: %1").arg(folder);
        return out;
    }

    Walker walker{options, out, {}, 0, 0, 0};
    walker.visitedDirs.insert(out.root);
    const QFileInfoList top = root.entryInfoList(
        QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot | QDir::System, QDir::Name);
    QStringList classDirs;
    QFileInfoList topImages;
    for (const QFileInfo& fi : top) {
        if (fi.fileName().startsWith(QLatin1Char('.')))
            continue;
        if (fi.isDir())
            classDirs.append(fi.fileName());
        else if (hasImageExtension(fi.fileName()))
            topImages.append(fi);
    }
    // Byte order, as Python's sorted() used by Keras (QDir::Name may be locale-aware).
    std::sort(classDirs.begin(), classDirs.end(),
              [](const QString& a, const QString& b) { return a.toUtf8() < b.toUtf8(); });

    if (classDirs.isEmpty()) {
        for (const QFileInfo& fi : topImages) {
            if (walker.cancelled())
                break;
            walker.addFile(fi, -1, QString());
        }
    } else {
        out.classNames = classDirs;
        for (const QFileInfo& fi : topImages)
            out.skipped.append(
                {fi.fileName(), QStringLiteral("outside the class folders (ignored)")});
        for (int label = 0; label < classDirs.size(); ++label) {
            if (!walker.walk(root.filePath(classDirs.at(label)), classDirs.at(label), label))
                break;
        }
    }
    out.cancelled = walker.cancelled();
    if (!QFileInfo::exists(out.root))
        out.error = QStringLiteral("folder disappeared during the scan: %1").arg(folder);
    if (walker.usedFolderPatient > 0)
        out.patientSource =
            walker.usedNamePatient > 0 ? PatientSource::Mixed : PatientSource::Folder;
    if (options.progress)
        options.progress(walker.found);
    return out;
}

} // namespace ml
