// Training controller: refusals before anything starts, a tiny real training (150 NIH cells,
// gap, 2 epochs) that lands in the registry with card and history, cancel between batches
// that leaves the active model untouched and a resume that finishes, and a save target that
// fails with a clear error.
#include "classifier.h"
#include "folderscanner.h"
#include "modelregistry.h"
#include "modelsession.h"
#include "preprocess.h"
#include "trainingcontroller.h"
#include "trainingdata.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestTrainingController : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void refusesOneClassFolder();
    void refusesFewerImagesThanBatch();
    void trainsTinyRunIntoRegistry();
    void cancelKeepsActiveModelAndResumeFinishes();
    void unwritableSaveTargetGivesClearError();
    void destroyingWhileTrainingStopsPromptly();

private:
    TrainingConfig tinyConfig() const;
    TrainingOutcome waitFinished(TrainingController& c, int timeoutMs);

    QTemporaryDir m_dir;
    std::shared_ptr<const Dataset> m_cells;
};

void TestTrainingController::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    if (!testing::hasNihCells())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): training tests "
              "skipped");
    QString error;
    QVERIFY2(testing::linkNihSubset(m_dir.filePath(QStringLiteral("cells")), 75, &error),
             qPrintable(error));
    m_cells = std::make_shared<Dataset>(scanFolder(m_dir.filePath(QStringLiteral("cells"))));
    QCOMPARE(int(m_cells->images.size()), 150);
    QVERIFY(m_cells->countPerPatient().size() > 10);
}

TrainingConfig TestTrainingController::tinyConfig() const
{
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 2;
    c.batchSize = 30;
    c.seed = 7;
    return c;
}

TrainingOutcome TestTrainingController::waitFinished(TrainingController& c, int timeoutMs)
{
    QSignalSpy spy(&c, &TrainingController::finished);
    if (!spy.wait(timeoutMs))
        return {};
    return spy.first().first().value<TrainingOutcome>();
}

void TestTrainingController::refusesOneClassFolder()
{
    QTemporaryDir dir;
    QString error;
    QVERIFY2(testing::linkNihSubset(dir.path(), 120, &error, 1), qPrintable(error));
    const auto ds = std::make_shared<Dataset>(scanFolder(dir.path()));
    TrainingController c;
    QSignalSpy started(&c, &TrainingController::started);
    QVERIFY(!c.start(ds, tinyConfig(), &error));
    QVERIFY2(error.contains(QLatin1String("exactly 2 classes")), qPrintable(error));
    QVERIFY(!c.isRunning());
    QCOMPARE(started.count(), 0);
}

void TestTrainingController::refusesFewerImagesThanBatch()
{
    TrainingController c;
    TrainingConfig config = tinyConfig();
    config.batchSize = 151;
    QString error;
    QVERIFY(!c.start(m_cells, config, &error));
    QVERIFY2(error.contains(QLatin1String("fewer than one batch")), qPrintable(error));
    config.batchSize = 150; // exactly one batch of images is allowed
    QVERIFY(TrainingController::refusal(*m_cells, config).isEmpty());
    QVERIFY(!c.isRunning());
}

