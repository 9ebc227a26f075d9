// int8 inference (issue 19): the embedded model's int8 companion, reached with
// Classifier::setPrecision(Precision::Int8) or `--precision int8`, decides like the fp32
// model on the patients its training held out (>= 99.5 % of the decisions, AUC within 0.002);
// a model without a usable companion says so and keeps running fp32 (never silently); the
// classify pipeline's normalisation in the decoding threads gives exactly predict()'s
// probabilities.
//
// Real data: the embedded model and the real NIH cells of $MALARIALENS_SHARED_DATA/nih-cells
// (default: the ../shared/data folder known at configure time); skipped when missing.
#include "classifier.h"
#include "dataset.h"
#include "folderscanner.h"
#include "inference.h"
#include "metrics.h"
#include "preprocess.h"
#include "torchthreads.h"
#include "validationsplit.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace ml;

namespace {

QString sharedData()
{
    const QByteArray env = qgetenv("MALARIALENS_SHARED_DATA");
    return env.isEmpty() ? QStringLiteral(MALARIALENS_SHARED_DATA) : QString::fromLocal8Bit(env);
}

QString nihCells()
{
    return QDir(sharedData()).filePath(QStringLiteral("nih-cells"));
}

// The held-out patients of the embedded model's training (its card's split), or an empty
// dataset with `why` set.
Dataset validationCells(const Classifier& model, QString* why)
{
    Dataset ds = scanFolder(nihCells());
    if (!ds.error.isEmpty()) {
        *why = ds.error;
        return {};
    }
    const ValidationMask mask = validationMaskFromCard(ds, model.card());
    if (!mask.applied) {
        *why = mask.note;
        return {};
    }
    Dataset held = ds;
    held.images.clear();
    for (int i = 0; i < ds.images.size(); ++i)
        if (mask.keep[size_t(i)])
            held.images.append(ds.images.at(i));
    return held;
}

std::vector<ScoredImage> scored(const Dataset& ds, const ClassifyReport& report)
{
    std::vector<ScoredImage> cells;
    for (const CellResult& r : report.results) {
        if (!r.ok())
            continue;
        const ImageEntry& e = ds.images.at(r.index);
        // Parasitized is class 0 in the folder (byte order) and in the model.
        cells.push_back({r.index, e.label, double(r.probability), e.patient});
    }
    return cells;
}

// A few hundred real cells spread over both classes, preprocessed.
std::vector<cv::Mat> someCells(int count)
{
    const Dataset ds = scanFolder(nihCells());
    std::vector<cv::Mat> cells;
    const int step = std::max(1, int(ds.images.size()) / count);
    for (int i = 0; i < ds.images.size() && int(cells.size()) < count; i += step) {
        const PreprocessedImage p = loadPreprocessed(ds.absolutePath(i));
        if (p.ok())
            cells.push_back(p.rgb);
    }
    return cells;
}

} // namespace

class TestInt8Inference : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void embeddedInt8AgreesWithFp32OnHeldOutPatients();
    void int8SlicesGiveTheSameProbabilitiesOnOneAndTwoThreads();
    void backToFp32IsTheSameModel();
    void int8CorrectsFieldCountsWithItsOwnFieldRates();
    void modelWithoutCompanionSaysWhyAndRunsFp32();
    void companionOfOtherWeightsIsRefused();
    void classifyPipelineNormalisesLikePredict();
    void cliPrecisionOption();
};

void TestInt8Inference::initTestCase()
{
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    if (!QFileInfo(nihCells()).isDir())
        QSKIP(qPrintable(QStringLiteral("no shared data at %1").arg(nihCells())));
}

