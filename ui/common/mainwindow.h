#pragma once

#include <QMainWindow>

#include <memory>

class QLabel;
class QMenu;
class QProgressBar;
class QTabWidget;
class QToolButton;

namespace ml {

class BrowserPage;
class CalibrationWizard;
class ClassifyPage;
class DatasetSession;
class EvaluationPage;
class ExplorePage;
class FieldPage;
class ModelSession;
class RegistryPage;
class ReviewPage;
class TrainingPage;
class GridPage;
class SummaryPage;
class ThumbnailService;

/// Switches the application between the platform palette and a dark one (Fusion style).
void applyPalette(bool dark);

/// The application window: menus, toolbar, the pages as tabs, progress and cancel in the
/// status bar. State lives in DatasetSession; the pages render it.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Starts scanning `folder` in the background and remembers it in the recent list.
    void openFolder(const QString& folder);
    /// Opens the "Calibrate for this lab" flow on a folder of field images (may be empty),
    /// starting from the active model; labels go to the Review page's database, a kept model
    /// to the Models page. The window deletes itself when closed.
    CalibrationWizard* startCalibration(const QString& folder);

    DatasetSession* session() const { return m_session; }
    ModelSession* modelSession() const { return m_models; }
    ClassifyPage* classifyPage() const { return m_classify; }
    EvaluationPage* evaluationPage() const { return m_evaluation; }
    ExplorePage* explorePage() const { return m_explore; }
    FieldPage* fieldPage() const { return m_fields; }
    TrainingPage* trainingPage() const { return m_training; }
    RegistryPage* registryPage() const { return m_registry; }
    ReviewPage* reviewPage() const { return m_review; }
    BrowserPage* browserPage() const { return m_browser; }
    GridPage* gridPage() const { return m_grid; }
    SummaryPage* summaryPage() const { return m_summary; }
    QTabWidget* tabs() const { return m_tabs; }

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void connectModelSession();
    void createActions();
    void chooseFolder();
    void updateRecentMenu();
    void showShortcuts();
    void showAbout();
    void showModelCard();
    void setBusy(bool busy, const QString& message = {});

    DatasetSession* m_session;
    ModelSession* m_models;
    ThumbnailService* m_thumbnails;
    QTabWidget* m_tabs;
    BrowserPage* m_browser;
    GridPage* m_grid;
    SummaryPage* m_summary;
    ExplorePage* m_explore;
    ClassifyPage* m_classify;
    EvaluationPage* m_evaluation;
    FieldPage* m_fields;
    TrainingPage* m_training;
    RegistryPage* m_registry;
    ReviewPage* m_review = nullptr;
    QMenu* m_recentMenu = nullptr;
    QLabel* m_statusLabel;
    QProgressBar* m_progress;
    QToolButton* m_cancel;
};

} // namespace ml
