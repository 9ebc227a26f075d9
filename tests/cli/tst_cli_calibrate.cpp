// malarialens-cli calibrate, run as a real process on the shared IML fields with their boxes:
// a lab's own fields split by field, the cells a reviewer would label, a fine-tuned model with
// its lab calibration, and the user's files untouched.
#include "calibrationfields.h"
#include "calibrationlabels.h"
#include "clirun.h"
#include "correctionstore.h"
#include "fieldannotations.h"
#include "labcalibration.h"

#include <algorithm>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QImageReader>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

namespace {

const QString kFields = QStringLiteral(MALARIALENS_SHARED_DATA "/iml-fields");

using Run = mltest::CliRun;

using mltest::runCli;

// The lab threshold the calibration chose for the starting weights: "lab_threshold" when it
// kept them, else "lab_threshold_other".
QJsonValue startingThresholdChoice(const QJsonObject& run)
{
    const bool keptStart =
        run.value(QStringLiteral("weights")).toString() == QLatin1String("starting");
    return run.value(keptStart ? QStringLiteral("lab_threshold")
                               : QStringLiteral("lab_threshold_other"));
}

} // namespace

class TestCliCalibrate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void calibratesOnTheLabsOwnFields();
    void tooFewParasitesIsRefused();
    void labelsCsvGivesTheAnnotationsFigures();
    void reviewersDatabaseGivesTheSameFigures();
    void killedWhileAdaptingLosesNoLabel();
    void twoLabelSourcesAreAUsageError();
    void seedChoosesTheSplit();

private:
    // A small lab: the 14 shared fields richest in parasites, segmented (segment --csv) and
    // labelled from their boxes exactly as --annotations labels them.
    bool prepareSmallLab();
    Run calibrate(const QStringList& source, const QString& out);

    QTemporaryDir m_dir;
    QString m_small;              // folder of linked fields
    QString m_labelledCsv;        // segment --csv + label
    QJsonObject m_annotationsRun; // calibrate --annotations on m_small
    QList<ml::CellLabel> m_labels;
};

void TestCliCalibrate::initTestCase()
{
    if (!QDir(kFields).exists())
        QSKIP("../shared/data/iml-fields is missing");
    QVERIFY(m_dir.isValid());
}

