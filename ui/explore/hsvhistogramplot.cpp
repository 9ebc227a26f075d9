#include "hsvhistogramplot.h"

#include "hsvhistogram.h"

#include <QVBoxLayout>

#include "qcustomplotinclude.h"

namespace ml {

namespace {

// Parasitized in the difference map's red, Uninfected in its blue; other classes after.
QColor classColour(const QString& name, int index)
{
    if (name.compare(QLatin1String("Parasitized"), Qt::CaseInsensitive) == 0)
        return QColor(178, 24, 43);
    if (name.compare(QLatin1String("Uninfected"), Qt::CaseInsensitive) == 0)
        return QColor(33, 102, 172);
    static const QColor others[] = {QColor(27, 158, 119), QColor(217, 95, 2), QColor(117, 112, 179),
                                    QColor(102, 102, 102)};
    return others[index % 4];
}

} // namespace

HsvHistogramPlot::HsvHistogramPlot(QWidget* parent) : QWidget(parent), m_plot(new QCustomPlot(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->setMinimumHeight(300);
    // Each channel has its own axes; one legend (in the hue plot) is built by hand.
    m_plot->setAutoAddPlottableToLegend(false);
    clear(tr("No histograms yet."));
}

int HsvHistogramPlot::graphCount() const
{
    return m_plot->graphCount();
}

void HsvHistogramPlot::clear(const QString& message)
{
    m_plot->clearGraphs();
    m_plot->plotLayout()->clear();
    m_plot->plotLayout()->addElement(0, 0, new QCPTextElement(m_plot, message));
    m_plot->replot();
}

void HsvHistogramPlot::setResult(const HsvHistogramResult& result)
{
    if (!result.complete) {
        clear(result.cancelled ? tr("Histograms cancelled: nothing to show.")
                               : tr("Histograms not computed: %1").arg(result.error));
        return;
    }
    m_plot->clearGraphs();
    m_plot->plotLayout()->clear();
    const QString titles[3] = {tr("Hue (OpenCV 0\u2013179 = 0\u2013358\u00b0)"),
                               tr("Saturation (0\u2013255)"), tr("Value (0\u2013255)")};
    const HsvChannel channels[3] = {HsvChannel::Hue, HsvChannel::Saturation, HsvChannel::Value};
    QCPLegend* legend = nullptr;
    for (int ch = 0; ch < 3; ++ch) {
        auto* rect = new QCPAxisRect(m_plot);
        m_plot->plotLayout()->addElement(ch, 0, rect);
        rect->axis(QCPAxis::atBottom)->setLabel(titles[ch]);
        rect->axis(QCPAxis::atLeft)->setLabel(tr("% of pixels"));
        double top = 0;
        for (int c = 0; c < int(result.classes.size()); ++c) {
            const ClassHsvHistogram& h = result.classes[size_t(c)];
            if (h.pixels <= 0)
                continue;
            const std::vector<double> f = h.fractions(channels[ch]);
            QVector<double> x(qsizetype(f.size())), y(qsizetype(f.size()));
            for (size_t i = 0; i < f.size(); ++i) {
                x[qsizetype(i)] = double(i);
                y[qsizetype(i)] = 100.0 * f[i];
                top = std::max(top, y[qsizetype(i)]);
            }
            QCPGraph* g =
                m_plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            g->setData(x, y, true);
            g->setPen(QPen(classColour(h.className, c), 1.5));
            g->setName(tr("%1 (%2 images)").arg(h.className).arg(h.images));
            g->setLineStyle(QCPGraph::lsStepCenter);
        }
        rect->axis(QCPAxis::atBottom)->setRange(-0.5, (ch == 0 ? 180 : 256) - 0.5);
        rect->axis(QCPAxis::atLeft)->setRange(0, top > 0 ? top * 1.05 : 1);
        if (ch == 0) {
            legend = new QCPLegend;
            rect->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
            legend->setLayer(QStringLiteral("legend"));
            for (int i = 0; i < m_plot->graphCount(); ++i)
                legend->addItem(new QCPPlottableLegendItem(legend, m_plot->graph(i)));
        }
    }
    m_plot->replot();
}

} // namespace ml
