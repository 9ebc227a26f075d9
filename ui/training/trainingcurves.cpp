#include "trainingcurves.h"

#include "qcustomplotinclude.h"

#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ml {

namespace {

QCustomPlot* makePlot(QWidget* parent, const QString& title, const QString& xLabel,
                      const QString& yLabel)
{
    auto* p = new QCustomPlot(parent);
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0,
                                new QCPTextElement(p, title, QFont(QString(), 10, QFont::Bold)));
    p->xAxis->setLabel(xLabel);
    p->yAxis->setLabel(yLabel);
    p->legend->setVisible(true);
    QFont legendFont = parent->font();
    legendFont.setPointSizeF(std::max(6.0, legendFont.pointSizeF() - 1));
    p->legend->setFont(legendFont);
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    p->setMinimumHeight(150);
    // Plots are read-only: no mouse interactions that could fight with live updates.
    p->setInteractions(QCP::Interactions());
    return p;
}

QCPGraph* addCurve(QCustomPlot* p, const QString& name, const QColor& color, bool dots)
{
    QCPGraph* g = p->addGraph();
    g->setName(name);
    g->setPen(QPen(color, 2));
    if (dots)
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 5));
    return g;
}

QCPItemStraightLine* addBestLine(QCustomPlot* p)
{
    auto* line = new QCPItemStraightLine(p);
    line->setPen(QPen(QColor(0x2e, 0x7d, 0x32), 1.5, Qt::DashLine));
    line->setVisible(false);
    return line;
}

} // namespace

TrainingCurves::TrainingCurves(QWidget* parent)
    : QWidget(parent), m_replot(new QTimer(this)), m_ema(std::numeric_limits<double>::quiet_NaN())
{
    const QColor train(0x1f, 0x77, 0xb4), val(0xd6, 0x27, 0x28);
    m_loss = makePlot(this, tr("Loss per epoch"), tr("epoch"), tr("cross-entropy"));
    m_trainLoss = addCurve(m_loss, tr("training"), train, true);
    m_valLoss = addCurve(m_loss, tr("validation"), val, true);
    m_accuracy = makePlot(this, tr("Accuracy per epoch"), tr("epoch"), tr("accuracy"));
    m_trainAcc = addCurve(m_accuracy, tr("training"), train, true);
    m_valAcc = addCurve(m_accuracy, tr("validation"), val, true);
    m_batch = makePlot(this, tr("Training loss per batch"), tr("epoch"), tr("cross-entropy"));
    m_batchRaw = addCurve(m_batch, tr("batch"), QColor(0xb0, 0xc4, 0xde), false);
    m_batchRaw->setPen(QPen(QColor(0xb0, 0xc4, 0xde), 1));
    m_batchSmooth = addCurve(m_batch, tr("smoothed (EMA 0.9)"), train, false);
    m_bestLoss = addBestLine(m_loss);
    m_bestAcc = addBestLine(m_accuracy);
    m_bestLabel = new QCPItemText(m_loss);
    m_bestLabel->setColor(QColor(0x2e, 0x7d, 0x32));
    m_bestLabel->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_bestLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_bestLabel->setVisible(false);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_loss, 1);
    layout->addWidget(m_accuracy, 1);
    layout->addWidget(m_batch, 1);

    m_replot->setSingleShot(true);
    m_replot->setInterval(200);
    connect(m_replot, &QTimer::timeout, this, &TrainingCurves::replotNow);
    clear();
}

void TrainingCurves::clear()
{
    for (QCPGraph* g : {m_trainLoss, m_valLoss, m_trainAcc, m_valAcc, m_batchRaw, m_batchSmooth})
        g->data()->clear();
    m_ema = std::numeric_limits<double>::quiet_NaN();
    m_maxLoss = 0;
    markBest(0);
    setEpochCount(m_epochs);
    m_accuracy->yAxis->setRange(0.4, 1.0);
    m_loss->yAxis->setRange(0, 1);
    m_batch->yAxis->setRange(0, 1);
    replotNow();
}

void TrainingCurves::setEpochCount(int epochs)
{
    m_epochs = qMax(1, epochs);
    m_loss->xAxis->setRange(0.5, m_epochs + 0.5);
    m_accuracy->xAxis->setRange(0.5, m_epochs + 0.5);
    m_batch->xAxis->setRange(0, m_epochs);
    scheduleReplot();
}

void TrainingCurves::addEpoch(const EpochStats& s)
{
    m_trainLoss->addData(s.epoch, s.trainLoss);
    m_valLoss->addData(s.epoch, s.valLoss);
    m_trainAcc->addData(s.epoch, s.trainAccuracy);
    m_valAcc->addData(s.epoch, s.valAccuracy);
    m_maxLoss = std::max({m_maxLoss, s.trainLoss, s.valLoss});
    if (s.best)
        markBest(s.epoch);
    scheduleReplot();
}

void TrainingCurves::setHistory(const QList<EpochStats>& history, int bestEpoch)
{
    for (QCPGraph* g : {m_trainLoss, m_valLoss, m_trainAcc, m_valAcc})
        g->data()->clear();
    for (const EpochStats& s : history)
        addEpoch(s);
    markBest(bestEpoch);
    scheduleReplot();
}

void TrainingCurves::addBatch(int epoch, int batch, int batches, double loss)
{
    const double x = epoch - 1 + double(batch) / double(qMax(1, batches));
    m_ema = std::isnan(m_ema) ? loss : 0.9 * m_ema + 0.1 * loss;
    m_batchRaw->addData(x, loss);
    m_batchSmooth->addData(x, m_ema);
    m_maxLoss = std::max(m_maxLoss, loss);
    scheduleReplot();
}

void TrainingCurves::markBest(int epoch)
{
    m_bestEpoch = epoch;
    const bool on = epoch > 0;
    for (QCPItemStraightLine* line : {m_bestLoss, m_bestAcc}) {
        line->point1->setCoords(epoch, 0);
        line->point2->setCoords(epoch, 1);
        line->setVisible(on);
    }
    m_bestLabel->position->setCoords(epoch + 0.1, 0.02);
    m_bestLabel->setText(tr("best: epoch %1").arg(epoch));
    m_bestLabel->setVisible(on);
    scheduleReplot();
}

void TrainingCurves::scheduleReplot()
{
    if (!m_replot->isActive())
        m_replot->start();
}

void TrainingCurves::replotNow()
{
    const double top = m_maxLoss > 0 ? m_maxLoss * 1.1 : 1.0;
    m_loss->yAxis->setRange(0, top);
    m_batch->yAxis->setRange(0, top);
    bool found = false;
    const QCPRange acc = m_trainAcc->data()->valueRange(found);
    bool found2 = false;
    const QCPRange acc2 = m_valAcc->data()->valueRange(found2);
    double low = 1.0;
    if (found)
        low = std::min(low, acc.lower);
    if (found2)
        low = std::min(low, acc2.lower);
    m_accuracy->yAxis->setRange(
        found || found2 ? std::max(0.0, std::floor(low * 20) / 20 - 0.05) : 0.4, 1.0);
    for (QCustomPlot* p : {m_loss, m_accuracy, m_batch})
        p->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace ml
