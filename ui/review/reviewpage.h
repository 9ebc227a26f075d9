#pragma once
// The Review page: a reviewer works through the cells of the open folder that matter most
// (uncertain, disagreeing with their folder label, or most confident), sees each cell large
// with its probability and heatmap, and records Parasitized / Uninfected / unsure with a
// key; decisions go to the corrections database (SQLite), undo steps back.

#include "dataset.h"
#include "reviewqueue.h"

#include <QFutureWatcher>
#include <QWidget>

#include <memory>
#include <vector>

class QComboBox;
class QCheckBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace ml {

class HeatmapView;
class ModelSession;
class ReviewSession;

class ReviewPage : public QWidget
{
    Q_OBJECT
public:
    /// `models` (not owned) provides the classifier and the folder's classification.
    explicit ReviewPage(ModelSession* models, QWidget* parent = nullptr);
    ~ReviewPage() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    /// The corrections database (default CorrectionStore::defaultPath()); opened on first use.
    void setDatabasePath(const QString& path);
    QString databasePath() const { return m_dbPath; }

    /// Builds the queue in the chosen order: classifies the folder first when it has no
    /// (complete) results yet. Returns at once; queueReady() follows.
    void buildQueue();
    void setOrder(ReviewOrder order);

    ReviewSession* session() const { return m_session; }
    HeatmapView* heatmapView() const { return m_view; }
    /// The database message shown on the page (read-only, damaged ...); empty when fine.
    QString databaseMessage() const;

Q_SIGNALS:
    void queueReady(int size);
    /// The reviewer asks for the folder's labels to be re-read with the corrections.
    void applyCorrectionsRequested();

protected:
    void showEvent(QShowEvent* event) override;

private:
    bool ensureStore();
    /// The folder's classification is finished and belongs to the current dataset.
    bool resultsComplete() const;
    void startQueueJob();
    void onQueueBuilt();
    void showCurrent();
    void decide(const QString& label);
    void exportCsv();
    void importCsv();
    void updateBanner();

    ModelSession* m_models;
    ReviewSession* m_session;
    std::shared_ptr<const Dataset> m_dataset;
    QString m_dbPath;
    bool m_storeTried = false;
    bool m_waitingForClassification = false;

    QComboBox* m_order;
    QCheckBox* m_hideReviewed;
    QPushButton* m_build;
    QLineEdit* m_reviewer;
    QLabel* m_banner;
    QLabel* m_status;
    QProgressBar* m_progress;
    HeatmapView* m_view;
    QLabel* m_info;
    QLineEdit* m_note;
    QPushButton* m_parasitized;
    QPushButton* m_uninfected;
    QPushButton* m_unsure;
    QPushButton* m_skip;
    QPushButton* m_undo;
    QPushButton* m_apply;
    QFutureWatcher<std::vector<ReviewItem>> m_queueWatcher;
};

} // namespace ml
