#include "batchgrid.h"

#include "thumbnailservice.h"

#include <QFileInfo>
#include <QPainter>

#include <algorithm>
#include <numeric>
#include <random>

namespace ml {

QList<int> batchIndices(const Dataset& dataset, int batchSize, int batchNumber, quint32 seed)
{
    const int n = int(dataset.images.size());
    QList<int> out;
    if (n == 0 || batchSize <= 0)
        return out;
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    if (seed != 0) {
        std::mt19937 rng(seed);
        std::shuffle(order.begin(), order.end(), rng);
    }
    const int count = std::min(batchSize, n);
    const long long start = (static_cast<long long>(batchNumber) * batchSize) % n;
    for (int i = 0; i < count; ++i)
        out.append(order[size_t((start + i) % n)]);
    return out;
}

QList<GridTile> loadGridTiles(const Dataset& dataset, const QList<int>& indices, int edge,
                              const std::function<QImage(const QString&, QString*)>& load)
{
    QList<GridTile> tiles;
    tiles.reserve(indices.size());
    for (int i : indices) {
        GridTile t;
        const ImageEntry& e = dataset.images.at(i);
        t.caption = dataset.className(e.label);
        QString error;
        const QString path = dataset.absolutePath(i);
        t.image = load ? load(path, &error) : loadThumbnail(path, edge, &error);
        t.failed = t.image.isNull();
        t.detail = t.failed ? error : QFileInfo(e.relativePath).fileName();
        tiles.append(t);
    }
    return tiles;
}

void paintGrid(QPainter& p, const QRect& area, const QList<GridTile>& tiles, int columns)
{
    if (columns <= 0)
        return;
    const int rows = std::max(1, int((tiles.size() + columns - 1) / columns));
    const int gap = 4;
    const int cw = (area.width() - gap * (columns + 1)) / columns;
    const int ch = (area.height() - gap * (rows + 1)) / rows;
    if (cw <= 4 || ch <= 4)
        return;
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    QFont font = p.font();
    font.setPixelSize(std::clamp(ch / 9, 9, 16));
    font.setBold(true);
    QFont small = p.font();
    small.setPixelSize(std::clamp(ch / 13, 9, 14));
    const QFontMetrics fontMetrics(font);
    const QFontMetrics smallMetrics(small);
    const int band = fontMetrics.height() + 4;
    for (int i = 0; i < tiles.size(); ++i) {
        const GridTile& t = tiles.at(i);
        const QRect cell(area.left() + gap + (i % columns) * (cw + gap),
                         area.top() + gap + (i / columns) * (ch + gap), cw, ch);
        p.fillRect(cell, QColor(30, 30, 30));
        if (!t.failed && !t.image.isNull()) {
            const QSize fit = t.image.size().scaled(cell.size(), Qt::KeepAspectRatio);
            const QRect target(cell.center().x() - fit.width() / 2 + 1,
                               cell.center().y() - fit.height() / 2 + 1, fit.width(), fit.height());
            p.drawImage(target, t.image);
        } else {
            p.setFont(small);
            p.setPen(QColor(240, 120, 120));
            p.drawText(cell.adjusted(4, band, -4, -4), Qt::AlignCenter | Qt::TextWordWrap,
                       t.detail.isEmpty() ? QStringLiteral("?") : t.detail);
        }
        // A translucent band so the text reads on any cell.
        const QRect bandRect(cell.left(), cell.top(), cell.width(), band);
        p.fillRect(bandRect, QColor(0, 0, 0, 160));
        p.setFont(font);
        p.setPen(Qt::white);
        p.drawText(bandRect.adjusted(4, 0, -4, 0), Qt::AlignVCenter | Qt::AlignLeft,
                   fontMetrics.elidedText(t.caption, Qt::ElideRight, cell.width() - 8));
        if (!t.footer.isEmpty()) {
            const int h = smallMetrics.height() + 2;
            const QRect footerRect(cell.left(), cell.bottom() + 1 - h, cell.width(), h);
            p.fillRect(footerRect, QColor(0, 0, 0, 160));
            p.setFont(small);
            p.setPen(QColor(230, 230, 160));
            p.drawText(footerRect.adjusted(4, 0, -4, 0), Qt::AlignVCenter | Qt::AlignLeft,
                       t.footer);
        }
    }
    p.restore();
}

QImage renderGridImage(const QList<GridTile>& tiles, int columns, int tileEdge)
{
    const int rows = std::max(1, int((tiles.size() + columns - 1) / columns));
    const int gap = 4;
    QImage img(columns * tileEdge + gap * (columns + 1), rows * tileEdge + gap * (rows + 1),
               QImage::Format_RGB32);
    img.fill(QColor(15, 15, 15));
    QPainter p(&img);
    paintGrid(p, img.rect(), tiles, columns);
    return img;
}

} // namespace ml
