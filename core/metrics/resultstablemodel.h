#pragma once

#include "classificationresults.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

namespace ml {

/// Table of per-image classification results: one row per image of the folder.
/// Columns: file, patient, true label, predicted class, P(Parasitized), right/wrong.
class ResultsTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        FileColumn,
        PatientColumn,
        TruthColumn,
        PredictedColumn,
        ProbabilityColumn,
        ResultColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, ///< numeric or text key the proxy sorts by
        IndexRole,                   ///< index into Dataset::images (int)
        ProbabilityRole,             ///< P(Parasitized), -1 when not classified (double)
        PredictedRole,               ///< 0, 1 or -1 (int)
        CorrectRole,                 ///< 1 right, 0 wrong, -1 unknown (int)
        DoneRole,                    ///< classified or failed (bool)
    };

    explicit ResultsTableModel(QObject* parent = nullptr);

    /// The results to show (not owned; must outlive the model or be replaced first).
    void setResults(const ClassificationResults* results);
    const ClassificationResults* results() const { return m_results; }
    /// Call after results for rows [first, last] were written.
    void rowsUpdated(int first, int last);
    /// Call after the threshold changed (every prediction may change).
    void allUpdated();

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    const ClassificationResults* m_results = nullptr;
};

/// Filters results by predicted class, probability range and right/wrong; sorts on
/// ResultsTableModel::SortRole. Rows not classified yet are hidden.
class ResultsFilterProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    enum class Correctness { Any, Right, Wrong };

    explicit ResultsFilterProxy(QObject* parent = nullptr);
    /// -1: any predicted class; 0 Parasitized; 1 Uninfected; 2 failed images only.
    void setPredictedFilter(int predicted);
    void setProbabilityRange(double low, double high);
    void setCorrectness(Correctness c);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    int m_predicted = -1;
    double m_low = 0.0, m_high = 1.0;
    Correctness m_correctness = Correctness::Any;
};

} // namespace ml
