#include "thumbnaildelegate.h"

#include "imagelistmodel.h"

#include <QPainter>

namespace ml {

void ThumbnailDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                              const QModelIndex& index) const
{
    QStyledItemDelegate::paint(painter, option, index);
    if (index.data(ImageListModel::CorrectedRole).toBool()) {
        // A reviewer changed this image's label (Review page): an amber tag, top right.
        painter->save();
        QFont f = option.font;
        f.setPixelSize(std::max(8, option.rect.height() / 11));
        painter->setFont(f);
        const QString text = tr("corrected");
        const QFontMetrics fm(f);
        const int w = fm.horizontalAdvance(text) + 6;
        const QRect tag(option.rect.right() - w - 2, option.rect.top() + 3, w, fm.height());
        painter->setRenderHint(QPainter::Antialiasing);
        painter->setPen(Qt::NoPen);
        painter->setBrush(QColor(230, 150, 20, 230));
        painter->drawRoundedRect(tag, 3, 3);
        painter->setPen(Qt::black);
        painter->drawText(tag, Qt::AlignCenter, text);
        painter->restore();
    }
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
