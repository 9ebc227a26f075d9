#include "dataset.h"

#include <QDir>

namespace ml {

QString Dataset::absolutePath(int index) const
{
    return root + QLatin1Char('/') + images.at(index).relativePath;
}

QString Dataset::className(int label) const
{
    if (label >= 0 && label < classNames.size())
        return classNames.at(label);
    return QStringLiteral("unlabeled");
}

QMap<QString, int> Dataset::countPerClass() const
{
    QMap<QString, int> counts;
    for (const QString& c : classNames)
        counts.insert(c, 0);
    for (const ImageEntry& e : images)
        counts[className(e.label)] += 1;
    return counts;
}

QMap<QString, int> Dataset::countPerPatient() const
{
    QMap<QString, int> counts;
    for (const ImageEntry& e : images)
        counts[e.patient] += 1;
    return counts;
}

QMap<QString, QMap<int, int>> Dataset::countPerPatientAndClass() const
{
    QMap<QString, QMap<int, int>> counts;
    for (const ImageEntry& e : images)
        counts[e.patient][e.label] += 1;
    return counts;
}

} // namespace ml
