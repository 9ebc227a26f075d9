#include "trainingpage.h"

#include "dataset.h"
#include "modelsession.h"
#include "trainingcontroller.h"
#include "trainingcurves.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTime>
#include <QTimer>
#include <QVBoxLayout>

namespace ml {

namespace {

QString duration(double seconds)
{
    const int s = int(std::lround(std::max(0.0, seconds)));
    if (s >= 3600)
        return QStringLiteral("%1:%2:%3")
            .arg(s / 3600)
            .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
            .arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

} // namespace

TrainingPage::TrainingPage(ModelSession* models, QWidget* parent)
    : QWidget(parent), m_models(models), m_controller(new TrainingController(this))
{
    buildUi();
    connect(m_controller, &TrainingController::started, this, &TrainingPage::onStarted);
    connect(m_controller, &TrainingController::loadProgress, this, &TrainingPage::onLoadProgress);
    connect(m_controller, &TrainingController::batchDone, this, &TrainingPage::onBatch);
    connect(m_controller, &TrainingController::epochDone, this, &TrainingPage::onEpoch);
    connect(m_controller, &TrainingController::logMessage, this, &TrainingPage::appendLog);
    connect(m_controller, &TrainingController::finished, this, &TrainingPage::onFinished);
    connect(m_controller, &TrainingController::foldStarted, this, &TrainingPage::onFoldStarted);
    // A resumed run shows its earlier epochs too, not only the ones after the resume.
    connect(m_controller, &TrainingController::historyRestored, this,
            [this](const QList<EpochStats>& history, int bestEpoch) {
                m_curves->setHistory(history, bestEpoch);
                appendLog(
                    tr("%n epoch(s) restored from the checkpoint", nullptr, int(history.size())));
            });
    // The stain jitter is editable only for an augmented run.
    connect(m_augment, &QCheckBox::toggled, this, &TrainingPage::updateState);
    updateState();
}

TrainingPage::~TrainingPage() = default;

void TrainingPage::buildUi()
{
    m_datasetLabel = new QLabel(
        tr("No folder open. Open a labelled folder (Parasitized, Uninfected) to train."));
    m_datasetLabel->setWordWrap(true);

    m_arch = new QComboBox;
    m_arch->addItem(tr("se — squeeze-and-excite, BatchNorm (270,674 parameters)"),
                    QStringLiteral("se"));
    m_arch->addItem(tr("gap — global average pooling (110,018)"), QStringLiteral("gap"));
    m_arch->addItem(tr("base — dense head (646,338)"), QStringLiteral("base"));
    m_epochs = new QSpinBox;
    m_epochs->setRange(1, 500);
    m_epochs->setValue(20);
    m_batch = new QSpinBox;
    m_batch->setRange(1, 4096);
    m_batch->setValue(100);
    m_lr = new QDoubleSpinBox;
    m_lr->setDecimals(5);
    m_lr->setRange(0.00001, 1.0);
    m_lr->setSingleStep(0.0001);
    m_lr->setValue(0.001);
    m_split = new QComboBox;
    m_split->addItem(tr("by patient (honest)"), int(SplitMode::Patient));
    m_split->addItem(tr("random cells"), int(SplitMode::Random));
    m_valFraction = new QDoubleSpinBox;
    m_valFraction->setRange(0.05, 0.5);
    m_valFraction->setSingleStep(0.05);
    m_valFraction->setValue(0.2);
    m_seed = new QSpinBox;
    m_seed->setRange(0, std::numeric_limits<int>::max());
    m_seed->setValue(42);
    m_augment = new QCheckBox(tr("flips, brightness, contrast, stain (hue/saturation) jitter"));
    m_augment->setToolTip(tr("The same functions as the Explore page's augmentation preview"));
    // The stain jitter's range: wider for labs whose stains vary more than the NIH set's.
    m_hueJitter = new QSpinBox;
    m_hueJitter->setRange(0, 90);
    m_hueJitter->setPrefix(tr("hue \u00b1"));
    m_hueJitter->setSuffix(tr("\u00b0"));
    m_saturationJitter = new QSpinBox;
    m_saturationJitter->setRange(0, 90);
    m_saturationJitter->setPrefix(tr("saturation \u00b1"));
    m_saturationJitter->setSuffix(tr(" %"));
    const AugmentConfig standardJitter = AugmentConfig::withStainJitter();
    m_hueJitter->setValue(qRound(standardJitter.hueShiftDegrees));
    m_saturationJitter->setValue(qRound(100 * standardJitter.saturationJitter));
    m_normalize = new QCheckBox(tr("per-cell colour normalisation (stain robustness)"));
    m_normalize->setToolTip(
        tr("Scale each cell's colour channels so its median colour matches the NIH reference. "
           "Smears stained or imaged differently then look alike to the network; the model "
           "card records it and classification applies it automatically."));
    m_lrDecay = new QCheckBox(tr("halve the learning rate after 2 epochs without improvement"));
    // Defaults: the study's numbers (epochs, batch, rate) with the embedded model's
    // robustness settings (scripts/train-default-model.sh), the best measured on patients
    // and stains the model never saw (docs/MODEL.md).
    m_augment->setChecked(true);
    m_normalize->setChecked(true);
    m_lrDecay->setChecked(true);
    m_folds = new QSpinBox;
    m_folds->setRange(1, 10);
    m_folds->setValue(1);
    m_folds->setSpecialValueText(tr("off (one split)"));
    m_folds->setSuffix(tr(" folds by patient"));
    m_folds->setToolTip(
        tr("K-fold cross-validation by patient: K trainings, each validated on patients the "
           "others never saw, then the model the registry keeps, trained on every patient for "
           "the epochs and learning rates of the median fold. Shows per-fold and mean figures. "
           "Takes about K + 1 times as long."));
    m_scratch = new QRadioButton(tr("from scratch"));
    m_scratch->setChecked(true);
    m_fineTune = new QRadioButton(tr("fine-tune the active model"));
    // The trainer (models/trainer.h) has no way yet to start from given weights.
    m_fineTune->setToolTip(
        tr("Start from the weights of the active model (a native base, gap or se model; "
           "the architecture follows it). A smaller learning rate, e.g. 1e-4, suits fine-tuning."));
    // Fine-tuning needs a native model whose weights the trainer can load.
    auto updateFineTune = [this] {
        const Classifier& active = m_models->classifier();
        const bool possible = active.isLoaded() && active.format() == QLatin1String("native");
        m_fineTune->setEnabled(possible);
        if (!possible && m_fineTune->isChecked())
            m_scratch->setChecked(true);
    };
    connect(m_models, &ModelSession::modelChanged, this, updateFineTune);
    QTimer::singleShot(0, this, updateFineTune);
    connect(m_fineTune, &QRadioButton::toggled, this, [this](bool on) {
        if (on)
            m_arch->setCurrentIndex(
                qMax(0, m_arch->findData(m_models->classifier().architecture())));
        m_arch->setEnabled(!on);
    });
    m_threads = new QLabel(tr("%n libtorch thread(s); the interface keeps a core", nullptr,
                              TrainingController::threadBudget()));
    m_threads->setStyleSheet(QStringLiteral("color: palette(mid);"));

    auto* form = new QFormLayout;
    form->addRow(tr("Architecture"), m_arch);
    form->addRow(tr("Epochs (max)"), m_epochs);
    form->addRow(tr("Batch size"), m_batch);
    form->addRow(tr("Learning rate (Adam)"), m_lr);
    form->addRow(tr("Validation split"), m_split);
    form->addRow(tr("Validation fraction"), m_valFraction);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Augmentation"), m_augment);
    auto* jitter = new QHBoxLayout;
    jitter->addWidget(m_hueJitter);
    jitter->addWidget(m_saturationJitter);
    jitter->addStretch();
    form->addRow(tr("Stain jitter"), jitter);
    form->addRow(tr("Colour"), m_normalize);
    form->addRow(tr("Learning rate decay"), m_lrDecay);
    form->addRow(tr("Cross-validation"), m_folds);
    auto* startFrom = new QVBoxLayout;
    startFrom->addWidget(m_scratch);
    startFrom->addWidget(m_fineTune);
    form->addRow(tr("Start"), startFrom);
    form->addRow(QString(), m_threads);
    auto* settings = new QGroupBox(tr("Settings"));
    settings->setLayout(form);

    buildRunArea(settings);
    connectControls();
}

// The run area beside the settings: messages, buttons, progress, result, folds, log, curves.
void TrainingPage::buildRunArea(QGroupBox* settings)
{
    m_refusal = new QLabel;
    m_refusal->setWordWrap(true);
    m_refusal->setStyleSheet(QStringLiteral("color: #b71c1c;"));
    m_warning = new QLabel;
    m_warning->setWordWrap(true);
    m_warning->setStyleSheet(QStringLiteral("color: #e65100;"));
    m_interrupted = new QLabel;
    m_interrupted->setWordWrap(true);

    m_start = new QPushButton(tr("Start"));
    m_cancel = new QPushButton(tr("Cancel"));
    m_resume = new QPushButton(tr("Resume"));
    m_resume->setToolTip(
        tr("Continue the interrupted training of this folder from its last checkpoint"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_resume);

    m_progress = new QProgressBar;
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setFormat(tr("idle"));
    m_progress->setTextVisible(true);
    m_progress->setToolTip(tr("The ETA assumes every epoch runs; early stopping may end sooner"));
    m_result = new QLabel;
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_useModel = new QPushButton(tr("Use this model"));
    m_useModel->setToolTip(tr("Make the model just trained the active model of the application"));
    m_useModel->setVisible(false);

    m_cvTable = new QTableWidget(0, 7);
    m_cvTable->setHorizontalHeaderLabels({tr("Fold"), tr("Cells"), tr("Accuracy"), tr("AUC"),
                                          tr("Patient acc."), tr("Worst patient acc."),
                                          tr("Max healthy share")});
    m_cvTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_cvTable->verticalHeader()->setVisible(false);
    m_cvTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_cvTable->setToolTip(tr("Validation figures of each fold's model on its own held-out "
                             "patients; 'pooled' scores every cell by the model that did not "
                             "see its patient"));
    m_cvTable->setVisible(false);

    m_log = new QPlainTextEdit;
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(2000);
    m_log->setFont(QFont(QStringLiteral("monospace"), 8));

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->addWidget(m_datasetLabel);
    leftLayout->addWidget(settings);
    leftLayout->addWidget(m_refusal);
    leftLayout->addWidget(m_warning);
    leftLayout->addWidget(m_interrupted);
    leftLayout->addLayout(buttons);
    leftLayout->addWidget(m_progress);
    leftLayout->addWidget(m_result);
    leftLayout->addWidget(m_useModel);
    leftLayout->addWidget(m_cvTable);
    leftLayout->addWidget(new QLabel(tr("Log")));
    leftLayout->addWidget(m_log, 1);
    left->setMinimumWidth(360);

    m_curves = new TrainingCurves;
    auto* splitter = new QSplitter(Qt::Horizontal);
    splitter->addWidget(left);
    splitter->addWidget(m_curves);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(splitter);
}

// Start, Cancel, Resume, Use this model, and every setting that changes what can start.
void TrainingPage::connectControls()
{
    connect(m_start, &QPushButton::clicked, this, &TrainingPage::startTraining);
    connect(m_cancel, &QPushButton::clicked, m_controller, &TrainingController::cancel);
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        appendLog(tr("cancelling after the current batch…"));
        m_cancel->setEnabled(false);
    });
    connect(m_resume, &QPushButton::clicked, this, &TrainingPage::resumeTraining);
    connect(m_useModel, &QPushButton::clicked, this, &TrainingPage::useTrainedModel);
    for (QComboBox* c : {m_arch, m_split})
        connect(c, &QComboBox::currentIndexChanged, this, &TrainingPage::updateState);
    for (QSpinBox* s : {m_epochs, m_batch, m_seed, m_folds})
        connect(s, &QSpinBox::valueChanged, this, &TrainingPage::updateState);
    connect(m_valFraction, &QDoubleSpinBox::valueChanged, this, &TrainingPage::updateState);
    connect(m_lr, &QDoubleSpinBox::valueChanged, this, &TrainingPage::updateState);
}

void TrainingPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    if (m_dataset) {
        // Patient ids from file names allow the honest split; folder-derived ids do not.
        const bool patientsKnown = m_dataset->patientSource != PatientSource::Folder;
        m_split->setCurrentIndex(patientsKnown ? 0 : 1);
        const QMap<QString, int> perClass = m_dataset->countPerClass();
        QStringList classes;
        for (auto it = perClass.cbegin(); it != perClass.cend(); ++it)
            classes << tr("%1 %2").arg(it.value()).arg(it.key());
        m_datasetLabel->setText(
            tr("<b>%1</b><br>%2 images (%3), %4 patients%5")
                .arg(QDir::toNativeSeparators(m_dataset->root).toHtmlEscaped())
                .arg(m_dataset->images.size())
                .arg(classes.isEmpty() ? tr("unlabelled") : classes.join(QStringLiteral(", ")))
                .arg(m_dataset->countPerPatient().size())
                .arg(patientsKnown ? QString() : tr(" (ids from folder names: unknown)")));
    } else {
        m_datasetLabel->setText(
            tr("No folder open. Open a labelled folder (Parasitized, Uninfected) to train."));
    }
    updateState();
}

