#include "confirmcellsdialog.h"

#include "augment.h"
#include "classificationresults.h"
#include "correctionstore.h"
#include "gradcam.h"
#include "heatmapimage.h"
#include "imageio.h"
#include "matconvert.h"
#include "preprocess.h"
#include "reviewsession.h"
#include "torchthreads.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QEvent>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMouseEvent>
#include <QPainter>
#include <QPushButton>
#include <QShortcut>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <numeric>

namespace ml {

namespace {

constexpr int kColumns = 4;
constexpr int kSide = 112;                 // each of the two images of a tile
constexpr int kTileWidth = 2 * kSide + 14; // cell | heatmap, with the border
constexpr int kTileHeight = kSide + 10;
const QLatin1String kCellMarker("#cell=");

// One tile: the cell as it is (smoothly scaled, so a technician sees the stain and any ring
// form) beside the Grad-CAM heatmap over what the model sees (the evidence it used).
QImage tileImage(const cv::Mat& shown, const cv::Mat& rgb, const Classifier& classifier)
{
    QImage out(2 * kSide + 4, kSide, QImage::Format_RGB32);
    out.fill(Qt::white);
    QPainter painter(&out);
    const auto place = [&painter](const QImage& image, int x) {
        const QImage scaled =
            image.scaled(kSide, kSide, Qt::KeepAspectRatio, Qt::SmoothTransformation);
        painter.drawImage(x + (kSide - scaled.width()) / 2, (kSide - scaled.height()) / 2, scaled);
    };
    place(matToQImage(shown), 0);
    const QImage seen = matToQImage(toBgr8(classifier.modelInput(rgb)));
    const Explanation e = explainCell(classifier, rgb);
    place(e.ok() ? heatmapOverlay(seen, e.heatmap, 0.4) : seen, kSide + 4);
    return out;
}

// Every tile of the gallery in one background job (12 small explanations). A cell image is
// read from its file; a field cell comes as its crop.
QList<QImage> renderAll(const Classifier& classifier, const QStringList& paths,
                        const std::vector<cv::Mat>& crops, const std::vector<cv::Mat>& originals)
{
    setTorchThreads(1);
    QList<QImage> out;
    for (int i = 0; i < paths.size(); ++i) {
        cv::Mat bgr = size_t(i) < crops.size() ? crops[size_t(i)] : cv::Mat();
        if (bgr.empty()) {
            const DecodedImage d = decodeImage(paths.at(i));
            bgr = d.ok() ? d.bgr : cv::Mat();
        }
        const cv::Mat shown = size_t(i) < originals.size() && !originals[size_t(i)].empty()
                                  ? originals[size_t(i)]
                                  : bgr;
        out << (bgr.empty() ? QImage() : tileImage(shown, preprocessImage(bgr), classifier));
    }
    return out;
}

// The deepest folder holding every path (the root of the field cells' dataset).
QString commonFolder(const QStringList& paths)
{
    QString common = paths.isEmpty() ? QString() : QFileInfo(paths.first()).absolutePath();
    for (const QString& p : paths)
        while (!common.isEmpty() && !p.startsWith(common + QLatin1Char('/')) &&
               common != QStringLiteral("/"))
            common = QFileInfo(common).absolutePath();
    return common == QStringLiteral("/") ? QString() : common;
}

} // namespace

QString fieldCellKey(const QString& fieldPath, const cv::Rect& box)
{
    return QStringLiteral("%1%2%3,%4,%5,%6")
        .arg(fieldPath, kCellMarker)
        .arg(box.x)
        .arg(box.y)
        .arg(box.width)
        .arg(box.height);
}

QString fieldOfCellKey(const QString& key)
{
    const int at = int(key.lastIndexOf(kCellMarker));
    return at > 0 ? key.left(at) : QString();
}

CellsToConfirm cellsOfPatient(const ClassificationResults& results, const QString& patient,
                              int count)
{
    CellsToConfirm out;
    out.dataset = results.dataset();
    out.title = QObject::tr("Cells to confirm: %1").arg(patient);
    const Dataset& ds = *out.dataset;
    for (int i = 0; i < results.size(); ++i) {
        if (results.predicted(i) < 0 || ds.images.at(i).patient != patient)
            continue;
        ReviewItem item;
        item.index = i;
        item.probability = results.probability(i);
        item.predicted = results.predicted(i);
        out.items.push_back(item);
    }
    std::stable_sort(
        out.items.begin(), out.items.end(),
        [](const ReviewItem& a, const ReviewItem& b) { return a.probability > b.probability; });
    if (int(out.items.size()) > count)
        out.items.resize(size_t(count));
    for (const ReviewItem& item : out.items)
        out.where << QFileInfo(ds.images.at(item.index).relativePath).fileName();
    return out;
}

CellsToConfirm cellsOfFields(std::vector<FieldCellToConfirm> cells, const QString& title, int count)
{
    std::stable_sort(cells.begin(), cells.end(),
                     [](const FieldCellToConfirm& a, const FieldCellToConfirm& b) {
                         return a.probability > b.probability;
                     });
    if (int(cells.size()) > count)
        cells.resize(size_t(count));
    QStringList fields;
    for (const FieldCellToConfirm& c : cells)
        fields << c.fieldPath;
    auto dataset = std::make_shared<Dataset>();
    dataset->root = commonFolder(fields);
    CellsToConfirm out;
    out.title = title;
    out.recordByPath = true;
    for (const FieldCellToConfirm& c : cells) {
        ImageEntry e;
        // Dataset::absolutePath() is root + '/' + relativePath: the key again.
        e.relativePath = fieldCellKey(c.fieldPath, c.box).mid(dataset->root.size() + 1);
        e.patient = QFileInfo(c.fieldPath).fileName();
        ReviewItem item;
        item.index = int(dataset->images.size());
        item.probability = c.probability;
        item.predicted = c.probability >= 0.5f ? 0 : 1;
        dataset->images << e;
        out.items.push_back(item);
        out.crops.push_back(c.crop);
        out.originals.push_back(c.original);
        out.where << QObject::tr("%1 at %2, %3").arg(e.patient).arg(c.box.x).arg(c.box.y);
    }
    out.dataset = std::move(dataset);
    return out;
}

QHash<QString, Confirmations>
confirmedParasites(const QString& databasePath,
                   const std::function<QString(const QString& path)>& groupOf)
{
    QHash<QString, Confirmations> out;
    const QString path = databasePath.isEmpty() ? CorrectionStore::defaultPath() : databasePath;
    if (!QFileInfo::exists(path))
        return out; // opening would create it: nothing was confirmed yet
    CorrectionStore store;
    if (!store.open(path))
        return out;
    // The latest decision per cell wins (the trail is append-only; an undo is a later row).
    QHash<QString, Correction> latest;
    for (const Correction& c : store.all())
        latest.insert(c.path, c);
    for (const Correction& c : std::as_const(latest)) {
        if (c.newLabel != QLatin1String("Parasitized"))
            continue;
        const QString group = groupOf(c.path);
        if (group.isEmpty())
            continue;
        Confirmations& entry = out[group];
        entry.parasites += 1;
        if (!entry.reviewers.contains(c.reviewer))
            entry.reviewers << c.reviewer;
    }
    return out;
}

ConfirmCellsDialog::ConfirmCellsDialog(CellsToConfirm cells, const Classifier& classifier,
                                       const QString& databasePath, QWidget* parent)
    : QDialog(parent), m_cells(std::move(cells)), m_session(new ReviewSession(this)),
      m_status(new QLabel(this)), m_reviewer(new QLineEdit(defaultReviewerName(), this))
{
    setWindowTitle(m_cells.title);
    m_decisions = QStringList(int(m_cells.items.size()), QString());
    auto* help = new QLabel(
        tr("The most suspicious cells, most suspicious first. Each tile shows the cell (left) "
           "and, over what the model sees, where it found its evidence (right). Click a cell "
           "or go in order, then press <b>P</b> parasite confirmed, <b>U</b> not a parasite, "
           "<b>X</b> unsure, <b>S</b> skip, <b>Z</b> undo. Every decision is kept in the "
           "corrections database with your name; one confirmed parasite makes the %1 "
           "infected.")
            .arg(m_cells.recordByPath ? tr("slide") : tr("patient")),
        this);
    help->setWordWrap(true);
    auto* reviewerRow = new QHBoxLayout;
    reviewerRow->addWidget(new QLabel(tr("Reviewer:"), this));
    reviewerRow->addWidget(m_reviewer, 1);
    auto* close = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(close, &QDialogButtonBox::rejected, this, &QDialog::accept);
    // Enter after typing the name must not close the gallery, and the letter keys belong to
    // the decisions: the name field takes focus only when clicked, and gives it back.
    close->button(QDialogButtonBox::Close)->setAutoDefault(false);
    m_reviewer->setFocusPolicy(Qt::ClickFocus);
    m_status->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(help);
    layout->addLayout(reviewerRow);
    layout->addLayout(buildGallery());
    layout->addLayout(buildButtons());
    layout->addWidget(m_status);
    layout->addWidget(close);

    m_session->setReviewer(m_reviewer->text());
    m_session->setRecordByPath(m_cells.recordByPath);
    connect(m_reviewer, &QLineEdit::editingFinished, this, [this] {
        const QString name = m_reviewer->text().trimmed();
        m_session->setReviewer(name.isEmpty() ? defaultReviewerName() : name);
        setFocus();
    });
    if (!m_session->openStore(databasePath) || m_session->isReadOnly())
        m_storeProblem = tr("The corrections database cannot be written (%1): decisions are "
                            "not kept.")
                             .arg(m_session->storeMessage());
    m_session->setQueue(m_cells.dataset, m_cells.items);
    connect(m_session, &ReviewSession::currentChanged, this, [this] { refresh(); });
    connect(m_session, &ReviewSession::storeFailed, this, [this](const QString& message) {
        m_lastError = message;
        refresh();
    });

    QStringList paths;
    for (const ReviewItem& item : m_cells.items)
        paths << m_cells.dataset->absolutePath(item.index);
    connect(&m_watcher, &QFutureWatcher<QList<QImage>>::finished, this,
            &ConfirmCellsDialog::showImages);
    m_watcher.setFuture(QtConcurrent::run(
        [classifier, paths, crops = m_cells.crops, originals = m_cells.originals] {
            return renderAll(classifier, paths, crops, originals);
        }));
    refresh();
}

ConfirmCellsDialog::~ConfirmCellsDialog()
{
    m_watcher.waitForFinished();
}

QLayout* ConfirmCellsDialog::buildGallery()
{
    auto* grid = new QGridLayout;
    for (int i = 0; i < int(m_cells.items.size()); ++i) {
        auto* tile = new QLabel(this);
        tile->setFixedSize(kTileWidth, kTileHeight);
        tile->setAlignment(Qt::AlignCenter);
        tile->setText(tr("computing ..."));
        tile->setCursor(Qt::PointingHandCursor);
        tile->setToolTip(m_cells.dataset->absolutePath(m_cells.items[size_t(i)].index));
        tile->installEventFilter(this);
        auto* caption = new QLabel(this);
        caption->setAlignment(Qt::AlignCenter);
        auto* box = new QVBoxLayout;
        box->setSpacing(2);
        box->addWidget(tile);
        box->addWidget(caption);
        grid->addLayout(box, i / kColumns, i % kColumns);
        m_tiles << tile;
        m_captions << caption;
    }
    if (m_cells.items.empty())
        grid->addWidget(new QLabel(tr("No classified cells to confirm."), this), 0, 0);
    return grid;
}

QLayout* ConfirmCellsDialog::buildButtons()
{
    // The keys, also as buttons: a technician new to the Review page sees what each does.
    auto* row = new QHBoxLayout;
    const auto add = [this, row](const QString& text, const QKeySequence& key, auto f) {
        auto* b = new QPushButton(text, this);
        b->setFocusPolicy(Qt::NoFocus); // the keys stay with the gallery
        b->setAutoDefault(false);
        connect(b, &QPushButton::clicked, this, f);
        row->addWidget(b);
        auto* s = new QShortcut(key, this);
        connect(s, &QShortcut::activated, this, f);
    };
    add(tr("Parasite (P)"), QKeySequence(Qt::Key_P),
        [this] { decide(QStringLiteral("Parasitized")); });
    add(tr("Not a parasite (U)"), QKeySequence(Qt::Key_U),
        [this] { decide(QStringLiteral("Uninfected")); });
    add(tr("Unsure (X)"), QKeySequence(Qt::Key_X), [this] { decide(unsureLabel()); });
    add(tr("Skip (S)"), QKeySequence(Qt::Key_S), [this] { skip(); });
    add(tr("Undo (Z)"), QKeySequence(Qt::Key_Z), [this] { undo(); });
    row->addStretch(1);
    return row;
}

bool ConfirmCellsDialog::eventFilter(QObject* watched, QEvent* event)
{
    if (event->type() == QEvent::MouseButtonPress) {
        const int i = int(m_tiles.indexOf(qobject_cast<QLabel*>(watched)));
        if (i >= 0) {
            m_session->goTo(i);
            return true;
        }
    }
    return QDialog::eventFilter(watched, event);
}

int ConfirmCellsDialog::confirmedParasitized() const
{
    return int(m_decisions.count(QStringLiteral("Parasitized")));
}

void ConfirmCellsDialog::decide(const QString& label)
{
    const int at = m_session->position();
    if (at >= int(m_cells.items.size()))
        return;
    const QString where = m_cells.where.value(at);
    const QString note = where.isEmpty()
                             ? tr("cells to confirm: %1").arg(windowTitle())
                             : tr("cells to confirm: %1; %2, P(Parasitized) %3")
                                   .arg(windowTitle(), where)
                                   .arg(m_cells.items[size_t(at)].probability, 0, 'f', 3);
    if (m_session->decide(label, note)) {
        m_undo.push_back({at, m_decisions.at(at), true});
        m_decisions[at] = label;
        m_lastError.clear();
        Q_EMIT decisionsChanged();
    } else {
        m_lastError = m_session->errorString();
    }
    refresh();
}

void ConfirmCellsDialog::skip()
{
    const int at = m_session->position();
    if (at >= int(m_cells.items.size()))
        return;
    m_undo.push_back({at, m_decisions.at(at), false});
    m_session->skip();
}

void ConfirmCellsDialog::undo()
{
    // The session reverts the trail (a row restoring the previous label); this restores what
    // the tile showed before, which is not always "undecided" (a cell decided twice).
    if (m_undo.empty() || !m_session->undo()) {
        m_lastError = m_session->errorString();
        refresh();
        return;
    }
    const UndoStep step = m_undo.back();
    m_undo.pop_back();
    m_decisions[step.position] = step.previous;
    m_lastError.clear();
    if (step.decision)
        Q_EMIT decisionsChanged();
    refresh();
}

void ConfirmCellsDialog::showImages()
{
    const QList<QImage> images = m_watcher.result();
    for (int i = 0; i < images.size() && i < m_tiles.size(); ++i) {
        if (images.at(i).isNull())
            m_tiles[i]->setText(tr("cannot be read"));
        else
            m_tiles[i]->setPixmap(QPixmap::fromImage(images.at(i)));
    }
    m_ready = true;
    Q_EMIT imagesShown();
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
                                      .arg(i == current ? QStringLiteral("#1565c0") : colour));
        const QString decided = d == QLatin1String("Parasitized")  ? tr("parasite")
                                : d == QLatin1String("Uninfected") ? tr("not a parasite")
                                                                   : d;
        QString text =
            tr("%1. P = %2").arg(i + 1).arg(m_cells.items[size_t(i)].probability, 0, 'f', 2);
        if (!decided.isEmpty())
            text += QStringLiteral(" — <b style=\"color:%1\">%2</b>").arg(colour, decided);
        if (!m_cells.where.value(i).isEmpty())
            text +=
                QStringLiteral("<br><small>%1</small>").arg(m_cells.where.at(i).toHtmlEscaped());
        m_captions[i]->setText(text);
    }
    const QString problem = !m_storeProblem.isEmpty() ? m_storeProblem : m_lastError;
    m_status->setStyleSheet(problem.isEmpty() ? QString() : QStringLiteral("color: #b00020;"));
    m_status->setText(
        !problem.isEmpty()
            ? problem
            : tr("%1 of %2 decided, %3 confirmed parasitized. The blue frame marks the cell the "
                 "keys act on.")
                  .arg(m_decisions.size() - m_decisions.count(QString()))
                  .arg(m_cells.items.size())
                  .arg(confirmedParasitized()));
}

} // namespace ml
