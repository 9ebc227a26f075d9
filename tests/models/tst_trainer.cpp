// Training: refusals, patient-grouped split, a short real training run on cells the test
// draws (two colours of cell with and without a dark parasite-like dot), early stopping,
// checkpoint + resume, cancel.
#include "classifier_p.h"
#include "folderscanner.h"
#include "modelcardsummary.h"
#include "preprocess.h"
#include "trainer.h"
#include "validationsplit.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

using namespace ml;

class TestTrainer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void refusesOneClassFolder();
    void refusesFewerImagesThanBatch();
    void patientSplitKeepsPatientsApart();
    void randomSplitSharesPatients();
    void trainsAndLearns();
    void earlyStoppingRestoresBest();
    void checkpointAndResume();
    void sameSeedSameWeights();
    void cancel();
    void patientFoldsPartitionPatients();
    void crossValidationByPatient();
    void learningRateDecaysOnPlateau();
    void normalizationTravelsWithTheModel();
    void exclusionLeavesOutTrainingCellsOnly();
    void listedHeldOutPatientsFoundInAnyFolder();
    void givenValidationPatientsAreTheValidationSide();
    void fineTuningKeepsWhatItIsAskedTo();

private:
    Dataset makeCells(const QString& folder, int perClass, int patientsPerClass);
    QTemporaryDir m_dir;
    Dataset m_cells;
};

Dataset TestTrainer::makeCells(const QString& folder, int perClass, int patientsPerClass)
{
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> jitter(-15, 15);
    for (int cls = 0; cls < 2; ++cls) {
        const QString name =
            cls == 0 ? QStringLiteral("Parasitized") : QStringLiteral("Uninfected");
        QDir(folder).mkpath(name);
        for (int i = 0; i < perClass; ++i) {
            const int patient = i % patientsPerClass;
            // A pink round cell on black; parasitized cells carry a dark purple blob.
            cv::Mat m(100 + i % 7, 100, CV_8UC3, cv::Scalar(0, 0, 0));
            cv::circle(m, {50, 50}, 40,
                       cv::Scalar(180 + jitter(rng), 150 + jitter(rng), 210 + jitter(rng)),
                       cv::FILLED);
            if (cls == 0)
                cv::circle(m, {35 + i % 30, 40 + i % 20}, 9, cv::Scalar(120, 30, 90), cv::FILLED);
            // NIH-style names: infected patients C<n>P<n>, healthy ones C<n>.
            const QString file =
                cls == 0 ? QStringLiteral("C%1P%2thinF_cell_%3.png")
                               .arg(10 + patient)
                               .arg(patient)
                               .arg(i)
                         : QStringLiteral("C%1_thinF_cell_%2.png").arg(50 + patient).arg(i);
            if (!cv::imwrite(QDir(folder).filePath(name + QLatin1Char('/') + file).toStdString(),
                             m))
                qFatal("cannot write test image");
        }
    }
    return scanFolder(folder);
}

void TestTrainer::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_cells = makeCells(m_dir.filePath(QStringLiteral("cells")), 120, 6);
    QVERIFY2(m_cells.error.isEmpty(), qPrintable(m_cells.error));
    QCOMPARE(int(m_cells.images.size()), 240);
    QCOMPARE(m_cells.classNames,
             QStringList({QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}));
}

void TestTrainer::refusesOneClassFolder()
{
    const QString folder = m_dir.filePath(QStringLiteral("oneclass"));
    QDir(folder).mkpath(QStringLiteral("Parasitized"));
    QFile::copy(m_cells.absolutePath(0), folder + QStringLiteral("/Parasitized/a.png"));
    TrainingConfig c;
    const TrainingResult r = trainClassifier(scanFolder(folder), c);
    QVERIFY(!r.ok);
    QVERIFY2(r.error.contains(QLatin1String("2 class subfolders")), qPrintable(r.error));
}

void TestTrainer::refusesFewerImagesThanBatch()
{
    TrainingConfig c;
    c.batchSize = 1000;
    const TrainingResult r = trainClassifier(m_cells, c);
    QVERIFY(!r.ok);
    QVERIFY2(r.error.contains(QLatin1String("fewer than one batch")), qPrintable(r.error));
}