void TestTrainingController::trainsTinyRunIntoRegistry()
{
    QTemporaryDir reg;
    TrainingController c;
    c.setRegistryRoot(reg.path());
    QSignalSpy batches(&c, &TrainingController::batchDone);
    QSignalSpy epochs(&c, &TrainingController::epochDone);
    QSignalSpy loads(&c, &TrainingController::loadProgress);
    QString error;
    QVERIFY2(c.start(m_cells, tinyConfig(), &error), qPrintable(error));
    QVERIFY(c.isRunning());
    QVERIFY(!c.start(m_cells, tinyConfig(), &error)); // one run at a time
    const TrainingOutcome out = waitFinished(c, 120000);
    QVERIFY2(out.ok(), qPrintable(out.error));
    QVERIFY(!c.isRunning());
    QCOMPARE(epochs.count(), 2);
    QVERIFY(loads.count() >= 1);
    // 2 epochs of ceil(train / 30) batches, delivered in order through queued signals.
    QVERIFY(batches.count() >= 2 * 4);
    QCOMPARE(batches.last().at(0).toInt(), 2);
    // The registry entry: model, card with validation figures, history with 2 epochs.
    const QList<RegistryEntry> entries = ModelRegistry(reg.path()).entries();
    QCOMPARE(entries.size(), 1);
    const RegistryEntry& e = entries.first();
    QCOMPARE(e.id, out.entry.id);
    QVERIFY(e.isUsable());
    QCOMPARE(e.architecture, QStringLiteral("gap"));
    QVERIFY(e.metrics.cellAccuracy >= 0.0 && e.metrics.cellAccuracy <= 1.0);
    QVERIFY(e.metrics.validationCells > 0);
    QCOMPARE(e.metrics.split, QStringLiteral("patient"));
    QFile history(e.historyPath);
    QVERIFY(history.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = history.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 3);
    QVERIFY(lines.first().startsWith("epoch,train_loss"));
    // The saved file loads, and the published copy predicts the same as the file.
    Classifier fromFile;
    QVERIFY2(fromFile.load(e.modelPath), qPrintable(fromFile.errorString()));
    QVERIFY(out.result.classifier.isLoaded());
    QCOMPARE(out.result.classifier.weightsSha256(), fromFile.weightsSha256());
    std::vector<cv::Mat> imgs{loadPreprocessed(m_cells->absolutePath(0)).rgb,
                              loadPreprocessed(m_cells->absolutePath(149)).rgb};
    const auto p1 = out.result.classifier.predict(imgs);
    const auto p2 = fromFile.predict(imgs);
    QVERIFY(p1 && p2);
    QCOMPARE(*p1, *p2);
    // Success removes the checkpoint: nothing left to resume.
    QVERIFY(!QFile::exists(c.checkpointPathFor(*m_cells)));
    QVERIFY(!c.interruptedRun(*m_cells).has_value());
}

void TestTrainingController::cancelKeepsActiveModelAndResumeFinishes()
{
    QTemporaryDir reg;
    // The active model of the application: an untrained gap network saved to a file.
    const QString activePath = reg.filePath(QStringLiteral("active/active.pt"));
    QDir().mkpath(QFileInfo(activePath).path());
    QVERIFY(Classifier::createUntrained(Architecture::Gap, 3).save(activePath));
    ModelSession session;
    QVERIFY(session.loadFile(activePath));
    const QString activeSha = session.classifier().weightsSha256();
    QSignalSpy modelChanged(&session, &ModelSession::modelChanged);

    TrainingController c;
    c.setRegistryRoot(reg.filePath(QStringLiteral("models")));
    TrainingConfig config = tinyConfig();
    config.epochs = 3;
    config.batchSize = 10; // 12 batches an epoch: the cancel lands well inside epoch 2
    // Cancel in the middle of epoch 2, after epoch 1's checkpoint is on disk.
    int batchesAfterEpoch1 = 0;
    bool epoch1 = false;
    connect(&c, &TrainingController::epochDone, this,
            [&](const EpochStats& s) { epoch1 = s.epoch >= 1; });
    auto conn = connect(&c, &TrainingController::batchDone, this, [&](int epoch, int, int, double) {
        if (epoch1 && epoch == 2 && ++batchesAfterEpoch1 == 2)
            c.cancel();
    });
    QSignalSpy epochs(&c, &TrainingController::epochDone);
    QString error;
    QVERIFY2(c.start(m_cells, config, &error), qPrintable(error));
    const TrainingOutcome cancelled = waitFinished(c, 120000);
    disconnect(conn);
    QVERIFY(cancelled.result.cancelled);
    QVERIFY(!cancelled.saved);
    QVERIFY(cancelled.error.contains(QLatin1String("cancelled")));
    QCOMPARE(epochs.count(), 1); // stopped between batches of epoch 2
    QCOMPARE(session.classifier().weightsSha256(), activeSha);
    QCOMPARE(modelChanged.count(), 0);
    QVERIFY(ModelRegistry(c.registryRoot()).entries().isEmpty());
    const auto run = c.interruptedRun(*m_cells);
    QVERIFY(run.has_value());
    QVERIFY(run->hasCheckpoint);
    QCOMPARE(run->epochsDone, 1);
    QCOMPARE(run->config.epochs, 3);
    QCOMPARE(run->config.batchSize, 10);

    // Resume in a new controller (as after a restart): epochs 2 and 3 only, then saved.
    TrainingController again;
    again.setRegistryRoot(reg.filePath(QStringLiteral("models")));
    QSignalSpy resumedEpochs(&again, &TrainingController::epochDone);
    QSignalSpy log(&again, &TrainingController::logMessage);
    QVERIFY2(again.resume(m_cells, &error), qPrintable(error));
    const TrainingOutcome done = waitFinished(again, 120000);
    QVERIFY2(done.ok(), qPrintable(done.error));
    QVERIFY(done.resumed);
    QCOMPARE(resumedEpochs.count(), 2);
    QCOMPARE(resumedEpochs.first().first().value<EpochStats>().epoch, 2);
    QCOMPARE(done.result.history.size(), 3); // the checkpoint carried epoch 1's figures
    bool sawResume = false;
    for (const QList<QVariant>& args : log)
        sawResume = sawResume || args.first().toString().contains(QLatin1String("resumed from"));
    QVERIFY(sawResume);
    QCOMPARE(ModelRegistry(again.registryRoot()).entries().size(), 1);
    QVERIFY(!again.interruptedRun(*m_cells).has_value());
    // Training never touches the active model; only the user activates a new one.
    QCOMPARE(session.classifier().weightsSha256(), activeSha);
    QCOMPARE(modelChanged.count(), 0);
}

