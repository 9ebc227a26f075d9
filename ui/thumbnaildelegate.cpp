#include "thumbnaildelegate.h"

#include "imagelistmodel.h"

#include <QPainter>

namespace ml {

void ThumbnailDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                              const QModelIndex& index) const
{
    QStyledItemDelegate::paint(painter, option, index);
    const double p = index.data(ImageListModel::ProbabilityRole).toDouble();
    if (p < 0)
        return;
    const bool parasitized = index.data(ImageListModel::PredictedRole).toInt() == 0;
    painter->save();
    QFont f = option.font;
    f.setBold(true);
    f.setPixelSize(std::max(9, option.rect.height() / 9));
    painter->setFont(f);
    const QString text = QStringLiteral("%1%").arg(qRound(p * 100));
    const QFontMetrics fm(f);
    const QRect badge(option.rect.left() + 3, option.rect.top() + 3, fm.horizontalAdvance(text) + 8,
                      fm.height() + 2);
    painter->setRenderHint(QPainter::Antialiasing);
    painter->setPen(Qt::NoPen);
    painter->setBrush(parasitized ? QColor(200, 30, 45, 225) : QColor(30, 140, 70, 225));
    painter->drawRoundedRect(badge, 4, 4);
    painter->setPen(Qt::white);
    painter->drawText(badge, Qt::AlignCenter, text);
    painter->restore();
}

} // namespace ml
