#include "registrytablemodel.h"

#include <QFont>
#include <QLocale>

#include <cmath>

namespace ml {

namespace {

QString percent(double v)
{
    return std::isnan(v) ? QStringLiteral("–") : QStringLiteral("%1 %").arg(v * 100.0, 0, 'f', 1);
}

} // namespace

RegistryTableModel::RegistryTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RegistryTableModel::setEntries(const QList<RegistryEntry>& entries, bool hasEmbedded,
                                    const QJsonObject& embeddedCard)
{
    beginResetModel();
    m_rows.clear();
    if (hasEmbedded) {
        RegistryEntry e;
        e.id = ModelRegistry::embeddedId();
        e.name = tr("Embedded default");
        e.card = embeddedCard;
        e.architecture = embeddedCard.value(QStringLiteral("architecture")).toString();
        e.created = QDateTime::fromString(embeddedCard.value(QStringLiteral("date")).toString(),
                                          Qt::ISODate);
        e.metrics = RegistryMetrics::fromCard(embeddedCard);
        m_rows.append(e);
    }
    m_rows.append(entries);
    endResetModel();
}

void RegistryTableModel::setActiveId(const QString& id)
{
    if (id == m_activeId)
        return;
    const int before = rowOf(m_activeId);
    m_activeId = id;
    const int after = rowOf(m_activeId);
    for (int row : {before, after}) {
        if (row >= 0)
            Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    }
}

QString RegistryTableModel::idAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).id : QString();
}

int RegistryTableModel::rowOf(const QString& id) const
{
    if (id.isEmpty())
        return -1;
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).id == id)
            return i;
    }
    return -1;
}

RegistryEntry RegistryTableModel::entryAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row) : RegistryEntry();
}

int RegistryTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RegistryTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RegistryTableModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size() || index.column() >= ColumnCount)
        return {};
    const RegistryEntry& e = m_rows.at(index.row());
    const RegistryMetrics& m = e.metrics;
    const bool active = !m_activeId.isEmpty() && e.id == m_activeId;
    if (role == Qt::FontRole && active) {
        QFont f;
        f.setBold(true);
        return f;
    }
    if (role == Qt::ToolTipRole) {
        if (!e.problem.isEmpty())
            return tr("Damaged: %1").arg(e.problem);
        if (index.column() == MaxHealthyShare && !m.maxHealthyPatient.isEmpty())
            return tr("Largest share of cells called parasitized in a healthy validation "
                      "patient (%1); the goal is at most 5 %")
                .arg(m.maxHealthyPatient);
        if (index.column() == WorstPatient && !m.worstPatient.isEmpty())
            return tr("Lowest cell accuracy of any validation patient: %1").arg(m.worstPatient);
        if (index.column() == Split && m.split == QLatin1String("random"))
            return tr("Random split: cells of one patient on both sides inflate these figures");
        return e.folder.isEmpty() ? QVariant() : QVariant(e.folder);
    }
    if (role == Qt::TextAlignmentRole)
        return index.column() >= CellAccuracy ? QVariant(int(Qt::AlignRight | Qt::AlignVCenter))
                                              : QVariant();
    if (role != Qt::DisplayRole && role != Qt::UserRole)
        return {};
    const bool raw = role == Qt::UserRole;
    auto figure = [raw](double v) -> QVariant { return raw ? QVariant(v) : QVariant(percent(v)); };
    switch (index.column()) {
    case Name:
        if (raw)
            return e.name;
        return (active ? QStringLiteral("● ") : QString()) + e.name +
               (e.problem.isEmpty() ? QString() : tr(" (damaged)"));
    case Date:
        if (raw)
            return e.created;
        return e.created.isValid()
                   ? QLocale().toString(e.created.toLocalTime(), QLocale::ShortFormat)
                   : QString();
    case Architecture:
        return e.architecture;
    case Split:
        return m.split;
    case CellAccuracy:
        return figure(m.cellAccuracy);
    case PatientAccuracy:
        return figure(m.patientAccuracy);
    case Sensitivity:
        return figure(m.sensitivity);
    case Specificity:
        return figure(m.specificity);
    case Auc:
        if (raw)
            return m.auc;
        return std::isnan(m.auc) ? QStringLiteral("–") : QString::number(m.auc, 'f', 4);
    case WorstPatient:
        if (raw)
            return m.worstPatientAccuracy;
        return std::isnan(m.worstPatientAccuracy)
                   ? QStringLiteral("–")
                   : QStringLiteral("%1 (%2)").arg(percent(m.worstPatientAccuracy), m.worstPatient);
    case MaxHealthyShare:
        if (raw)
            return m.maxHealthyShare;
        if (std::isnan(m.maxHealthyShare))
            return QStringLiteral("–");
        // No healthy patient had a cell called parasitized (or none was validated): no name.
        return m.maxHealthyPatient.isEmpty()
                   ? percent(m.maxHealthyShare)
                   : QStringLiteral("%1 (%2)").arg(percent(m.maxHealthyShare), m.maxHealthyPatient);
    case Epochs:
        if (raw)
            return m.epochsRun;
        return m.epochsRun > 0 ? tr("%1 (best %2)").arg(m.epochsRun).arg(m.bestEpoch) : QString();
    default:
        return {};
    }
}

QVariant RegistryTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Name:
        return tr("Name");
    case Date:
        return tr("Trained");
    case Architecture:
        return tr("Arch");
    case Split:
        return tr("Split");
    case CellAccuracy:
        return tr("Cell acc.");
    case PatientAccuracy:
        return tr("Patient acc.");
    case Sensitivity:
        return tr("Sensitivity");
    case Specificity:
        return tr("Specificity");
    case Auc:
        return tr("AUC");
    case WorstPatient:
        return tr("Worst patient");
    case MaxHealthyShare:
        return tr("Max healthy share");
    case Epochs:
        return tr("Epochs");
    default:
        return {};
    }
}

} // namespace ml
