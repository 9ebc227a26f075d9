#include "mainwindow.h"

#include "modelcardsummary.h"

#include "browserpage.h"
#include "calibrationwizard.h"
#include "classifypage.h"
#include "datasetsession.h"
#include "evaluationpage.h"
#include "explorepage.h"
#include "fieldpage.h"
#include "gridpage.h"
#include "imagelistmodel.h"
#include "modelregistry.h"
#include "modelsession.h"
#include "registrypage.h"
#include "reviewpage.h"
#include "summarypage.h"
#include "thumbnailservice.h"
#include "trainingpage.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QThread>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>

namespace ml {

namespace {
constexpr int kMaxRecent = 10;
const char* kRecentKey = "recentFolders";
} // namespace

void applyPalette(bool dark)
{
    // Fusion draws the same on every platform, so the dark palette reads the same everywhere.
    static const QPalette original = QApplication::palette();
    if (!dark) {
        QApplication::setPalette(original);
        return;
    }
    QApplication::setStyle(QStringLiteral("Fusion"));
    QPalette p;
    p.setColor(QPalette::Window, QColor(45, 47, 51));
    p.setColor(QPalette::WindowText, QColor(230, 230, 230));
    p.setColor(QPalette::Base, QColor(30, 32, 35));
    p.setColor(QPalette::AlternateBase, QColor(40, 42, 46));
    p.setColor(QPalette::Text, QColor(230, 230, 230));
    p.setColor(QPalette::Button, QColor(55, 57, 61));
    p.setColor(QPalette::ButtonText, QColor(230, 230, 230));
    p.setColor(QPalette::Highlight, QColor(60, 120, 200));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::ToolTipBase, QColor(55, 57, 61));
    p.setColor(QPalette::ToolTipText, QColor(230, 230, 230));
    p.setColor(QPalette::PlaceholderText, QColor(150, 150, 150));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 120));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 120));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 120, 120));
    QApplication::setPalette(p);
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_session(new DatasetSession(this)), m_models(new ModelSession(this)),
      m_thumbnails(new ThumbnailService(this)), m_tabs(new QTabWidget(this)),
      m_browser(new BrowserPage(m_thumbnails, this)), m_grid(new GridPage(this)),
      m_summary(new SummaryPage(this)), m_explore(new ExplorePage(this)),
      m_classify(new ClassifyPage(m_models, this)),
      m_evaluation(new EvaluationPage(m_models, m_thumbnails, this)), m_fields(new FieldPage(this)),
      m_training(new TrainingPage(m_models, this)), m_registry(new RegistryPage(m_models, this)),
      m_statusLabel(new QLabel(this)), m_progress(new QProgressBar(this)),
      m_cancel(new QToolButton(this))
{
    setWindowTitle(tr("MalariaLens"));
    setAcceptDrops(true);
    // Leave a core for the GUI and the thumbnails on a 2-core machine.
    m_session->setSummaryThreads(std::max(1, QThread::idealThreadCount() - 1));

    m_tabs->addTab(m_browser, tr("&Browse"));
    m_tabs->addTab(m_grid, tr("&Grid"));
    m_tabs->addTab(m_summary, tr("&Summary"));
    m_tabs->addTab(m_explore, tr("&Explore"));
    m_tabs->addTab(m_classify, tr("&Classify"));
    m_tabs->addTab(m_evaluation, tr("E&valuate"));
    m_tabs->addTab(m_fields, tr("&Fields"));
    m_tabs->addTab(m_training, tr("&Train"));
    m_tabs->addTab(m_registry, tr("&Models"));
    // Review (issue 8): last, so the page numbers of the other pages (--page) stay.
    m_review = new ReviewPage(m_models, this);
    m_tabs->addTab(m_review, tr("Revie&w")); // Alt+W: Alt+V is Evaluate
    // Every folder is listed with the reviewer's corrections applied to its labels.
    m_session->setCorrectionsDatabase(m_review->databasePath());
    m_tabs->setAccessibleName(tr("Pages"));
    setCentralWidget(m_tabs);

    m_progress->setMaximumWidth(240);
    m_progress->setVisible(false);
    m_progress->setAccessibleName(tr("Progress"));
    m_cancel->setText(tr("Cancel"));
    m_cancel->setVisible(false);
    m_cancel->setAccessibleName(tr("Cancel the running job"));
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    connect(m_cancel, &QToolButton::clicked, m_session, &DatasetSession::cancel);
    connect(m_cancel, &QToolButton::clicked, m_models, &ModelSession::cancel);

    createActions();
    connect(m_fields, &FieldPage::calibrateRequested, this, &MainWindow::startCalibration);
    connect(m_classify, &ClassifyPage::calibrateRequested, this,
            [this] { startCalibration(QString()); });

    connect(m_session, &DatasetSession::scanStarted, this, [this](const QString& folder) {
        setBusy(true, tr("Listing %1 ...").arg(QDir::toNativeSeparators(folder)));
        m_progress->setRange(0, 0);
    });
    connect(m_session, &DatasetSession::scanProgress, this, [this](int n) {
        m_statusLabel->setText(tr("Listing ... %n image(s) found", nullptr, n));
    });
    connect(m_session, &DatasetSession::scanFailed, this,
            [this](const QString& folder, const QString& reason) {
                setBusy(false,
                        tr("Could not open %1: %2").arg(QDir::toNativeSeparators(folder), reason));
                QMessageBox::warning(
                    this, tr("Cannot open folder"),
                    tr("The folder %1 could not be opened:\n%2\n\nThe previous folder stays open.")
                        .arg(QDir::toNativeSeparators(folder), reason));
            });
    connect(m_session, &DatasetSession::datasetChanged, this,
            [this](std::shared_ptr<const Dataset> ds) {
                setWindowTitle(tr("%1 - MalariaLens").arg(QDir::toNativeSeparators(ds->root)));
                m_browser->setDataset(ds);
                m_grid->setDataset(ds);
                m_summary->setDataset(ds);
                m_explore->setDataset(ds);
                m_classify->setDataset(ds);
                m_training->setDataset(ds);
                m_review->setDataset(ds);
                const QString kind = ds->isLabelled()
                                         ? tr("%n class(es)", nullptr, int(ds->classNames.size()))
                                         : tr("unlabeled");
                m_statusLabel->setText(
                    tr("%1 images, %2, %3 patients/slides; checking every image ...")
                        .arg(ds->images.size())
                        .arg(kind)
                        .arg(ds->countPerPatient().size()));
                m_progress->setRange(0, std::max(1, int(ds->images.size())));
                m_progress->setValue(0);
            });
    connect(m_session, &DatasetSession::summaryProgress, this, [this](int done, int total) {
        m_progress->setRange(0, total);
        m_progress->setValue(done);
    });
    connect(m_session, &DatasetSession::summaryReady, this,
            [this](std::shared_ptr<const DatasetSummary> s) {
                m_summary->setSummary(s);
                setBusy(false,
                        tr("%1 usable images, %2 skipped").arg(s->images).arg(s->skipped.size()));
            });
    connect(m_session, &DatasetSession::cancelled, this,
            [this] { setBusy(false, tr("Cancelled.")); });

    connectModelSession();
    // Start with the model the user chose last (registry), else the embedded default.
    ModelRegistry().cleanStale();
    QString modelError;
    if (!m_registry->restoreActiveModel(&modelError) && !m_models->hasModel()) {
        QString embeddedError;
        if (!m_models->useEmbedded(&embeddedError))
            QTimer::singleShot(0, this, [this, embeddedError] {
                m_statusLabel->setText(
                    tr("No default model: %1. Load a model on the Classify page.")
                        .arg(embeddedError));
            });
    }

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry")))
        resize(1280, 820);
    m_statusLabel->setText(
        tr("Open a folder of cell images (File > Open Folder, or drop it here)."));
}

