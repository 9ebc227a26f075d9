#include "modelregistry.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>

#include <algorithm>

Q_LOGGING_CATEGORY(lcRegistry, "malarialens.registry")

namespace ml {

namespace {

const char kIndexFile[] = "registry.json";
const char kModelFile[] = "model.pt";
const char kCardFile[] = "model.json";
const char kHistoryFile[] = "model.history.csv";
const char kPartialSuffix[] = ".partial";
const char kDeletingSuffix[] = ".deleting";

bool writeFileAtomic(const QString& path, const QByteArray& bytes, QString* error)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        *error = QStringLiteral("%1: cannot be written: %2").arg(path, f.errorString());
        return false;
    }
    if (f.write(bytes) != bytes.size()) {
        *error = QStringLiteral("%1: cannot be written: %2").arg(path, f.errorString());
        f.cancelWriting();
        return false;
    }
    // commit() flushes and renames; a full disk often shows up only here.
    if (!f.commit()) {
        *error = QStringLiteral("%1: cannot be written: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

bool readFile(const QString& path, QByteArray* bytes, QString* error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot be read: %2").arg(path, f.errorString());
        return false;
    }
    *bytes = f.readAll();
    if (f.error() != QFileDevice::NoError) {
        *error = QStringLiteral("%1: cannot be read: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

double numberOr(const QJsonObject& o, const char* key)
{
    const QJsonValue v = o.value(QLatin1String(key));
    return v.isDouble() ? v.toDouble() : qQNaN();
}

bool isEntryName(const QString& name)
{
    return !name.startsWith(QLatin1Char('.')) && !name.endsWith(QLatin1String(kPartialSuffix)) &&
           !name.endsWith(QLatin1String(kDeletingSuffix));
}

} // namespace

RegistryMetrics RegistryMetrics::fromCard(const QJsonObject& card)
{
    RegistryMetrics m;
    const QJsonObject v = card.value(QStringLiteral("validation")).toObject();
    const QJsonObject cells = v.value(QStringLiteral("cell_level")).toObject();
    const QJsonObject patients = v.value(QStringLiteral("patient_level")).toObject();
    m.cellAccuracy = numberOr(cells, "accuracy");
    m.sensitivity = numberOr(cells, "sensitivity");
    m.specificity = numberOr(cells, "specificity");
    m.auc = numberOr(cells, "auc");
    m.validationCells = cells.value(QStringLiteral("count")).toInt();
    m.patientAccuracy = numberOr(patients, "accuracy");
    m.worstPatientAccuracy = numberOr(v, "worst_patient_accuracy");
    m.worstPatient = v.value(QStringLiteral("worst_patient")).toString();
    m.maxHealthyShare = numberOr(v, "max_healthy_patient_parasitized_share");
    m.maxHealthyPatient = v.value(QStringLiteral("max_healthy_patient")).toString();
    const QJsonObject split = card.value(QStringLiteral("split")).toObject();
    m.split = split.value(QStringLiteral("mode")).toString();
    if (m.split == QLatin1String("none")) // a final fit: its figures are the folds'
        m.split =
            QStringLiteral("%1-fold, pooled").arg(split.value(QStringLiteral("folds")).toInt());
    const QJsonObject t = card.value(QStringLiteral("training")).toObject();
    m.epochsRun = t.value(QStringLiteral("epochs_run")).toInt();
    m.bestEpoch = t.value(QStringLiteral("best_epoch")).toInt();
    return m;
}

QString ModelRegistry::defaultRoot()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
           QStringLiteral("/models");
}

ModelRegistry::ModelRegistry(const QString& root)
    : m_root(QDir::cleanPath(root.isEmpty() ? defaultRoot() : QFileInfo(root).absoluteFilePath()))
{}

QString ModelRegistry::fileSafe(const QString& name)
{
    QString s = name.trimmed();
    s.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("_"));
    while (s.startsWith(QLatin1Char('.')) || s.startsWith(QLatin1Char('_')))
        s.remove(0, 1);
    return s.isEmpty() ? QStringLiteral("model") : s.left(80);
}

QJsonObject ModelRegistry::readIndex() const
{
    QFile f(QDir(m_root).filePath(QLatin1String(kIndexFile)));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError) {
        // Written atomically, so this means someone edited it: keep going with defaults.
        qCWarning(lcRegistry) << f.fileName() << "is not valid JSON:" << pe.errorString();
        return {};
    }
    return doc.object();
}

bool ModelRegistry::writeIndex(const QJsonObject& index, QString* error) const
{
    if (!QDir().mkpath(m_root)) {
        *error = QStringLiteral("%1: cannot create the folder").arg(m_root);
        return false;
    }
    QJsonObject o = index;
    o.insert(QStringLiteral("version"), 1);
    return writeFileAtomic(QDir(m_root).filePath(QLatin1String(kIndexFile)),
                           QJsonDocument(o).toJson(QJsonDocument::Indented), error);
}

RegistryEntry ModelRegistry::readEntry(const QString& id) const
{
    RegistryEntry e;
    e.id = id;
    e.folder = QDir(m_root).filePath(id);
    e.modelPath = QDir(e.folder).filePath(QLatin1String(kModelFile));
    e.cardPath = QDir(e.folder).filePath(QLatin1String(kCardFile));
    e.historyPath = QDir(e.folder).filePath(QLatin1String(kHistoryFile));
    if (!QFileInfo::exists(e.modelPath)) {
        e.problem = QStringLiteral("model file missing");
    }
    QFile f(e.cardPath);
    if (f.open(QIODevice::ReadOnly)) {
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
        if (pe.error == QJsonParseError::NoError && doc.isObject())
            e.card = doc.object();
        else if (e.problem.isEmpty())
            e.problem = QStringLiteral("model card unreadable: %1").arg(pe.errorString());
    } else if (e.problem.isEmpty()) {
        e.problem = QStringLiteral("model card missing");
    }
    e.architecture = e.card.value(QStringLiteral("architecture")).toString();
    e.created = QDateTime::fromString(e.card.value(QStringLiteral("date")).toString(), Qt::ISODate);
    if (!e.created.isValid())
        e.created = QFileInfo(e.folder).birthTime().isValid() ? QFileInfo(e.folder).birthTime()
                                                              : QFileInfo(e.folder).lastModified();
    e.metrics = RegistryMetrics::fromCard(e.card);
    const QString named =
        readIndex().value(QStringLiteral("names")).toObject().value(id).toString();
    if (!named.isEmpty()) {
        e.name = named;
    } else {
        // A readable default: architecture and local date of the training.
        e.name = QStringLiteral("%1 %2").arg(
            e.architecture.isEmpty() ? QStringLiteral("model") : e.architecture,
            e.created.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")));
    }
    return e;
}

QList<RegistryEntry> ModelRegistry::entries() const
{
    QList<RegistryEntry> list;
    const QStringList dirs = QDir(m_root).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    for (const QString& d : dirs) {
        if (isEntryName(d))
            list.append(readEntry(d));
    }
    std::stable_sort(list.begin(), list.end(), [](const RegistryEntry& a, const RegistryEntry& b) {
        return a.created != b.created ? a.created > b.created : a.id > b.id;
    });
    return list;
}

std::optional<RegistryEntry> ModelRegistry::entry(const QString& id) const
{
    if (id.isEmpty() || !isEntryName(id) || id.contains(QLatin1Char('/')) ||
        !QFileInfo(QDir(m_root).filePath(id)).isDir())
        return std::nullopt;
    return readEntry(id);
}

QString ModelRegistry::newId(const QString& arch) const
{
    // Sortable by time and readable; the random tail keeps two trainings finishing in the
    // same second (two controllers, two processes) apart.
    const QString stamp =
        QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    const QString tail = QString::number(QRandomGenerator::global()->bounded(0x10000), 16)
                             .rightJustified(4, QLatin1Char('0'));
    return QStringLiteral("%1-%2-%3")
        .arg(stamp, fileSafe(arch.isEmpty() ? QStringLiteral("model") : arch), tail);
}

QString ModelRegistry::createStaging(const QString& arch, QString* id, QString* error) const
{
    if (!QDir().mkpath(m_root)) {
        *error = QStringLiteral("%1: cannot create the model folder").arg(m_root);
        return {};
    }
    *id = newId(arch);
    const QString staging = QDir(m_root).filePath(*id + QLatin1String(kPartialSuffix));
    if (!QDir().mkpath(staging)) {
        *error = QStringLiteral("%1: cannot create the folder").arg(staging);
        return {};
    }
    return staging;
}

bool ModelRegistry::publishStaging(const QString& staging, const QString& id, QString* error) const
{
    // Publishing an entry is one rename of a complete folder.
    if (!QDir(m_root).rename(QFileInfo(staging).fileName(), id)) {
        *error = QStringLiteral("%1: cannot rename the new model folder to %2").arg(staging, id);
        return false;
    }
    return true;
}

std::optional<RegistryEntry> ModelRegistry::addEntry(const QByteArray& modelBytes,
                                                     const QJsonObject& card,
                                                     const QByteArray& historyCsv,
                                                     const QString& name, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    if (modelBytes.isEmpty()) {
        *error = QStringLiteral("no model to save");
        return std::nullopt;
    }
    QString id;
    const QString staging =
        createStaging(card.value(QStringLiteral("architecture")).toString(), &id, error);
    if (staging.isEmpty())
        return std::nullopt;
    auto fail = [&]() -> std::optional<RegistryEntry> {
        QDir(staging).removeRecursively();
        return std::nullopt;
    };
    const QDir s(staging);
    if (!writeFileAtomic(s.filePath(QLatin1String(kModelFile)), modelBytes, error))
        return fail();
    if (!writeFileAtomic(s.filePath(QLatin1String(kCardFile)),
                         QJsonDocument(card).toJson(QJsonDocument::Indented), error))
        return fail();
    if (!historyCsv.isEmpty() &&
        !writeFileAtomic(s.filePath(QLatin1String(kHistoryFile)), historyCsv, error))
        return fail();
    if (!publishStaging(staging, id, error))
        return fail();
    if (!name.trimmed().isEmpty()) {
        QString why;
        if (!rename(id, name, &why))
            qCWarning(lcRegistry).noquote() << "model saved but its name was not:" << why;
    }
    return readEntry(id);
}

std::optional<RegistryEntry>
ModelRegistry::importModel(const QString& modelPath, const ModelValidator& validate, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    QByteArray model, cardBytes, history;
    if (!readFile(modelPath, &model, error))
        return std::nullopt;
    if (model.isEmpty()) {
        *error = QStringLiteral("%1: the file is empty").arg(modelPath);
        return std::nullopt;
    }
    const QFileInfo fi(modelPath);
    const QString base = fi.dir().filePath(fi.completeBaseName());
    QJsonObject card;
    if (QFileInfo::exists(base + QStringLiteral(".json"))) {
        if (!readFile(base + QStringLiteral(".json"), &cardBytes, error))
            return std::nullopt;
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(cardBytes, &pe);
        if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
            *error = QStringLiteral("%1: the model card is not valid JSON: %2")
                         .arg(base + QStringLiteral(".json"), pe.errorString());
            return std::nullopt;
        }
        card = doc.object();
    }
    if (QFileInfo::exists(base + QStringLiteral(".history.csv")) &&
        !readFile(base + QStringLiteral(".history.csv"), &history, error))
        return std::nullopt;

    // Validate a private copy in a staging folder, so what is checked is what gets listed.
    QString id;
    const QString staging = createStaging(
        card.value(QStringLiteral("architecture")).toString(QStringLiteral("import")), &id, error);
    if (staging.isEmpty())
        return std::nullopt;
    auto fail = [&]() -> std::optional<RegistryEntry> {
        QDir(staging).removeRecursively();
        return std::nullopt;
    };
    const QDir s(staging);
    const QString stagedModel = s.filePath(QLatin1String(kModelFile));
    if (!writeFileAtomic(stagedModel, model, error))
        return fail();
    if (!card.isEmpty() && !writeFileAtomic(s.filePath(QLatin1String(kCardFile)), cardBytes, error))
        return fail();
    if (validate) {
        QJsonObject found;
        QString why;
        if (!validate(stagedModel, &found, &why)) {
            *error = QStringLiteral("%1: not a usable model: %2").arg(modelPath, why);
            return fail();
        }
        if (card.isEmpty() && !found.isEmpty())
            card = found;
    }
    if (card.isEmpty()) {
        *error = QStringLiteral("%1: no model card beside it (%2) and none from the loader")
                     .arg(modelPath, base + QStringLiteral(".json"));
        return fail();
    }
    if (!QFileInfo::exists(s.filePath(QLatin1String(kCardFile))) &&
        !writeFileAtomic(s.filePath(QLatin1String(kCardFile)),
                         QJsonDocument(card).toJson(QJsonDocument::Indented), error))
        return fail();
    if (!history.isEmpty() &&
        !writeFileAtomic(s.filePath(QLatin1String(kHistoryFile)), history, error))
        return fail();
    if (!publishStaging(staging, id, error))
        return fail();
    return readEntry(id);
}

QString ModelRegistry::exportPath(const QString& id, const QString& folder) const
{
    const auto e = entry(id);
    return QDir(folder).filePath(fileSafe(e ? e->name : id) + QStringLiteral(".pt"));
}

QString ModelRegistry::exportEntry(const QString& id, const QString& folder, bool overwrite,
                                   QString* error) const
{
    QString dummy;
    if (!error)
        error = &dummy;
    const auto e = entry(id);
    if (!e) {
        *error = QStringLiteral("no model '%1' in %2").arg(id, m_root);
        return {};
    }
    if (!e->isUsable()) {
        *error = QStringLiteral("%1: %2").arg(e->folder, e->problem);
        return {};
    }
    if (!QFileInfo(folder).isDir()) {
        *error = QStringLiteral("%1: not a folder").arg(folder);
        return {};
    }
    const QString base = QDir(folder).filePath(fileSafe(e->name));
    struct Item
    {
        QString from, to;
    };
    QList<Item> items{{e->modelPath, base + QStringLiteral(".pt")},
                      {e->cardPath, base + QStringLiteral(".json")}};
    if (QFileInfo::exists(e->historyPath))
        items.append({e->historyPath, base + QStringLiteral(".history.csv")});
    if (!overwrite) {
        for (const Item& it : items) {
            if (QFileInfo::exists(it.to)) {
                *error = QStringLiteral("%1 already exists").arg(it.to);
                return {};
            }
        }
    }
    // Read everything first: a failure then never leaves a half export of a broken entry.
    QList<QByteArray> data;
    for (const Item& it : items) {
        QByteArray b;
        if (!readFile(it.from, &b, error))
            return {};
        data.append(b);
    }
    // Card and history before the model: a model file that appears has its card beside it.
    for (int i = int(items.size()) - 1; i >= 0; --i) {
        if (!writeFileAtomic(items.at(i).to, data.at(i), error))
            return {};
    }
    return items.first().to;
}

bool ModelRegistry::rename(const QString& id, const QString& name, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    if (!entry(id)) {
        *error = QStringLiteral("no model '%1' in %2").arg(id, m_root);
        return false;
    }
    const QString trimmed = name.trimmed();
    QJsonObject index = readIndex();
    QJsonObject names = index.value(QStringLiteral("names")).toObject();
    if (trimmed.isEmpty())
        names.remove(id);
    else
        names.insert(id, trimmed);
    index.insert(QStringLiteral("names"), names);
    return writeIndex(index, error);
}

bool ModelRegistry::remove(const QString& id, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    if (!entry(id)) {
        *error = QStringLiteral("no model '%1' in %2").arg(id, m_root);
        return false;
    }
    // Rename first so a crash in the middle of the recursive delete never lists half an entry.
    const QString doomed = id + QLatin1String(kDeletingSuffix);
    QDir(QDir(m_root).filePath(doomed)).removeRecursively();
    if (!QDir(m_root).rename(id, doomed)) {
        *error = QStringLiteral("%1: cannot be deleted").arg(QDir(m_root).filePath(id));
        return false;
    }
    if (!QDir(QDir(m_root).filePath(doomed)).removeRecursively())
        qCWarning(lcRegistry) << "left over:" << QDir(m_root).filePath(doomed);
    QJsonObject index = readIndex();
    QJsonObject names = index.value(QStringLiteral("names")).toObject();
    names.remove(id);
    index.insert(QStringLiteral("names"), names);
    if (index.value(QStringLiteral("active")).toString() == id)
        index.insert(QStringLiteral("active"), embeddedId());
    return writeIndex(index, error);
}

bool ModelRegistry::setActive(const QString& id, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    if (id != embeddedId() && !entry(id)) {
        *error = QStringLiteral("no model '%1' in %2").arg(id, m_root);
        return false;
    }
    QJsonObject index = readIndex();
    index.insert(QStringLiteral("active"), id);
    return writeIndex(index, error);
}

QString ModelRegistry::activeId() const
{
    const QString id = readIndex().value(QStringLiteral("active")).toString();
    if (id.isEmpty() || id == embeddedId() || !entry(id))
        return embeddedId();
    return id;
}

void ModelRegistry::cleanStale() const
{
    const QStringList dirs = QDir(m_root).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& d : dirs) {
        if (d.endsWith(QLatin1String(kPartialSuffix)) || d.endsWith(QLatin1String(kDeletingSuffix)))
            QDir(QDir(m_root).filePath(d)).removeRecursively();
    }
}

} // namespace ml
