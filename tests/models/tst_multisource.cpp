// Training across labs on real cells: NIH crops and IML field crops (exported by
// `malarialens-cli segment --annotations --export-crops` from real IML fields) as two named
// sources. Patients stay whole per source, class-balanced sampling, validation figures per
// source, a held-out source tested after training, and a NaN loss that stops the run.
#include "folderscanner.h"
#include "prevalence.h"
#include "trainer.h"
#include "trainingdata.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>

#include <QTest>

#include <algorithm>
#include <map>

using namespace ml;

class TestMultiSource : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void classBalancedOrderDrawsHalfOfEachClass();
    void mergeKeepsPatientsOfEachSourceApart();
    void mergeRefusesMismatchedSources();
    void trainsOnTwoSourcesWithFiguresPerSource();
    void heldOutSourceIsTestedNotTrained();
    void nanLossStopsTrainingAndKeepsCheckpoint();
    void augmentationComesBeforeNormalisation();

private:
    QTemporaryDir m_dir;
    bool m_haveData = false;
    Dataset m_nih, m_iml, m_merged;
};

void TestMultiSource::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString fields = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!testing::hasNihCells() || !QFile::exists(fields + QStringLiteral("/annotations.json")))
        return; // each test skips with a message
    QString error;
    const QString nih = m_dir.filePath(QStringLiteral("nih"));
    QVERIFY2(testing::linkNihSubset(nih, 100, &error), qPrintable(error));
    // Four real IML fields, cropped by the CLI as a user would.
    const QString some = m_dir.filePath(QStringLiteral("fields"));
    QDir().mkpath(some);
    QStringList images = QDir(fields + QStringLiteral("/images"))
                             .entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name);
    images = images.mid(0, 4);
    for (const QString& f : images)
        QVERIFY(QFile::link(fields + QStringLiteral("/images/") + f, some + QLatin1Char('/') + f));
    QProcess segment;
    segment.setProcessChannelMode(QProcess::MergedChannels);
    const QString crops = m_dir.filePath(QStringLiteral("iml"));
    segment.start(QStringLiteral(MALARIALENS_CLI),
                  {QStringLiteral("segment"), some, QStringLiteral("--annotations"),
                   fields + QStringLiteral("/annotations.json"), QStringLiteral("--export-crops"),
                   crops, QStringLiteral("--no-classify"), QStringLiteral("--threads"),
                   QStringLiteral("2")});
    QVERIFY(segment.waitForFinished(120000));
    QVERIFY2(segment.exitCode() == 0, segment.readAll().constData());
    m_nih = scanFolder(nih);
    m_iml = scanFolder(crops);
    QVERIFY2(m_iml.error.isEmpty(), qPrintable(m_iml.error));
    QVERIFY(m_iml.countPerClass().value(QStringLiteral("Parasitized")) > 0);
    m_merged = mergeSources({{QStringLiteral("nih"), m_nih}, {QStringLiteral("iml"), m_iml}});
    QVERIFY2(m_merged.error.isEmpty(), qPrintable(m_merged.error));
    m_haveData = true;
}

#define REQUIRE_DATA()                                                                             \
    if (!m_haveData)                                                                               \
    QSKIP("shared data missing (../shared/data/nih-cells, iml-fields): multi-source not checked")

void TestMultiSource::classBalancedOrderDrawsHalfOfEachClass()
{
    // 10 infected cells against 90 healthy ones (the IML crops are ~1:70).
    std::vector<int> train(100), labels(100);
    for (int i = 0; i < 100; ++i) {
        train[size_t(i)] = i;
        labels[size_t(i)] = i < 10 ? 0 : 1;
    }
    std::mt19937 rng(7), again(7);
    const std::vector<int> order = classBalancedOrder(train, labels, rng);
    QCOMPARE(order, classBalancedOrder(train, labels, again)); // deterministic per seed
    QCOMPARE(int(order.size()), 100);
    std::map<int, int> times;
    for (int i : order)
        times[i] += 1;
    int minority = 0;
    for (int i = 0; i < 10; ++i) {
        QCOMPARE(times[i], 5); // every infected cell 5 times: whole passes
        minority += times[i];
    }
    QCOMPARE(minority, 50);
    for (int i = 10; i < 100; ++i)
        QVERIFY(times[i] <= 1); // the majority drawn without replacement
    // The next epoch draws again (the run's RNG moves on).
    QVERIFY(classBalancedOrder(train, labels, rng) != order);
}

