#pragma once
// "Calibrate for this lab": a guided flow from a lab's own field images to a model that knows
// that lab, for a lab technician without the README.
//
//   1. Fields      a folder of the lab's field images, the lab's name, the reviewer's name
//   2. Find cells  segmentation + classification in the background (progress, Stop)
//   3. Label       the cells proposeCellsToLabel() asks about, one at a time, with its place
//                  in the field and the model's heatmap; keys P / U / X / S / Z; every label
//                  goes to the corrections database at once (CellLabelSession); the budget
//                  line says when there are enough to adapt
//   4. Adapt       calibrateCells(): split by field, fine-tuning in the background with live
//                  loss/accuracy curves and Stop
//   5. Report      sensitivity, specificity, balanced accuracy, corrected parasitemia and the
//                  confusion matrix on the lab's test fields, before and after; Keep saves the
//                  model in the registry (card: lab_calibration) and, on request, activates it
//
// Long work never runs on the GUI thread (QtConcurrent::run + QFutureWatcher, cancel flag).
// The user's field images are only read. Closing or cancelling loses no label (they are in the
// database already, or written to a CSV beside it when the database stays locked).

#include "classifier.h"
#include "labcalibration.h"
#include "trainingoutcome.h" // EpochStats and its metatype: signal arguments

#include <QFutureWatcher>
#include <QWizard>

#include <atomic>
#include <memory>

class QTemporaryDir;

namespace ml {

class CellLabelSession;
class FieldsChoicePage;
class FindCellsPage;
class LabelCellsPage;
class AdaptPage;
class ReportPage;

class CalibrationWizard : public QWizard
{
    Q_OBJECT
public:
    enum PageId { FieldsPageId, FindCellsPageId, LabelPageId, AdaptPageId, ReportPageId };

    /// Starts from `model` (the active model; copied). `folder` pre-fills the first page.
    explicit CalibrationWizard(const Classifier& model, const QString& folder = {},
                               QWidget* parent = nullptr);
    /// Stops the background work and waits for it.
    ~CalibrationWizard() override;

    /// Where labels are written (default CorrectionStore::defaultPath()). Before the Label page.
    void setDatabasePath(const QString& path) { m_databasePath = path; }
    QString databasePath() const { return m_databasePath; }
    /// The model registry folder (default ModelRegistry::defaultRoot()).
    void setRegistryRoot(const QString& root) { m_registryRoot = root; }
    /// Fewest parasitized adapt cells before Adapt is allowed (kMinParasitizedToAdapt; lower
    /// only for trials and tests on a handful of fields).
    void setMinimumParasitized(int n) { m_options.minParasitized = n; }
    int minimumParasitized() const { return m_options.minParasitized; }
    /// Fine-tuning epochs (default 8) and the most cells asked about (default 400).
    void setEpochs(int epochs) { m_options.epochs = epochs; }
    void setBudget(int cells) { m_options.budget = cells; }

    const Classifier& startModel() const { return m_model; }
    CellLabelSession* session() const { return m_session; }
    FieldsChoicePage* fieldsPage() const { return m_fieldsPage; }
    LabelCellsPage* labelPage() const { return m_labelPage; }
    AdaptPage* adaptPage() const { return m_adaptPage; }
    ReportPage* reportPage() const { return m_reportPage; }

    // The steps, driven by the pages (public for them and for tests).
    /// Starts segmenting and classifying the chosen folder; cellsFound() follows.
    void startFindingCells();
    /// Starts adapting on the session's labels; adaptFinished() follows.
    void startAdapting();
    /// Asks the running step to stop (it stops after its current field or batch).
    void stopWork();
    bool isWorking() const;
    /// The result of the last adaptation (ok() when it finished).
    const LabCalibrationResult& result() const { return m_result; }
    /// Saves the adapted model into the registry under `name`; the id, or empty + `error`.
    QString keepModel(const QString& name, QString* error);
    QString keptModelId() const { return m_keptId; }
    /// The options a run uses (lab name, epochs, threads, minimum parasitized).
    const LabCalibrationOptions& options() const { return m_options; }

Q_SIGNALS:
    void fieldProgress(int done, int total);
    void cellsFound(bool ok, const QString& message);
    void adaptLog(const QString& line);
    void batchDone(int epoch, int batch, int batches, double loss);
    void epochDone(const ml::EpochStats& stats);
    void adaptFinished(bool ok, const QString& message);
    /// The adapted model is in the registry as `id`.
    void modelKept(const QString& id);
    /// The user asked to make the kept model `id` the active one.
    void activateRequested(const QString& id);

protected:
    void done(int result) override;

private:
    void onCellsFound();
    void onAdapted();

    Classifier m_model;
    QString m_databasePath, m_registryRoot, m_keptId;
    LabCalibrationOptions m_options;
    CellLabelSession* m_session;
    FieldsChoicePage* m_fieldsPage;
    FindCellsPage* m_findPage;
    LabelCellsPage* m_labelPage;
    AdaptPage* m_adaptPage;
    ReportPage* m_reportPage;
    std::atomic<bool> m_cancel{false};
    QFutureWatcher<LabCells> m_findWatcher;
    QFutureWatcher<LabCalibrationResult> m_adaptWatcher;
    std::unique_ptr<QTemporaryDir> m_workDir;
    LabCalibrationResult m_result;
};

} // namespace ml
