#pragma once

#include "dataset.h"

#include <QMap>
#include <QPair>
#include <QStringList>
#include <QWidget>

#include <memory>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QTableView;
class QTableWidget;

namespace ml {

class ConfirmCellsDialog;
class DetailView;
class ModelSession;
class ResultsFilterProxy;
class ResultsTableModel;

/// "Classify folder": the results table (sortable, filterable by class, probability range
/// and right/wrong), the per-patient summary, the selected cell, CSV export.
class ClassifyPage : public QWidget
{
    Q_OBJECT
public:
    /// `session` is not owned.
    explicit ClassifyPage(ModelSession* session, QWidget* parent = nullptr);

    void setDataset(std::shared_ptr<const Dataset> dataset);
    QTableView* resultsView() const { return m_view; }
    ResultsFilterProxy* proxy() const { return m_proxy; }
    QTableWidget* patientTable() const { return m_patients; }
    QLabel* summaryLabel() const { return m_summary; }
    /// The out-of-domain warning (hidden while the cells look like the training cells).
    QLabel* domainBanner() const { return m_domainBanner; }
    QPushButton* confirmButton() const { return m_confirm; }
    /// Where reviewers' confirmations go (the Review page's database by default).
    void setDatabasePath(const QString& path) { m_dbPath = path; }

public Q_SLOTS:
    void classify();
    /// Opens the gallery of the selected patient's most suspicious cells to confirm
    /// (window-modal, deleted on close; the patient table follows each decision). nullptr
    /// when no patient is selected or nothing is classified.
    ConfirmCellsDialog* confirmCells();
    /// Writes the results table as CSV to `path` (all rows, not just the filtered ones).
    bool exportCsv(const QString& path, QString* error = nullptr);
    /// Writes the PDF report of the current results to `path` in the background;
    /// reportWritten() follows.
    void exportReport(const QString& path);

Q_SIGNALS:
    void reportWritten(const QString& path, bool ok, const QString& error);
    /// The domain banner's "Calibrate for this lab…" link was followed.
    void calibrateRequested();

private:
    void chooseCsv();
    void chooseReport();
    void loadModel();
    void updateModelLabel();
    void updateFilters();
    void updatePatients();
    void updateSummary();
    void updateDomainBanner();
    void connectSession();
    /// Selects `patient`'s row in the patient table (after it was rebuilt).
    void selectPatient(const QString& patient);
    /// Cells of each patient whose latest label in the corrections database is Parasitized
    /// (a reviewer's confirmation), and who confirmed them.
    QMap<QString, QPair<int, QStringList>> confirmedPerPatient() const;
    void showSelected();

    ModelSession* m_session;
    std::shared_ptr<const Dataset> m_dataset;
    ResultsTableModel* m_model;
    ResultsFilterProxy* m_proxy;
    QTableView* m_view;
    QTableWidget* m_patients;
    DetailView* m_detail;
    QPushButton* m_classify;
    QPushButton* m_export;
    QPushButton* m_report;
    QLabel* m_modelLabel;
    QLabel* m_summary;
    QLabel* m_domainBanner;
    QPushButton* m_confirm;
    QComboBox* m_predicted;
    QComboBox* m_correctness;
    QDoubleSpinBox* m_low;
    QDoubleSpinBox* m_high;
    QString m_dbPath;
};

} // namespace ml
