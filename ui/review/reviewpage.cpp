#include "reviewpage.h"

#include "classificationresults.h"
#include "correctionstore.h"
#include "heatmapview.h"
#include "modelsession.h"
#include "reviewsession.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QShortcut>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ml {

namespace {
const char* kReviewerKey = "review/reviewer";

// NIH file names have no spaces: a zero-width space after each '_' and '/' lets the label
// wrap them instead of cutting them off.
QString breakable(QString name)
{
    name.replace(QLatin1Char('_'), QStringLiteral("_\u200B"));
    name.replace(QLatin1Char('/'), QStringLiteral("/\u200B"));
    return name;
}
const char* kOrderKey = "review/order";
} // namespace

ReviewPage::ReviewPage(ModelSession* models, QWidget* parent)
    : QWidget(parent), m_models(models), m_session(new ReviewSession(this)),
      m_dbPath(CorrectionStore::defaultPath()), m_order(new QComboBox(this)),
      m_hideReviewed(new QCheckBox(tr("Hide &reviewed"), this)),
      m_build(new QPushButton(tr("Build &queue"), this)), m_reviewer(new QLineEdit(this)),
      m_banner(new QLabel(this)), m_status(new QLabel(this)), m_progress(new QProgressBar(this)),
      m_view(new HeatmapView(this)), m_info(new QLabel(this)), m_note(new QLineEdit(this)),
      m_parasitized(new QPushButton(tr("Parasitized  [P]"), this)),
      m_uninfected(new QPushButton(tr("Uninfected  [U]"), this)),
      m_unsure(new QPushButton(tr("Unsure  [X]"), this)),
      m_skip(new QPushButton(tr("Skip  [S]"), this)),
      m_undo(new QPushButton(tr("Undo  [Z]"), this)),
      m_apply(new QPushButton(tr("&Apply corrections to the folder"), this))
{
    m_order->addItem(tr("Uncertain first (probability near the threshold)"),
                     int(ReviewOrder::Uncertainty));
    m_order->addItem(tr("Label disagrees with the model (likely label errors)"),
                     int(ReviewOrder::Disagreement));
    m_order->addItem(tr("Most confident first"), int(ReviewOrder::Confidence));
    m_order->setAccessibleName(tr("Queue order"));
    QSettings settings;
    m_order->setCurrentIndex(std::clamp(settings.value(kOrderKey, 0).toInt(), 0, 2));
    m_hideReviewed->setChecked(true);
    m_hideReviewed->setToolTip(tr("Leave out cells that already have a decision in the database"));
    m_reviewer->setText(settings.value(kReviewerKey, defaultReviewerName()).toString());
    m_reviewer->setAccessibleName(tr("Reviewer name"));
    m_reviewer->setMaximumWidth(180);
    m_session->setReviewer(m_reviewer->text());
    m_banner->setWordWrap(true);
    m_banner->setVisible(false);
    m_banner->setStyleSheet(QStringLiteral("QLabel { background: #fde8e8; color: #7a1010; "
                                           "padding: 6px; border: 1px solid #e0a0a0; }"));
    m_status->setWordWrap(true);
    m_info->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_info->setMinimumWidth(260);
    m_note->setPlaceholderText(tr("Note for the next decision (optional)"));
    m_note->setAccessibleName(tr("Note"));
    m_progress->setFormat(tr("%v / %m"));
    m_progress->setAccessibleName(tr("Queue progress"));
    // :enabled only, so a disabled button still looks disabled.
    m_parasitized->setStyleSheet(
        QStringLiteral("QPushButton:enabled { color: #a01020; font-weight: bold; }"));
    m_uninfected->setStyleSheet(
        QStringLiteral("QPushButton:enabled { color: #107030; font-weight: bold; }"));
    m_apply->setToolTip(tr("Re-read the folder so the browser, evaluation and training use the "
                           "corrected labels"));

    auto* exportButton = new QPushButton(tr("E&xport CSV ..."), this);
    auto* importButton = new QPushButton(tr("&Import CSV ..."), this);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Order:"), this));
    top->addWidget(m_order, 1);
    top->addWidget(m_hideReviewed);
    top->addWidget(m_build);
    top->addSpacing(12);
    top->addWidget(new QLabel(tr("Reviewer:"), this));
    top->addWidget(m_reviewer);

    auto* decisions = new QGridLayout;
    decisions->addWidget(m_parasitized, 0, 0);
    decisions->addWidget(m_uninfected, 0, 1);
    decisions->addWidget(m_unsure, 1, 0);
    decisions->addWidget(m_skip, 1, 1);
    decisions->addWidget(m_undo, 2, 0, 1, 2);

    auto* side = new QVBoxLayout;
    side->addWidget(m_info);
    side->addWidget(m_note);
    side->addLayout(decisions);
    side->addWidget(m_progress);
    side->addStretch(1);
    side->addWidget(m_apply);
    auto* files = new QHBoxLayout;
    files->addWidget(exportButton);
    files->addWidget(importButton);
    side->addLayout(files);

    auto* middle = new QHBoxLayout;
    middle->addWidget(m_view, 3);
    middle->addLayout(side, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_banner);
    layout->addWidget(m_status);
    layout->addLayout(middle, 1);

    connect(m_build, &QPushButton::clicked, this, &ReviewPage::buildQueue);
    connect(m_order, &QComboBox::currentIndexChanged, this,
            [](int i) { QSettings().setValue(kOrderKey, i); });
    connect(m_reviewer, &QLineEdit::editingFinished, this, [this] {
        const QString name = m_reviewer->text().trimmed();
        m_session->setReviewer(name.isEmpty() ? defaultReviewerName() : name);
        QSettings().setValue(kReviewerKey, m_session->reviewer());
    });
    connect(m_parasitized, &QPushButton::clicked, this,
            [this] { decide(QStringLiteral("Parasitized")); });
    connect(m_uninfected, &QPushButton::clicked, this,
            [this] { decide(QStringLiteral("Uninfected")); });
    connect(m_unsure, &QPushButton::clicked, this, [this] { decide(unsureLabel()); });
    connect(m_skip, &QPushButton::clicked, m_session, &ReviewSession::skip);
    connect(m_undo, &QPushButton::clicked, this, [this] {
        if (!m_session->undo() && !m_session->errorString().isEmpty())
            m_status->setText(m_session->errorString());
    });
    connect(m_apply, &QPushButton::clicked, this, &ReviewPage::applyCorrectionsRequested);
    connect(exportButton, &QPushButton::clicked, this, &ReviewPage::exportCsv);
    connect(importButton, &QPushButton::clicked, this, &ReviewPage::importCsv);
    connect(m_session, &ReviewSession::currentChanged, this, &ReviewPage::showCurrent);
    connect(m_session, &ReviewSession::storeFailed, this, [this](const QString& message) {
        m_banner->setText(message);
        m_banner->setVisible(true);
    });
    connect(&m_queueWatcher, &QFutureWatcher<std::vector<ReviewItem>>::finished, this,
            &ReviewPage::onQueueBuilt);
    connect(m_models, &ModelSession::classificationFinished, this,
            [this](bool cancelled, const QString& error) {
                if (!m_waitingForClassification) {
                    // Classified from another page: the queue is ready to build at once.
                    if (cancelled || !error.isEmpty() || !isVisible() || m_session->size() > 0 ||
                        m_queueWatcher.isRunning() || !resultsComplete())
                        return;
                    startQueueJob();
                    return;
                }
                m_waitingForClassification = false;
                m_build->setEnabled(true);
                if (cancelled || !error.isEmpty()) {
                    m_status->setText(error.isEmpty() ? tr("Classification cancelled: no queue.")
                                                      : tr("Classification failed: %1").arg(error));
                    return;
                }
                startQueueJob();
            });
    connect(m_models, &ModelSession::progress, this, [this](int done, int total) {
        if (m_waitingForClassification)
            m_status->setText(
                tr("Classifying the folder for the queue: %1 / %2 ...").arg(done).arg(total));
    });

    // Keyboard-driven: one key per decision. Single-letter shortcuts do not fire while the
    // note field has focus (it takes the letters), so a note can be typed freely. Backspace
    // is deliberately not an undo key: in the note field it must only delete a character.
    auto key = [this](const QKeySequence& k, auto slot) {
        auto* s = new QShortcut(k, this, slot);
        s->setContext(Qt::WidgetWithChildrenShortcut);
    };
    key(QKeySequence(Qt::Key_P), [this] { decide(QStringLiteral("Parasitized")); });
    key(QKeySequence(Qt::Key_U), [this] { decide(QStringLiteral("Uninfected")); });
    key(QKeySequence(Qt::Key_X), [this] { decide(unsureLabel()); });
    key(QKeySequence(Qt::Key_S), [this] { m_session->skip(); });
    key(QKeySequence(Qt::Key_Space), [this] { m_session->skip(); });
    key(QKeySequence(Qt::Key_Z), [this] { m_undo->click(); });
    key(QKeySequence::Undo, [this] { m_undo->click(); });
    key(QKeySequence(Qt::Key_Left), [this] { m_session->goTo(m_session->position() - 1); });
    key(QKeySequence(Qt::Key_Right), [this] { m_session->goTo(m_session->position() + 1); });

    showCurrent();
}