void TestTrainer::patientSplitKeepsPatientsApart()
{
    std::vector<int> train, val, train2, val2;
    splitDataset(m_cells, SplitMode::Patient, 0.25, 42, &train, &val);
    QCOMPARE(int(train.size() + val.size()), 240);
    QSet<QString> trainPatients, valPatients;
    QSet<int> valLabels;
    for (int i : train)
        trainPatients.insert(m_cells.images.at(i).patient);
    for (int i : val) {
        valPatients.insert(m_cells.images.at(i).patient);
        valLabels.insert(m_cells.images.at(i).label);
    }
    QVERIFY(QSet<QString>(trainPatients).intersect(valPatients).isEmpty());
    QCOMPARE(valLabels.size(), 2); // both infected and healthy patients in validation
    splitDataset(m_cells, SplitMode::Patient, 0.25, 42, &train2, &val2);
    QCOMPARE(val2, val); // same seed, same split
    const QString nih = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFile::exists(nih))
        QSKIP("shared data missing: patient split of nih-cells not checked");
    const Dataset real = scanFolder(nih);
    splitDataset(real, SplitMode::Patient, 0.2, 42, &train, &val);
    trainPatients.clear();
    valPatients.clear();
    for (int i : train)
        trainPatients.insert(real.images.at(i).patient);
    for (int i : val)
        valPatients.insert(real.images.at(i).patient);
    QVERIFY(QSet<QString>(trainPatients).intersect(valPatients).isEmpty());
    const double share = double(val.size()) / real.images.size();
    QVERIFY2(share > 0.15 && share < 0.25, qPrintable(QString::number(share)));
}

void TestTrainer::randomSplitSharesPatients()
{
    std::vector<int> train, val;
    splitDataset(m_cells, SplitMode::Random, 0.25, 42, &train, &val);
    QCOMPARE(int(val.size()), 60);
    QSet<QString> trainPatients, valPatients;
    for (int i : train)
        trainPatients.insert(m_cells.images.at(i).patient);
    for (int i : val)
        valPatients.insert(m_cells.images.at(i).patient);
    QVERIFY(!QSet<QString>(trainPatients).intersect(valPatients).isEmpty());
}

void TestTrainer::trainsAndLearns()
{
    TrainingConfig c;
    c.arch = Architecture::Se;
    c.epochs = 8;
    c.batchSize = 20;
    c.learningRate = 3e-3;
    c.valFraction = 0.25;
    c.augment = true; // exactly core/augment.h with stain jitter
    c.threads = 2;
    int batches = 0, epochs = 0;
    TrainingCallbacks cb;
    cb.batchDone = [&](int, int, int, double loss) {
        ++batches;
        QVERIFY(std::isfinite(loss));
    };
    cb.epochDone = [&](const EpochStats&) { ++epochs; };
    const TrainingResult r = trainClassifier(m_cells, c, cb);
    QVERIFY2(r.ok, qPrintable(r.error));
    QCOMPARE(epochs, int(r.history.size()));
    // Whole patients of 20 cells: 160 training cells -> 8 batches of 20 per epoch.
    QCOMPARE(batches, epochs * int((r.split.trainCells.value(QStringLiteral("Parasitized")) +
                                    r.split.trainCells.value(QStringLiteral("Uninfected")) + 19) /
                                   20));
    QVERIFY(r.classifier.isLoaded());
    QCOMPARE(r.classifier.architecture(), QStringLiteral("se"));
    QCOMPARE(r.split.sharedPatients, 0);
    QVERIFY2(r.history.last().trainLoss < r.history.first().trainLoss,
             qPrintable(QStringLiteral("%1 -> %2")
                            .arg(r.history.first().trainLoss)
                            .arg(r.history.last().trainLoss)));
    QVERIFY2(r.validation.cells.accuracy >= 0.9,
             qPrintable(QString::number(r.validation.cells.accuracy)));
    const QJsonObject card = r.classifier.card();
    QCOMPARE(card.value(QStringLiteral("architecture")).toString(), QStringLiteral("se"));
    QCOMPARE(card.value(QStringLiteral("parameters")).toInt(), 270674);
    QVERIFY(card.value(QStringLiteral("training"))
                .toObject()
                .value(QStringLiteral("augmentation"))
                .toObject()
                .value(QStringLiteral("enabled"))
                .toBool());
    QVERIFY(r.historyCsv().startsWith("epoch,train_loss"));
    QCOMPARE(r.historyCsv().count('\n'), r.history.size() + 1);
}

