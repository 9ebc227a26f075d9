#include "detailview.h"

#include "imageio.h"
#include "matconvert.h"

#include <QFileInfo>
#include <QGraphicsPixmapItem>
#include <QGraphicsScene>
#include <QGraphicsView>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWheelEvent>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

DetailView::DetailView(QWidget* parent)
    : QWidget(parent), m_view(new QGraphicsView(this)), m_scene(new QGraphicsScene(this)),
      m_item(new QGraphicsPixmapItem), m_info(new QLabel(this))
{
    m_scene->addItem(m_item);
    m_view->setScene(m_scene);
    m_view->setDragMode(QGraphicsView::ScrollHandDrag);
    m_view->setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    m_view->viewport()->installEventFilter(this);
    m_view->setAccessibleName(tr("Image detail"));
    m_info->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto button = [this](const QString& text, const QString& tip, auto slot) {
        auto* b = new QToolButton(this);
        b->setText(text);
        b->setToolTip(tip);
        b->setAccessibleName(tip);
        connect(b, &QToolButton::clicked, this, slot);
        return b;
    };
    auto* bar = new QHBoxLayout;
    bar->addWidget(button(QStringLiteral("+"), tr("Zoom in (Ctrl++)"), &DetailView::zoomIn));
    bar->addWidget(button(QStringLiteral("-"), tr("Zoom out (Ctrl+-)"), &DetailView::zoomOut));
    bar->addWidget(button(tr("Fit"), tr("Fit to view"), &DetailView::zoomToFit));
    bar->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_info);
    connect(&m_watcher, &QFutureWatcher<Loaded>::finished, this, &DetailView::onLoaded);
    clear();
}

DetailView::~DetailView()
{
    m_watcher.waitForFinished();
}

void DetailView::clear()
{
    m_item->setPixmap(QPixmap());
    m_info->setText(tr("Select an image to see it here."));
}

void DetailView::showImage(const QString& path, const QStringList& metadata)
{
    m_metadata = metadata;
    m_info->setText(tr("Loading %1 ...").arg(QFileInfo(path).fileName()));
    m_watcher.setFuture(QtConcurrent::run([path] {
        Loaded l;
        l.path = path;
        const DecodedImage img = decodeImage(path);
        if (img.ok()) {
            l.image = matToQImage(img.bgr);
            l.channels = img.channels;
            l.bitDepth = img.bitDepth;
        } else {
            l.error = img.error;
        }
        return l;
    }));
}

void DetailView::onLoaded()
{
    const Loaded l = m_watcher.result();
    QStringList lines;
    lines << QStringLiteral("<b>%1</b>").arg(QFileInfo(l.path).fileName().toHtmlEscaped());
    for (const QString& m : m_metadata)
        lines << m.toHtmlEscaped();
    if (l.error.isEmpty()) {
        m_item->setPixmap(QPixmap::fromImage(l.image));
        m_scene->setSceneRect(m_item->boundingRect());
        lines << tr("%1 x %2 pixels, %3 channel(s), %4-bit")
                     .arg(l.image.width())
                     .arg(l.image.height())
                     .arg(l.channels)
                     .arg(l.bitDepth);
        if (m_fit)
            zoomToFit();
    } else {
        m_item->setPixmap(QPixmap());
        lines << QStringLiteral("<span style='color:#c03030'>%1</span>")
                     .arg(tr("Cannot be shown: %1").arg(l.error).toHtmlEscaped());
    }
    lines << QStringLiteral("<small>%1</small>").arg(l.path.toHtmlEscaped());
    m_info->setText(lines.join(QStringLiteral("<br>")));
    Q_EMIT imageShown(l.path);
}

void DetailView::zoomIn()
{
    m_fit = false;
    m_view->scale(1.25, 1.25);
}

void DetailView::zoomOut()
{
    m_fit = false;
    m_view->scale(0.8, 0.8);
}

void DetailView::zoomToFit()
{
    m_fit = true;
    m_view->fitInView(m_item, Qt::KeepAspectRatio);
}

bool DetailView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_view->viewport() && event->type() == QEvent::Wheel) {
        const auto* wheel = static_cast<QWheelEvent*>(event);
        if (wheel->angleDelta().y() > 0)
            zoomIn();
        else if (wheel->angleDelta().y() < 0)
            zoomOut();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace ml
