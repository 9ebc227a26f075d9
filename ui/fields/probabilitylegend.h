#pragma once
// Legend of the field overlay: the probability colour ramp (core's probabilityColour()) with
// its ends labelled, plus the line styles of unclassified cells, edge cells, boxes and
// unsplit clumps of touching cells.
//
// The painted rows and the size hint come from one layout (rows()), so the widget always
// asks for the height it paints into.

#include <QRect>
#include <QWidget>

#include <vector>

namespace ml {

class ProbabilityLegend : public QWidget
{
    Q_OBJECT
public:
    explicit ProbabilityLegend(QWidget* parent = nullptr);
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return sizeHint(); }

    /// The rectangles painted, top to bottom (the colour bar, its labels, then one per line
    /// style), in widget coordinates at the current width.
    std::vector<QRect> rows() const;
    /// Bounding rectangle of rows().
    QRect rowsRect() const;

protected:
    void paintEvent(QPaintEvent* event) override;
    void changeEvent(QEvent* event) override;
};

} // namespace ml
