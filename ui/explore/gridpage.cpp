#include "gridpage.h"

#include "batchgridwidget.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRandomGenerator>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

GridPage::GridPage(QWidget* parent) : QWidget(parent), m_grid(new BatchGridWidget(this))
{
    m_sizeBox = new QComboBox(this);
    m_sizeBox->addItem(tr("3 x 3"), 3);
    m_sizeBox->addItem(tr("6 x 6"), 6);
    m_sizeBox->setAccessibleName(tr("Grid size"));
    auto* next = new QPushButton(tr("&Next batch"), this);
    next->setShortcut(QKeySequence(Qt::Key_N));
    next->setToolTip(tr("Show the next batch of images (N)"));
    auto* shuffleButton = new QPushButton(tr("&Shuffle"), this);
    shuffleButton->setToolTip(tr("Draw a new random order of the folder"));
    m_caption = new QLabel(this);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Grid:"), this));
    bar->addWidget(m_sizeBox);
    bar->addWidget(next);
    bar->addWidget(shuffleButton);
    bar->addStretch();
    bar->addWidget(m_caption);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_grid, 1);

    connect(m_sizeBox, &QComboBox::currentIndexChanged, this,
            [this](int) { setGridSize(m_sizeBox->currentData().toInt()); });
    connect(next, &QPushButton::clicked, this, &GridPage::nextBatch);
    connect(shuffleButton, &QPushButton::clicked, this, &GridPage::shuffle);
    connect(&m_watcher, &QFutureWatcher<QList<GridTile>>::finished, this, [this] {
        const QList<GridTile> tiles = m_watcher.result();
        m_grid->setTiles(tiles, m_size);
        Q_EMIT batchShown(int(tiles.size()));
    });
}

GridPage::~GridPage()
{
    m_watcher.waitForFinished();
}

void GridPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    m_batch = 0;
    // A shuffled first batch shows both classes at once, as the study's plots did.
    m_seed = 1;
    reload();
}

void GridPage::setGridSize(int size)
{
    if (size != 3 && size != 6)
        return;
    m_size = size;
    const int idx = m_sizeBox->findData(size);
    if (idx != m_sizeBox->currentIndex())
        m_sizeBox->setCurrentIndex(idx);
    reload();
}

void GridPage::nextBatch()
{
    ++m_batch;
    reload();
}

void GridPage::shuffle()
{
    m_seed = QRandomGenerator::global()->generate() | 1u;
    m_batch = 0;
    reload();
}

void GridPage::reload()
{
    if (!m_dataset || m_dataset->images.isEmpty()) {
        m_grid->setTiles({}, m_size);
        m_caption->clear();
        return;
    }
    const int count = m_size * m_size;
    const QList<int> indices = batchIndices(*m_dataset, count, m_batch, m_seed);
    m_caption->setText(tr("Batch %1 of %2")
                           .arg(m_batch % ((m_dataset->images.size() + count - 1) / count) + 1)
                           .arg((m_dataset->images.size() + count - 1) / count));
    auto dataset = m_dataset;
    const int edge = m_size == 3 ? 256 : 128;
    m_watcher.setFuture(QtConcurrent::run(
        [dataset, indices, edge] { return loadGridTiles(*dataset, indices, edge); }));
}

} // namespace ml