TrainingConfig TrainingPage::config() const
{
    TrainingConfig c;
    c.arch = parseArchitecture(m_arch->currentData().toString()).value_or(Architecture::Se);
    c.epochs = m_epochs->value();
    c.batchSize = m_batch->value();
    c.learningRate = m_lr->value();
    c.split = SplitMode(m_split->currentData().toInt());
    c.valFraction = m_valFraction->value();
    c.seed = quint32(m_seed->value());
    c.augment = m_augment->isChecked();
    c.augmentConfig = AugmentConfig::withStainJitter();
    c.augmentConfig.hueShiftDegrees = float(m_hueJitter->value());
    c.augmentConfig.saturationJitter = float(m_saturationJitter->value()) / 100.0f;
    c.normalization =
        m_normalize->isChecked() ? InputNormalization::ForegroundMedian : InputNormalization::None;
    c.lrPatience = m_lrDecay->isChecked() ? 2 : 0;
    c.folds = m_folds->value() > 1 ? m_folds->value() : 0;
    if (m_fineTune->isChecked() && m_fineTune->isEnabled()) {
        c.initialModel = m_models->classifier();
        c.arch = parseArchitecture(c.initialModel.architecture()).value_or(c.arch);
    }
    return c;
}

void TrainingPage::setConfig(const TrainingConfig& c)
{
    m_arch->setCurrentIndex(qMax(0, m_arch->findData(architectureName(c.arch))));
    m_epochs->setValue(c.epochs);
    m_batch->setValue(c.batchSize);
    m_lr->setValue(c.learningRate);
    m_split->setCurrentIndex(c.split == SplitMode::Patient ? 0 : 1);
    m_valFraction->setValue(c.valFraction);
    m_seed->setValue(int(c.seed));
    m_augment->setChecked(c.augment);
    if (c.augment) {
        m_hueJitter->setValue(qRound(c.augmentConfig.hueShiftDegrees));
        m_saturationJitter->setValue(qRound(100 * c.augmentConfig.saturationJitter));
    }
    m_normalize->setChecked(c.normalization != InputNormalization::None);
    m_lrDecay->setChecked(c.lrPatience > 0);
    m_folds->setValue(c.folds > 1 ? c.folds : 1);
    updateState();
}