CalibrationWizard* MainWindow::startCalibration(const QString& folder)
{
    auto* wizard = new CalibrationWizard(m_models->classifier(), folder, this);
    wizard->setAttribute(Qt::WA_DeleteOnClose);
    wizard->setDatabasePath(m_review->databasePath());
    wizard->setRegistryRoot(m_registry->registryRoot());
    connect(wizard, &CalibrationWizard::modelKept, m_registry, &RegistryPage::refresh);
    connect(wizard, &CalibrationWizard::activateRequested, this, [this](const QString& id) {
        QString error;
        if (m_registry->activate(id, &error))
            m_statusLabel->setText(tr("The lab's calibrated model is now active."));
        else
            QMessageBox::warning(this, tr("Cannot activate the model"), error);
    });
    wizard->show();
    return wizard;
}

// Classification progress and results reach the status bar, the thumbnails and the pages
// that use the active model.
void MainWindow::connectModelSession()
{
    // Classification: progress in the status bar, badges on the thumbnails.
    connect(m_models, &ModelSession::classificationStarted, this, [this](int total) {
        setBusy(true, tr("Classifying %n image(s) ...", nullptr, total));
        m_progress->setRange(0, std::max(1, total));
        m_progress->setValue(0);
        m_browser->model()->setResults(m_models->results());
    });
    connect(m_models, &ModelSession::progress, this, [this](int done, int total) {
        m_progress->setRange(0, std::max(1, total));
        m_progress->setValue(done);
    });
    connect(m_models, &ModelSession::resultsUpdated, m_browser->model(),
            &ImageListModel::resultsUpdated);
    connect(m_models, &ModelSession::thresholdChanged, this,
            [this] { m_browser->model()->resultsUpdated(0, m_browser->model()->rowCount() - 1); });
    connect(m_models, &ModelSession::resultsCleared, this,
            [this] { m_browser->model()->setResults(nullptr); });
    connect(m_models, &ModelSession::classificationFinished, this,
            [this](bool cancelled, const QString& error, double seconds, double perSecond) {
                if (!error.isEmpty())
                    setBusy(false, tr("Classification failed: %1").arg(error));
                else if (cancelled)
                    setBusy(false,
                            tr("Classification cancelled; partial results shown as partial."));
                else
                    setBusy(false, tr("Classified in %1 s (%2 images/s).")
                                       .arg(seconds, 0, 'f', 1)
                                       .arg(perSecond, 0, 'f', 0));
            });
    // Re-read the folder so every page uses the corrected labels; classify again when the
    // folder had been classified (the evaluation compares with the labels).
    connect(m_review, &ReviewPage::applyCorrectionsRequested, this, [this] {
        const auto ds = m_session->dataset();
        if (!ds)
            return;
        if (m_models->results())
            connect(
                m_session, &DatasetSession::datasetChanged, m_classify,
                [this] { m_classify->classify(); },
                static_cast<Qt::ConnectionType>(Qt::QueuedConnection | Qt::SingleShotConnection));
        m_session->open(ds->root);
    });
    connect(m_browser, &BrowserPage::fieldAnalysisRequested, this, [this](const QString& path) {
        m_tabs->setCurrentWidget(m_fields);
        m_fields->openField(path);
    });
    // The Fields page classifies its crops with the active model too; the Explore page shows
    // what it sees.
    connect(m_models, &ModelSession::modelChanged, this, [this] {
        m_fields->setClassifier(m_models->classifier());
        m_explore->setClassifier(m_models->classifier());
    });
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions()
{
    auto* fileMenu = menuBar()->addMenu(tr("&File"));
    auto* open = fileMenu->addAction(tr("&Open Folder..."), this, &MainWindow::chooseFolder);
    open->setShortcut(QKeySequence::Open);
    open->setIcon(style()->standardIcon(QStyle::SP_DirOpenIcon));
    open->setToolTip(tr("Open a folder of cell images (Ctrl+O)"));
    m_recentMenu = fileMenu->addMenu(tr("Open &Recent"));
    updateRecentMenu();
    fileMenu->addSeparator();
    auto* quit = fileMenu->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* viewMenu = menuBar()->addMenu(tr("&View"));
    auto* full = viewMenu->addAction(tr("&Full Screen"));
    full->setShortcut(QKeySequence::FullScreen);
    full->setCheckable(true);
    connect(full, &QAction::toggled, this,
            [this](bool on) { on ? showFullScreen() : showNormal(); });
    auto* zoomIn =
        viewMenu->addAction(tr("Zoom &In"), this, [this] { m_browser->zoomThumbnails(1); });
    zoomIn->setShortcut(QKeySequence::ZoomIn);
    auto* zoomOut =
        viewMenu->addAction(tr("Zoom &Out"), this, [this] { m_browser->zoomThumbnails(-1); });
    zoomOut->setShortcut(QKeySequence::ZoomOut);
    auto* dark = viewMenu->addAction(tr("&Dark Palette"));
    dark->setCheckable(true);
    dark->setChecked(QSettings().value(QStringLiteral("view/dark")).toBool());
    connect(dark, &QAction::toggled, this, [](bool on) {
        QSettings().setValue(QStringLiteral("view/dark"), on);
        applyPalette(on);
    });
    applyPalette(dark->isChecked());
    viewMenu->addSeparator();
    auto* grid3 = viewMenu->addAction(tr("Grid 3 x 3"), this, [this] {
        m_grid->setGridSize(3);
        m_tabs->setCurrentWidget(m_grid);
    });
    grid3->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_3));
    auto* grid6 = viewMenu->addAction(tr("Grid 6 x 6"), this, [this] {
        m_grid->setGridSize(6);
        m_tabs->setCurrentWidget(m_grid);
    });
    grid6->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_6));

    auto* helpMenu = menuBar()->addMenu(tr("&Help"));
    auto* keys = helpMenu->addAction(tr("&Keyboard Shortcuts"), this, &MainWindow::showShortcuts);
    keys->setShortcut(QKeySequence::HelpContents);
    helpMenu->addAction(tr("About the &Model"), this, &MainWindow::showModelCard);
    helpMenu->addAction(tr("&About MalariaLens"), this, &MainWindow::showAbout);

    auto* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName(QStringLiteral("mainToolbar"));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolbar->addAction(open);
    toolbar->addSeparator();
    toolbar->addAction(grid3);
    toolbar->addAction(grid6);
}

