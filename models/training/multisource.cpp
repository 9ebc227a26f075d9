#include "multisource.h"

#include <QDir>
#include <QFileInfo>
#include <QSet>

#include <algorithm>

namespace ml {

QString sourceNameForFolder(const QString& folder)
{
    const QString name = QFileInfo(QDir::cleanPath(folder)).fileName();
    return name.isEmpty() ? QStringLiteral("source") : name;
}

bool isValidSourceName(const QString& name)
{
    return !name.trimmed().isEmpty() && !name.contains(QLatin1Char(':')) &&
           !name.contains(QLatin1Char('='));
}

namespace {

// The deepest folder that holds every root ("/" at worst).
QString commonAncestor(const QStringList& roots)
{
    QStringList common = QDir::cleanPath(roots.first()).split(QLatin1Char('/'));
    for (const QString& root : roots) {
        const QStringList parts = QDir::cleanPath(root).split(QLatin1Char('/'));
        int n = 0;
        while (n < common.size() && n < parts.size() && common.at(n) == parts.at(n))
            ++n;
        common = common.mid(0, n);
    }
    const QString joined = common.join(QLatin1Char('/'));
    return joined.isEmpty() ? QStringLiteral("/") : joined;
}

} // namespace

Dataset mergeSources(const QList<TrainingSource>& sources)
{
    Dataset merged;
    if (sources.isEmpty()) {
        merged.error = QStringLiteral("no labelled folder given");
        return merged;
    }
    QSet<QString> names;
    QStringList roots;
    for (const TrainingSource& s : sources) {
        if (!isValidSourceName(s.name)) {
            merged.error =
                QStringLiteral("'%1' is not a source name (not empty, no ':' or '=')").arg(s.name);
            return merged;
        }
        if (names.contains(s.name)) {
            merged.error = QStringLiteral("the source name '%1' is given twice").arg(s.name);
            return merged;
        }
        names.insert(s.name);
        if (!s.dataset.error.isEmpty()) {
            merged.error = QStringLiteral("%1: %2").arg(s.name, s.dataset.error);
            return merged;
        }
        if (s.dataset.classNames != sources.first().dataset.classNames) {
            merged.error = QStringLiteral("source %1 has the classes %2, source %3 has %4: every "
                                          "source needs the same class subfolders")
                               .arg(s.name, s.dataset.classNames.join(QLatin1String(", ")),
                                    sources.first().name,
                                    sources.first().dataset.classNames.join(QLatin1String(", ")));
            return merged;
        }
        roots << s.dataset.root;
    }
    if (sources.size() == 1) {
        merged = sources.first().dataset;
        for (ImageEntry& e : merged.images)
            e.source = sources.first().name;
        return merged;
    }
    merged.root = commonAncestor(roots);
    merged.classNames = sources.first().dataset.classNames;
    const QDir common(merged.root);
    merged.patientSource = sources.first().dataset.patientSource;
    for (const TrainingSource& s : sources) {
        const Dataset& ds = s.dataset;
        if (ds.patientSource != merged.patientSource)
            merged.patientSource = PatientSource::Mixed;
        for (int i = 0; i < int(ds.images.size()); ++i) {
            ImageEntry e = ds.images.at(i);
            e.relativePath = common.relativeFilePath(ds.absolutePath(i));
            e.patient = s.name + QLatin1Char(':') + e.patient;
            e.source = s.name;
            merged.images.append(e);
        }
        for (SkippedFile f : ds.skipped) {
            f.path = s.name + QLatin1Char(':') + f.path;
            merged.skipped.append(f);
        }
        merged.appliedCorrections += ds.appliedCorrections;
        merged.cancelled = merged.cancelled || ds.cancelled;
    }
    // The order a scanned folder has: by class, then relative path.
    std::stable_sort(
        merged.images.begin(), merged.images.end(), [](const ImageEntry& a, const ImageEntry& b) {
            return a.label != b.label ? a.label < b.label : a.relativePath < b.relativePath;
        });
    return merged;
}

QStringList sourceNames(const Dataset& dataset)
{
    QStringList names;
    for (const ImageEntry& e : dataset.images) {
        if (!e.source.isEmpty() && !names.contains(e.source))
            names << e.source;
    }
    return names;
}

std::vector<int> classBalancedOrder(const std::vector<int>& train, const std::vector<int>& labels,
                                    std::mt19937& rng)
{
    std::vector<int> perClass[2];
    for (int i : train) {
        const int label = labels[size_t(i)];
        if (label == 0 || label == 1)
            perClass[label].push_back(i);
    }
    std::vector<int> order;
    order.reserve(train.size());
    if (perClass[0].empty() || perClass[1].empty()) {
        order = train;
        std::shuffle(order.begin(), order.end(), rng);
        return order;
    }
    const size_t quota[2] = {train.size() / 2, train.size() - train.size() / 2};
    for (int c = 0; c < 2; ++c) {
        std::vector<int> pass = perClass[c];
        size_t drawn = 0;
        while (drawn < quota[c]) {
            std::shuffle(pass.begin(), pass.end(), rng);
            const size_t take = std::min(pass.size(), quota[c] - drawn);
            order.insert(order.end(), pass.begin(), pass.begin() + std::ptrdiff_t(take));
            drawn += take;
        }
    }
    std::shuffle(order.begin(), order.end(), rng);
    return order;
}

} // namespace ml