void TestTrainer::earlyStoppingRestoresBest()
{
    // Learning rate 0 and no BatchNorm: the validation loss never improves after epoch 1,
    // so patience 2 stops after epoch 3 and the best epoch is 1.
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 10;
    c.batchSize = 40;
    c.learningRate = 0.0;
    c.patience = 2;
    const TrainingResult r = trainClassifier(m_cells, c);
    QVERIFY2(r.ok, qPrintable(r.error));
    QVERIFY(r.stoppedEarly);
    QCOMPARE(int(r.history.size()), 3);
    QCOMPARE(r.bestEpoch, 1);
    QVERIFY(r.history.first().best);
}

void TestTrainer::checkpointAndResume()
{
    const QString ckpt = m_dir.filePath(QStringLiteral("run.checkpoint"));
    TrainingConfig c;
    c.arch = Architecture::Gap; // the cheapest network: this test is about files, not learning
    c.epochs = 2;
    c.batchSize = 40;
    c.checkpointPath = ckpt;
    const TrainingResult first = trainClassifier(m_cells, c);
    QVERIFY2(first.ok, qPrintable(first.error));
    QVERIFY(QFile::exists(ckpt));
    QVERIFY(!QFile::exists(ckpt + QStringLiteral(".tmp"))); // QSaveFile left nothing behind
    c.epochs = 3;
    c.resume = true;
    const TrainingResult resumed = trainClassifier(m_cells, c);
    QVERIFY2(resumed.ok, qPrintable(resumed.error));
    QCOMPARE(int(resumed.history.size()), 3);
    QCOMPARE(resumed.history.at(0).valLoss, first.history.at(0).valLoss);
    QCOMPARE(resumed.history.at(1).valLoss, first.history.at(1).valLoss);
    // A checkpoint of another run is refused, not silently mixed in.
    c.seed = 7;
    const TrainingResult other = trainClassifier(m_cells, c);
    QVERIFY(!other.ok);
    QVERIFY2(other.error.contains(QLatin1String("another run")), qPrintable(other.error));
    // So is one trained with another stain jitter (the card would misreport the mix).
    c.seed = 42;
    c.augment = true;
    c.augmentConfig = AugmentConfig::withStainJitter();
    c.augmentConfig.saturationJitter = 0.5f;
    const TrainingResult otherJitter = trainClassifier(m_cells, c);
    QVERIFY(!otherJitter.ok);
    QVERIFY2(otherJitter.error.contains(QLatin1String("another run")),
             qPrintable(otherJitter.error));
    c.augment = false;
    // A corrupt checkpoint is a clear error too.
    QFile f(ckpt);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("garbage");
    f.close();
    c.seed = 42;
    const TrainingResult corrupt = trainClassifier(m_cells, c);
    QVERIFY(!corrupt.ok);
    QVERIFY2(corrupt.error.contains(ckpt), qPrintable(corrupt.error));
}

void TestTrainer::sameSeedSameWeights()
{
    // The embedded model is reproducible from one command: with the same seed and thread
    // count, two runs (augmentation and colour normalisation on, as in the shipped recipe)
    // give bit-identical weights. Another thread count changes the floating-point reduction
    // order and so the weights (docs/MODEL.md).
    TrainingConfig c;
    c.arch = Architecture::Se;
    c.epochs = 2;
    c.batchSize = 40;
    c.augment = true;
    c.augmentConfig = AugmentConfig::withStainJitter();
    c.normalization = InputNormalization::ForegroundMedian;
    c.threads = 2;
    const TrainingResult a = trainClassifier(m_cells, c);
    const TrainingResult b = trainClassifier(m_cells, c);
    QVERIFY2(a.ok && b.ok, qPrintable(a.error + b.error));
    const QByteArray weights = a.classifier.serialize();
    QVERIFY(!weights.isEmpty());
    QCOMPARE(b.classifier.serialize(), weights);
    QCOMPARE(a.history.last().valLoss, b.history.last().valLoss);
    c.seed = 43;
    const TrainingResult other = trainClassifier(m_cells, c);
    QVERIFY2(other.ok, qPrintable(other.error));
    QVERIFY(other.classifier.serialize() != weights);
}

