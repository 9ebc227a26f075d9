#pragma once
// The cells to confirm of one patient, field or slide: the most suspicious cells (highest
// P(Parasitized)) in a gallery, each shown as it is beside the Grad-CAM heatmap over what the
// model sees. A reviewer confirms or rejects them with the Review keys (P parasitized,
// U uninfected, X unsure, S skip, Z undo) or the buttons; every decision goes to the
// corrections database (the same append-only audit trail as the Review page), with the
// reviewer's name. A patient or slide with a confirmed parasite is then reported infected
// whatever the estimate.
//
// The cells come from either source through CellsToConfirm:
//  - cellsOfPatient(): a patient of a classified folder of cell images (Classify page). Each
//    cell is an image file, recorded by its path and content hash, as the Review page does.
//  - cellsOfFields(): one field, or every field of a slide (Fields page). Each cell is a box
//    inside a field image, recorded under fieldCellKey() ("<field path>#cell=x,y,w,h") without
//    a hash, so the trail names the field and the box, and the key can never be mistaken for
//    an image file of a folder.

#include "classifier.h"
#include "dataset.h"
#include "reviewqueue.h"

#include <QDialog>
#include <QFutureWatcher>
#include <QHash>
#include <QList>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <memory>
#include <vector>

class QGridLayout;
class QLabel;
class QLineEdit;

namespace ml {

class ClassificationResults;
class ReviewSession;

/// How many cells a patient, field or slide offers for confirmation (issue 17: at least 12).
constexpr int kCellsToConfirm = 12;

/// The cells a ConfirmCellsDialog shows, whatever their source (see the file comment).
struct CellsToConfirm
{
    /// One entry per cell: the folder's own dataset (cell images), or one made for field
    /// cells whose paths are fieldCellKey()s and whose patient is the field's file name.
    std::shared_ptr<const Dataset> dataset;
    std::vector<ReviewItem> items; ///< most suspicious first
    /// Field cells: per item, the BGR crop exactly as the classifier saw it (the field image
    /// is not read again). Empty for image files (read from their path).
    std::vector<cv::Mat> crops;
    /// Field cells: per item, the cell as it is in the field (its own colours, shown on the
    /// left of the tile; the classifier's crop may be recoloured). Empty: `crops` is shown.
    std::vector<cv::Mat> originals;
    /// Per item, where the cell is, under its tile ("PA171690.JPG at 412, 96"); may be empty.
    QStringList where;
    bool recordByPath = false; ///< field cells: see ReviewSession::setRecordByPath()
    QString title;             ///< the window title ("Cells to confirm: C33P1")
};

/// A cell inside a field image, for cellsOfFields().
struct FieldCellToConfirm
{
    QString fieldPath; ///< absolute path of the field image
    cv::Rect box;      ///< detection box in the field's pixels (SegmentedCell::detectionBox)
    float probability = -1.0f; ///< P(Parasitized)
    cv::Mat crop;              ///< BGR, as the classifier saw it (classifierCrops())
    cv::Mat original;          ///< BGR, as it is in the field (cellCrop()); may be empty
    bool edge = false;         ///< cut by the image border (left out when edge cells are)
};

/// The `count` cells of `patient` with the highest P(Parasitized) (classified cells only;
/// ties keep folder order).
CellsToConfirm cellsOfPatient(const ClassificationResults& results, const QString& patient,
                              int count = kCellsToConfirm);
/// The `count` cells of `cells` (one field or several) with the highest P(Parasitized).
CellsToConfirm cellsOfFields(std::vector<FieldCellToConfirm> cells, const QString& title,
                             int count = kCellsToConfirm);

/// The corrections-trail key of a cell inside a field image: "<field path>#cell=x,y,w,h".
QString fieldCellKey(const QString& fieldPath, const cv::Rect& box);
/// The field path of a fieldCellKey(); empty when `key` is not one.
QString fieldOfCellKey(const QString& key);

/// Parasites confirmed by reviewers in one group of cells (a patient, a field).
struct Confirmations
{
    int parasites = 0;     ///< cells whose latest decision is Parasitized
    QStringList reviewers; ///< who made those decisions, first seen first
};

/// Reads the corrections database at `databasePath` (empty: the user's) and counts the cells
/// whose latest decision is Parasitized, per group: `groupOf(path)` names the cell's patient
/// or field ("" = not a cell of this view). Empty when the database cannot be read or does
/// not exist yet. Quick (one query); call it from the thread that uses the result.
QHash<QString, Confirmations>
confirmedParasites(const QString& databasePath,
                   const std::function<QString(const QString& path)>& groupOf);

class ConfirmCellsDialog : public QDialog
{
    Q_OBJECT
public:
    /// Shows `cells`; decisions are written to the database at `databasePath`. The images and
    /// heatmaps are computed in the background with a copy of `classifier`.
    ConfirmCellsDialog(CellsToConfirm cells, const Classifier& classifier,
                       const QString& databasePath, QWidget* parent = nullptr);
    ~ConfirmCellsDialog() override;

    /// Cells confirmed parasitized in this dialog (undone ones not counted).
    int confirmedParasitized() const;
    /// The label decided for each item so far ("" = none), in item order.
    QStringList decisions() const { return m_decisions; }
    const CellsToConfirm& cells() const { return m_cells; }
    ReviewSession* session() const { return m_session; }
    /// The tile of item `i` (tests and screenshots).
    QLabel* tile(int i) const { return m_tiles.value(i); }
    /// The caption under tile `i`.
    QLabel* caption(int i) const { return m_captions.value(i); }
    /// True once the background images and heatmaps are shown.
    bool imagesReady() const { return m_ready; }

Q_SIGNALS:
    /// A decision or its undo was stored (the caller re-reads the confirmations).
    void decisionsChanged();
    /// The tiles show their images and heatmaps.
    void imagesShown();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QLayout* buildGallery();
    QLayout* buildButtons();
    void decide(const QString& label);
    void skip();
    void undo();
    void refresh();
    void showImages();

    CellsToConfirm m_cells;
    ReviewSession* m_session;
    QList<QLabel*> m_tiles;
    QList<QLabel*> m_captions;
    QStringList m_decisions;
    /// What an undo restores: the tile's decision before a decide() or skip().
    struct UndoStep
    {
        int position = 0;
        QString previous;
        bool decision = false; ///< a decision (stored) rather than a skip
    };
    std::vector<UndoStep> m_undo;
    QString m_storeProblem; ///< the database cannot be written (for the whole dialog)
    QString m_lastError;    ///< the last decision or undo that failed
    QLabel* m_status;
    QLineEdit* m_reviewer;
    QFutureWatcher<QList<QImage>> m_watcher;
    bool m_ready = false;
};

} // namespace ml