void TestInt8Inference::embeddedInt8AgreesWithFp32OnHeldOutPatients()
{
    Classifier fp32;
    QVERIFY(fp32.loadEmbedded());
    QCOMPARE(fp32.precision(), Precision::Fp32);
    QString why;
    const Dataset held = validationCells(fp32, &why);
    QVERIFY2(!held.images.isEmpty(), qPrintable(why));
    Classifier int8 = fp32;
    QVERIFY2(int8.setPrecision(Precision::Int8), qPrintable(int8.precisionNote()));
    QCOMPARE(int8.precision(), Precision::Int8);
    QVERIFY(int8.precisionNote().isEmpty());
    QCOMPARE(int8.card().value(QStringLiteral("precision")).toString(), QStringLiteral("int8"));
    QCOMPARE(int8.source(), QStringLiteral(":/models/default.int8.pt"));
    // The fp32 copy is untouched (copies share nothing they change).
    QCOMPARE(fp32.precision(), Precision::Fp32);

    ClassifyOptions options;
    options.threads = 2;
    const ClassifyReport a = classifyDataset(held, fp32, options);
    const ClassifyReport b = classifyDataset(held, int8, options);
    QVERIFY2(a.ok() && b.ok(), qPrintable(a.error + b.error));
    QCOMPARE(a.results.size(), b.results.size());
    QVERIFY(a.results.size() > 2000);
    const double threshold = fp32.card().value(QStringLiteral("threshold")).toDouble(0.5);
    int same = 0, compared = 0;
    for (int i = 0; i < a.results.size(); ++i) {
        QVERIFY(a.results[i].ok() && b.results[i].ok());
        ++compared;
        same += (a.results[i].probability >= threshold) == (b.results[i].probability >= threshold);
    }
    const double agreement = double(same) / compared;
    const std::optional<double> aucFp32 = rocCurve(scored(held, a)).auc;
    const std::optional<double> aucInt8 = rocCurve(scored(held, b)).auc;
    QVERIFY(aucFp32 && aucInt8);
    qInfo("held-out cells %d: decisions equal %d (%.4f), AUC fp32 %.5f int8 %.5f", compared, same,
          agreement, *aucFp32, *aucInt8);
    QVERIFY2(agreement >= 0.995, qPrintable(QString::number(agreement)));
    QVERIFY2(std::abs(*aucInt8 - *aucFp32) <= 0.002,
             qPrintable(QStringLiteral("%1 vs %2").arg(*aucInt8).arg(*aucFp32)));
    // The JSON says which precision ran.
    const QJsonObject model = b.toJson(held, int8).value(QStringLiteral("model")).toObject();
    QCOMPARE(model.value(QStringLiteral("precision")).toString(), QStringLiteral("int8"));
    QCOMPARE(a.toJson(held, fp32)
                 .value(QStringLiteral("model"))
                 .toObject()
                 .value(QStringLiteral("precision"))
                 .toString(),
             QStringLiteral("fp32"));
}

void TestInt8Inference::int8SlicesGiveTheSameProbabilitiesOnOneAndTwoThreads()
{
    // The int8 network runs in 16-cell slices (forwardInSlices), on one thread whatever the
    // caller's budget: the budget must not change a single value, and the caller's budget is
    // given back afterwards.
    Classifier int8;
    QVERIFY(int8.loadEmbedded());
    QVERIFY2(int8.setPrecision(Precision::Int8), qPrintable(int8.precisionNote()));
    const std::vector<cv::Mat> cells = someCells(200); // 12 slices and a remainder
    QVERIFY(cells.size() >= 150);
    setTorchThreads(1);
    const auto one = int8.predict(cells);
    setTorchThreads(2);
    const auto two = int8.predict(cells);
    QCOMPARE(torchThreads(), 2);
    QVERIFY(one && two);
    QCOMPARE(one->size(), cells.size());
    for (size_t i = 0; i < cells.size(); ++i)
        QCOMPARE((*one)[i], (*two)[i]);
}

void TestInt8Inference::backToFp32IsTheSameModel()
{
    Classifier c;
    QVERIFY(c.loadEmbedded());
    const QString sha = c.weightsSha256();
    QVERIFY(c.setPrecision(Precision::Int8));
    QVERIFY(c.weightsSha256() != sha);
    QVERIFY(c.setPrecision(Precision::Fp32));
    QCOMPARE(c.precision(), Precision::Fp32);
    QCOMPARE(c.weightsSha256(), sha);
    QCOMPARE(c.source(), QStringLiteral(":/models/default.pt"));
    // Asking for what already runs is no change and no note.
    QVERIFY(c.setPrecision(Precision::Fp32));
    QVERIFY(c.precisionNote().isEmpty());
}

