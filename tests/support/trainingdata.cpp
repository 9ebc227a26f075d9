#include "trainingdata.h"

#include <QDir>
#include <QFile>

namespace ml::testing {

QString nihCellsFolder()
{
    return QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
}

bool hasNihCells()
{
    const QDir d(nihCellsFolder());
    return d.exists(QStringLiteral("Parasitized")) && d.exists(QStringLiteral("Uninfected"));
}

bool linkNihSubset(const QString& dest, int perClass, QString* error, int classes)
{
    const QStringList names{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};
    for (int c = 0; c < classes; ++c) {
        const QDir src(nihCellsFolder() + QLatin1Char('/') + names.at(c));
        const QStringList files = src.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        if (files.size() < perClass) {
            *error = QStringLiteral("%1 has only %2 images").arg(src.path()).arg(files.size());
            return false;
        }
        const QString out = dest + QLatin1Char('/') + names.at(c);
        QDir().mkpath(out);
        const double step = double(files.size()) / perClass;
        for (int i = 0; i < perClass; ++i) {
            const QString f = files.at(int(i * step));
            if (!QFile::link(src.filePath(f), out + QLatin1Char('/') + f)) {
                *error = QStringLiteral("cannot link %1 into %2").arg(f, out);
                return false;
            }
        }
    }
    return true;
}

} // namespace ml::testing