void TestMultiSource::mergeKeepsPatientsOfEachSourceApart()
{
    REQUIRE_DATA();
    QCOMPARE(m_merged.images.size(), m_nih.images.size() + m_iml.images.size());
    QCOMPARE(sourceNames(m_merged), QStringList({QStringLiteral("iml"), QStringLiteral("nih")}));
    QSet<QString> fields;
    for (int i = 0; i < int(m_merged.images.size()); ++i) {
        const ImageEntry& e = m_merged.images.at(i);
        QVERIFY(e.source == QLatin1String("nih") || e.source == QLatin1String("iml"));
        QVERIFY2(e.patient.startsWith(e.source + QLatin1Char(':')), qPrintable(e.patient));
        QVERIFY2(QFile::exists(m_merged.absolutePath(i)), qPrintable(m_merged.absolutePath(i)));
        if (e.source == QLatin1String("iml")) {
            // C171694_PA171694_cell012_rbc.png: the field C171694 is the group.
            QVERIFY2(e.patient.startsWith(QLatin1String("iml:C")), qPrintable(e.patient));
            fields.insert(e.patient);
        }
    }
    QCOMPARE(fields.size(), 4); // one group per field
    // One folder twice under two names: the same patient ids, kept apart.
    const Dataset twice =
        mergeSources({{QStringLiteral("a"), m_nih}, {QStringLiteral("b"), m_nih}});
    QCOMPARE(twice.countPerPatient().size(), 2 * m_nih.countPerPatient().size());
    std::vector<int> train, val;
    splitDataset(m_merged, SplitMode::Patient, 0.3, 42, &train, &val);
    QSet<QString> trainPatients, valPatients;
    for (int i : train)
        trainPatients.insert(m_merged.images.at(i).patient);
    for (int i : val)
        valPatients.insert(m_merged.images.at(i).patient);
    QVERIFY(!val.empty());
    QVERIFY(!trainPatients.intersects(valPatients));
    // One source alone is that folder, with its name.
    const Dataset one = mergeSources({{QStringLiteral("nih"), m_nih}});
    QCOMPARE(one.root, m_nih.root);
    QCOMPARE(one.images.first().patient, m_nih.images.first().patient);
    QCOMPARE(one.images.first().source, QStringLiteral("nih"));
}

void TestMultiSource::mergeRefusesMismatchedSources()
{
    REQUIRE_DATA();
    const Dataset same = mergeSources({{QStringLiteral("a"), m_nih}, {QStringLiteral("a"), m_iml}});
    QVERIFY2(same.error.contains(QLatin1String("twice")), qPrintable(same.error));
    const Dataset colon = mergeSources({{QStringLiteral("a:b"), m_nih}});
    QVERIFY(!colon.error.isEmpty());
    Dataset oneClass = m_iml;
    oneClass.classNames = QStringList{QStringLiteral("Parasitized")};
    const Dataset classes =
        mergeSources({{QStringLiteral("a"), m_nih}, {QStringLiteral("b"), oneClass}});
    QVERIFY2(classes.error.contains(QLatin1String("same class subfolders")),
             qPrintable(classes.error));
}

void TestMultiSource::trainsOnTwoSourcesWithFiguresPerSource()
{
    REQUIRE_DATA();
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 50;
    c.valFraction = 0.3;
    c.threads = 2;
    c.balanceClasses = true;
    int trained = 0;
    TrainingCallbacks cb;
    cb.batchDone = [&](int, int, int batches, double) { trained = batches; };
    const TrainingResult r = trainClassifier(m_merged, c, cb);
    QVERIFY2(r.ok, qPrintable(r.error));
    // A balanced epoch is as long as the training side.
    int trainCells = 0;
    for (int n : r.split.trainCells)
        trainCells += n;
    QCOMPARE(trained, (trainCells + 49) / 50);
    QVERIFY(!r.validationBySource.isEmpty());
    int cells = 0;
    for (const SourceFigures& f : r.validationBySource) {
        cells += f.cells;
        QVERIFY(f.source == QLatin1String("nih") || f.source == QLatin1String("iml"));
        QVERIFY(f.auc >= 0.0 && f.auc <= 1.0);
        QCOMPARE(f.balancedAccuracy, (f.sensitivity + f.specificity) / 2.0);
    }
    QCOMPARE(cells, r.validation.cells.count);
    const QJsonObject card = r.classifier.card();
    QCOMPARE(card.value(QStringLiteral("validation_by_source")).toArray().size(),
             r.validationBySource.size());
    // The parasitemia correction reads each source's own counts from the card.
    for (const SourceFigures& f : r.validationBySource) {
        QCOMPARE(f.truePositive + f.falseNegative, f.parasitized);
        QCOMPARE(f.truePositive + f.falseNegative + f.trueNegative + f.falsePositive, f.cells);
        const auto rates = errorRatesFromCard(card, nullptr, f.source);
        QVERIFY(rates);
        QCOMPARE(rates->positives, f.parasitized);
        QVERIFY(rates->source.contains(f.source));
    }
    QVERIFY(card.value(QStringLiteral("training"))
                .toObject()
                .value(QStringLiteral("class_balanced_sampling"))
                .isString());
    QVERIFY(!card.contains(QStringLiteral("holdout")));
}

