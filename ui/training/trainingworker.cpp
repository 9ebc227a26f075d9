#include "trainingworker.h"

#include "classifier.h"
#include "dataset.h"
#include "modelregistry.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>
#include <QSaveFile>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ml {

namespace {

// On Linux the nice value is per thread and threads inherit it from their creator, so the
// decoding pool and libtorch's OpenMP threads started from here run at this priority too.
// The GUI thread then wins the core whenever both want it (the 50 ms latency budget).
void lowerThisThreadPriority()
{
#ifdef Q_OS_LINUX
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    const int current = ::getpriority(PRIO_PROCESS, tid);
    if (current < 10)
        ::setpriority(PRIO_PROCESS, tid, 10);
#endif
}

void writeSidecar(const QString& path, QJsonObject o, int epochsDone)
{
    if (path.isEmpty())
        return;
    o.insert(QStringLiteral("epochs_done"), epochsDone);
    o.insert(QStringLiteral("updated"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate));
    QSaveFile f(path);
    // Best effort: without it the run cannot be resumed from the GUI, training still goes on.
    if (f.open(QIODevice::WriteOnly))
        f.write(QJsonDocument(o).toJson());
    f.commit();
}

} // namespace

TrainingWorker::TrainingWorker(const std::atomic<bool>* cancel) : m_cancel(cancel) {}

void TrainingWorker::run(const TrainingJob& job)
{
    lowerThisThreadPriority();
    // A resumed run starts where its checkpoint is, not at 0.
    writeSidecar(job.sidecarPath, job.sidecar,
                 job.sidecar.value(QStringLiteral("epochs_done")).toInt());

    TrainingCallbacks cb;
    cb.log = [this](const QString& m) { Q_EMIT logMessage(m); };
    cb.loadProgress = [this](int done, int total) { Q_EMIT loadProgress(done, total); };
    cb.batchDone = [this](int epoch, int batch, int batches, double loss) {
        Q_EMIT batchDone(epoch, batch, batches, loss);
    };
    cb.historyRestored = [this](const QList<EpochStats>& history, int bestEpoch) {
        Q_EMIT historyRestored(history, bestEpoch);
    };
    cb.epochDone = [this, &job](const EpochStats& s) {
        writeSidecar(job.sidecarPath, job.sidecar, s.epoch);
        Q_EMIT epochDone(s);
    };

    TrainingOutcome out;
    out.resumed = job.config.resume;
    if (job.config.folds > 1) {
        // Cross-validation: every fold is a full training with its own checkpoint, then a
        // final fit on every patient; the registry gets that model, whose card carries all
        // folds' figures.
        const CrossValidationResult cv = crossValidate(
            *job.dataset, job.config, job.config.folds, cb, m_cancel,
            [this](int fold, int folds) { Q_EMIT foldStarted(fold, folds); }, true);
        if (cv.ok) {
            out.result = cv.final;
            out.crossValidation = cv.toJson();
        } else {
            out.result.cancelled = cv.cancelled;
            out.result.error = cv.error;
        }
    } else {
        out.result = trainClassifier(*job.dataset, job.config, cb, m_cancel);
    }
    TrainingResult& r = out.result;
    if (!r.ok) {
        out.error = r.cancelled
                        ? tr("Training cancelled; the active model is unchanged. Resume continues "
                             "from the last finished epoch.")
                        : r.error;
        Q_EMIT finished(out);
        return;
    }

    // The bytes that go to disk are also what the GUI gets back: an independent copy, so
    // nothing downstream ever runs inference on the module the trainer used.
    QString why;
    const QByteArray bytes = r.classifier.serialize(&why);
    const QJsonObject card = r.classifier.card();
    if (bytes.isEmpty()) {
        out.error = tr("Training finished but the model could not be serialised: %1").arg(why);
        Q_EMIT finished(out);
        return;
    }
    ModelRegistry registry(job.registryRoot);
    // No display name here: addEntry() then never writes registry.json, which belongs to the
    // GUI thread.
    const auto entry = registry.addEntry(bytes, card, r.historyCsv(), QString(), &why);
    Classifier copy;
    if (!copy.loadData(bytes, entry ? entry->modelPath : QStringLiteral("trained model"), card)) {
        out.error = tr("Training finished but the trained model does not load back: %1")
                        .arg(copy.errorString());
        Q_EMIT finished(out);
        return;
    }
    r.classifier = copy;
    if (!entry) {
        out.error =
            tr("Training finished but the model could not be saved: %1. The previous model is "
               "unchanged; the checkpoint is kept, so Resume saves it again once the folder "
               "is writable.")
                .arg(why);
        Q_EMIT finished(out);
        return;
    }
    out.saved = true;
    out.entry = *entry;
    // The model is safely in the registry: the checkpoint has done its job.
    QFile::remove(job.config.checkpointPath);
    for (int i = 0; i <= job.config.folds; ++i) // the folds' and the final fit's
        QFile::remove(foldCheckpointPath(job.config.checkpointPath, i));
    QFile::remove(job.sidecarPath);
    Q_EMIT finished(out);
}

} // namespace ml
