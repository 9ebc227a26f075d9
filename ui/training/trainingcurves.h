#pragma once
// Live training curves: the reference study's two panels plus the per-batch loss.

#include "trainer.h"

#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QTimer;

namespace ml {

/// Three QCustomPlots: training vs validation loss per epoch, training vs validation accuracy
/// per epoch (best epoch marked with a dashed line on both), and the training loss of every
/// batch (raw, light) with its exponential moving average (smoothed). Redraws are coalesced
/// (at most every 200 ms), so a fast stream of batches costs the GUI thread little.
class TrainingCurves : public QWidget
{
    Q_OBJECT
public:
    explicit TrainingCurves(QWidget* parent = nullptr);

    /// Empties every curve.
    void clear();
    /// Sets the x range to 1..epochs for the epoch panels.
    void setEpochCount(int epochs);
    void addEpoch(const EpochStats& stats);
    /// Replaces the epoch curves (e.g. the full history of a resumed run when it ends).
    void setHistory(const QList<EpochStats>& history, int bestEpoch);
    /// One batch loss; x = epoch - 1 + batch / batches.
    void addBatch(int epoch, int batch, int batches, double loss);
    /// Marks `epoch` as the best (lowest validation loss); 0 removes the mark.
    void markBest(int epoch);

    int bestEpoch() const { return m_bestEpoch; }
    /// Latest smoothed batch loss (NaN before the first batch).
    double smoothedBatchLoss() const { return m_ema; }
    QCustomPlot* lossPlot() const { return m_loss; }
    QCustomPlot* accuracyPlot() const { return m_accuracy; }
    QCustomPlot* batchPlot() const { return m_batch; }

private:
    void scheduleReplot();
    void replotNow();

    QCustomPlot* m_loss;
    QCustomPlot* m_accuracy;
    QCustomPlot* m_batch;
    QCPGraph* m_trainLoss;
    QCPGraph* m_valLoss;
    QCPGraph* m_trainAcc;
    QCPGraph* m_valAcc;
    QCPGraph* m_batchRaw;
    QCPGraph* m_batchSmooth;
    QCPItemStraightLine* m_bestLoss;
    QCPItemStraightLine* m_bestAcc;
    QCPItemText* m_bestLabel;
    QTimer* m_replot;
    int m_epochs = 20;
    int m_bestEpoch = 0;
    double m_ema;
    double m_maxLoss = 0;
};

} // namespace ml
