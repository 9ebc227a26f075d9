#pragma once

#include "dataset.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLineEdit;
class QListView;
class QLabel;

namespace ml {

class DetailView;
class ImageFilterProxy;
class ImageListModel;
class ThumbnailService;

/// The thumbnail grid of the whole folder with a class filter, a search box and the
/// detail view of the selected image.
class BrowserPage : public QWidget
{
    Q_OBJECT
public:
    /// `thumbnails` is not owned.
    explicit BrowserPage(ThumbnailService* thumbnails, QWidget* parent = nullptr);

    void setDataset(std::shared_ptr<const Dataset> dataset);
    QListView* listView() const { return m_list; }
    ImageListModel* model() const { return m_model; }
    ImageFilterProxy* proxy() const { return m_proxy; }
    DetailView* detailView() const { return m_detail; }

public Q_SLOTS:
    /// Thumbnail size steps (View menu zoom).
    void zoomThumbnails(int steps);

Q_SIGNALS:
    /// The user asked to analyse the selected image as a whole field (find and count cells).
    void fieldAnalysisRequested(const QString& path);

private:
    void updateCount();
    void showCurrent();

    ImageListModel* m_model;
    ImageFilterProxy* m_proxy;
    QListView* m_list;
    QComboBox* m_classBox;
    QLineEdit* m_search;
    QLabel* m_count;
    DetailView* m_detail;
    int m_iconEdge = 96;
};

} // namespace ml
