#pragma once
// A small lab for the calibration tests: the shared IML fields richest in parasites, linked
// (never copied or modified) into a folder of the test's own, so a few fields hold enough
// parasitized cells on both sides of the field split.

#include "fieldannotations.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QStringList>

#include <algorithm>
#include <utility>
#include <vector>

namespace mltest {

/// SHA-256 of the file at `path`, empty when it cannot be read: a user's file before and after.
inline QByteArray fileSha256(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return h.result();
}

inline QString imlFieldsDir()
{
    return QStringLiteral(MALARIALENS_SHARED_DATA "/iml-fields");
}

/// The `count` annotated IML fields with the most parasites (ties by name), linked into
/// `folder` (created). Returns the linked file names, empty when something failed.
inline QStringList linkRichestFields(const ml::FieldAnnotationSet& truth, int count,
                                     const QString& folder)
{
    std::vector<std::pair<int, QString>> ranked;
    const QDir images(imlFieldsDir() + QStringLiteral("/images"));
    for (const ml::FieldAnnotation& f : truth.byName)
        if (images.exists(f.imageName))
            ranked.emplace_back(-f.infectedCount(), f.imageName);
    std::sort(ranked.begin(), ranked.end());
    if (!QDir().mkpath(folder))
        return {};
    QStringList out;
    for (int i = 0; i < count && i < int(ranked.size()); ++i) {
        const QString name = ranked[size_t(i)].second;
        if (!QFile::link(images.filePath(name), QDir(folder).filePath(name)))
            return {};
        out << name;
    }
    return out;
}

} // namespace mltest
