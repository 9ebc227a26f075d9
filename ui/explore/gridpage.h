#pragma once

#include "batchgrid.h"

#include <QFutureWatcher>
#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QPushButton;

namespace ml {

class BatchGridWidget;

/// The study's 3x3 / 6x6 grid of one batch with "next batch" and "shuffle".
/// Images decode in the background; the grid updates when they are ready.
class GridPage : public QWidget
{
    Q_OBJECT
public:
    explicit GridPage(QWidget* parent = nullptr);
    ~GridPage() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    /// 3 or 6.
    void setGridSize(int size);
    int gridSize() const { return m_size; }
    BatchGridWidget* gridWidget() const { return m_grid; }

public Q_SLOTS:
    void nextBatch();
    void shuffle();

Q_SIGNALS:
    /// Emitted once the tiles of a batch are shown.
    void batchShown(int images);

private:
    void reload();

    std::shared_ptr<const Dataset> m_dataset;
    BatchGridWidget* m_grid;
    QComboBox* m_sizeBox;
    QLabel* m_caption;
    QFutureWatcher<QList<GridTile>> m_watcher;
    int m_size = 3;
    int m_batch = 0;
    quint32 m_seed = 0;
};

} // namespace ml