void TestTrainer::cancel()
{
    std::atomic<bool> stop{false};
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 5;
    c.batchSize = 20;
    TrainingCallbacks cb;
    int batches = 0;
    cb.batchDone = [&](int, int, int, double) {
        if (++batches == 3)
            stop = true;
    };
    const TrainingResult r = trainClassifier(m_cells, c, cb, &stop);
    QVERIFY(!r.ok);
    QVERIFY(r.cancelled);
    QCOMPARE(batches, 3);
    QVERIFY(!r.classifier.isLoaded());
}

void TestTrainer::patientFoldsPartitionPatients()
{
    // 6 infected + 6 healthy patients of 20 cells each into 3 folds: 2 + 2 per fold.
    const std::vector<int> fold = patientFolds(m_cells, 3, 42);
    QCOMPARE(int(fold.size()), 240);
    QMap<QString, int> foldOfPatient;
    QMap<int, QSet<QString>> infected, healthy;
    for (int i = 0; i < 240; ++i) {
        const ImageEntry& e = m_cells.images.at(i);
        QVERIFY(fold[size_t(i)] >= 0 && fold[size_t(i)] < 3);
        if (foldOfPatient.contains(e.patient))
            QCOMPARE(foldOfPatient.value(e.patient), fold[size_t(i)]); // never split
        foldOfPatient.insert(e.patient, fold[size_t(i)]);
        (e.label == 0 ? infected : healthy)[fold[size_t(i)]].insert(e.patient);
    }
    for (int f = 0; f < 3; ++f) {
        QCOMPARE(infected.value(f).size(), 2);
        QCOMPARE(healthy.value(f).size(), 2);
    }
    QCOMPARE(patientFolds(m_cells, 3, 42), fold);   // deterministic
    QVERIFY(patientFolds(m_cells, 13, 42).empty()); // more folds than patients
    QVERIFY(patientFolds(m_cells, 1, 42).empty());

    const QString nih = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFile::exists(nih))
        QSKIP("shared data missing: patient folds of nih-cells not checked");
    const Dataset real = scanFolder(nih);
    const std::vector<int> realFold = patientFolds(real, 5, 42);
    std::vector<int> cells(5, 0);
    QMap<QString, int> seen;
    for (int i = 0; i < int(realFold.size()); ++i) {
        cells[size_t(realFold[size_t(i)])] += 1;
        const QString& p = real.images.at(i).patient;
        QVERIFY(!seen.contains(p) || seen.value(p) == realFold[size_t(i)]);
        seen.insert(p, realFold[size_t(i)]);
    }
    for (int c : cells) // balanced: each fold within 10 % of a fifth of the cells
        QVERIFY2(std::abs(c - int(real.images.size()) / 5) < int(real.images.size()) / 50,
                 qPrintable(QString::number(c)));
}

