#include "trainingcontroller.h"

#include "dataset.h"
#include "modelregistry.h"
#include "trainingworker.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSet>

namespace ml {

namespace {

QJsonObject configToJson(const TrainingConfig& c)
{
    return QJsonObject{{QStringLiteral("arch"), architectureName(c.arch)},
                       {QStringLiteral("epochs"), c.epochs},
                       {QStringLiteral("batch_size"), c.batchSize},
                       {QStringLiteral("learning_rate"), c.learningRate},
                       {QStringLiteral("patience"), c.patience},
                       {QStringLiteral("split"), c.split == SplitMode::Patient
                                                     ? QStringLiteral("patient")
                                                     : QStringLiteral("random")},
                       {QStringLiteral("val_fraction"), c.valFraction},
                       {QStringLiteral("seed"), double(c.seed)},
                       {QStringLiteral("augment"), c.augment},
                       {QStringLiteral("normalization"), inputNormalizationName(c.normalization)},
                       {QStringLiteral("lr_patience"), c.lrPatience},
                       {QStringLiteral("folds"), c.folds}};
}

std::optional<TrainingConfig> configFromJson(const QJsonObject& o)
{
    TrainingConfig c;
    const auto arch = parseArchitecture(o.value(QStringLiteral("arch")).toString());
    if (!arch)
        return std::nullopt;
    c.arch = *arch;
    c.epochs = o.value(QStringLiteral("epochs")).toInt(c.epochs);
    c.batchSize = o.value(QStringLiteral("batch_size")).toInt(c.batchSize);
    c.learningRate = o.value(QStringLiteral("learning_rate")).toDouble(c.learningRate);
    c.patience = o.value(QStringLiteral("patience")).toInt(c.patience);
    c.split = o.value(QStringLiteral("split")).toString() == QLatin1String("random")
                  ? SplitMode::Random
                  : SplitMode::Patient;
    c.valFraction = o.value(QStringLiteral("val_fraction")).toDouble(c.valFraction);
    c.seed = quint32(o.value(QStringLiteral("seed")).toDouble(c.seed));
    c.normalization =
        inputNormalizationFromName(o.value(QStringLiteral("normalization")).toString());
    c.lrPatience = o.value(QStringLiteral("lr_patience")).toInt(0);
    c.folds = o.value(QStringLiteral("folds")).toInt(0);
    c.augment = o.value(QStringLiteral("augment")).toBool();
    return c;
}

} // namespace

TrainingController::TrainingController(QObject* parent)
    : QObject(parent), m_registryRoot(ModelRegistry::defaultRoot())
{
    qRegisterMetaType<ml::TrainingOutcome>();
    qRegisterMetaType<ml::EpochStats>();
    qRegisterMetaType<QList<ml::EpochStats>>();
    qRegisterMetaType<ml::TrainingConfig>();
    m_thread.setObjectName(QStringLiteral("training"));
    m_worker = new TrainingWorker(&m_cancel);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &TrainingWorker::loadProgress, this, &TrainingController::loadProgress);
    connect(m_worker, &TrainingWorker::batchDone, this, &TrainingController::batchDone);
    connect(m_worker, &TrainingWorker::epochDone, this, &TrainingController::epochDone);
    connect(m_worker, &TrainingWorker::logMessage, this, &TrainingController::logMessage);
    connect(m_worker, &TrainingWorker::foldStarted, this, &TrainingController::foldStarted);
    connect(m_worker, &TrainingWorker::historyRestored, this, &TrainingController::historyRestored);
    connect(m_worker, &TrainingWorker::finished, this, [this](const ml::TrainingOutcome& outcome) {
        m_running = false;
        Q_EMIT finished(outcome);
    });
    m_thread.start();
}

TrainingController::~TrainingController()
{
    // The trainer checks the flag between batches, so this waits for one batch at most.
    m_cancel.store(true);
    m_thread.quit();
    m_thread.wait();
}

void TrainingController::setRegistryRoot(const QString& root)
{
    m_registryRoot = root.isEmpty() ? ModelRegistry::defaultRoot() : root;
}

int TrainingController::threadBudget()
{
    return qMax(1, QThread::idealThreadCount() - 1);
}

QString TrainingController::refusal(const Dataset& ds, const TrainingConfig& c)
{
    if (!ds.error.isEmpty())
        return tr("The folder cannot be read: %1").arg(ds.error);
    if (ds.images.isEmpty())
        return tr("The folder has no images.");
    if (!ds.isLabelled())
        return tr("Training needs labelled images: a folder with one subfolder per class "
                  "(Parasitized, Uninfected). This folder has no class subfolders.");
    if (ds.classNames.size() != kModelClassCount)
        return tr("Training needs exactly 2 classes (Parasitized, Uninfected); this folder has %n "
                  "class(es): %1.",
                  nullptr, int(ds.classNames.size()))
            .arg(ds.classNames.join(QStringLiteral(", ")));
    const QMap<QString, int> perClass = ds.countPerClass();
    for (auto it = perClass.cbegin(); it != perClass.cend(); ++it) {
        if (it.value() == 0)
            return tr("Class '%1' has no images: training needs examples of both classes.")
                .arg(it.key());
    }
    if (c.batchSize < 1 || c.epochs < 1 || c.learningRate <= 0)
        return tr("Batch size and epochs must be at least 1 and the learning rate positive.");
    if (c.valFraction <= 0.0 || c.valFraction >= 1.0)
        return tr("The validation fraction must be between 0 and 1.");
    if (ds.images.size() < c.batchSize)
        return tr("%1 images are fewer than one batch (%2): lower the batch size or add images.")
            .arg(ds.images.size())
            .arg(c.batchSize);
    if (c.folds > 1) {
        if (c.split != SplitMode::Patient)
            return tr("Cross-validation is by patient only: choose the patient split.");
        if (patientFolds(ds, c.folds, c.seed).empty())
            return tr("%1 folds need at least %1 patients.").arg(c.folds);
        return {};
    }
    std::vector<int> train, val;
    splitDataset(ds, c.split, c.valFraction, c.seed, &train, &val);
    if (train.empty() || val.empty())
        return tr(
            "The split leaves no images on one side (too few patients for a patient split?).");
    return {};
}

