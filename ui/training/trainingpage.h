#pragma once
// The Train page: retrain a classifier on the open labelled folder, with live curves.

#include "trainer.h"
#include "trainingoutcome.h"

#include <QElapsedTimer>
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QGroupBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTableWidget;

namespace ml {

struct Dataset;
class ModelSession;
class TrainingController;
class TrainingCurves;

/// Settings form (architecture, epochs, batch size, learning rate, split by patient or at
/// random with fraction and seed, augmentation), Start / Cancel / Resume, live curves
/// (TrainingCurves), a progress bar with ETA and a log of epochs. Training runs in a
/// TrainingController (its own thread); the page never blocks the GUI thread. A finished
/// model goes into the registry; "Use this model" activates it in the ModelSession. The
/// active model is never changed otherwise (a cancel or a failed save leave it as it was).
class TrainingPage : public QWidget
{
    Q_OBJECT
public:
    /// `models` is not owned and must outlive the page.
    explicit TrainingPage(ModelSession* models, QWidget* parent = nullptr);
    ~TrainingPage() override;

    /// The folder to train on (labelled, two classes); null clears it.
    void setDataset(std::shared_ptr<const Dataset> dataset);

    /// The settings in the form (threads and checkpoint are the controller's).
    TrainingConfig config() const;
    /// Fills the form.
    void setConfig(const TrainingConfig& config);

    TrainingController* controller() const { return m_controller; }
    TrainingCurves* curves() const { return m_curves; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* cancelButton() const { return m_cancel; }
    QPushButton* resumeButton() const { return m_resume; }
    QPushButton* useModelButton() const { return m_useModel; }
    QProgressBar* progressBar() const { return m_progress; }
    /// Why Start is disabled (refusal), empty when it is enabled.
    QString refusalText() const;
    /// The random-split warning shown (empty when hidden).
    QString splitWarningText() const;
    /// The log of this page.
    QString logText() const;
    /// Per-fold, mean and pooled figures of the last k-fold run (hidden otherwise).
    QTableWidget* crossValidationTable() const { return m_cvTable; }
    /// The last finished run (default-constructed before the first one).
    const TrainingOutcome& lastOutcome() const { return m_outcome; }

Q_SIGNALS:
    /// A run ended (after the page updated its views).
    void trainingFinished(const ml::TrainingOutcome& outcome);

private:
    void buildUi();
    void buildRunArea(QGroupBox* settings);
    void connectControls();
    void updateState();
    void startTraining();
    void resumeTraining();
    void useTrainedModel();
    void onStarted(bool resumed, const ml::TrainingConfig& config);
    void onLoadProgress(int done, int total);
    void onBatch(int epoch, int batch, int batches, double loss);
    void onEpoch(const ml::EpochStats& stats);
    void onFinished(const ml::TrainingOutcome& outcome);
    void onFoldStarted(int fold, int folds);
    void showCrossValidation(const QJsonObject& summary);
    void appendLog(const QString& line);
    void updateEta(int epoch, int batch, int batches);

    ModelSession* m_models;
    TrainingController* m_controller;
    std::shared_ptr<const Dataset> m_dataset;
    TrainingOutcome m_outcome;
    TrainingConfig m_running; // settings of the current run
    QElapsedTimer m_runClock; // since the first batch of this run
    int m_firstEpoch = 1;     // first epoch trained in this run (resume starts later)
    int m_batchesSeen = 0;
    QList<double> m_epochSeconds;
    int m_fold = 0, m_foldCount = 0; // k-fold runs: current fold (0-based) and count

    QLabel* m_datasetLabel;
    QComboBox* m_arch;
    QSpinBox* m_epochs;
    QSpinBox* m_batch;
    QDoubleSpinBox* m_lr;
    QComboBox* m_split;
    QDoubleSpinBox* m_valFraction;
    QSpinBox* m_seed;
    QCheckBox* m_augment;
    QSpinBox* m_hueJitter;        ///< stain jitter: hue shift range, degrees
    QSpinBox* m_saturationJitter; ///< stain jitter: saturation factor range, percent
    QCheckBox* m_normalize;
    QCheckBox* m_lrDecay;
    QSpinBox* m_folds;
    QTableWidget* m_cvTable;
    QRadioButton* m_scratch;
    QRadioButton* m_fineTune;
    QLabel* m_threads;
    QLabel* m_refusal;
    QLabel* m_warning;
    QLabel* m_interrupted;
    QPushButton* m_start;
    QPushButton* m_cancel;
    QPushButton* m_resume;
    QPushButton* m_useModel;
    QProgressBar* m_progress;
    QLabel* m_result;
    QPlainTextEdit* m_log;
    TrainingCurves* m_curves;
};

} // namespace ml