void TestMultiSource::heldOutSourceIsTestedNotTrained()
{
    REQUIRE_DATA();
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 50;
    c.threads = 2;
    c.holdoutSource = QStringLiteral("iml");
    const TrainingResult r = trainClassifier(m_merged, c);
    QVERIFY2(r.ok, qPrintable(r.error));
    // Training and validation are the NIH cells only, split by their own patients.
    int sides = 0;
    for (int n : r.split.trainCells)
        sides += n;
    for (int n : r.split.valCells)
        sides += n;
    QCOMPARE(sides, int(m_nih.images.size()));
    for (int i : r.validationIndices)
        QCOMPARE(m_merged.images.at(i).source, QStringLiteral("nih"));
    QCOMPARE(r.holdout.source, QStringLiteral("iml"));
    QCOMPARE(r.holdout.cells, int(m_iml.images.size()));
    QCOMPARE(r.holdout.parasitized, m_iml.countPerClass().value(QStringLiteral("Parasitized")));
    const QJsonObject holdout = r.classifier.card().value(QStringLiteral("holdout")).toObject();
    QCOMPARE(holdout.value(QStringLiteral("source")).toString(), QStringLiteral("iml"));
    QCOMPARE(holdout.value(QStringLiteral("cells")).toInt(), int(m_iml.images.size()));
    for (const char* key : {"sensitivity", "specificity", "balanced_accuracy", "auc"})
        QVERIFY2(holdout.contains(QLatin1String(key)), key);

    c.holdoutSource = QStringLiteral("nope");
    const TrainingResult unknown = trainClassifier(m_merged, c);
    QVERIFY(!unknown.ok);
    QVERIFY2(unknown.error.contains(QLatin1String("nope")), qPrintable(unknown.error));
}

void TestMultiSource::nanLossStopsTrainingAndKeepsCheckpoint()
{
    REQUIRE_DATA();
    // An absurd learning rate on real cells: the weights blow up until the loss is NaN or
    // infinite. The run must stop with a clear message, not train on garbage.
    TrainingConfig c;
    c.arch = Architecture::Base; // no BatchNorm to hold the activations in range
    c.epochs = 10;
    c.batchSize = 20;
    c.learningRate = 1e6;
    c.patience = 10;
    c.threads = 2;
    c.checkpointPath = m_dir.filePath(QStringLiteral("diverging.checkpoint"));
    const TrainingResult r = trainClassifier(m_nih, c);
    QVERIFY(!r.ok);
    QVERIFY(r.diverged);
    QVERIFY2(r.error.startsWith(QLatin1String("training diverged at epoch ")), qPrintable(r.error));
    QVERIFY2(r.error.contains(QLatin1String("(loss NaN)")) ||
                 r.error.contains(QLatin1String("(loss infinite)")),
             qPrintable(r.error));
    QVERIFY(!r.classifier.isLoaded());
    if (r.history.isEmpty()) {
        QVERIFY2(r.error.contains(QLatin1String("no checkpoint was written")), qPrintable(r.error));
    } else {
        // The last good epoch's checkpoint is on disk and names the epoch it holds.
        QVERIFY2(r.error.contains(c.checkpointPath), qPrintable(r.error));
        QVERIFY(QFile::exists(c.checkpointPath));
        for (const EpochStats& s : r.history)
            QVERIFY(std::isfinite(s.trainLoss));
    }
}

void TestMultiSource::augmentationComesBeforeNormalisation()
{
    REQUIRE_DATA();
    // Augmented training cells are normalised after the augmentation, so a per-cell
    // normalisation sees the jittered cell; the card records the order.
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 50;
    c.threads = 2;
    c.augment = true;
    c.normalization = InputNormalization::ForegroundMedian;
    const TrainingResult r = trainClassifier(m_nih, c);
    QVERIFY2(r.ok, qPrintable(r.error));
    const QJsonObject augmentation = r.classifier.card()
                                         .value(QStringLiteral("training"))
                                         .toObject()
                                         .value(QStringLiteral("augmentation"))
                                         .toObject();
    QVERIFY(augmentation.value(QStringLiteral("order"))
                .toString()
                .contains(QLatin1String("then the input normalisation")));
    QVERIFY(std::isfinite(r.history.first().trainLoss));
}

QTEST_GUILESS_MAIN(TestMultiSource)
#include "tst_multisource.moc"