QString TrainingPage::refusalText() const
{
    return m_refusal->text();
}

QString TrainingPage::splitWarningText() const
{
    return m_warning->text();
}

QString TrainingPage::logText() const
{
    return m_log->toPlainText();
}

void TrainingPage::updateState()
{
    const bool running = m_controller->isRunning();
    const TrainingConfig c = config();
    // Cross-validation folds replace the validation fraction.
    m_valFraction->setEnabled(c.folds < 2);
    QString refusal;
    QString warning;
    std::optional<InterruptedRun> interrupted;
    if (!m_dataset) {
        refusal = tr("Open a labelled folder first.");
    } else {
        refusal = TrainingController::refusal(*m_dataset, c);
        if (refusal.isEmpty() && c.split == SplitMode::Random) {
            const int shared = TrainingController::sharedPatients(*m_dataset, c);
            if (shared > 0)
                warning =
                    tr("A random split puts cells of %n patient(s) on both sides. Cells of one "
                       "patient look alike (same blood, stain and camera), so the model is "
                       "validated partly on patients it has seen: validation accuracy comes out "
                       "higher than on a new patient (the study: about 99 % at random vs 95 % "
                       "by patient). Split by patient for an honest figure.",
                       nullptr, shared);
        }
        interrupted = m_controller->interruptedRun(*m_dataset);
    }
    m_refusal->setText(refusal);
    m_refusal->setVisible(!refusal.isEmpty());
    m_warning->setText(warning);
    m_warning->setVisible(!warning.isEmpty());
    if (interrupted && !running) {
        m_interrupted->setText(
            interrupted->hasCheckpoint
                ? tr("An interrupted training of this folder (%1, %2 of %3 epochs done) "
                     "can be resumed.")
                      .arg(architectureName(interrupted->config.arch))
                      .arg(interrupted->epochsDone)
                      .arg(interrupted->config.epochs)
                : tr("An interrupted training of this folder (%1) stopped before its "
                     "first epoch; Resume starts it again.")
                      .arg(architectureName(interrupted->config.arch)));
        m_interrupted->setVisible(true);
    } else {
        m_interrupted->clear();
        m_interrupted->setVisible(false);
    }
    m_start->setEnabled(!running && refusal.isEmpty());
    m_cancel->setEnabled(running);
    m_resume->setEnabled(!running && interrupted.has_value());
    for (QWidget* w : std::initializer_list<QWidget*>{m_arch, m_epochs, m_batch, m_lr, m_split,
                                                      m_valFraction, m_seed, m_augment, m_normalize,
                                                      m_lrDecay, m_folds, m_scratch})
        w->setEnabled(!running);
    // The jitter applies only to an augmented run.
    m_hueJitter->setEnabled(!running && m_augment->isChecked());
    m_saturationJitter->setEnabled(!running && m_augment->isChecked());
}