void TestTrainer::crossValidationByPatient()
{
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 3;
    c.lrPatience = 1;
    c.patience = 3;
    c.batchSize = 40;
    c.checkpointPath = m_dir.filePath(QStringLiteral("cv.checkpoint"));
    QList<int> started;
    const CrossValidationResult cv = crossValidate(
        m_cells, c, 3, {}, nullptr,
        [&](int fold, int total) {
            QCOMPARE(total, 3);
            started.append(fold);
        },
        true);
    QVERIFY2(cv.ok, qPrintable(cv.error));
    QCOMPARE(started, QList<int>({0, 1, 2, 3})); // 3 = the final fit
    QCOMPARE(cv.folds.size(), 3);
    // Every cell is scored exactly once, by the model that did not see its patient.
    QCOMPARE(cv.pooled.cells.count, 240);
    QCOMPARE(cv.pooled.healthyPatients + cv.pooled.infectedPatients, 12);
    int sum = 0;
    for (const TrainingResult& f : cv.folds) {
        sum += f.validation.cells.count;
        QCOMPARE(f.split.sharedPatients, 0);
        const QJsonObject card = f.classifier.card();
        const QJsonObject summary = card.value(QStringLiteral("cross_validation")).toObject();
        QCOMPARE(summary.value(QStringLiteral("per_fold")).toArray().size(), 3);
        QVERIFY(summary.value(QStringLiteral("mean")).toObject().contains(QStringLiteral("auc")));
        // The card's split rebuilds exactly this fold's validation cells.
        const ValidationMask mask = validationMaskFromCard(m_cells, card);
        QVERIFY2(mask.applied, qPrintable(mask.note));
        QCOMPARE(mask.cells, f.validation.cells.count);
        QVERIFY(QFile::exists(c.checkpointPath +
                              QStringLiteral(".fold%1").arg(card.value(QStringLiteral("split"))
                                                                .toObject()
                                                                .value(QStringLiteral("fold"))
                                                                .toInt())));
    }
    QCOMPARE(sum, 240);
    const double mean = cv.toJson()
                            .value(QStringLiteral("mean"))
                            .toObject()
                            .value(QStringLiteral("accuracy"))
                            .toDouble();
    const double expected =
        (cv.folds.at(0).validation.cells.accuracy + cv.folds.at(1).validation.cells.accuracy +
         cv.folds.at(2).validation.cells.accuracy) /
        3.0;
    QVERIFY(std::abs(mean - expected) < 1e-4);

    // The final fit: every cell trains, for the epochs and rates of the median fold.
    const TrainingResult& fit = cv.final;
    QVERIFY2(fit.ok, qPrintable(fit.error));
    QVERIFY(fit.classifier.isLoaded());
    // The median fold: ordered by best epoch, ties in fold order, the middle one.
    std::vector<int> order{0, 1, 2};
    std::stable_sort(order.begin(), order.end(), [&cv](int a, int b) {
        return cv.folds.at(a).bestEpoch < cv.folds.at(b).bestEpoch;
    });
    const int median = order[1];
    QCOMPARE(int(fit.history.size()), cv.folds.at(median).bestEpoch);
    QCOMPARE(fit.bestEpoch, cv.folds.at(median).bestEpoch);
    QCOMPARE(fit.config.fixedRatesSource, QStringLiteral("fold %1 of 3").arg(median + 1));
    for (int e = 0; e < fit.history.size(); ++e) {
        QCOMPARE(fit.history.at(e).learningRate, cv.folds.at(median).history.at(e).learningRate);
        QVERIFY(std::isnan(fit.history.at(e).valLoss));
    }
    QCOMPARE(fit.split.trainCells.value(QStringLiteral("Parasitized")) +
                 fit.split.trainCells.value(QStringLiteral("Uninfected")),
             240);
    QVERIFY(fit.split.valCells.isEmpty());
    const QJsonObject card = fit.classifier.card();
    QCOMPARE(card.value(QStringLiteral("split")).toObject().value(QStringLiteral("mode")),
             QJsonValue(QStringLiteral("none")));
    // Its figures are the pooled out-of-fold ones, and say so.
    const QJsonObject validation = card.value(QStringLiteral("validation")).toObject();
    QCOMPARE(validation.value(QStringLiteral("cell_level"))
                 .toObject()
                 .value(QStringLiteral("count"))
                 .toInt(),
             240);
    QVERIFY(
        validation.value(QStringLiteral("source")).toString().contains(QLatin1String("pooled")));
    QVERIFY(card.contains(QStringLiteral("cross_validation")));
    QVERIFY2(modelCardSummary(card).contains(
                 QLatin1String("pooled out-of-fold of the 3-fold cross-validation")),
             qPrintable(modelCardSummary(card)));
    // No held-out cells to rebuild: evaluation says so instead of inventing a split.
    const ValidationMask mask = validationMaskFromCard(m_cells, card);
    QVERIFY(!mask.applied);
    QVERIFY2(mask.note.contains(QLatin1String("every patient")), qPrintable(mask.note));
    QVERIFY(QFile::exists(c.checkpointPath + QStringLiteral(".fold3")));

    TrainingConfig random = c;
    random.split = SplitMode::Random;
    QVERIFY(!crossValidate(m_cells, random, 3).ok);
    QVERIFY(!crossValidate(m_cells, c, 1).ok);
}

void TestTrainer::learningRateDecaysOnPlateau()
{
    // As in earlyStoppingRestoresBest the loss never improves after epoch 1; with rate
    // patience 1 and early-stopping patience 3 the rate is lowered after epochs 2 and 3,
    // and the run stops after epoch 4 (no lowering on the stopping epoch).
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 10;
    c.batchSize = 40;
    c.learningRate = 0.0;
    c.patience = 3;
    c.lrPatience = 1;
    int lowered = 0;
    TrainingCallbacks cb;
    cb.log = [&](const QString& m) {
        if (m.startsWith(QLatin1String("learning rate lowered")))
            ++lowered;
    };
    const TrainingResult r = trainClassifier(m_cells, c, cb);
    QVERIFY2(r.ok, qPrintable(r.error));
    QCOMPARE(int(r.history.size()), 4);
    QCOMPARE(lowered, 2);
    QVERIFY(r.modelCard()
                .value(QStringLiteral("training"))
                .toObject()
                .value(QStringLiteral("learning_rate_schedule"))
                .toString()
                .contains(QLatin1String("after 1 epochs")));
}

