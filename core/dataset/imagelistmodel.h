#pragma once

#include "classificationresults.h"
#include "dataset.h"

#include <QAbstractListModel>
#include <QHash>
#include <QImage>

#include <memory>

namespace ml {

class ThumbnailService;

/// Item model of one scanned folder: one row per image, thumbnails on demand.
/// Only the rows a view asks for (the visible ones) trigger decoding.
class ImageListModel : public QAbstractListModel
{
    Q_OBJECT
public:
    enum Role {
        PathRole = Qt::UserRole + 1, ///< absolute path (QString)
        RelativePathRole,            ///< path relative to the folder (QString)
        LabelRole,                   ///< class index, -1 unlabeled (int)
        ClassNameRole,               ///< class name or "unlabeled" (QString)
        PatientRole,                 ///< patient/slide id (QString)
        ErrorRole,                   ///< decode failure reason, empty when fine (QString)
        ThumbnailReadyRole,          ///< true once the thumbnail is decoded (bool)
        ProbabilityRole,             ///< P(Parasitized) once classified, else -1 (double)
        PredictedRole,               ///< predicted class 0/1 at the threshold, -1 (int)
        CorrectedRole,               ///< a reviewer's correction replaced the label (bool)
    };

    /// `thumbnails` is not owned and must outlive the model.
    explicit ImageListModel(ThumbnailService* thumbnails, QObject* parent = nullptr);

    void setDataset(std::shared_ptr<const Dataset> dataset);
    std::shared_ptr<const Dataset> dataset() const { return m_dataset; }
    /// Classification results of the same dataset for the probability badges (or null).
    void setResults(std::shared_ptr<const ClassificationResults> results);
    /// Results for rows [first, last] changed (or the threshold: pass the whole range).
    void resultsUpdated(int first, int last);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

private:
    void onThumbnail(const QString& path);

    ThumbnailService* m_thumbnails;
    std::shared_ptr<const Dataset> m_dataset;
    std::shared_ptr<const ClassificationResults> m_results;
    QHash<QString, int> m_rowOfPath;
    QImage m_placeholder;
    QImage m_broken;
};

} // namespace ml