int TrainingController::sharedPatients(const Dataset& ds, const TrainingConfig& c)
{
    if (c.split == SplitMode::Patient || ds.images.isEmpty())
        return 0;
    std::vector<int> train, val;
    splitDataset(ds, c.split, c.valFraction, c.seed, &train, &val);
    QSet<QString> trainPatients, valPatients;
    for (int i : train)
        trainPatients.insert(ds.images.at(i).patient);
    for (int i : val)
        valPatients.insert(ds.images.at(i).patient);
    return int(trainPatients.intersect(valPatients).size());
}

QString TrainingController::checkpointPathFor(const Dataset& ds) const
{
    // One interrupted run per folder, named by a hash of its path (any characters, any length).
    const QByteArray key =
        QCryptographicHash::hash(ds.root.toUtf8(), QCryptographicHash::Sha1).toHex().left(16);
    return QDir(m_registryRoot)
        .filePath(QStringLiteral(".checkpoints/%1.checkpoint").arg(QString::fromLatin1(key)));
}

QString TrainingController::sidecarPathFor(const Dataset& ds) const
{
    return checkpointPathFor(ds) + QStringLiteral(".json");
}

std::optional<InterruptedRun> TrainingController::interruptedRun(const Dataset& ds) const
{
    QFile f(sidecarPathFor(ds));
    if (ds.root.isEmpty() || !f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
    if (o.value(QStringLiteral("dataset")).toString() != ds.root)
        return std::nullopt;
    const auto config = configFromJson(o.value(QStringLiteral("config")).toObject());
    if (!config)
        return std::nullopt;
    InterruptedRun run;
    run.config = *config;
    run.epochsDone = o.value(QStringLiteral("epochs_done")).toInt();
    run.hasCheckpoint = QFileInfo::exists(checkpointPathFor(ds));
    run.updated = QDateTime::fromString(o.value(QStringLiteral("updated")).toString(), Qt::ISODate);
    return run;
}

void TrainingController::discardInterrupted(const Dataset& ds)
{
    if (m_running)
        return;
    QFile::remove(checkpointPathFor(ds));
    QFile::remove(sidecarPathFor(ds));
}

bool TrainingController::start(std::shared_ptr<const Dataset> dataset, const TrainingConfig& config,
                               QString* error)
{
    return launch(std::move(dataset), config, false, error);
}

bool TrainingController::resume(std::shared_ptr<const Dataset> dataset, QString* error)
{
    const auto run = dataset ? interruptedRun(*dataset) : std::nullopt;
    if (!run) {
        if (error)
            *error = tr("There is no interrupted training of this folder to resume.");
        return false;
    }
    return launch(std::move(dataset), run->config, true, error);
}

bool TrainingController::launch(std::shared_ptr<const Dataset> dataset, TrainingConfig config,
                                bool resume, QString* error)
{
    QString dummy;
    if (!error)
        error = &dummy;
    if (m_running) {
        *error = tr("A training is already running.");
        return false;
    }
    if (!dataset) {
        *error = tr("No folder is open.");
        return false;
    }
    *error = refusal(*dataset, config);
    if (!error->isEmpty())
        return false;
    config.threads = threadBudget();
    config.decodeThreads = threadBudget();
    config.checkpointPath = checkpointPathFor(*dataset);
    config.resume = resume;
    if (!resume) {
        // A fresh run must never be resumed into the checkpoint of an older, different run.
        QFile::remove(config.checkpointPath);
        QFile::remove(sidecarPathFor(*dataset));
    }
    if (!QDir().mkpath(QFileInfo(config.checkpointPath).path())) {
        // Training still works without checkpoints; say that resume will not.
        Q_EMIT logMessage(tr("warning: %1 cannot be created: no checkpoints, no resume")
                              .arg(QFileInfo(config.checkpointPath).path()));
    }
    TrainingJob job;
    job.dataset = std::move(dataset);
    job.config = config;
    job.registryRoot = m_registryRoot;
    job.sidecarPath = sidecarPathFor(*job.dataset);
    job.sidecar = QJsonObject{{QStringLiteral("dataset"), job.dataset->root},
                              {QStringLiteral("config"), configToJson(config)}};
    if (resume) {
        if (const auto run = interruptedRun(*job.dataset))
            job.sidecar.insert(QStringLiteral("epochs_done"), run->epochsDone);
    }
    m_cancel.store(false);
    m_running = true;
    TrainingWorker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker, job] { worker->run(job); }, Qt::QueuedConnection);
    Q_EMIT started(resume, config);
    return true;
}

void TrainingController::cancel()
{
    m_cancel.store(true);
}

} // namespace ml