void MainWindow::chooseFolder()
{
    QSettings settings;
    const QStringList recent = settings.value(QLatin1String(kRecentKey)).toStringList();
    const QString dir =
        QFileDialog::getExistingDirectory(this, tr("Open a folder of cell images"),
                                          recent.isEmpty() ? QDir::homePath() : recent.first());
    if (!dir.isEmpty())
        openFolder(dir);
}

void MainWindow::openFolder(const QString& folder)
{
    const QString abs = QFileInfo(folder).absoluteFilePath();
    QSettings settings;
    QStringList recent = settings.value(QLatin1String(kRecentKey)).toStringList();
    recent.removeAll(abs);
    recent.prepend(abs);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue(QLatin1String(kRecentKey), recent);
    updateRecentMenu();
    m_thumbnails->clearPending();
    m_session->open(abs);
}

void MainWindow::updateRecentMenu()
{
    if (!m_recentMenu)
        return;
    m_recentMenu->clear();
    const QStringList recent = QSettings().value(QLatin1String(kRecentKey)).toStringList();
    for (int i = 0; i < recent.size(); ++i) {
        const QString path = recent.at(i);
        auto* a = m_recentMenu->addAction(
            QStringLiteral("&%1 %2").arg(i + 1).arg(QDir::toNativeSeparators(path)));
        connect(a, &QAction::triggered, this, [this, path] { openFolder(path); });
    }
    if (!recent.isEmpty())
        m_recentMenu->addSeparator();
    auto* clear = m_recentMenu->addAction(tr("Clear List"), this, [this] {
        QSettings().remove(QLatin1String(kRecentKey));
        updateRecentMenu();
    });
    clear->setEnabled(!recent.isEmpty());
}