void TestTrainer::normalizationTravelsWithTheModel()
{
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 40;
    c.normalization = InputNormalization::ForegroundMedian;
    const TrainingResult r = trainClassifier(m_cells, c);
    QVERIFY2(r.ok, qPrintable(r.error));
    QJsonObject card = r.classifier.card();
    QCOMPARE(card.value(QStringLiteral("input"))
                 .toObject()
                 .value(QStringLiteral("normalization"))
                 .toString(),
             QStringLiteral("foreground-median"));
    // predict() normalises by itself when the card says so: raw cells through the model
    // equal pre-normalised cells through the same weights with a card that says none.
    std::vector<cv::Mat> raw, normalized;
    for (int i = 0; i < 240; i += 24) {
        raw.push_back(loadPreprocessed(m_cells.absolutePath(i)).rgb);
        normalized.push_back(normalizeColour(raw.back(), InputNormalization::ForegroundMedian));
    }
    const auto a = r.classifier.predict(raw);
    Classifier plain = r.classifier;
    QJsonObject input = card.value(QStringLiteral("input")).toObject();
    input.insert(QStringLiteral("normalization"), QStringLiteral("none"));
    card.insert(QStringLiteral("input"), input);
    plain.setCard(card);
    const auto b = plain.predict(normalized);
    const auto unnormalized = plain.predict(raw);
    QVERIFY(a && b && unnormalized);
    double maxDiff = 0, maxEffect = 0;
    for (size_t i = 0; i < a->size(); ++i) {
        maxDiff = std::max(maxDiff, double(std::abs((*a)[i] - (*b)[i])));
        maxEffect = std::max(maxEffect, double(std::abs((*a)[i] - (*unnormalized)[i])));
    }
    QVERIFY2(maxDiff < 1e-6, qPrintable(QString::number(maxDiff)));
    QVERIFY2(maxEffect > 1e-4, qPrintable(QString::number(maxEffect))); // it did something
}

void TestTrainer::exclusionLeavesOutTrainingCellsOnly()
{
    // Five cells of each side named for exclusion: only the five on the training side go,
    // the split and the validation cells are exactly those of a run without the list.
    std::vector<int> train, val;
    splitDataset(m_cells, SplitMode::Patient, 0.2, 42, &train, &val);
    QVERIFY(train.size() > 10 && val.size() > 10);
    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 40;
    int parasitizedLeftOut = 0;
    for (int k = 0; k < 5; ++k) {
        const int t = train[size_t(k * 17)];
        c.excludedFromTraining.insert(m_cells.images.at(t).relativePath);
        parasitizedLeftOut += m_cells.images.at(t).label == 0 ? 1 : 0;
        c.excludedFromTraining.insert(m_cells.images.at(val[size_t(k)]).relativePath);
    }
    c.exclusionSource = QStringLiteral("doubtful.txt");
    // A reviewer's "unsure" on one more cell of each side: again only the training one goes.
    Dataset reviewed = m_cells;
    const int unsureTrain = train[size_t(3)];
    reviewed.images[size_t(unsureTrain)].unsure = true;
    reviewed.images[size_t(val[size_t(7)])].unsure = true;
    parasitizedLeftOut += m_cells.images.at(unsureTrain).label == 0 ? 1 : 0;
    const TrainingResult r = trainClassifier(reviewed, c);
    QVERIFY2(r.ok, qPrintable(r.error));

    int trainCells = 0, valCells = 0;
    for (int n : r.split.trainCells)
        trainCells += n;
    for (int n : r.split.valCells)
        valCells += n;
    QCOMPARE(trainCells, int(train.size()) - 6);
    QCOMPARE(valCells, int(val.size()));
    QCOMPARE(r.validation.cells.count, int(val.size()));
    QCOMPARE(r.excludedCells.value(QStringLiteral("Parasitized")), parasitizedLeftOut);
    QCOMPARE(r.excludedCells.value(QStringLiteral("Uninfected")), 6 - parasitizedLeftOut);
    QCOMPARE(r.unsureCells, 1);
    const QJsonObject excluded = r.modelCard()
                                     .value(QStringLiteral("training"))
                                     .toObject()
                                     .value(QStringLiteral("excluded_from_training"))
                                     .toObject();
    QCOMPARE(excluded.value(QStringLiteral("cells")).toInt(), 6);
    QCOMPARE(excluded.value(QStringLiteral("unsure_by_review")).toInt(), 1);
    QCOMPARE(excluded.value(QStringLiteral("source")).toString(), QStringLiteral("doubtful.txt"));

    // A checkpoint remembers which cells were left out: resuming with the same list goes on,
    // with another list it is refused rather than mixing two training sets.
    c.checkpointPath = m_dir.filePath(QStringLiteral("excluded.checkpoint"));
    QVERIFY(trainClassifier(reviewed, c).ok);
    c.resume = true;
    c.epochs = 2;
    const TrainingResult same = trainClassifier(reviewed, c);
    QVERIFY2(same.ok, qPrintable(same.error));
    QCOMPARE(int(same.history.size()), 2);
    c.excludedFromTraining.remove(m_cells.images.at(train[0]).relativePath);
    c.epochs = 3;
    const TrainingResult other = trainClassifier(reviewed, c);
    QVERIFY(!other.ok);
    QVERIFY2(other.error.contains(QLatin1String("left-out cells")), qPrintable(other.error));
}

