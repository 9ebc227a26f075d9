#pragma once

#include "classificationresults.h"

#include <QDialog>

class QListView;

namespace ml {

class ImageListModel;
class ThumbnailService;

/// A gallery of some images of a classified folder (e.g. the false positives), each with
/// its probability badge; the tooltip names file and patient; double-click (or Enter)
/// emits imageActivated() (the evaluation page shows the cell's heatmap).
class GalleryDialog : public QDialog
{
    Q_OBJECT
public:
    /// `indices` into the dataset of `results`; `thumbnails` is not owned.
    GalleryDialog(const QString& title, const ClassificationResults& results,
                  const QList<int>& indices, ThumbnailService* thumbnails,
                  QWidget* parent = nullptr);

    QListView* view() const { return m_view; }
    int imageCount() const;

Q_SIGNALS:
    /// A cell was double-clicked or Enter was pressed on it: its absolute path.
    void imageActivated(const QString& path);

private:
    QListView* m_view;
    ImageListModel* m_model;
};

} // namespace ml