void TrainingPage::startTraining()
{
    QString error;
    // One interrupted run per folder: a fresh start replaces it (say so in the log).
    if (m_dataset && m_controller->interruptedRun(*m_dataset))
        appendLog(tr("the interrupted training of this folder is replaced by a new one"));
    if (!m_controller->start(m_dataset, config(), &error)) {
        m_result->setText(error);
        updateState();
    }
}

void TrainingPage::resumeTraining()
{
    QString error;
    if (const auto run = m_dataset ? m_controller->interruptedRun(*m_dataset) : std::nullopt)
        setConfig(run->config);
    if (!m_controller->resume(m_dataset, &error)) {
        m_result->setText(error);
        updateState();
    }
}

void TrainingPage::useTrainedModel()
{
    if (!m_outcome.saved)
        return;
    QString error;
    if (m_models->loadFile(m_outcome.entry.modelPath, &error)) {
        m_result->setText(
            tr("%1 is now the active model.").arg(m_outcome.entry.name.toHtmlEscaped()));
        m_useModel->setVisible(false);
    } else {
        m_result->setText(tr("Cannot activate the model: %1").arg(error));
    }
}

void TrainingPage::onStarted(bool resumed, const TrainingConfig& c)
{
    m_running = c;
    m_outcome = TrainingOutcome();
    m_epochSeconds.clear();
    m_batchesSeen = 0;
    m_firstEpoch = 0;
    m_runClock.invalidate();
    m_useModel->setVisible(false);
    m_result->clear();
    m_cvTable->setVisible(false);
    m_fold = 0;
    m_foldCount = c.folds > 1 ? c.folds : 0;
    m_curves->clear();
    m_curves->setEpochCount(c.epochs);
    m_progress->setRange(0, 0); // busy until decoding reports progress
    m_progress->setFormat(tr("starting…"));
    appendLog(
        resumed
            ? tr("— resuming %1 training (%2 epochs max, batch %3, learning rate %4)")
                  .arg(architectureName(c.arch))
                  .arg(c.epochs)
                  .arg(c.batchSize)
                  .arg(c.learningRate)
            : tr("— %1 training, %2 epochs max, batch %3, learning rate %4, %5 split %6, seed %7%8")
                  .arg(architectureName(c.arch))
                  .arg(c.epochs)
                  .arg(c.batchSize)
                  .arg(c.learningRate)
                  .arg(c.split == SplitMode::Patient ? tr("patient") : tr("random"))
                  .arg(c.valFraction)
                  .arg(c.seed)
                  .arg(c.augment ? tr(", augmented") : QString()));
    updateState();
}

