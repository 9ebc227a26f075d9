#include "explorecache.h"

#include <QCryptographicHash>
#include <QDataStream>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QStandardPaths>

Q_LOGGING_CATEGORY(lcExploreCache, "malarialens.core.explorecache")

namespace ml {

QStringList exploreClassSlots(const Dataset& dataset)
{
    return dataset.isLabelled() ? dataset.classNames : QStringList{QStringLiteral("unlabeled")};
}

bool readExploreCache(const QString& path, const ExploreCacheHeader& expected, int classes,
                      const ExploreClassReader& readClass, ExploreCacheCommon& common)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return false;
    QDataStream in(&f);
    in.setVersion(QDataStream::Qt_6_4);
    ExploreCacheHeader stored;
    qint32 decoded = 0, n = 0;
    in >> stored.magic >> stored.version >> stored.contentKey >> stored.parameter >> decoded >> n;
    if (in.status() != QDataStream::Ok || stored.magic != expected.magic ||
        stored.version != expected.version || stored.contentKey != expected.contentKey ||
        stored.parameter != expected.parameter || n != classes)
        return false;
    for (int i = 0; i < classes; ++i) {
        if (!readClass(in, i) || in.status() != QDataStream::Ok)
            return false;
    }
    ExploreCacheCommon read;
    read.decoded = decoded;
    qint32 failed = 0;
    in >> failed;
    for (qint32 i = 0; i < failed && in.status() == QDataStream::Ok; ++i) {
        SkippedFile s;
        in >> s.path >> s.reason;
        read.failed.append(s);
    }
    if (in.status() != QDataStream::Ok)
        return false;
    common = std::move(read);
    return true;
}

void writeExploreCache(const QString& path, const ExploreCacheHeader& header, int classes,
                       const ExploreClassWriter& writeClass, const ExploreCacheCommon& common)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        qCWarning(lcExploreCache) << "cannot write cache" << path << f.errorString();
        return;
    }
    QDataStream out(&f);
    out.setVersion(QDataStream::Qt_6_4);
    out << header.magic << header.version << header.contentKey << header.parameter
        << qint32(common.decoded) << qint32(classes);
    for (int i = 0; i < classes; ++i)
        writeClass(out, i);
    out << qint32(common.failed.size());
    for (const SkippedFile& s : common.failed)
        out << s.path << s.reason;
    if (!f.commit())
        qCWarning(lcExploreCache) << "cannot write cache" << path << f.errorString();
}

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
