#pragma once
// Shows a field image scaled to fit, with every segmented cell's contour drawn in the colour of
// its probability (core's probabilityColour()); reports the cell under the mouse.
//
// The view only renders what it is given (image + overlays); it does no image processing.
// GUI thread only.

#include <QImage>
#include <QPolygonF>
#include <QRectF>
#include <QWidget>

#include <vector>

namespace ml {

/// What the view draws for one cell (image coordinates).
struct CellOverlay
{
    QPolygonF contour;
    QRectF box;
    float probability = -1.0f; ///< -1: not classified
    bool parasitized = false;
    bool touchesEdge = false;
};

/// What the view draws for one clump of touching cells the segmenter could not split
/// (UnsplitRegion, image coordinates): a dashed magenta outline, a light hatch and "~N".
struct RegionOverlay
{
    QPolygonF contour;
    QRectF box;
    int estimatedCells = 0;
    bool touchesEdge = false;
};

class FieldView : public QWidget
{
    Q_OBJECT
public:
    explicit FieldView(QWidget* parent = nullptr);

    /// Replaces the image, the cells and the unsplit clumps (the selection is cleared).
    void setField(const QImage& image, std::vector<CellOverlay> cells,
                  std::vector<RegionOverlay> regions = {});
    const std::vector<RegionOverlay>& regions() const { return m_regions; }
    void clear();
    /// Edge cells are drawn grey and thin, and cannot be selected, when excluded.
    void setExcludeEdge(bool exclude);
    /// Highlights cell `index` (-1: none).
    void setSelectedCell(int index);
    int selectedCell() const { return m_selected; }
    int hoveredCell() const { return m_hovered; }
    /// Index of the cell at widget position `pos`, or -1.
    int cellAt(const QPointF& pos) const;
    /// Widget position of image point `p` (for tests and tooltips).
    QPointF toWidget(const QPointF& p) const;

    QSize sizeHint() const override { return QSize(800, 600); }

Q_SIGNALS:
    void cellHovered(int index);
    void cellClicked(int index);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    QRectF imageRect() const;
    QPointF toImage(const QPointF& widgetPos) const;

    QImage m_image;
    std::vector<CellOverlay> m_cells;
    std::vector<RegionOverlay> m_regions;
    bool m_excludeEdge = false;
    int m_selected = -1;
    int m_hovered = -1;
};

} // namespace ml