void TrainingPage::onLoadProgress(int done, int total)
{
    m_progress->setRange(0, qMax(1, total));
    m_progress->setValue(done);
    m_progress->setFormat(tr("decoding images %1 / %2").arg(done).arg(total));
}

void TrainingPage::onBatch(int epoch, int batch, int batches, double loss)
{
    if (!m_runClock.isValid()) {
        m_runClock.start();
        m_firstEpoch = epoch;
    }
    ++m_batchesSeen;
    m_curves->addBatch(epoch, batch, batches, loss);
    updateEta(epoch, batch, batches);
}

void TrainingPage::updateEta(int epoch, int batch, int batches)
{
    const int total = m_running.epochs * batches;
    const int done = (epoch - 1) * batches + batch;
    m_progress->setRange(0, qMax(1, total));
    m_progress->setValue(done);
    QString eta = tr("estimating…");
    if (m_runClock.isValid() && m_batchesSeen >= 2) {
        // Batches of this run so far, plus the validation share measured per epoch.
        const double perBatch = m_runClock.elapsed() / 1000.0 / m_batchesSeen;
        const double remaining = (total - done) * perBatch;
        eta = tr("ETA %1").arg(duration(remaining));
    }
    const QString fold = m_foldCount < 2 ? QString()
                         : m_fold >= m_foldCount
                             ? tr("final fit · ")
                             : tr("fold %1/%2 · ").arg(m_fold + 1).arg(m_foldCount);
    m_progress->setFormat(tr("%6epoch %1/%2 · batch %3/%4 · %5")
                              .arg(epoch)
                              .arg(m_running.epochs)
                              .arg(batch)
                              .arg(batches)
                              .arg(eta, fold));
}

