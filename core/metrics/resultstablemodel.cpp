#include "resultstablemodel.h"

#include <QColor>
#include <QFileInfo>

namespace ml {

ResultsTableModel::ResultsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void ResultsTableModel::setResults(const ClassificationResults* results)
{
    beginResetModel();
    m_results = results;
    endResetModel();
}

void ResultsTableModel::rowsUpdated(int first, int last)
{
    if (!m_results || first > last)
        return;
    Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
}

void ResultsTableModel::allUpdated()
{
    if (m_results && m_results->size() > 0)
        rowsUpdated(0, m_results->size() - 1);
}

int ResultsTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() || !m_results ? 0 : m_results->size();
}

int ResultsTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ResultsTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case FileColumn:
        return tr("File");
    case PatientColumn:
        return tr("Patient");
    case TruthColumn:
        return tr("True label");
    case PredictedColumn:
        return tr("Predicted");
    case ProbabilityColumn:
        return tr("P(Parasitized)");
    case ResultColumn:
        return tr("Result");
    default:
        return {};
    }
}

QVariant ResultsTableModel::data(const QModelIndex& idx, int role) const
{
    if (!checkIndex(idx, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid) ||
        !m_results)
        return {};
    const int row = idx.row();
    const Dataset& ds = *m_results->dataset();
    const ImageEntry& e = ds.images.at(row);
    const int predicted = m_results->predicted(row);
    const int correct = m_results->correct(row);
    const double p = m_results->probability(row);
    switch (role) {
    case IndexRole:
        return row;
    case ProbabilityRole:
        return p;
    case PredictedRole:
        return predicted;
    case CorrectRole:
        return correct;
    case DoneRole:
        return m_results->isDone(row);
    default:
        break;
    }
    const int col = idx.column();
    if (role == Qt::DisplayRole || role == SortRole) {
        switch (col) {
        case FileColumn:
            return role == SortRole ? QVariant(e.relativePath)
                                    : QVariant(QFileInfo(e.relativePath).fileName());
        case PatientColumn:
            return e.patient;
        case TruthColumn:
            return ds.isLabelled() ? ds.className(e.label) : QString();
        case PredictedColumn:
            if (m_results->hasError(row))
                return tr("failed");
            return predicted >= 0 ? modelClassNames().at(predicted) : QString();
        case ProbabilityColumn:
            if (role == SortRole)
                return p;
            return p >= 0 ? QString::number(p, 'f', 3) : QString();
        case ResultColumn:
            if (role == SortRole)
                return correct;
            return correct < 0 ? QString() : correct ? tr("right") : tr("wrong");
        default:
            return {};
        }
    }
    if (role == Qt::ToolTipRole && m_results->hasError(row))
        return tr("Not classified: %1").arg(m_results->error(row));
    if (role == Qt::ToolTipRole && col == FileColumn)
        return e.relativePath;
    if (role == Qt::TextAlignmentRole && col == ProbabilityColumn)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ForegroundRole && col == ResultColumn && correct == 0)
        return QColor(200, 40, 40);
    if (role == Qt::ForegroundRole && col == PredictedColumn && m_results->hasError(row))
        return QColor(200, 40, 40);
    return {};
}

ResultsFilterProxy::ResultsFilterProxy(QObject* parent) : QSortFilterProxyModel(parent)
{
    setSortRole(ResultsTableModel::SortRole);
}

void ResultsFilterProxy::setPredictedFilter(int predicted)
{
    m_predicted = predicted;
    invalidateFilter();
}

void ResultsFilterProxy::setProbabilityRange(double low, double high)
{
    m_low = low;
    m_high = high;
    invalidateFilter();
}

void ResultsFilterProxy::setCorrectness(Correctness c)
{
    m_correctness = c;
    invalidateFilter();
}

bool ResultsFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex idx = sourceModel()->index(sourceRow, 0, sourceParent);
    if (!idx.data(ResultsTableModel::DoneRole).toBool())
        return false;
    const int predicted = idx.data(ResultsTableModel::PredictedRole).toInt();
    if (m_predicted == 2)
        return predicted < 0; // failed images only
    if (m_predicted >= 0 && predicted != m_predicted)
        return false;
    if (predicted >= 0) {
        const double p = idx.data(ResultsTableModel::ProbabilityRole).toDouble();
        if (p < m_low || p > m_high)
            return false;
    }
    const int correct = idx.data(ResultsTableModel::CorrectRole).toInt();
    if (m_correctness == Correctness::Right && correct != 1)
        return false;
    if (m_correctness == Correctness::Wrong && correct != 0)
        return false;
    return true;
}

} // namespace ml
