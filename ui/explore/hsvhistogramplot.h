#pragma once

#include <QWidget>

class QCustomPlot;

namespace ml {

struct HsvHistogramResult;

/// Per-class histograms of hue, saturation and value (three stacked QCustomPlot axes,
/// one line per class, y = percent of the class's counted pixels so classes of different
/// sizes compare). Shows a message instead while nothing complete is set. GUI thread only.
class HsvHistogramPlot : public QWidget
{
    Q_OBJECT
public:
    explicit HsvHistogramPlot(QWidget* parent = nullptr);

    /// Plots `result`; an incomplete result is not plotted (the message says why).
    void setResult(const HsvHistogramResult& result);
    /// Removes the lines and shows `message`.
    void clear(const QString& message);
    /// Lines currently plotted (classes x 3 channels); for tests.
    int graphCount() const;
    QCustomPlot* plot() const { return m_plot; }

private:
    QCustomPlot* m_plot;
};

} // namespace ml