void TestCliCalibrate::calibratesOnTheLabsOwnFields()
{
    const QString images = kFields + QStringLiteral("/images");
    const QString probe =
        QDir(images).entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name).value(0);
    QVERIFY(!probe.isEmpty());
    const QByteArray before = mltest::fileSha256(QDir(images).filePath(probe));
    const QString out = m_dir.filePath(QStringLiteral("lab.pt"));
    const Run r =
        runCli({QStringLiteral("calibrate"), images, QStringLiteral("--annotations"),
                kFields + QStringLiteral("/annotations.json"), QStringLiteral("--budget"),
                QStringLiteral("400"), QStringLiteral("--epochs"), QStringLiteral("1"),
                QStringLiteral("--lab"), QStringLiteral("IML test"), QStringLiteral("--threads"),
                QStringLiteral("2"), QStringLiteral("--out"), out, QStringLiteral("--json")},
               900000);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    for (const QString& side : {QStringLiteral("before"), QStringLiteral("after")}) {
        const QJsonObject f = j.value(side).toObject();
        for (const QString& key : {QStringLiteral("sensitivity"), QStringLiteral("specificity"),
                                   QStringLiteral("balanced_accuracy")}) {
            QVERIFY2(f.value(key).isDouble(), qPrintable(side + QLatin1Char('.') + key));
            QVERIFY(f.value(key).toDouble() >= 0.0 && f.value(key).toDouble() <= 1.0);
        }
        QVERIFY(f.contains(QStringLiteral("parasitemia_corrected")));
    }
    // The after figures are measured with the lab's own rates: a corrected figure exists.
    QVERIFY(j.value(QStringLiteral("after"))
                .toObject()
                .value(QStringLiteral("parasitemia_corrected"))
                .isDouble());
    const int used = j.value(QStringLiteral("cells_used")).toInt();
    QVERIFY(used > 0 && used <= 400);
    QVERIFY(j.value(QStringLiteral("parasitized_used")).toInt() >= 30);
    // Fields stay whole on one side.
    QSet<QString> adapt, test;
    for (const QJsonValue v : j.value(QStringLiteral("fields_adapt")).toArray())
        adapt.insert(v.toString());
    for (const QJsonValue v : j.value(QStringLiteral("fields_test")).toArray())
        test.insert(v.toString());
    QVERIFY(!adapt.isEmpty() && !test.isEmpty());
    QVERIFY(!adapt.intersects(test));
    // The model and its card, with the lab's own sensitivity and specificity.
    QVERIFY(QFile::exists(out));
    QFile card(m_dir.filePath(QStringLiteral("lab.json")));
    QVERIFY(card.open(QIODevice::ReadOnly));
    const QJsonObject lab = QJsonDocument::fromJson(card.readAll())
                                .object()
                                .value(QStringLiteral("lab_calibration"))
                                .toObject();
    QCOMPARE(lab.value(QStringLiteral("lab")).toString(), QStringLiteral("IML test"));
    // The spread of the lab's rates between its test fields goes with them: the false-positive
    // rate differs between the IML fields far more than a binomial says (docs/MODEL.md).
    QVERIFY(lab.value(QStringLiteral("design_effect_sensitivity")).toDouble(0) >= 1.0);
    QVERIFY2(lab.value(QStringLiteral("design_effect_specificity")).toDouble(0) > 1.0,
             qPrintable(QString::number(
                 lab.value(QStringLiteral("design_effect_specificity")).toDouble(0))));
    // The lab's operating threshold, chosen on the held-back adapt fields, is the card's
    // threshold and the one its rates were measured at. One epoch is no real adaptation, so
    // the false-positive target is checked only where the run says it is met.
    const QJsonObject choice = j.value(QStringLiteral("lab_threshold")).toObject();
    QVERIFY2(choice.value(QStringLiteral("chosen")).toBool(),
             qPrintable(choice.value(QStringLiteral("note")).toString()));
    const double labThreshold = choice.value(QStringLiteral("threshold")).toDouble();
    QVERIFY(labThreshold >= 0.01 && labThreshold <= 0.95); // chooseLabThreshold()'s range
    const double fpEstimate =
        choice.value(QStringLiteral("false_positive_rate_estimated")).toDouble(-1);
    QVERIFY(fpEstimate >= 0);
    QCOMPARE(choice.value(QStringLiteral("meets_target")).toBool(),
             fpEstimate <= ml::kLabFalsePositiveTarget);
    QVERIFY(choice.value(QStringLiteral("cells")).toInt() >= 500);
    QCOMPARE(lab.value(QStringLiteral("threshold")).toDouble(), labThreshold);
    // Which weights were kept, by the rule: the fine-tuned ones only when they found more of
    // the held-back parasites within the target than the starting ones (chooseLabWeights()).
    const QString weights = j.value(QStringLiteral("weights")).toString();
    QCOMPARE(lab.value(QStringLiteral("weights")).toString(), weights);
    const QJsonObject other = j.value(QStringLiteral("lab_threshold_other")).toObject();
    QVERIFY(other.contains(QStringLiteral("sensitivity_estimated")));
    const auto usable = [](const QJsonObject& t) {
        return t.value(QStringLiteral("chosen")).toBool() &&
               t.value(QStringLiteral("meets_target")).toBool();
    };
    const auto found = [](const QJsonObject& t) {
        return t.value(QStringLiteral("sensitivity_estimated")).toDouble();
    };
    if (weights == QLatin1String("adapted"))
        QVERIFY(!usable(other) || found(other) < found(choice));
    else {
        QCOMPARE(weights, QStringLiteral("starting"));
        QVERIFY(usable(choice));
        QVERIFY(!usable(other) || found(other) <= found(choice));
    }
    QCOMPARE(lab.value(QStringLiteral("fine_tune")).toString(),
             j.value(QStringLiteral("fine_tune")).toString());
    QVERIFY(!lab.value(QStringLiteral("fine_tune")).toString().isEmpty());
    QVERIFY(lab.value(QStringLiteral("negatives")).toInt() > 100);
    QVERIFY(lab.value(QStringLiteral("specificity")).isDouble());
    // The lab's rates count every known detection of its test fields, as the count they
    // correct does: the detections the boxes say are no red cell are among the negatives
    // (and among the after figures' detections), not in the red cells' confusion.
    const QJsonObject after = j.value(QStringLiteral("after")).toObject();
    const QJsonObject confusion = after.value(QStringLiteral("confusion")).toObject();
    const int notACell = after.value(QStringLiteral("not_a_cell")).toInt(-1);
    const int notACellCalled = after.value(QStringLiteral("not_a_cell_called")).toInt(-1);
    QVERIFY2(notACell > 0, "the IML test fields have debris detections");
    const int redNegatives = confusion.value(QStringLiteral("true_negative")).toInt() +
                             confusion.value(QStringLiteral("false_positive")).toInt();
    QCOMPARE(lab.value(QStringLiteral("negatives")).toInt(), redNegatives + notACell);
    // ... and the card says how many were no red cell, so that a field's corrected figure is
    // a share of red cells (ErrorRates::notACell).
    QCOMPARE(lab.value(QStringLiteral("not_a_cell")).toInt(-1), notACell);
    const double detectionSpecificity =
        double(redNegatives + notACell - notACellCalled -
               confusion.value(QStringLiteral("false_positive")).toInt()) /
        (redNegatives + notACell);
    QVERIFY(std::abs(lab.value(QStringLiteral("specificity")).toDouble() - detectionSpecificity) <
            1e-12);
    card.seek(0);
    QCOMPARE(QJsonDocument::fromJson(card.readAll())
                 .object()
                 .value(QStringLiteral("threshold"))
                 .toDouble(),
             labThreshold);
    // The calibrated model loads and its card drives the correction.
    const Run info = runCli(
        {QStringLiteral("model-info"), QStringLiteral("--model"), out, QStringLiteral("--json")},
        120000);
    QVERIFY2(info.exitCode == 0, info.err.constData());
    // The IML lab's pale cells: among its labelled ones on the adapt side, enough were
    // parasitized (P. vivax) for the rule to be on; the card carries it, and segment with the
    // lab's model calls the pale gametocyte of PA171841 that the network scores near 0.
    const QJsonObject pale = j.value(QStringLiteral("pale_cells")).toObject();
    QVERIFY2(pale.value(QStringLiteral("enabled")).toBool(),
             QJsonDocument(pale).toJson().constData());
    QVERIFY(pale.value(QStringLiteral("parasitized")).toInt() >= ml::kMinPaleParasitized);
    const QJsonObject cardRule = lab.value(QStringLiteral("pale_cells")).toObject();
    QCOMPARE(cardRule.value(QStringLiteral("parasitized")).toInt(),
             pale.value(QStringLiteral("parasitized")).toInt());
    QVERIFY(cardRule.value(QStringLiteral("lightness_above")).isDouble());
    const Run seg =
        runCli({QStringLiteral("segment"), QDir(images).filePath(QStringLiteral("PA171841.JPG")),
                QStringLiteral("--model"), out, QStringLiteral("--annotations"),
                kFields + QStringLiteral("/annotations.json"), QStringLiteral("--json")},
               120000);
    QVERIFY2(seg.exitCode == 0, seg.err.constData());
    const QJsonObject segJson = QJsonDocument::fromJson(seg.out).object();
    QVERIFY(segJson.value(QStringLiteral("pale_cells"))
                .toObject()
                .value(QStringLiteral("called"))
                .toInt() >= 1);
    const QJsonObject counts = segJson.value(QStringLiteral("counts")).toObject();
    QCOMPARE(counts.value(QStringLiteral("infected_truth")).toInt(), 1);
    QCOMPARE(counts.value(QStringLiteral("infected_flagged")).toInt(), 1);
    // User files are only read.
    QCOMPARE(mltest::fileSha256(QDir(images).filePath(probe)), before);
}

