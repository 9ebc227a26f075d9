#pragma once

#include "batchgrid.h"

#include <QWidget>

namespace ml {

/// Paints one batch of images as a labelled grid (the study's 3x3 / 6x6 plots).
class BatchGridWidget : public QWidget
{
    Q_OBJECT
public:
    explicit BatchGridWidget(QWidget* parent = nullptr);

    void setTiles(const QList<GridTile>& tiles, int columns);
    const QList<GridTile>& tiles() const { return m_tiles; }
    int columns() const { return m_columns; }
    /// Tiles with an image drawn in the last paint event (tests and accessibility).
    int paintedImageCount() const { return m_paintedImages; }

    QSize sizeHint() const override { return {640, 640}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QList<GridTile> m_tiles;
    int m_columns = 3;
    int m_paintedImages = 0;
};

} // namespace ml
