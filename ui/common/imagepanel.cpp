#include "imagepanel.h"

#include <QPainter>

namespace ml {

ImagePanel::ImagePanel(QWidget* parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void ImagePanel::setImage(const QImage& image)
{
    m_image = image;
    update();
}

void ImagePanel::setCaption(const QString& caption)
{
    m_caption = caption;
    update();
}

void ImagePanel::setPlaceholder(const QString& text)
{
    m_placeholder = text;
    update();
}

void ImagePanel::setSmooth(bool smooth)
{
    m_smooth = smooth;
    update();
}

void ImagePanel::clear(const QString& placeholder)
{
    m_image = QImage();
    m_placeholder = placeholder;
    update();
}

QSize ImagePanel::sizeHint() const
{
    return {220, 240};
}

QSize ImagePanel::minimumSizeHint() const
{
    return {96, 110};
}

void ImagePanel::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    const QFontMetrics fm = fontMetrics();
    QRect area = rect();
    if (!m_caption.isEmpty()) {
        const QRect captionRect = fm.boundingRect(area.adjusted(2, 0, -2, 0),
                                                  Qt::AlignHCenter | Qt::TextWordWrap, m_caption);
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QRect(0, 2, width(), captionRect.height()), Qt::AlignHCenter | Qt::TextWordWrap,
                   m_caption);
        area.setTop(captionRect.height() + 6);
    }
    if (m_image.isNull()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawRect(area.adjusted(4, 4, -5, -5));
        p.drawText(area.adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, m_placeholder);
        return;
    }
    const QSize fitted = m_image.size().scaled(area.size(), Qt::KeepAspectRatio);
    const QRect target(area.x() + (area.width() - fitted.width()) / 2,
                       area.y() + (area.height() - fitted.height()) / 2, fitted.width(),
                       fitted.height());
    p.setRenderHint(QPainter::SmoothPixmapTransform, m_smooth);
    p.drawImage(target, m_image);
}

} // namespace ml
