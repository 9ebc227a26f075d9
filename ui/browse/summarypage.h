#pragma once

#include "dataset.h"
#include "datasetsummary.h"

#include <QWidget>

#include <memory>

class QCustomPlot;
class QLabel;
class QTableWidget;

namespace ml {

/// The dataset summary: class distribution bar chart, figures (sizes, pixel range,
/// channels), images per patient and every skipped file with its reason.
class SummaryPage : public QWidget
{
    Q_OBJECT
public:
    explicit SummaryPage(QWidget* parent = nullptr);

    /// Shows the listing at once (counts); figures that need decoding follow in setSummary().
    void setDataset(std::shared_ptr<const Dataset> dataset);
    void setSummary(std::shared_ptr<const DatasetSummary> summary);

    QCustomPlot* chart() const { return m_chart; }
    QTableWidget* figuresTable() const { return m_figures; }
    QTableWidget* patientTable() const { return m_patients; }
    QTableWidget* skippedTable() const { return m_skipped; }

private:
    void updateChart(const QMap<QString, int>& perClass);
    void setFigure(int row, const QString& name, const QString& value);

    std::shared_ptr<const Dataset> m_dataset;
    QCustomPlot* m_chart;
    QTableWidget* m_figures;
    QTableWidget* m_patients;
    QTableWidget* m_skipped;
    QLabel* m_status;
};

} // namespace ml