void TrainingPage::onEpoch(const EpochStats& s)
{
    m_curves->addEpoch(s);
    m_epochSeconds.append(s.seconds);
    appendLog(s.logLine());
}

void TrainingPage::onFinished(const TrainingOutcome& outcome)
{
    m_outcome = outcome;
    const TrainingResult& r = outcome.result;
    m_progress->setRange(0, 1);
    m_progress->setValue(outcome.ok() ? 1 : 0);
    if (!r.history.isEmpty())
        m_curves->setHistory(r.history, r.bestEpoch);
    if (outcome.ok()) {
        const ValidationReport& v = r.validation;
        m_progress->setFormat(tr("done in %1").arg(duration(r.seconds)));
        const bool finalFit = !r.config.fixedRates.isEmpty();
        const QString how =
            finalFit
                ? tr("Trained on every patient for %1 at the learning rates of %2. "
                     "Cross-validated by patient (pooled out-of-fold)")
                      .arg(r.history.size() == 1 ? tr("1 epoch")
                                                 : tr("%1 epochs").arg(r.history.size()))
                      .arg(r.config.fixedRatesSource)
                : tr("Best epoch %1 of %2%3. Validation (%4 split)")
                      .arg(r.bestEpoch)
                      .arg(r.history.size())
                      .arg(r.stoppedEarly ? tr(" (stopped early)") : QString())
                      .arg(r.config.split == SplitMode::Patient ? tr("patient") : tr("random"));
        m_result->setText(tr("Saved to the model registry as <b>%1</b>. %2: cell accuracy %3 %, "
                             "sensitivity %4 %, specificity %5 %, AUC %6; patient accuracy %7 %.")
                              .arg(outcome.entry.name.toHtmlEscaped(), how)
                              .arg(v.cells.accuracy * 100, 0, 'f', 1)
                              .arg(v.cells.sensitivity * 100, 0, 'f', 1)
                              .arg(v.cells.specificity * 100, 0, 'f', 1)
                              .arg(v.cells.auc, 0, 'f', 4)
                              .arg(v.patients.accuracy * 100, 0, 'f', 1));
        m_useModel->setVisible(true);
        appendLog(tr("saved %1").arg(outcome.entry.folder));
        if (!outcome.crossValidation.isEmpty())
            showCrossValidation(outcome.crossValidation);
    } else {
        m_progress->setFormat(r.cancelled ? tr("cancelled") : tr("failed"));
        m_result->setText(outcome.error.toHtmlEscaped());
        appendLog(r.cancelled ? tr("cancelled") : tr("error: %1").arg(outcome.error));
    }
    updateState();
    Q_EMIT trainingFinished(outcome);
}

