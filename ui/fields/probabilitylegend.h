#pragma once
// Legend of the field overlay: the probability colour ramp (core's probabilityColour()) with
// its ends labelled, plus the colours of unclassified and excluded edge cells.

#include <QWidget>

namespace ml {

class ProbabilityLegend : public QWidget
{
    Q_OBJECT
public:
    explicit ProbabilityLegend(QWidget* parent = nullptr);
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return sizeHint(); }

protected:
    void paintEvent(QPaintEvent* event) override;
};

} // namespace ml
