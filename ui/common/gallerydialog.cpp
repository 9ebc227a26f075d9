#include "gallerydialog.h"

#include "imagelistmodel.h"
#include "thumbnaildelegate.h"
#include "thumbnailservice.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QListView>
#include <QVBoxLayout>

namespace ml {

GalleryDialog::GalleryDialog(const QString& title, const ClassificationResults& results,
                             const QList<int>& indices, ThumbnailService* thumbnails,
                             QWidget* parent)
    : QDialog(parent), m_view(new QListView(this)), m_model(new ImageListModel(thumbnails, this))
{
    setWindowTitle(title);
    // A sub-dataset of the chosen images, with their results copied, so the gallery reuses
    // the browser's lazy thumbnails and probability badges.
    auto sub = std::make_shared<Dataset>();
    const Dataset& ds = *results.dataset();
    sub->root = ds.root;
    sub->classNames = ds.classNames;
    for (int i : indices)
        sub->images.append(ds.images.at(i));
    std::shared_ptr<const Dataset> subConst = sub;
    auto subResults = std::make_shared<ClassificationResults>(subConst, results.threshold());
    for (int k = 0; k < indices.size(); ++k)
        subResults->set(k, results.probability(indices.at(k)), results.error(indices.at(k)));
    m_model->setDataset(subConst);
    m_model->setResults(subResults);

    m_view->setModel(m_model);
    m_view->setViewMode(QListView::IconMode);
    m_view->setResizeMode(QListView::Adjust);
    m_view->setMovement(QListView::Static);
    m_view->setUniformItemSizes(true);
    m_view->setIconSize(QSize(thumbnails->edge(), thumbnails->edge()));
    m_view->setGridSize(QSize(thumbnails->edge() + 24, thumbnails->edge() + 28));
    m_view->setTextElideMode(Qt::ElideMiddle);
    m_view->setItemDelegate(new ThumbnailDelegate(m_view));
    m_view->setAccessibleName(title);
    connect(m_view, &QListView::activated, this, [this](const QModelIndex& index) {
        Q_EMIT imageActivated(index.data(ImageListModel::PathRole).toString());
    });

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(
        tr("%n image(s); the badge is P(Parasitized). Double-click a cell for its heatmap.",
           nullptr, int(indices.size())),
        this));
    layout->addWidget(m_view, 1);
    layout->addWidget(buttons);
    resize(900, 650);
}

int GalleryDialog::imageCount() const
{
    return m_model->rowCount();
}

} // namespace ml
