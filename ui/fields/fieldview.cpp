#include "fieldview.h"

#include "fieldanalysis.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

namespace ml {

namespace {

QColor overlayColour(const CellOverlay& c, bool excludeEdge)
{
    if (c.touchesEdge && excludeEdge)
        return QColor(150, 150, 150);
    const cv::Scalar s = probabilityColour(c.probability);
    return QColor(int(s[2]), int(s[1]), int(s[0]));
}

} // namespace

FieldView::FieldView(QWidget* parent) : QWidget(parent)
{
    setMouseTracking(true);
    setMinimumSize(320, 240);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void FieldView::setField(const QImage& image, std::vector<CellOverlay> cells,
                         std::vector<RegionOverlay> regions)
{
    m_image = image;
    m_cells = std::move(cells);
    m_regions = std::move(regions);
    m_selected = -1;
    m_hovered = -1;
    update();
}

void FieldView::clear()
{
    setField(QImage(), {});
}

void FieldView::setExcludeEdge(bool exclude)
{
    m_excludeEdge = exclude;
    if (exclude && m_selected >= 0 && m_cells[size_t(m_selected)].touchesEdge)
        m_selected = -1;
    update();
}

void FieldView::setSelectedCell(int index)
{
    m_selected = (index >= 0 && index < int(m_cells.size())) ? index : -1;
    update();
}

QRectF FieldView::imageRect() const
{
    if (m_image.isNull())
        return {};
    const QSizeF s = QSizeF(m_image.size()).scaled(QSizeF(size()), Qt::KeepAspectRatio);
    return QRectF(QPointF((width() - s.width()) / 2.0, (height() - s.height()) / 2.0), s);
}

QPointF FieldView::toImage(const QPointF& widgetPos) const
{
    const QRectF r = imageRect();
    if (r.isEmpty())
        return {};
    const double k = m_image.width() / r.width();
    return (widgetPos - r.topLeft()) * k;
}

QPointF FieldView::toWidget(const QPointF& p) const
{
    const QRectF r = imageRect();
    if (r.isEmpty())
        return {};
    return r.topLeft() + p * (r.width() / m_image.width());
}

int FieldView::cellAt(const QPointF& pos) const
{
    if (m_image.isNull())
        return -1;
    const QPointF p = toImage(pos);
    // Boxes first (cheap), then the contour; the smallest containing cell wins so a cell
    // lying inside another's box can still be picked.
    int best = -1;
    double bestArea = 0.0;
    for (int i = 0; i < int(m_cells.size()); ++i) {
        const CellOverlay& c = m_cells[size_t(i)];
        if (m_excludeEdge && c.touchesEdge)
            continue;
        if (!c.box.contains(p) || !c.contour.containsPoint(p, Qt::OddEvenFill))
            continue;
        const double area = c.box.width() * c.box.height();
        if (best < 0 || area < bestArea) {
            best = i;
            bestArea = area;
        }
    }
    return best;
}

void FieldView::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Dark));
    if (m_image.isNull()) {
        p.setPen(palette().color(QPalette::BrightText));
        p.drawText(rect(), Qt::AlignCenter, tr("Open a field image or a folder of fields"));
        return;
    }
    const QRectF r = imageRect();
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(r, m_image);
    p.setRenderHint(QPainter::Antialiasing);
    p.save();
    p.translate(r.topLeft());
    const double k = r.width() / m_image.width();
    p.scale(k, k);
    // Pen widths in widget pixels, independent of the zoom.
    const double unit = 1.0 / k;
    // Unsplit clumps first, under the cells: a dashed outline and a light hatch in a colour
    // apart from the probability ramp, so they never read as cells.
    const cv::Scalar rs = unsplitRegionColour();
    const QColor regionColour{int(rs[2]), int(rs[1]), int(rs[0])};
    QFont labelFont = font();
    labelFont.setBold(true);
    labelFont.setPointSizeF(labelFont.pointSizeF() * 1.1);
    for (const RegionOverlay& g : m_regions) {
        const bool excluded = g.touchesEdge && m_excludeEdge;
        const QColor c = excluded ? QColor(150, 150, 150) : regionColour;
        QPen pen(c, 2.0 * unit, Qt::DashLine);
        p.setPen(pen);
        QColor hatch = c;
        hatch.setAlpha(110);
        QBrush brush(hatch, Qt::BDiagPattern);
        brush.setTransform(QTransform::fromScale(unit, unit));
        p.setBrush(brush);
        p.drawPolygon(g.contour);
    }
    p.setBrush(Qt::NoBrush);
    const cv::Scalar counted = probabilityColour(1.0f);
    const QColor countedColour{int(counted[2]), int(counted[1]), int(counted[0])};
    for (int i = 0; i < int(m_cells.size()); ++i) {
        const CellOverlay& c = m_cells[size_t(i)];
        QPen pen(overlayColour(c, m_excludeEdge), (c.touchesEdge ? 1.0 : 2.0) * unit);
        if (c.touchesEdge)
            pen.setStyle(Qt::DashLine);
        p.setPen(pen);
        p.setBrush(Qt::NoBrush);
        p.drawPolygon(c.contour);
        if (c.parasitized && !(c.touchesEdge && m_excludeEdge)) {
            // The box says "counted": always the legend's parasitized colour, not the cell's
            // probability (a lab threshold under 0.5, or the lab's pale-cell rule, counts cells
            // whose probability colour is blue).
            pen.setColor(countedColour);
            p.setPen(pen);
            p.drawRect(c.box);
        }
    }
    // "~N" on each clump, in widget pixels (readable at any zoom), with a halo.
    p.restore();
    p.save();
    p.setFont(labelFont);
    for (const RegionOverlay& g : m_regions) {
        if (g.touchesEdge && m_excludeEdge)
            continue;
        const QPointF c = toWidget(g.box.center());
        const QString text = QStringLiteral("~%1").arg(g.estimatedCells);
        const QFontMetricsF fm(labelFont);
        QPainterPath path;
        path.addText(c.x() - fm.horizontalAdvance(text) / 2.0, c.y() + fm.ascent() / 2.0 - 1.0,
                     labelFont, text);
        p.setPen(QPen(QColor(255, 255, 255, 220), 3.0));
        p.setBrush(Qt::NoBrush);
        p.drawPath(path);
        p.fillPath(path, regionColour.darker(130));
    }
    p.restore();
    p.save();
    p.translate(r.topLeft());
    p.scale(k, k);
    for (int i : {m_hovered, m_selected}) {
        if (i < 0 || i >= int(m_cells.size()))
            continue;
        const CellOverlay& c = m_cells[size_t(i)];
        p.setPen(QPen(i == m_selected ? Qt::white : QColor(255, 255, 255, 160), 3.0 * unit));
        p.drawPolygon(c.contour);
    }
    p.restore();
}

void FieldView::mouseMoveEvent(QMouseEvent* event)
{
    const int i = cellAt(event->position());
    if (i != m_hovered) {
        m_hovered = i;
        update();
        Q_EMIT cellHovered(i);
    }
}

void FieldView::mousePressEvent(QMouseEvent* event)
{
    if (event->button() != Qt::LeftButton)
        return;
    const int i = cellAt(event->position());
    setSelectedCell(i);
    Q_EMIT cellClicked(i);
}

void FieldView::leaveEvent(QEvent*)
{
    if (m_hovered >= 0) {
        m_hovered = -1;
        update();
        Q_EMIT cellHovered(-1);
    }
}

} // namespace ml
