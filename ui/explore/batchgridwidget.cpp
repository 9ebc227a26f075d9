#include "batchgridwidget.h"

#include <QPainter>

namespace ml {

BatchGridWidget::BatchGridWidget(QWidget* parent) : QWidget(parent)
{
    setMinimumSize(240, 240);
    setAccessibleName(tr("Batch grid"));
}

void BatchGridWidget::setTiles(const QList<GridTile>& tiles, int columns)
{
    m_tiles = tiles;
    m_columns = std::max(1, columns);
    update();
}

void BatchGridWidget::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base).darker(110));
    const int side = std::min(width(), height());
    const QRect square((width() - side) / 2, (height() - side) / 2, side, side);
    paintGrid(p, square, m_tiles, m_columns);
    m_paintedImages = int(std::count_if(m_tiles.cbegin(), m_tiles.cend(), [](const GridTile& t) {
        return !t.failed && !t.image.isNull();
    }));
    if (m_tiles.isEmpty()) {
        p.setPen(palette().color(QPalette::Text));
        p.drawText(rect(), Qt::AlignCenter, tr("Open a folder to see a batch of its images."));
    }
}

} // namespace ml
