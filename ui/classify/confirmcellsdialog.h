#pragma once
// The cells to confirm of one patient or slide: the most suspicious cells (highest
// P(Parasitized)) in a gallery, each with its Grad-CAM heatmap over what the model sees. A
// reviewer confirms or rejects them with the Review keys (P parasitized, U uninfected,
// X unsure, S skip, Z undo); every decision goes to the corrections database (the same
// append-only audit trail as the Review page), with the reviewer's name. A slide with a
// confirmed parasite is then reported infected whatever the estimate.

#include "classifier.h"
#include "dataset.h"
#include "reviewqueue.h"

#include <QDialog>
#include <QFutureWatcher>
#include <QList>

#include <memory>
#include <vector>

class QGridLayout;
class QLabel;
class QLineEdit;

namespace ml {

class ReviewSession;

class ConfirmCellsDialog : public QDialog
{
    Q_OBJECT
public:
    /// `items` (dataset indices with their probabilities, most suspicious first) of
    /// `dataset`; decisions are written to the database at `databasePath`. The heatmaps are
    /// computed in the background with a copy of `classifier`.
    ConfirmCellsDialog(std::shared_ptr<const Dataset> dataset, std::vector<ReviewItem> items,
                       const Classifier& classifier, double threshold, const QString& databasePath,
                       const QString& title, QWidget* parent = nullptr);
    ~ConfirmCellsDialog() override;

    /// Cells confirmed parasitized in this dialog (undone ones not counted).
    int confirmedParasitized() const;
    /// The label decided for each item so far ("" = none), in item order.
    QStringList decisions() const { return m_decisions; }
    ReviewSession* session() const { return m_session; }
    /// The tile of item `i` (tests and screenshots).
    QLabel* tile(int i) const { return m_tiles.value(i); }

private:
    void decide(const QString& label);
    void refresh();
    void showHeatmaps();

    std::shared_ptr<const Dataset> m_dataset;
    std::vector<ReviewItem> m_items;
    ReviewSession* m_session;
    QList<QLabel*> m_tiles;
    QList<QLabel*> m_captions;
    QList<QImage> m_images; ///< cell with heatmap, per item (null until computed)
    QStringList m_decisions;
    QLabel* m_status;
    QLineEdit* m_reviewer;
    QFutureWatcher<QList<QImage>> m_watcher;
};

} // namespace ml
