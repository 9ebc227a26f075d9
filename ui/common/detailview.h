#pragma once

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

class QLabel;
class QGraphicsView;
class QGraphicsScene;
class QGraphicsPixmapItem;

namespace ml {

/// One image at full resolution with zoom (wheel, buttons, fit) and its metadata.
/// Decoding runs in the background.
class DetailView : public QWidget
{
    Q_OBJECT
public:
    explicit DetailView(QWidget* parent = nullptr);
    ~DetailView() override;

    /// Shows `path`; `metadata` lines (class, patient ...) are listed under the image.
    void showImage(const QString& path, const QStringList& metadata);
    void clear();

public Q_SLOTS:
    void zoomIn();
    void zoomOut();
    void zoomToFit();

Q_SIGNALS:
    void imageShown(const QString& path);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Loaded
    {
        QString path;
        QImage image;
        QString error;
        int channels = 0;
        int bitDepth = 0;
    };
    void onLoaded();

    QGraphicsView* m_view;
    QGraphicsScene* m_scene;
    QGraphicsPixmapItem* m_item;
    QLabel* m_info;
    QStringList m_metadata;
    QFutureWatcher<Loaded> m_watcher;
    bool m_fit = true;
};

} // namespace ml
