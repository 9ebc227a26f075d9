#include "browserpage.h"

#include "detailview.h"
#include "imagefilterproxy.h"
#include "imagelistmodel.h"
#include "thumbnaildelegate.h"
#include "thumbnailservice.h"

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QSplitter>
#include <QVBoxLayout>

namespace ml {

BrowserPage::BrowserPage(ThumbnailService* thumbnails, QWidget* parent)
    : QWidget(parent), m_model(new ImageListModel(thumbnails, this)),
      m_proxy(new ImageFilterProxy(this)), m_list(new QListView(this)),
      m_classBox(new QComboBox(this)), m_search(new QLineEdit(this)), m_count(new QLabel(this)),
      m_detail(new DetailView(this)), m_iconEdge(thumbnails->edge())
{
    m_proxy->setSourceModel(m_model);
    m_list->setModel(m_proxy);
    m_list->setViewMode(QListView::IconMode);
    m_list->setResizeMode(QListView::Adjust);
    m_list->setMovement(QListView::Static);
    // Uniform sizes let the view lay out 30,000 items without asking each for its size.
    m_list->setUniformItemSizes(true);
    m_list->setLayoutMode(QListView::Batched);
    m_list->setBatchSize(500);
    m_list->setSpacing(4);
    m_list->setWordWrap(false);
    m_list->setTextElideMode(Qt::ElideMiddle);
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_list->setAccessibleName(tr("Thumbnails"));
    m_list->setItemDelegate(new ThumbnailDelegate(m_list));
    zoomThumbnails(0);
    auto* asField = new QAction(tr("Analyse as a &field image"), m_list);
    asField->setToolTip(tr("Find, classify and count the cells of this image (Fields page)"));
    connect(asField, &QAction::triggered, this, [this] {
        const QModelIndex idx = m_list->currentIndex();
        if (idx.isValid())
            Q_EMIT fieldAnalysisRequested(idx.data(ImageListModel::PathRole).toString());
    });
    m_list->addAction(asField);
    m_list->setContextMenuPolicy(Qt::ActionsContextMenu);

    m_classBox->setAccessibleName(tr("Class filter"));
    m_classBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_search->setPlaceholderText(tr("Search file name or patient"));
    m_search->setClearButtonEnabled(true);
    m_search->setAccessibleName(tr("Search"));

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Class:"), this));
    bar->addWidget(m_classBox);
    bar->addWidget(m_search, 1);
    bar->addWidget(m_count);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(bar);
    leftLayout->addWidget(m_list, 1);

    auto* split = new QSplitter(this);
    split->addWidget(left);
    split->addWidget(m_detail);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_classBox, &QComboBox::currentIndexChanged, this, [this](int) {
        m_proxy->setClassFilter(m_classBox->currentData().toInt());
        updateCount();
    });
    connect(m_search, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setTextFilter(text.trimmed());
        updateCount();
    });
    connect(m_list->selectionModel(), &QItemSelectionModel::currentChanged, this,
            &BrowserPage::showCurrent);
}

void BrowserPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_model->setDataset(dataset);
    const QSignalBlocker block(m_classBox);
    m_classBox->clear();
    m_classBox->addItem(tr("All classes"), ImageFilterProxy::AllClasses);
    if (dataset) {
        const auto counts = dataset->countPerClass();
        for (int i = 0; i < dataset->classNames.size(); ++i)
            m_classBox->addItem(QStringLiteral("%1 (%2)")
                                    .arg(dataset->classNames.at(i))
                                    .arg(counts.value(dataset->classNames.at(i))),
                                i);
    }
    m_proxy->setClassFilter(ImageFilterProxy::AllClasses);
    m_search->clear();
    m_detail->clear();
    updateCount();
}

void BrowserPage::zoomThumbnails(int steps)
{
    m_iconEdge = std::clamp(m_iconEdge + steps * 16, 48, 192);
    m_list->setIconSize(QSize(m_iconEdge, m_iconEdge));
    m_list->setGridSize(QSize(m_iconEdge + 24, m_iconEdge + 28));
}

void BrowserPage::updateCount()
{
    m_count->setText(tr("%1 of %2 images").arg(m_proxy->rowCount()).arg(m_model->rowCount()));
}

void BrowserPage::showCurrent()
{
    const QModelIndex idx = m_list->currentIndex();
    if (!idx.isValid()) {
        m_detail->clear();
        return;
    }
    m_detail->showImage(idx.data(ImageListModel::PathRole).toString(),
                        {tr("Class: %1").arg(idx.data(ImageListModel::ClassNameRole).toString()),
                         tr("Patient: %1").arg(idx.data(ImageListModel::PatientRole).toString())});
}

} // namespace ml