ReviewPage::~ReviewPage()
{
    m_queueWatcher.waitForFinished();
}

void ReviewPage::setDatabasePath(const QString& path)
{
    m_dbPath = path;
    m_storeTried = false;
}

QString ReviewPage::databaseMessage() const
{
    return m_banner->isVisible() ? m_banner->text() : QString();
}

void ReviewPage::setOrder(ReviewOrder order)
{
    m_order->setCurrentIndex(m_order->findData(int(order)));
}

void ReviewPage::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    ensureStore();
    // The folder is classified already: show its queue without asking.
    if (m_session->size() == 0 && !m_queueWatcher.isRunning() && !m_waitingForClassification &&
        resultsComplete())
        startQueueJob();
}

bool ReviewPage::resultsComplete() const
{
    const auto results = m_models->results();
    return m_dataset && results && results->dataset() == m_dataset && !m_models->isRunning() &&
           results->classified() + results->failed() >= results->size();
}

bool ReviewPage::ensureStore()
{
    if (!m_storeTried) {
        m_storeTried = true;
        m_session->openStore(m_dbPath);
        updateBanner();
    }
    return !m_session->isReadOnly();
}

void ReviewPage::updateBanner()
{
    QString message;
    if (!m_session->store().isOpen())
        message = tr("Corrections cannot be used: %1. Reviewing is off; the rest of the "
                     "application works as usual.")
                      .arg(m_session->storeMessage());
    else if (m_session->isReadOnly())
        message = tr("Read-only: %1. Existing corrections are shown and used, new decisions "
                     "cannot be saved.")
                      .arg(m_session->storeMessage());
    m_banner->setText(message);
    m_banner->setVisible(!message.isEmpty());
    const bool writable = !m_session->isReadOnly();
    for (QPushButton* b : {m_parasitized, m_uninfected, m_unsure, m_undo})
        b->setEnabled(writable && m_session->current());
}

void ReviewPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    m_session->setQueue(m_dataset, {});
    m_status->setText(m_dataset ? tr("%n image(s). Choose an order and build the queue.", nullptr,
                                     int(m_dataset->images.size()))
                                : QString());
}

void ReviewPage::buildQueue()
{
    ensureStore();
    if (!m_dataset || m_dataset->images.isEmpty()) {
        m_status->setText(tr("Open a folder of cell images first."));
        return;
    }
    if (resultsComplete()) {
        startQueueJob();
        return;
    }
    if (!m_models->hasModel()) {
        m_status->setText(tr("No model is loaded: the queue needs the model's probabilities."));
        return;
    }
    if (!m_models->classify(m_dataset)) {
        m_status->setText(tr("The model is busy; try again when the classification has finished."));
        return;
    }
    m_waitingForClassification = true;
    m_build->setEnabled(false);
    m_status->setText(tr("Classifying the folder for the queue ..."));
}

void ReviewPage::startQueueJob()
{
    const auto results = m_models->results();
    if (!results || results->dataset() != m_dataset)
        return;
    std::vector<float> probability(size_t(results->size()));
    for (int i = 0; i < results->size(); ++i)
        probability[size_t(i)] = results->probability(i);
    const auto dataset = m_dataset;
    const double threshold = m_models->threshold();
    const auto order = ReviewOrder(m_order->currentData().toInt());
    const bool hide = m_hideReviewed->isChecked();
    const QString db = m_dbPath;
    m_build->setEnabled(false);
    m_status->setText(tr("Building the queue ..."));
    m_queueWatcher.setFuture(QtConcurrent::run([=] {
        QSet<int> reviewed;
        if (hide && QFileInfo::exists(db)) {
            // Its own connection: QSqlDatabase connections belong to one thread.
            CorrectionStore store;
            if (store.open(db)) {
                QSet<QString> paths, hashes;
                QSet<qint64> sizes;
                for (const Correction& c : store.all()) {
                    paths.insert(c.path);
                    if (!c.sha256.isEmpty()) {
                        hashes.insert(c.sha256);
                        sizes.insert(c.bytes);
                    }
                }
                for (int i = 0; i < dataset->images.size(); ++i) {
                    const QString path = dataset->absolutePath(i);
                    if (paths.contains(path) || (sizes.contains(dataset->images.at(i).bytes) &&
                                                 hashes.contains(sha256OfFile(path))))
                        reviewed.insert(i);
                }
            }
        }
        return buildReviewQueue(*dataset, probability, threshold, order, reviewed);
    }));
}

void ReviewPage::onQueueBuilt()
{
    m_build->setEnabled(true);
    std::vector<ReviewItem> queue = m_queueWatcher.result();
    const int n = int(queue.size());
    m_session->setQueue(m_dataset, std::move(queue));
    m_status->setText(
        n == 0 ? tr("The queue is empty: nothing to review in this order.")
               : tr("%n cell(s) to review. Keys: P Parasitized, U Uninfected, X unsure, S or "
                    "Space skip, Z undo, arrows move.",
                    nullptr, n));
    setFocus();
    Q_EMIT queueReady(n);
}