void TestTrainingController::unwritableSaveTargetGivesClearError()
{
    QTemporaryDir dir;
    // A file where the registry folder should be: unwritable even for root.
    const QString blocker = dir.filePath(QStringLiteral("blocker"));
    {
        QFile f(blocker);
        QVERIFY(f.open(QIODevice::WriteOnly));
    }
    const QString activePath = dir.filePath(QStringLiteral("active.pt"));
    QVERIFY(Classifier::createUntrained(Architecture::Gap, 3).save(activePath));
    const QByteArray activeBytes = [&] {
        QFile f(activePath);
        f.open(QIODevice::ReadOnly);
        return f.readAll();
    }();
    ModelSession session;
    QVERIFY(session.loadFile(activePath));
    TrainingController c;
    c.setRegistryRoot(blocker + QStringLiteral("/models"));
    TrainingConfig config = tinyConfig();
    config.epochs = 1;
    QString error;
    QVERIFY2(c.start(m_cells, config, &error), qPrintable(error));
    const TrainingOutcome out = waitFinished(c, 120000);
    QVERIFY(out.result.ok); // trained...
    QVERIFY(!out.saved);    // ...but not saved
    QVERIFY(!out.ok());
    QVERIFY2(out.error.contains(QLatin1String("could not be saved")) && out.error.contains(blocker),
             qPrintable(out.error));
    QVERIFY(session.classifier().source() == activePath);
    QFile f(activePath);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), activeBytes);
}

void TestTrainingController::destroyingWhileTrainingStopsPromptly()
{
    // Closing the application mid-training: the destructor cancels and waits for the current
    // batch only, and the checkpoint of the finished epochs stays for a later resume.
    QTemporaryDir reg;
    auto c = std::make_unique<TrainingController>();
    c->setRegistryRoot(reg.path());
    TrainingConfig config = tinyConfig();
    config.epochs = 20;
    config.batchSize = 10;
    QSignalSpy epochs(c.get(), &TrainingController::epochDone);
    QString error;
    QVERIFY2(c->start(m_cells, config, &error), qPrintable(error));
    QVERIFY(epochs.wait(60000));
    const QString checkpoint = c->checkpointPathFor(*m_cells);
    QElapsedTimer t;
    t.start();
    c.reset();
    QVERIFY2(t.elapsed() < 5000, qPrintable(QString::number(t.elapsed())));
    QVERIFY(QFile::exists(checkpoint));
    QVERIFY(ModelRegistry(reg.path()).entries().isEmpty());
}

QTEST_GUILESS_MAIN(TestTrainingController)
#include "tst_trainingcontroller.moc"
