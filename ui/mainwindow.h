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
class DatasetSession;
class GridPage;
class SummaryPage;
class ThumbnailService;

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

    DatasetSession* session() const { return m_session; }
    BrowserPage* browserPage() const { return m_browser; }
    GridPage* gridPage() const { return m_grid; }
    SummaryPage* summaryPage() const { return m_summary; }
    QTabWidget* tabs() const { return m_tabs; }

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    void chooseFolder();
    void updateRecentMenu();
    void showShortcuts();
    void showAbout();
    void setBusy(bool busy, const QString& message = {});

    DatasetSession* m_session;
    ThumbnailService* m_thumbnails;
    QTabWidget* m_tabs;
    BrowserPage* m_browser;
    GridPage* m_grid;
    SummaryPage* m_summary;
    QMenu* m_recentMenu = nullptr;
    QLabel* m_statusLabel;
    QProgressBar* m_progress;
    QToolButton* m_cancel;
};

} // namespace ml