void TrainingPage::onFoldStarted(int fold, int folds)
{
    m_fold = fold;
    m_foldCount = folds;
    // Each fold is a training of its own: its curves start again at epoch 1.
    m_curves->clear();
    m_curves->setEpochCount(m_running.epochs);
    m_runClock.invalidate();
    m_batchesSeen = 0;
    if (fold < folds)
        appendLog(
            tr("— fold %1 of %2 (validation: the patients of fold %1)").arg(fold + 1).arg(folds));
    else
        appendLog(tr("— final model on every patient (nothing held out: its figures are the "
                     "cross-validation's)"));
}

void TrainingPage::showCrossValidation(const QJsonObject& summary)
{
    const QJsonArray perFold = summary.value(QStringLiteral("per_fold")).toArray();
    m_cvTable->setRowCount(0);
    auto addRow = [this](const QString& name, const QJsonObject& o) {
        const int row = m_cvTable->rowCount();
        m_cvTable->insertRow(row);
        auto pct = [&o](const char* key) {
            return QString::number(o.value(QLatin1String(key)).toDouble() * 100, 'f', 1) +
                   QStringLiteral(" %");
        };
        const QStringList cells{name,
                                o.contains(QStringLiteral("cells"))
                                    ? QString::number(o.value(QStringLiteral("cells")).toInt())
                                    : QStringLiteral("—"),
                                pct("accuracy"),
                                QString::number(o.value(QStringLiteral("auc")).toDouble(), 'f', 4),
                                pct("patient_accuracy"),
                                pct("worst_patient_accuracy"),
                                pct("max_healthy_patient_parasitized_share")};
        for (int c = 0; c < cells.size(); ++c)
            m_cvTable->setItem(row, c, new QTableWidgetItem(cells.at(c)));
    };
    for (const QJsonValue& v : perFold) {
        const QJsonObject o = v.toObject();
        addRow(QString::number(o.value(QStringLiteral("fold")).toInt() + 1), o);
    }
    addRow(tr("mean"), summary.value(QStringLiteral("mean")).toObject());
    // The pooled report has the card's shape: flatten the figures the table shows.
    const QJsonObject pooled = summary.value(QStringLiteral("pooled_out_of_fold")).toObject();
    const QJsonObject pc = pooled.value(QStringLiteral("cell_level")).toObject();
    addRow(tr("pooled"),
           QJsonObject{
               {QStringLiteral("cells"), pc.value(QStringLiteral("count"))},
               {QStringLiteral("accuracy"), pc.value(QStringLiteral("accuracy"))},
               {QStringLiteral("auc"), pc.value(QStringLiteral("auc"))},
               {QStringLiteral("patient_accuracy"), pooled.value(QStringLiteral("patient_level"))
                                                        .toObject()
                                                        .value(QStringLiteral("accuracy"))},
               {QStringLiteral("worst_patient_accuracy"),
                pooled.value(QStringLiteral("worst_patient_accuracy"))},
               {QStringLiteral("max_healthy_patient_parasitized_share"),
                pooled.value(QStringLiteral("max_healthy_patient_parasitized_share"))}});
    m_cvTable->setVisible(true);
    appendLog(tr("cross-validation: mean accuracy %1, pooled out-of-fold accuracy %2")
                  .arg(summary.value(QStringLiteral("mean"))
                           .toObject()
                           .value(QStringLiteral("accuracy"))
                           .toDouble(),
                       0, 'f', 4)
                  .arg(pc.value(QStringLiteral("accuracy")).toDouble(), 0, 'f', 4));
}

void TrainingPage::appendLog(const QString& line)
{
    m_log->appendPlainText(QStringLiteral("%1  %2").arg(
        QTime::currentTime().toString(QStringLiteral("HH:mm:ss")), line));
}

} // namespace ml