void TestInt8Inference::int8CorrectsFieldCountsWithItsOwnFieldRates()
{
    // int8 keeps the fp32 card, but not its rates on whole fields: on the IML fields' detections
    // it calls ~15 % more cells than fp32 (docs/MODEL.md), so a field count made in int8 is
    // corrected with the rates measured in int8 (the int8 card's validation_on_fields).
    Classifier c;
    QVERIFY(c.loadEmbedded());
    const QJsonValue fp32Rates = c.card().value(QStringLiteral("validation_on_fields"));
    QVERIFY(fp32Rates.isArray());
    const QJsonValue fp32CropRates = c.card().value(QStringLiteral("validation_by_source"));
    const QJsonValue fp32Threshold = c.card().value(QStringLiteral("threshold"));
    QVERIFY(fp32CropRates.isArray());
    QFile f(QStringLiteral(":/models/default.int8.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonValue int8Rates =
        QJsonDocument::fromJson(f.readAll()).object().value(QStringLiteral("validation_on_fields"));
    QVERIFY(int8Rates.isArray());
    QVERIFY(int8Rates != fp32Rates); // measured apart: a test that can fail
    QVERIFY(c.setPrecision(Precision::Int8));
    QCOMPARE(c.card().value(QStringLiteral("validation_on_fields")), int8Rates);
    // Everything else is still the fp32 card's (its crop rates, threshold and domain).
    QCOMPARE(c.card().value(QStringLiteral("validation_by_source")), fp32CropRates);
    QCOMPARE(c.card().value(QStringLiteral("threshold")), fp32Threshold);
    QVERIFY(c.setPrecision(Precision::Fp32));
    QCOMPARE(c.card().value(QStringLiteral("validation_on_fields")), fp32Rates);
}

void TestInt8Inference::modelWithoutCompanionSaysWhyAndRunsFp32()
{
    const std::vector<cv::Mat> cells = someCells(40);
    // A network that never came from a file.
    Classifier inMemory = Classifier::createUntrained(Architecture::Se, 7);
    const auto before = inMemory.predict(cells);
    QVERIFY(!inMemory.setPrecision(Precision::Int8));
    QCOMPARE(inMemory.precision(), Precision::Fp32);
    QVERIFY2(inMemory.precisionNote().contains(QLatin1String("not loaded from a file")),
             qPrintable(inMemory.precisionNote()));
    QVERIFY(inMemory.precisionNote().endsWith(QLatin1String("running fp32")));
    const auto after = inMemory.predict(cells);
    QVERIFY(before && after);
    QCOMPARE(*after, *before);

    // A model file without <name>.int8.pt beside it.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("mine.pt"));
    QVERIFY(inMemory.save(path));
    Classifier fromFile;
    QVERIFY(fromFile.load(path));
    QCOMPARE(fromFile.int8CompanionPath(), dir.filePath(QStringLiteral("mine.int8.pt")));
    QVERIFY(!fromFile.setPrecision(Precision::Int8));
    QCOMPARE(fromFile.precision(), Precision::Fp32);
    QVERIFY2(fromFile.precisionNote().contains(QLatin1String("mine.int8.pt")),
             qPrintable(fromFile.precisionNote()));
    // A later load clears the note.
    QVERIFY(fromFile.load(path));
    QVERIFY(fromFile.precisionNote().isEmpty());
}

void TestInt8Inference::companionOfOtherWeightsIsRefused()
{
    // The embedded model's int8 file beside a model it was not made from: refused (it would
    // decide like another model), with the reason, and fp32 runs.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("other.pt"));
    QVERIFY(Classifier::createUntrained(Architecture::Se, 3).save(path));
    for (const char* suffix : {"pt", "json"}) {
        QVERIFY(
            QFile::copy(QStringLiteral(":/models/default.int8.%1").arg(QLatin1String(suffix)),
                        dir.filePath(QStringLiteral("other.int8.%1").arg(QLatin1String(suffix)))));
    }
    Classifier c;
    QVERIFY(c.load(path));
    QVERIFY(!c.setPrecision(Precision::Int8));
    QCOMPARE(c.precision(), Precision::Fp32);
    QVERIFY2(c.precisionNote().contains(QLatin1String("made from other weights")),
             qPrintable(c.precisionNote()));
}

void TestInt8Inference::classifyPipelineNormalisesLikePredict()
{
    // classifyDataset() normalises each cell in its decoding threads and calls
    // predictModelInputs(): the probabilities must be exactly predict()'s on the same cells.
    Classifier c;
    QVERIFY(c.loadEmbedded());
    QVERIFY(c.card()
                .value(QStringLiteral("input"))
                .toObject()
                .value(QStringLiteral("normalization"))
                .toString() != QLatin1String("none")); // else this would test nothing
    Dataset ds = scanFolder(nihCells());
    QVERIFY(ds.error.isEmpty());
    Dataset some = ds;
    some.images.clear();
    for (int i = 0; i < ds.images.size(); i += 97)
        some.images.append(ds.images.at(i));
    ClassifyOptions options;
    options.batchSize = 50;
    options.decodeThreads = 2;
    const ClassifyReport report = classifyDataset(some, c, options);
    QVERIFY(report.ok());
    std::vector<cv::Mat> cells;
    for (int i = 0; i < some.images.size(); ++i)
        cells.push_back(loadPreprocessed(some.absolutePath(i)).rgb);
    setTorchThreads(options.threads);
    const auto direct = c.predict(cells);
    QVERIFY(direct);
    QCOMPARE(int(direct->size()), int(report.results.size()));
    for (int i = 0; i < report.results.size(); ++i)
        QCOMPARE(report.results[i].probability, (*direct)[size_t(i)]);
}

void TestInt8Inference::cliPrecisionOption()
{
    // Twenty real cells in a labelled folder.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Dataset ds = scanFolder(nihCells());
    for (const QString& cls : ds.classNames)
        QVERIFY(QDir(dir.path()).mkpath(cls));
    for (int i = 0, n = 0; i < ds.images.size() && n < 20; i += 701, ++n) {
        const ImageEntry& e = ds.images.at(i);
        QVERIFY(QFile::copy(ds.absolutePath(i), QDir(dir.path()).filePath(e.relativePath)));
    }
    auto run = [&](const QStringList& extra, int* exitCode) {
        QProcess p;
        p.start(QStringLiteral(MALARIALENS_CLI),
                QStringList{QStringLiteral("classify"), dir.path(), QStringLiteral("--json")} +
                    extra);
        p.waitForFinished(120000);
        *exitCode = p.exitCode();
        return std::make_pair(QJsonDocument::fromJson(p.readAllStandardOutput()).object(),
                              QString::fromUtf8(p.readAllStandardError()));
    };
    int code = -1;
    auto [int8, int8Err] = run({QStringLiteral("--precision"), QStringLiteral("int8")}, &code);
    QCOMPARE(code, 0);
    const QJsonObject model = int8.value(QStringLiteral("model")).toObject();
    QCOMPARE(model.value(QStringLiteral("precision")).toString(), QStringLiteral("int8"));
    QVERIFY(!model.contains(QStringLiteral("precision_note")));
    auto precisionRun = [](const QJsonObject& o) {
        return o.value(QStringLiteral("model")).toObject().value(QStringLiteral("precision"));
    };
    auto [fp32, fp32Err] = run({QStringLiteral("--precision"), QStringLiteral("fp32")}, &code);
    QCOMPARE(code, 0);
    QCOMPARE(precisionRun(fp32).toString(), QStringLiteral("fp32"));
    // classify's default is auto: the embedded model has its companion, so int8 runs, and
    // says so; its calls are the explicit int8 run's.
    auto [byDefault, byDefaultErr] = run({}, &code);
    QCOMPARE(code, 0);
    QCOMPARE(precisionRun(byDefault).toString(), QStringLiteral("int8"));
    QVERIFY2(!byDefaultErr.contains(QLatin1String("int8")), qPrintable(byDefaultErr));
    QCOMPARE(byDefault.value(QStringLiteral("predicted")), int8.value(QStringLiteral("predicted")));
    run({QStringLiteral("--precision"), QStringLiteral("fp16")}, &code);
    QCOMPARE(code, 2);
    // A model file without a companion: the note on stderr and in the JSON, fp32 runs.
    QTemporaryDir modelDir;
    QVERIFY(modelDir.isValid());
    const QString path = modelDir.filePath(QStringLiteral("untrained.pt"));
    QVERIFY(Classifier::createUntrained(Architecture::Se, 1).save(path));
    auto [fallback, fallbackErr] = run(
        {QStringLiteral("--model"), path, QStringLiteral("--precision"), QStringLiteral("int8")},
        &code);
    QCOMPARE(code, 0);
    const QJsonObject fm = fallback.value(QStringLiteral("model")).toObject();
    QCOMPARE(fm.value(QStringLiteral("precision")).toString(), QStringLiteral("fp32"));
    QVERIFY(fm.value(QStringLiteral("precision_note"))
                .toString()
                .contains(QLatin1String("untrained.int8.pt")));
    QVERIFY2(fallbackErr.contains(QLatin1String("running fp32")), qPrintable(fallbackErr));
    // The same model by default (auto): fp32, and no companion is no news (no note anywhere).
    auto [autoFallback, autoFallbackErr] = run({QStringLiteral("--model"), path}, &code);
    QCOMPARE(code, 0);
    const QJsonObject am = autoFallback.value(QStringLiteral("model")).toObject();
    QCOMPARE(am.value(QStringLiteral("precision")).toString(), QStringLiteral("fp32"));
    QVERIFY(!am.contains(QStringLiteral("precision_note")));
    QVERIFY2(!autoFallbackErr.contains(QLatin1String("int8")), qPrintable(autoFallbackErr));
}

QTEST_GUILESS_MAIN(TestInt8Inference)
#include "tst_int8inference.moc"