void TestCliCalibrate::tooFewParasitesIsRefused()
{
    // Ten fields of a lab hold too few parasitized cells (about one a field) for the 30 that
    // adapting needs: a message, no model. The fields are linked, not copied.
    const QDir images(kFields + QStringLiteral("/images"));
    const QString few = m_dir.filePath(QStringLiteral("few-fields"));
    QVERIFY(QDir().mkpath(few));
    for (const QString& f :
         images.entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name).mid(0, 10))
        QVERIFY(QFile::link(images.filePath(f), QDir(few).filePath(f)));
    const QString out = m_dir.filePath(QStringLiteral("few.pt"));
    const Run r = runCli({QStringLiteral("calibrate"), few, QStringLiteral("--annotations"),
                          kFields + QStringLiteral("/annotations.json"), QStringLiteral("--budget"),
                          QStringLiteral("400"), QStringLiteral("--threads"), QStringLiteral("2"),
                          QStringLiteral("--out"), out},
                         300000);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("at least 30"), r.err.constData());
    QVERIFY(!QFile::exists(out));
}

Run TestCliCalibrate::calibrate(const QStringList& source, const QString& out)
{
    return runCli(QStringList{QStringLiteral("calibrate"), m_small} + source +
                      QStringList{QStringLiteral("--epochs"), QStringLiteral("1"),
                                  QStringLiteral("--min-parasitized"), QStringLiteral("5"),
                                  QStringLiteral("--threads"), QStringLiteral("2"),
                                  QStringLiteral("--out"), out, QStringLiteral("--json")},
                  600000);
}

