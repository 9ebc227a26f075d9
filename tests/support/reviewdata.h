#pragma once
// Test data of the review tests: real NIH cells copied (never linked, so a test may rename
// or move its copies) from the shared data folder into a temporary folder.

#include <QDir>
#include <QFile>
#include <QString>
#include <QStringList>

namespace ml::reviewtest {

/// MALARIALENS_SHARED_DATA (environment, else the build's path) + "/nih-cells", or empty
/// when it has no Parasitized and Uninfected folders.
inline QString nihCells()
{
    QString root = qEnvironmentVariable("MALARIALENS_SHARED_DATA");
    if (root.isEmpty())
        root = QStringLiteral(MALARIALENS_SHARED_DATA);
    const QDir d(root + QStringLiteral("/nih-cells"));
    return d.exists(QStringLiteral("Parasitized")) && d.exists(QStringLiteral("Uninfected"))
               ? d.absolutePath()
               : QString();
}

/// Copies the first `perClass` cells (sorted by name, skipping `offset`) of each class into
/// dest/<class>/. Returns the copied paths (Parasitized first), empty on failure.
inline QStringList copyNihCells(const QString& dest, int perClass, int offset = 0)
{
    QStringList out;
    const QString src = nihCells();
    if (src.isEmpty())
        return {};
    for (const QString& cls : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}) {
        QDir from(src + QLatin1Char('/') + cls);
        const QStringList files =
            from.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        QDir().mkpath(dest + QLatin1Char('/') + cls);
        for (int i = offset; i < std::min(int(files.size()), offset + perClass); ++i) {
            const QString to = dest + QLatin1Char('/') + cls + QLatin1Char('/') + files.at(i);
            if (!QFile::copy(from.filePath(files.at(i)), to))
                return {};
            out << to;
        }
    }
    return out;
}

} // namespace ml::reviewtest
