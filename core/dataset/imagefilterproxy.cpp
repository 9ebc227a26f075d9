#include "imagefilterproxy.h"

#include "imagelistmodel.h"

namespace ml {

ImageFilterProxy::ImageFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {}

void ImageFilterProxy::setClassFilter(int label)
{
    if (label == m_label)
        return;
    m_label = label;
    invalidateFilter();
}

void ImageFilterProxy::setTextFilter(const QString& text)
{
    if (text == m_text)
        return;
    m_text = text;
    invalidateFilter();
}

bool ImageFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex idx = sourceModel()->index(sourceRow, 0, sourceParent);
    if (m_label != AllClasses && idx.data(ImageListModel::LabelRole).toInt() != m_label)
        return false;
    if (m_text.isEmpty())
        return true;
    return idx.data(ImageListModel::RelativePathRole)
               .toString()
               .contains(m_text, Qt::CaseInsensitive) ||
           idx.data(ImageListModel::PatientRole).toString().contains(m_text, Qt::CaseInsensitive);
}

} // namespace ml