bool TestCliCalibrate::prepareSmallLab()
{
    if (!m_labelledCsv.isEmpty())
        return true;
    const ml::FieldAnnotationSet truth =
        ml::loadFieldAnnotations(kFields + QStringLiteral("/annotations.json"));
    m_small = m_dir.filePath(QStringLiteral("small-lab"));
    if (!truth.ok() || mltest::linkRichestFields(truth, 14, m_small).size() != 14)
        return false;
    const QString cellsCsv = m_dir.filePath(QStringLiteral("cells.csv"));
    const Run seg =
        runCli({QStringLiteral("segment"), m_small, QStringLiteral("--csv"), cellsCsv}, 300000);
    QFile f(cellsCsv);
    if (seg.exitCode != 0 || !f.open(QIODevice::ReadOnly))
        return false;
    // The label column, from the boxes: the same clipping and IoU >= 0.5 matching as
    // --annotations, done here on the CSV rows (grouped by field, in file order).
    const QList<QByteArray> lines = f.readAll().split('\n');
    QByteArray out = lines.first().trimmed() + ",label\n";
    QHash<QString, QList<int>> rowsOf;
    QList<QList<QByteArray>> rows;
    for (int i = 1; i < lines.size(); ++i)
        if (!lines[i].trimmed().isEmpty()) {
            rows << lines[i].trimmed().split(',');
            rowsOf[QString::fromUtf8(rows.last()[0])] << int(rows.size() - 1);
        }
    QList<QByteArray> labels(rows.size());
    for (auto it = rowsOf.begin(); it != rowsOf.end(); ++it) {
        const ml::FieldAnnotation* fa = truth.find(it.key());
        const QSize size = QImageReader(QDir(m_small).filePath(it.key())).size();
        if (!fa)
            continue;
        const ml::FieldAnnotation clipped = fa->clippedTo(cv::Size(size.width(), size.height()));
        std::vector<cv::Rect> boxes, detections, difficult;
        std::vector<bool> infected;
        for (const ml::AnnotatedObject& o : clipped.objects)
            if (!o.difficult) {
                boxes.push_back(o.box);
                infected.push_back(o.infected);
            } else {
                difficult.push_back(o.box);
            }
        for (int r : it.value())
            detections.emplace_back(rows[r][1].toInt(), rows[r][2].toInt(), rows[r][3].toInt(),
                                    rows[r][4].toInt());
        const std::vector<int> match = ml::matchBoxes(detections, boxes, 0.5);
        // A detection matching no object is "not a cell", as the annotations path says,
        // unless it overlaps a "difficult" object (neither).
        const auto nearDifficult = [&difficult](const cv::Rect& box) {
            return std::any_of(difficult.begin(), difficult.end(),
                               [&box](const cv::Rect& b) { return ml::boxIou(box, b) >= 0.5; });
        };
        for (size_t d = 0; d < match.size(); ++d)
            if (match[d] >= 0)
                labels[it.value()[int(d)]] =
                    infected[size_t(match[d])] ? "Parasitized" : "Uninfected";
            else if (!nearDifficult(detections[d]))
                labels[it.value()[int(d)]] = "not_a_cell";
    }
    for (int r = 0; r < rows.size(); ++r)
        out += rows[r].join(',') + ',' + labels[r] + '\n';
    m_labelledCsv = m_dir.filePath(QStringLiteral("cells-labelled.csv"));
    QFile o(m_labelledCsv);
    if (!o.open(QIODevice::WriteOnly) || o.write(out) != out.size())
        return false;
    o.close();
    QString error;
    const auto parsed = ml::cellLabelsFromCsv(out, &error);
    if (!parsed)
        return false;
    m_labels = *parsed;
    const Run ann =
        calibrate({QStringLiteral("--annotations"), kFields + QStringLiteral("/annotations.json")},
                  m_dir.filePath(QStringLiteral("ann.pt")));
    m_annotationsRun = QJsonDocument::fromJson(ann.out).object();
    return ann.exitCode == 0;
}