void MainWindow::setBusy(bool busy, const QString& message)
{
    m_progress->setVisible(busy);
    m_cancel->setVisible(busy);
    if (!message.isEmpty())
        m_statusLabel->setText(message);
}

void MainWindow::showShortcuts()
{
    QMessageBox::information(
        this, tr("Keyboard shortcuts"),
        tr("<table>"
           "<tr><td><b>Ctrl+O</b></td><td>Open a folder</td></tr>"
           "<tr><td><b>Ctrl+3 / Ctrl+6</b></td><td>3 x 3 / 6 x 6 grid</td></tr>"
           "<tr><td><b>N</b></td><td>Next batch (grid page)</td></tr>"
           "<tr><td><b>Ctrl++ / Ctrl+-</b></td><td>Larger / smaller thumbnails</td></tr>"
           "<tr><td><b>F11</b></td><td>Full screen</td></tr>"
           "<tr><td><b>Ctrl+R</b></td><td>Classify the folder (Classify page)</td></tr>"
           "<tr><td><b>Alt+B / G / S / E / C / V / F / T / M / W</b></td><td>Browse / Grid / "
           "Summary / Explore / Classify / "
           "Evaluate / Fields / Train / Models / Review page</td></tr>"
           "<tr><td><b>P / U / X / S / Z</b></td><td>Review page: Parasitized / Uninfected / "
           "unsure / skip / undo</td></tr>"
           "<tr><td><b>Ctrl+Q</b></td><td>Quit</td></tr>"
           "</table>"));
}

void MainWindow::showAbout()
{
    QMessageBox::about(
        this, tr("About MalariaLens"),
        tr("<h3>MalariaLens %1</h3>"
           "<p>Offline malaria microscopy assistant: browse thin-smear cell images, "
           "explore them, classify red blood cells as Parasitized or Uninfected.</p>"
           "<p><b>Decision support, research use only.</b> Not a diagnostic device.</p>")
            .arg(QApplication::applicationVersion()));
}

void MainWindow::showModelCard()
{
    const QJsonObject card = m_models->classifier().card();
    QMessageBox box(this);
    box.setWindowTitle(tr("About the model"));
    box.setText(tr("<b>%1</b><br>Threshold %2")
                    .arg(m_models->modelName().toHtmlEscaped())
                    .arg(m_models->threshold(), 0, 'f', 3));
    box.setDetailedText(QString::fromUtf8(QJsonDocument(card).toJson(QJsonDocument::Indented)));
    QString info = tr("Architecture %1, %2 parameters, SHA-256 %3")
                       .arg(m_models->classifier().architecture())
                       .arg(m_models->classifier().parameterCount())
                       .arg(m_models->classifier().weightsSha256().left(16));
    const QString figures = modelCardSummary(card);
    if (!figures.isEmpty())
        info += QStringLiteral("<br><br>") + figures;
    box.setInformativeText(info);
    box.exec();
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    m_session->cancel();
    m_models->cancel();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() &&
        QFileInfo(urls.first().toLocalFile()).isDir())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        openFolder(urls.first().toLocalFile());
}

} // namespace ml
