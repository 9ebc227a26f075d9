#pragma once

#include <QImage>
#include <QWidget>

namespace ml {

/// Shows one image scaled to fit (aspect kept) under a caption. Small images (mean images
/// at 64x64) are enlarged without smoothing so every pixel stays visible; labelled figures
/// are scaled smoothly. A panel without an image shows its placeholder text instead.
/// GUI thread only.
class ImagePanel : public QWidget
{
    Q_OBJECT
public:
    explicit ImagePanel(QWidget* parent = nullptr);

    void setImage(const QImage& image);
    QImage image() const { return m_image; }
    void setCaption(const QString& caption);
    QString caption() const { return m_caption; }
    /// Text drawn when there is no image (e.g. "No images in this class").
    void setPlaceholder(const QString& text);
    /// Smooth scaling (figures, photos) or nearest neighbour (pixel data).
    void setSmooth(bool smooth);
    /// Clears image and sets the placeholder.
    void clear(const QString& placeholder = QString());

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QImage m_image;
    QString m_caption;
    QString m_placeholder;
    bool m_smooth = false;
};

} // namespace ml