void TestCliCalibrate::labelsCsvGivesTheAnnotationsFigures()
{
    QVERIFY(prepareSmallLab());
    QVERIFY(m_labels.size() > 500);
    const QString out = m_dir.filePath(QStringLiteral("csv.pt"));
    const Run r = calibrate({QStringLiteral("--labels"), m_labelledCsv}, out);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    // The same cells with the same labels: the same split, the same cells used and the same
    // figures of the starting model on the test fields.
    for (const QString& key : {QStringLiteral("cells_used"), QStringLiteral("parasitized_used"),
                               QStringLiteral("fields_adapt"), QStringLiteral("fields_test")})
        QCOMPARE(j.value(key), m_annotationsRun.value(key));
    QCOMPARE(j.value(QStringLiteral("before")).toObject().value(QStringLiteral("confusion")),
             m_annotationsRun.value(QStringLiteral("before"))
                 .toObject()
                 .value(QStringLiteral("confusion")));
    // The "not_a_cell" rows leave the same detections out of the threshold's false-positive
    // estimate as the annotations do: the starting weights' threshold choice is the same.
    QCOMPARE(startingThresholdChoice(j), startingThresholdChoice(m_annotationsRun));
    QVERIFY(j.value(QStringLiteral("parasitized_used")).toInt() >= 5);
    QVERIFY(j.value(QStringLiteral("after"))
                .toObject()
                .value(QStringLiteral("sensitivity"))
                .isDouble());
    QFile card(m_dir.filePath(QStringLiteral("csv.json")));
    QVERIFY(card.open(QIODevice::ReadOnly));
    QVERIFY(QJsonDocument::fromJson(card.readAll())
                .object()
                .value(QStringLiteral("lab_calibration"))
                .isObject());
}

void TestCliCalibrate::reviewersDatabaseGivesTheSameFigures()
{
    QVERIFY(prepareSmallLab());
    // The reviewer's database as the GUI writes it: one row per label, and an undone
    // mistake (a wrong label, then the right one) whose latest row wins. Boxes moved by a
    // pixel, as a re-segmentation may move them, still find their cell (IoU >= 0.5).
    const QString db = m_dir.filePath(QStringLiteral("corrections.sqlite"));
    ml::CorrectionStore store;
    QVERIFY(store.open(db));
    QDateTime t = QDateTime::currentDateTimeUtc();
    QList<ml::Correction> rows;
    for (int i = 0; i < m_labels.size(); ++i) {
        ml::CellLabel l = m_labels[i];
        l.fieldPath = QDir(m_small).filePath(l.field);
        l.box.x += 1;
        l.reviewer = QStringLiteral("tester");
        if (i == 0) {
            ml::CellLabel wrong = l;
            wrong.label = l.label == QLatin1String("Parasitized") ? QStringLiteral("Uninfected")
                                                                  : QStringLiteral("Parasitized");
            wrong.time = t;
            rows << ml::cellLabelCorrection(wrong, QStringLiteral("abc"), QString(),
                                            QStringLiteral("lab"));
        }
        t = t.addMSecs(1);
        l.time = t;
        rows << ml::cellLabelCorrection(l, QStringLiteral("abc"), QString(), QStringLiteral("lab"));
    }
    QVERIFY(store.addAll(rows));
    store.close();
    const Run r = calibrate({QStringLiteral("--db"), db}, m_dir.filePath(QStringLiteral("db.pt")));
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j.value(QStringLiteral("cells_used")),
             m_annotationsRun.value(QStringLiteral("cells_used")));
    QCOMPARE(j.value(QStringLiteral("before")).toObject().value(QStringLiteral("confusion")),
             m_annotationsRun.value(QStringLiteral("before"))
                 .toObject()
                 .value(QStringLiteral("confusion")));
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("db.pt"))));
}

