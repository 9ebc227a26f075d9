#pragma once
// The pages of CalibrationWizard, in the order a technician meets them. Each page renders the
// wizard's state and starts its step through the wizard; none holds work of its own.

#include "classifier.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWizardPage>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace ml {

class CalibrationWizard;
class TrainingCurves;
struct CalibrationFigures;
struct LabCalibrationResult;

/// 1. The folder of the lab's field images, the lab's name and the reviewer's name.
class FieldsChoicePage : public QWizardPage
{
    Q_OBJECT
public:
    FieldsChoicePage(CalibrationWizard* wizard, const QString& folder);
    bool isComplete() const override;
    bool validatePage() override;
    QString folder() const;
    QStringList fieldFiles() const { return m_files; }
    QLineEdit* folderEdit() const { return m_folder; }
    QLineEdit* labEdit() const { return m_lab; }
    QLineEdit* reviewerEdit() const { return m_reviewer; }

private:
    void updateCount();
    CalibrationWizard* m_wizard;
    QLineEdit* m_folder;
    QLineEdit* m_lab;
    QLineEdit* m_reviewer;
    QLabel* m_count;
    QStringList m_files;
};

/// 2. Finding and classifying the cells, with progress and Stop.
class FindCellsPage : public QWizardPage
{
    Q_OBJECT
public:
    explicit FindCellsPage(CalibrationWizard* wizard);
    void initializePage() override;
    void cleanupPage() override;
    bool isComplete() const override { return m_done; }
    QLabel* statusLabel() const { return m_status; }

private:
    CalibrationWizard* m_wizard;
    QProgressBar* m_progress;
    QLabel* m_status;
    QPushButton* m_stop;
    QPushButton* m_again;
    bool m_done = false;
};

/// 3. The reviewer labels the proposed cells, one at a time (keys P, U, X, S, Z or the
/// buttons); the budget line says when there are enough labels to adapt.
class LabelCellsPage : public QWizardPage
{
    Q_OBJECT
public:
    explicit LabelCellsPage(CalibrationWizard* wizard);
    ~LabelCellsPage() override;
    void initializePage() override;
    bool isComplete() const override;
    /// The budget line ("N labelled: a parasitized, b uninfected; ...").
    QLabel* budgetLabel() const { return m_budget; }
    QLabel* storeLabel() const { return m_store; }
    /// What the key does: P, U, X, S or Z (the buttons call it too).
    void pressKey(int key);

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    void refresh();
    void showCell();
    void startHeatmap(int cell);
    CalibrationWizard* m_wizard;
    QLabel* m_context;
    QLabel* m_seen;
    QLabel* m_caption;
    QLabel* m_budget;
    QLabel* m_store;
    QPushButton* m_undo;
    QImage m_field;
    QString m_fieldPath;
    int m_heatmapCell = -1;
    QFutureWatcher<QImage> m_heatmap;
};

/// 4. Adapting: live curves, the log, Stop.
class AdaptPage : public QWizardPage
{
    Q_OBJECT
public:
    explicit AdaptPage(CalibrationWizard* wizard);
    void initializePage() override;
    void cleanupPage() override;
    bool isComplete() const override { return m_done; }
    TrainingCurves* curves() const { return m_curves; }
    QLabel* statusLabel() const { return m_status; }

private:
    CalibrationWizard* m_wizard;
    TrainingCurves* m_curves;
    QProgressBar* m_progress;
    QLabel* m_status;
    QPlainTextEdit* m_log;
    QPushButton* m_stop;
    QPushButton* m_again;
    bool m_done = false;
};

/// 5. Before/after on the lab's test fields, and Keep.
class ReportPage : public QWizardPage
{
    Q_OBJECT
public:
    explicit ReportPage(CalibrationWizard* wizard);
    void initializePage() override;
    bool validatePage() override;
    QTableWidget* figuresTable() const { return m_figures; }
    QLineEdit* nameEdit() const { return m_name; }
    QCheckBox* activateBox() const { return m_activate; }
    QLabel* statusLabel() const { return m_status; }
    /// The report's sentence on the lab's threshold (rich text): kept as before, chosen
    /// (against `maxFalsePositive`, with what it measured), or chosen without meeting it.
    static QString weightsSentence(const LabCalibrationResult& r);
    static QString thresholdSentence(const LabCalibrationResult& r, double maxFalsePositive);
    /// Empty, or that the corrected parasitemia counts the test fields' detections marked as
    /// no red cell (CalibrationFigures::detectionRates()) while the other figures do not.
    static QString notACellSentence(const CalibrationFigures& f);
    /// Empty, or that the lab's labels turned the pale-cell rule on (LabCalibrationResult::
    /// paleCells) and that the after column counts its calls.
    static QString paleCellSentence(const LabCalibrationResult& r);

private:
    void fillConfusion(QTableWidget* table, const CalibrationFigures& f);
    CalibrationWizard* m_wizard;
    QLabel* m_summary;
    QTableWidget* m_figures;
    QTableWidget* m_before;
    QTableWidget* m_after;
    QLineEdit* m_name;
    QCheckBox* m_activate;
    QLabel* m_status;
};

} // namespace ml