// A card that lists its held-out patients (a model trained on several labs linked into one
// folder) finds them in a folder with other class counts; patients it does not know are left
// out; a folder without any of them uses every cell and says so.
void TestTrainer::listedHeldOutPatientsFoundInAnyFolder()
{
    QVERIFY(m_cells.images.size() > 10);
    const QString first = m_cells.images.at(0).patient;
    int expected = 0;
    for (const ImageEntry& e : std::as_const(m_cells.images))
        expected += e.patient == first ? 1 : 0;
    const QJsonObject card{
        {QStringLiteral("split"), QJsonObject{{QStringLiteral("mode"), QStringLiteral("patient")},
                                              {QStringLiteral("seed"), 42},
                                              {QStringLiteral("val_fraction"), 0.2},
                                              {QStringLiteral("val_patients"),
                                               QJsonArray{first, QStringLiteral("C999999999")}}}},
        // Class counts of another folder: the rebuilt split would refuse this one.
        {QStringLiteral("training_data"),
         QJsonObject{
             {QStringLiteral("train_cells"), QJsonObject{{QStringLiteral("Parasitized"), 1},
                                                         {QStringLiteral("Uninfected"), 1}}}}}};
    const ValidationMask mask = validationMaskFromCard(m_cells, card);
    QVERIFY2(mask.applied, qPrintable(mask.note));
    QCOMPARE(mask.cells, expected);
    for (int i = 0; i < m_cells.images.size(); ++i)
        QCOMPARE(bool(mask.keep[size_t(i)]), m_cells.images.at(i).patient == first);
    QJsonObject other = card;
    other.insert(QStringLiteral("split"),
                 QJsonObject{{QStringLiteral("mode"), QStringLiteral("patient")},
                             {QStringLiteral("val_patients"), QJsonArray{QStringLiteral("C0")}}});
    const ValidationMask none = validationMaskFromCard(m_cells, other);
    QVERIFY(!none.applied);
    QVERIFY2(none.note.contains(QLatin1String("none of the 1 patients")), qPrintable(none.note));
}