void TestCliCalibrate::killedWhileAdaptingLosesNoLabel()
{
    // The GUI's labels live in the reviewer's database, one committed row each; adapting only
    // reads them. `kill -9` in the middle of the fine-tuning must leave the database as it was
    // (every label there, byte for byte), no half-written model, and a re-run that works.
    QVERIFY(prepareSmallLab());
    const QString db = m_dir.filePath(QStringLiteral("killed.sqlite"));
    {
        ml::CorrectionStore store;
        QVERIFY(store.open(db));
        QList<ml::Correction> rows;
        QDateTime t = QDateTime::currentDateTimeUtc();
        for (ml::CellLabel l : m_labels) {
            l.fieldPath = QDir(m_small).filePath(l.field);
            l.reviewer = QStringLiteral("tester");
            l.time = t = t.addMSecs(1);
            rows << ml::cellLabelCorrection(l, QStringLiteral("abc"), QString(),
                                            QStringLiteral("lab"));
        }
        QVERIFY(store.addAll(rows));
        store.close();
    }
    const QByteArray dbBefore = mltest::fileSha256(db);
    const QString out = m_dir.filePath(QStringLiteral("killed.pt"));
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QStringLiteral(MALARIALENS_CLI),
            {QStringLiteral("calibrate"), m_small, QStringLiteral("--db"), db,
             QStringLiteral("--epochs"), QStringLiteral("4"), QStringLiteral("--min-parasitized"),
             QStringLiteral("5"), QStringLiteral("--threads"), QStringLiteral("2"),
             QStringLiteral("--out"), out});
    QVERIFY(p.waitForStarted());
    // Killed once the fine-tuning has started (its first log line).
    QByteArray log;
    QElapsedTimer timer;
    timer.start();
    while (!log.contains("starting from the weights") && p.state() == QProcess::Running &&
           timer.elapsed() < 600000) {
        p.waitForReadyRead(200);
        log += p.readAll();
    }
    QVERIFY2(log.contains("starting from the weights"), log.constData());
    QCOMPARE(p.state(), QProcess::Running);
    p.kill(); // SIGKILL: no handler, no cleanup
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitStatus(), QProcess::CrashExit);
    QVERIFY(!QFile::exists(out));
    QCOMPARE(mltest::fileSha256(db), dbBefore);
    ml::CorrectionStore store;
    QVERIFY(store.open(db));
    store.close();
    // The same labels adapt the model on a second run.
    const Run again = calibrate({QStringLiteral("--db"), db}, out);
    QVERIFY2(again.exitCode == 0, again.err.constData());
    QCOMPARE(QJsonDocument::fromJson(again.out).object().value(QStringLiteral("cells_used")),
             m_annotationsRun.value(QStringLiteral("cells_used")));
    QVERIFY(QFile::exists(out));
}

void TestCliCalibrate::twoLabelSourcesAreAUsageError()
{
    const Run r = runCli({QStringLiteral("calibrate"), kFields + QStringLiteral("/images"),
                          QStringLiteral("--labels"), QStringLiteral("cells.csv"),
                          QStringLiteral("--db"), QStringLiteral("c.sqlite"),
                          QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x.pt"))},
                         60000);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("one label source"), r.err.constData());
}

void TestCliCalibrate::seedChoosesTheSplit()
{
    // --seed draws the adapt / test split of the fields (and the budget's random share): another
    // seed splits the same small lab differently, and a seed that is not a whole number is a
    // usage error before any work.
    QVERIFY(prepareSmallLab());
    const Run bad = runCli({QStringLiteral("calibrate"), m_small, QStringLiteral("--annotations"),
                            kFields + QStringLiteral("/annotations.json"), QStringLiteral("--seed"),
                            QStringLiteral("x"), QStringLiteral("--out"),
                            m_dir.filePath(QStringLiteral("bad.pt"))},
                           60000);
    QCOMPARE(bad.exitCode, 2);
    QVERIFY2(bad.err.contains("--seed"), bad.err.constData());
    const Run other =
        calibrate({QStringLiteral("--annotations"), kFields + QStringLiteral("/annotations.json"),
                   QStringLiteral("--seed"), QStringLiteral("7")},
                  m_dir.filePath(QStringLiteral("seed7.pt")));
    QVERIFY2(other.exitCode == 0, other.err.constData());
    const QJsonObject o = QJsonDocument::fromJson(other.out).object();
    const QJsonArray adapt = o.value(QStringLiteral("fields_adapt")).toArray();
    QVERIFY(!adapt.isEmpty());
    QVERIFY(adapt != m_annotationsRun.value(QStringLiteral("fields_adapt")).toArray());
}

QTEST_GUILESS_MAIN(TestCliCalibrate)
#include "tst_cli_calibrate.moc"
