#pragma once

#include <QStyledItemDelegate>

namespace ml {

/// Paints a thumbnail as usual plus, once the image is classified, a badge with the
/// probability of Parasitized: red when predicted Parasitized, green otherwise; and a
/// "corrected" tag on images whose label a reviewer corrected.
class ThumbnailDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override;
};

} // namespace ml