// A second training stage validates on exactly the patients it is given (a first model's
// held-out ones), not on a fraction drawn from its own folder, whose cell counts differ (here:
// one training patient's cells twice, as an oversampled lab is linked); its card lists them, so
// evaluate --validation-split finds them again. A list naming no patient of the folder is refused.
void TestTrainer::givenValidationPatientsAreTheValidationSide()
{
    std::vector<int> train, val;
    splitDataset(m_cells, SplitMode::Patient, 0.2, 42, &train, &val);
    QSet<QString> given;
    for (int i : val)
        given.insert(m_cells.images.at(i).patient);
    // The first validation patient's cells five times over: a drawn split then takes fewer
    // patients to reach its share.
    const QString oversampled = m_cells.images.at(val.front()).patient;
    Dataset more = m_cells;
    for (int copy = 0; copy < 4; ++copy)
        for (const ImageEntry& e : std::as_const(m_cells.images))
            if (e.patient == oversampled)
                more.images.append(e);
    std::vector<int> drawnTrain, drawnVal;
    splitDataset(more, SplitMode::Patient, 0.2, 42, &drawnTrain, &drawnVal);
    QSet<QString> drawn;
    for (int i : drawnVal)
        drawn.insert(more.images.at(i).patient);
    QVERIFY2(drawn != given, "the premise: a drawn split moves with the folder's counts");

    TrainingConfig c;
    c.arch = Architecture::Gap;
    c.epochs = 1;
    c.batchSize = 40;
    c.validationPatients = given;
    const TrainingResult r = trainClassifier(more, c);
    QVERIFY2(r.ok, qPrintable(r.error));
    int valCells = 0;
    for (int n : r.split.valCells)
        valCells += n;
    int givenCells = 0;
    for (const ImageEntry& e : std::as_const(more.images))
        givenCells += given.contains(e.patient) ? 1 : 0;
    QCOMPARE(valCells, givenCells);
    QCOMPARE(r.validation.cells.count, givenCells);
    const QJsonObject card = r.modelCard();
    QCOMPARE(heldOutPatients(card), given);
    const ValidationMask mask = validationMaskFromCard(m_cells, card);
    QVERIFY2(mask.applied, qPrintable(mask.note));
    QCOMPARE(mask.cells, int(val.size()));

    c.validationPatients = {QStringLiteral("C999999999")};
    const TrainingResult none = trainClassifier(more, c);
    QVERIFY(!none.ok);
    QVERIFY2(none.error.contains(QLatin1String("leave 0 validation")), qPrintable(none.error));
}

namespace {

// Squared distance of each named weight of `b` from the same weight of `a`.
std::map<std::string, double> weightDistances(const Classifier& a, const Classifier& b)
{
    std::map<std::string, double> out;
    auto pa = a.loadedModel()->net->named_parameters();
    auto pb = b.loadedModel()->net->named_parameters();
    for (const auto& named : pa)
        out[named.key()] = (named.value() - pb[named.key()]).pow(2).sum().item<double>();
    return out;
}

double totalDistance(const std::map<std::string, double>& m)
{
    double s = 0;
    for (const auto& kv : m)
        s += kv.second;
    return s;
}

} // namespace

void TestTrainer::fineTuningKeepsWhatItIsAskedTo()
{
    // A start model, then three fine-tunings of it on the same cells with the same seed.
    TrainingConfig c;
    c.arch = Architecture::Se;
    c.epochs = 1;
    c.batchSize = 40;
    c.learningRate = 3e-3;
    c.threads = 2;
    const TrainingResult start = trainClassifier(m_cells, c);
    QVERIFY2(start.ok, qPrintable(start.error));
    c.initialModel = start.classifier;
    c.epochs = 2;
    c.patience = 10;
    c.l2spWeight = 50.0; // strong enough to tell apart in two epochs
    std::map<TrainingConfig::FineTune, std::map<std::string, double>> moved;
    for (const auto how : {TrainingConfig::FineTune::Full, TrainingConfig::FineTune::FreezeEarly,
                           TrainingConfig::FineTune::L2SP}) {
        c.fineTune = how;
        const TrainingResult r = trainClassifier(m_cells, c);
        QVERIFY2(r.ok, qPrintable(r.error));
        moved[how] = weightDistances(start.classifier, r.classifier);
    }
    // Full fine-tuning moves the first blocks; freezing keeps them bit for bit while the
    // later layers still learn.
    QVERIFY(moved[TrainingConfig::FineTune::Full]["conv1.weight"] > 0);
    for (const char* frozen :
         {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight"})
        QCOMPARE(moved[TrainingConfig::FineTune::FreezeEarly][frozen], 0.0);
    QVERIFY(moved[TrainingConfig::FineTune::FreezeEarly]["conv3.weight"] > 0);
    QVERIFY(moved[TrainingConfig::FineTune::FreezeEarly]["fc3.weight"] > 0);
    // L2-SP pulls every weight back towards the start: it moves less than full fine-tuning.
    const double full = totalDistance(moved[TrainingConfig::FineTune::Full]);
    const double l2sp = totalDistance(moved[TrainingConfig::FineTune::L2SP]);
    QVERIFY2(l2sp > 0 && l2sp < 0.5 * full,
             qPrintable(QStringLiteral("L2-SP %1, full %2").arg(l2sp).arg(full)));
}

QTEST_GUILESS_MAIN(TestTrainer)
#include "tst_trainer.moc"
