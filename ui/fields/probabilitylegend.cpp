#include "probabilitylegend.h"

#include "fieldanalysis.h"

#include <QLinearGradient>
#include <QPainter>

namespace ml {

namespace {

QColor toQColor(const cv::Scalar& s)
{
    return QColor(int(s[2]), int(s[1]), int(s[0]));
}

} // namespace

ProbabilityLegend::ProbabilityLegend(QWidget* parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
    // Word-wrapped labels beside it make the layout underestimate heights: reserve ours.
    setMinimumHeight(sizeHint().height());
}

QSize ProbabilityLegend::sizeHint() const
{
    const int line = fontMetrics().height();
    return QSize(240, 4 * line + 26);
}

void ProbabilityLegend::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const int line = fontMetrics().height();
    const QRect bar(4, 2, width() - 8, 14);
    QLinearGradient g(bar.topLeft(), bar.topRight());
    for (int i = 0; i <= 10; ++i)
        g.setColorAt(i / 10.0, toQColor(probabilityColour(i / 10.0f)));
    p.fillRect(bar, g);
    p.setPen(palette().color(QPalette::WindowText));
    int y = bar.bottom() + 2;
    const QRect labels(bar.left(), y, bar.width(), line);
    p.drawText(labels, Qt::AlignLeft, tr("0 healthy"));
    p.drawText(labels, Qt::AlignHCenter, tr("P(parasitized)"));
    p.drawText(labels, Qt::AlignRight, tr("1 parasitized"));
    y += line + 4;
    auto swatch = [&](const QColor& c, Qt::PenStyle style, const QString& text) {
        p.setPen(QPen(c, 2, style));
        p.drawLine(bar.left(), y + line / 2, bar.left() + 22, y + line / 2);
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QRect(bar.left() + 28, y, bar.width() - 28, line), Qt::AlignLeft, text);
        y += line;
    };
    swatch(toQColor(probabilityColour(-1.0f)), Qt::SolidLine, tr("not classified (no model)"));
    swatch(QColor(150, 150, 150), Qt::DashLine, tr("cut by the border (dashed; grey if excluded)"));
    swatch(toQColor(probabilityColour(1.0f)), Qt::SolidLine, tr("box: counted as parasitized"));
}

} // namespace ml
