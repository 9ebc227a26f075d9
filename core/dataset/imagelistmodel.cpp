#include "imagelistmodel.h"

#include "thumbnailservice.h"

#include <QPainter>

namespace ml {

namespace {
QImage tile(int edge, QColor fill, QColor cross)
{
    QImage img(edge, edge, QImage::Format_RGB32);
    img.fill(fill);
    if (cross.isValid()) {
        QPainter p(&img);
        p.setPen(QPen(cross, 3));
        p.drawLine(edge / 4, edge / 4, 3 * edge / 4, 3 * edge / 4);
        p.drawLine(3 * edge / 4, edge / 4, edge / 4, 3 * edge / 4);
    }
    return img;
}
} // namespace

ImageListModel::ImageListModel(ThumbnailService* thumbnails, QObject* parent)
    : QAbstractListModel(parent), m_thumbnails(thumbnails)
{
    m_placeholder = tile(thumbnails->edge(), QColor(230, 230, 230), QColor());
    m_broken = tile(thumbnails->edge(), QColor(250, 225, 225), QColor(200, 40, 40));
    connect(m_thumbnails, &ThumbnailService::thumbnailReady, this, &ImageListModel::onThumbnail);
    connect(m_thumbnails, &ThumbnailService::thumbnailFailed, this,
            [this](const QString& path, const QString&) { onThumbnail(path); });
}

void ImageListModel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    beginResetModel();
    m_thumbnails->clearPending();
    m_dataset = std::move(dataset);
    m_rowOfPath.clear();
    if (m_dataset) {
        m_rowOfPath.reserve(m_dataset->images.size());
        for (int i = 0; i < m_dataset->images.size(); ++i)
            m_rowOfPath.insert(m_dataset->absolutePath(i), i);
    }
    endResetModel();
}

int ImageListModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() || !m_dataset)
        return 0;
    return int(m_dataset->images.size());
}

QVariant ImageListModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ImageEntry& e = m_dataset->images.at(index.row());
    switch (role) {
    case Qt::DisplayRole: {
        const int slash = e.relativePath.lastIndexOf(QLatin1Char('/'));
        return e.relativePath.mid(slash + 1);
    }
    case Qt::ToolTipRole: {
        QString tip = QStringLiteral("%1\n%2: %3\n%4: %5")
                          .arg(e.relativePath, tr("Class"), m_dataset->className(e.label),
                               tr("Patient"), e.patient);
        if (e.corrected)
            tip +=
                QStringLiteral("\n") +
                tr("Corrected by a reviewer (folder: %1)").arg(m_dataset->className(e.folderLabel));
        const QString err = m_thumbnails->failure(m_dataset->absolutePath(index.row()));
        if (!err.isEmpty())
            tip += QStringLiteral("\n") + tr("Cannot be shown: %1").arg(err);
        return tip;
    }
    case Qt::DecorationRole: {
        const QString path = m_dataset->absolutePath(index.row());
        const QImage img = m_thumbnails->thumbnail(path);
        if (!img.isNull())
            return img;
        return m_thumbnails->failure(path).isEmpty() ? m_placeholder : m_broken;
    }
    case PathRole:
        return m_dataset->absolutePath(index.row());
    case RelativePathRole:
        return e.relativePath;
    case LabelRole:
        return e.label;
    case ClassNameRole:
        return m_dataset->className(e.label);
    case PatientRole:
        return e.patient;
    case ErrorRole:
        return m_thumbnails->failure(m_dataset->absolutePath(index.row()));
    case ProbabilityRole:
        return m_results && m_results->dataset() == m_dataset
                   ? double(m_results->probability(index.row()))
                   : -1.0;
    case PredictedRole:
        return m_results && m_results->dataset() == m_dataset ? m_results->predicted(index.row())
                                                              : -1;
    case CorrectedRole:
        return e.corrected;
    case ThumbnailReadyRole: {
        const QString path = m_dataset->absolutePath(index.row());
        return !m_thumbnails->failure(path).isEmpty() || !m_thumbnails->cached(path).isNull();
    }
    default:
        return {};
    }
}

QHash<int, QByteArray> ImageListModel::roleNames() const
{
    auto names = QAbstractListModel::roleNames();
    names.insert(PathRole, "path");
    names.insert(RelativePathRole, "relativePath");
    names.insert(LabelRole, "label");
    names.insert(ClassNameRole, "className");
    names.insert(PatientRole, "patient");
    names.insert(ErrorRole, "error");
    names.insert(ThumbnailReadyRole, "thumbnailReady");
    names.insert(ProbabilityRole, "probability");
    names.insert(PredictedRole, "predicted");
    names.insert(CorrectedRole, "corrected");
    return names;
}

void ImageListModel::setResults(std::shared_ptr<const ClassificationResults> results)
{
    m_results = std::move(results);
    if (rowCount() > 0)
        resultsUpdated(0, rowCount() - 1);
}

void ImageListModel::resultsUpdated(int first, int last)
{
    if (!m_dataset || first > last || last >= rowCount())
        return;
    Q_EMIT dataChanged(index(first), index(last), {ProbabilityRole, PredictedRole});
}

void ImageListModel::onThumbnail(const QString& path)
{
    const auto it = m_rowOfPath.constFind(path);
    if (it == m_rowOfPath.cend())
        return;
    const QModelIndex idx = index(*it);
    Q_EMIT dataChanged(idx, idx,
                       {Qt::DecorationRole, Qt::ToolTipRole, ErrorRole, ThumbnailReadyRole});
}

} // namespace ml
