#include "explorecache.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace ml {

QString defaultExploreCacheDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::CacheLocation) +
           QStringLiteral("/explore");
}

QByteArray datasetContentKey(const Dataset& dataset)
{
    QCryptographicHash hash(QCryptographicHash::Sha1);
    for (const QString& c : dataset.classNames) {
        hash.addData(c.toUtf8());
        hash.addData(QByteArrayView("\0", 1));
    }
    hash.addData(QByteArrayView("|images|"));
    for (int i = 0; i < dataset.images.size(); ++i) {
        const ImageEntry& e = dataset.images.at(i);
        // The listing's byte count may be older than the file: stat again so an image
        // rewritten since the scan also invalidates the cache.
        const QFileInfo fi(dataset.absolutePath(i));
        const QByteArray line = e.relativePath.toUtf8() + '\0' + QByteArray::number(e.label) +
                                '\0' + QByteArray::number(fi.size()) + '\0' +
                                QByteArray::number(fi.lastModified().toMSecsSinceEpoch()) + '\n';
        hash.addData(line);
    }
    return hash.result();
}

QString exploreCacheFile(const QString& cacheDir, const QString& kind, const Dataset& dataset,
                         const QString& parameters)
{
    const QString dir = cacheDir.isEmpty() ? defaultExploreCacheDir() : cacheDir;
    const QByteArray id = QCryptographicHash::hash(
        (dataset.root + QLatin1Char('\n') + parameters).toUtf8(), QCryptographicHash::Sha1);
    return QDir(dir).filePath(kind + QLatin1Char('-') + QString::fromLatin1(id.toHex()) +
                              QStringLiteral(".bin"));
}

} // namespace ml
