#include "confirmcellsdialog.h"

#include "augment.h"
#include "correctionstore.h"
#include "gradcam.h"
#include "heatmapimage.h"
#include "matconvert.h"
#include "preprocess.h"
#include "reviewsession.h"
#include "torchthreads.h"

#include <QDialogButtonBox>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QShortcut>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

namespace {

constexpr int kColumns = 4;
constexpr int kTile = 150;

// The cell as the model sees it, with the Grad-CAM heatmap over it (one background job for
// the whole gallery: 12 small explanations).
QList<QImage> explainAll(const Classifier& classifier, const QStringList& paths)
{
    setTorchThreads(1);
    QList<QImage> out;
    for (const QString& path : paths) {
        const PreprocessedImage p = loadPreprocessed(path);
        if (!p.ok()) {
            out << QImage();
            continue;
        }
        const cv::Mat seen = classifier.modelInput(p.rgb);
        const QImage cell = matToQImage(toBgr8(seen));
        const Explanation e = explainCell(classifier, p.rgb);
        out << (e.ok() ? heatmapOverlay(cell, e.heatmap, 0.4) : cell);
    }
    return out;
}

} // namespace

ConfirmCellsDialog::ConfirmCellsDialog(std::shared_ptr<const Dataset> dataset,
                                       std::vector<ReviewItem> items, const Classifier& classifier,
                                       double threshold, const QString& databasePath,
                                       const QString& title, QWidget* parent)
    : QDialog(parent), m_dataset(std::move(dataset)), m_items(std::move(items)),
      m_session(new ReviewSession(this)), m_status(new QLabel(this)),
      m_reviewer(new QLineEdit(defaultReviewerName(), this))
{
    Q_UNUSED(threshold);
    setWindowTitle(title);
    m_decisions = QStringList(int(m_items.size()), QString());
    auto* grid = new QGridLayout;
    for (int i = 0; i < int(m_items.size()); ++i) {
        auto* tile = new QLabel(this);
        tile->setFixedSize(kTile, kTile);
        tile->setAlignment(Qt::AlignCenter);
        tile->setText(tr("computing ..."));
        auto* caption = new QLabel(this);
        caption->setAlignment(Qt::AlignCenter);
        auto* box = new QVBoxLayout;
        box->addWidget(tile);
        box->addWidget(caption);
        grid->addLayout(box, i / kColumns, i % kColumns);
        m_tiles << tile;
        m_captions << caption;
        m_images << QImage();
    }
    auto* help = new QLabel(
        tr("The most suspicious cells, each with the heatmap of where the model found its "
           "evidence, over what the model sees. Keys: <b>P</b> parasite confirmed, <b>U</b> "
           "not a parasite, <b>X</b> unsure, <b>S</b> skip, <b>Z</b> undo. Every decision is "
           "kept in the corrections database with your name; one confirmed parasite makes "
           "the slide infected."),
        this);
    help->setWordWrap(true);
    auto* reviewerRow = new QHBoxLayout;
    reviewerRow->addWidget(new QLabel(tr("Reviewer:"), this));
    reviewerRow->addWidget(m_reviewer, 1);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::accept);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(help);
    layout->addLayout(reviewerRow);
    layout->addLayout(grid);
    layout->addWidget(m_status);
    layout->addWidget(buttons);

    m_session->setReviewer(m_reviewer->text());
    connect(m_reviewer, &QLineEdit::editingFinished, this, [this] {
        const QString name = m_reviewer->text().trimmed();
        m_session->setReviewer(name.isEmpty() ? defaultReviewerName() : name);
    });
    if (!m_session->openStore(databasePath) || m_session->isReadOnly())
        m_status->setText(tr("The corrections database cannot be written (%1): decisions "
                             "are not kept.")
                              .arg(m_session->storeMessage()));
    m_session->setQueue(m_dataset, m_items);
    connect(m_session, &ReviewSession::currentChanged, this, [this] { refresh(); });
    connect(m_session, &ReviewSession::storeFailed, this,
            [this](const QString& message) { m_status->setText(message); });
    const auto key = [this](const QKeySequence& k, auto f) {
        auto* s = new QShortcut(k, this);
        connect(s, &QShortcut::activated, this, f);
    };
    key(QKeySequence(Qt::Key_P), [this] { decide(QStringLiteral("Parasitized")); });
    key(QKeySequence(Qt::Key_U), [this] { decide(QStringLiteral("Uninfected")); });
    key(QKeySequence(Qt::Key_X), [this] { decide(unsureLabel()); });
    key(QKeySequence(Qt::Key_S), [this] { m_session->skip(); });
    key(QKeySequence(Qt::Key_Z), [this] {
        if (m_session->undo() && m_session->position() < int(m_items.size()))
            m_decisions[m_session->position()].clear();
        refresh();
    });

    QStringList paths;
    for (const ReviewItem& item : m_items)
        paths << m_dataset->absolutePath(item.index);
    connect(&m_watcher, &QFutureWatcher<QList<QImage>>::finished, this,
            &ConfirmCellsDialog::showHeatmaps);
    m_watcher.setFuture(
        QtConcurrent::run([classifier, paths] { return explainAll(classifier, paths); }));
    refresh();
}

ConfirmCellsDialog::~ConfirmCellsDialog()
{
    m_watcher.waitForFinished();
}

int ConfirmCellsDialog::confirmedParasitized() const
{
    return int(m_decisions.count(QStringLiteral("Parasitized")));
}

void ConfirmCellsDialog::decide(const QString& label)
{
    const int at = m_session->position();
    if (at >= int(m_items.size()))
        return;
    if (m_session->decide(label, tr("cells to confirm: %1").arg(windowTitle())))
        m_decisions[at] = label;
    else
        m_status->setText(m_session->errorString());
    refresh();
}

void ConfirmCellsDialog::showHeatmaps()
{
    const QList<QImage> images = m_watcher.result();
    for (int i = 0; i < images.size() && i < m_tiles.size(); ++i) {
        m_images[i] = images.at(i);
        if (images.at(i).isNull())
            m_tiles[i]->setText(tr("cannot be read"));
        else
            m_tiles[i]->setPixmap(QPixmap::fromImage(images.at(i).scaled(
                kTile - 6, kTile - 6, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    }
}

void ConfirmCellsDialog::refresh()
{
    const int current = m_session->position();
    for (int i = 0; i < m_tiles.size(); ++i) {
        const QString d = m_decisions.at(i);
        const QString colour = d == QLatin1String("Parasitized")  ? QStringLiteral("#c0392b")
                               : d == QLatin1String("Uninfected") ? QStringLiteral("#27ae60")
                               : d.isEmpty()                      ? QStringLiteral("#bbbbbb")
                                                                  : QStringLiteral("#e67e22");
        m_tiles[i]->setStyleSheet(QStringLiteral("QLabel { border: %1px solid %2; }")
                                      .arg(i == current ? 4 : 2)
                                      .arg(colour));
        m_captions[i]->setText(tr("P = %1  %2")
                                   .arg(m_items[size_t(i)].probability, 0, 'f', 2)
                                   .arg(d.isEmpty() ? QString() : QStringLiteral("— %1").arg(d)));
    }
    if (m_status->text().isEmpty() || !m_status->text().startsWith(tr("The corrections")))
        m_status->setText(tr("%1 of %2 decided, %3 confirmed parasitized.")
                              .arg(m_decisions.size() - m_decisions.count(QString()))
                              .arg(m_items.size())
                              .arg(confirmedParasitized()));
}

} // namespace ml