void ReviewPage::showCurrent()
{
    const ReviewItem* item = m_session->current();
    m_progress->setRange(0, std::max(1, m_session->size()));
    m_progress->setValue(m_session->position());
    m_progress->setFormat(m_session->size() > 0 ? tr("%v / %m") : tr("no queue"));
    m_skip->setEnabled(item);
    updateBanner();
    m_undo->setEnabled(!m_session->isReadOnly() && m_session->canUndo());
    if (!item || !m_dataset) {
        m_view->clear();
        m_view->canvas()->setMessage(
            m_session->size() > 0 ? tr("Queue done.") : tr("Build the queue to start reviewing."));
        m_info->setText(m_session->size() > 0 ? tr("<b>Queue done.</b> %n decision(s) recorded.",
                                                   nullptr, m_session->decided())
                                              : QString());
        return;
    }
    const ImageEntry& e = m_dataset->images.at(item->index);
    const QString path = m_dataset->absolutePath(item->index);
    QString label = m_dataset->className(e.label).toHtmlEscaped();
    if (e.corrected)
        label += tr(" <i>(corrected; folder says %1)</i>")
                     .arg(m_dataset->className(e.folderLabel).toHtmlEscaped());
    const QString now = m_session->effectiveLabel(item->index);
    const bool changed = now != m_dataset->className(e.label);
    m_info->setText(
        tr("<b>%1</b><br>Patient %2<br>Label: %3%4<br>P(Parasitized) = <b>%5</b> "
           "(threshold %6)<br>Model says: <b>%7</b>")
            .arg(breakable(e.relativePath).toHtmlEscaped(), e.patient.toHtmlEscaped(), label,
                 changed ? tr("<br>Decided now: <b>%1</b>").arg(now.toHtmlEscaped()) : QString())
            .arg(double(item->probability), 0, 'f', 3)
            .arg(m_models->threshold(), 0, 'f', 2)
            .arg(item->predicted == 0 ? tr("Parasitized") : tr("Uninfected")));
    m_view->showCell(path, m_models->classifier(), m_models->threshold());
}

void ReviewPage::decide(const QString& label)
{
    if (!m_session->current())
        return;
    if (!ensureStore()) {
        updateBanner();
        return;
    }
    if (m_session->decide(label, m_note->text().trimmed())) {
        m_note->clear();
        m_status->setText(tr("Saved. %n decision(s) in this queue; \"Apply corrections to the "
                             "folder\" makes the browser, evaluation and training use them.",
                             nullptr, m_session->decided()));
    } else {
        m_status->setText(m_session->errorString());
    }
}

void ReviewPage::exportCsv()
{
    ensureStore();
    if (!m_session->store().isOpen()) {
        QMessageBox::warning(this, tr("Export corrections"), m_session->storeMessage());
        return;
    }
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export corrections"), QDir::homePath() + QStringLiteral("/corrections.csv"),
        tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    const QByteArray csv = m_session->store().toCsv();
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(csv) != csv.size() || !f.commit()) {
        QMessageBox::warning(
            this, tr("Export corrections"),
            tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), f.errorString()));
        return;
    }
    m_status->setText(tr("Corrections exported to %1.").arg(QDir::toNativeSeparators(path)));
}

void ReviewPage::importCsv()
{
    if (!ensureStore()) {
        QMessageBox::warning(this, tr("Import corrections"), m_session->storeMessage());
        return;
    }
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Import corrections"), QDir::homePath(), tr("CSV files (*.csv);;All files (*)"));
    if (path.isEmpty())
        return;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        QMessageBox::warning(this, tr("Import corrections"), f.errorString());
        return;
    }
    QString error;
    const auto rows = CorrectionStore::parseCsv(f.readAll(), &error);
    if (!rows) {
        QMessageBox::warning(
            this, tr("Import corrections"),
            tr("%1 is not a corrections CSV: %2").arg(QDir::toNativeSeparators(path), error));
        return;
    }
    // A store of its own for the write would need its own thread; a few thousand rows in
    // one transaction take well under a second, so this stays on the GUI thread.
    CorrectionStore store;
    if (!store.open(m_dbPath) || store.isReadOnly()) {
        QMessageBox::warning(this, tr("Import corrections"), store.errorString());
        return;
    }
    const auto added = store.addAll(*rows);
    if (!added) {
        QMessageBox::warning(this, tr("Import corrections"), store.errorString());
        return;
    }
    m_status->setText(tr("%1 corrections imported (%2 already there). Apply them to the folder "
                         "to use them.")
                          .arg(*added)
                          .arg(rows->size() - *added));
}

} // namespace ml
