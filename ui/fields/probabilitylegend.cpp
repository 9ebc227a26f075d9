#include "probabilitylegend.h"

#include "fieldanalysis.h"

#include <QEvent>
#include <QLinearGradient>
#include <QPainter>

namespace ml {

namespace {

QColor toQColor(const cv::Scalar& s)
{
    return QColor(int(s[2]), int(s[1]), int(s[0]));
}

constexpr int kBarHeight = 14;
constexpr int kMargin = 4;
constexpr int kSwatchRows = 4;

} // namespace

ProbabilityLegend::ProbabilityLegend(QWidget* parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
    // Word-wrapped labels beside it make the layout underestimate heights: reserve ours.
    setMinimumHeight(sizeHint().height());
}

std::vector<QRect> ProbabilityLegend::rows() const
{
    const int line = fontMetrics().height();
    const int w = std::max(1, width() - 2 * kMargin);
    std::vector<QRect> out;
    int y = 2;
    out.emplace_back(kMargin, y, w, kBarHeight); // the colour ramp
    y += kBarHeight + 2;
    out.emplace_back(kMargin, y, w, line); // its labels
    y += line + 4;
    for (int i = 0; i < kSwatchRows; ++i) {
        out.emplace_back(kMargin, y, w, line);
        y += line;
    }
    return out;
}

QRect ProbabilityLegend::rowsRect() const
{
    QRect r;
    for (const QRect& row : rows())
        r |= row;
    return r;
}

QSize ProbabilityLegend::sizeHint() const
{
    return QSize(240, rowsRect().bottom() + 1 + kMargin);
}

void ProbabilityLegend::changeEvent(QEvent* event)
{
    // A new font or style changes the line height: ask for the height the rows now need.
    if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange) {
        setMinimumHeight(sizeHint().height());
        updateGeometry();
    }
    QWidget::changeEvent(event);
}

void ProbabilityLegend::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const std::vector<QRect> r = rows();
    const QRect& bar = r[0];
    QLinearGradient g(bar.topLeft(), bar.topRight());
    for (int i = 0; i <= 10; ++i)
        g.setColorAt(i / 10.0, toQColor(probabilityColour(i / 10.0f)));
    p.fillRect(bar, g);
    const QColor text = palette().color(QPalette::WindowText);
    p.setPen(text);
    p.drawText(r[1], Qt::AlignLeft | Qt::AlignVCenter, tr("0 healthy"));
    p.drawText(r[1], Qt::AlignHCenter | Qt::AlignVCenter, tr("P(parasitized)"));
    p.drawText(r[1], Qt::AlignRight | Qt::AlignVCenter, tr("1 parasitized"));
    size_t row = 2;
    auto swatch = [&](const QColor& c, Qt::PenStyle style, const QString& label) {
        const QRect& rr = r[row++];
        p.setPen(QPen(c, 2, style));
        p.drawLine(rr.left(), rr.center().y(), rr.left() + 22, rr.center().y());
        p.setPen(text);
        p.drawText(rr.adjusted(28, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, label);
    };
    swatch(toQColor(probabilityColour(-1.0f)), Qt::SolidLine, tr("not classified (no model)"));
    swatch(QColor(150, 150, 150), Qt::DashLine, tr("cut by the border (dashed; grey if excluded)"));
    swatch(toQColor(probabilityColour(1.0f)), Qt::SolidLine, tr("box: counted as parasitized"));
    swatch(toQColor(unsplitRegionColour()), Qt::DashLine,
           tr("~N: touching cells not split, not classified"));
}

} // namespace ml
