// malarialens-cli segment, run as a real process on fields the test draws and on a few
// shared IML fields.
#include "clirun.h"
#include "fieldimages.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

using namespace mltest;

namespace {

using Run = mltest::CliRun;

using mltest::runCli;

// A field with 12 interior discs, one touching pair and 2 discs cut by the border, written as
// PNG, and its IML-style annotations.
struct MadeField
{
    QString image;
    QString annotations;
    int cells = 0;
    int edgeCells = 0;
};

MadeField makeField(const QDir& dir, const QString& firstType = QStringLiteral("red blood cell"))
{
    const int r = 30;
    std::vector<Disc> discs = discGrid(4, 3, r); // 12 interior
    discs.push_back({cv::Point(450, 80), r});    // touching pair
    discs.push_back({cv::Point(450 + 52, 80), r});
    discs.push_back({cv::Point(20, 320), r});       // cut by the left border
    discs.push_back({cv::Point(300, 420 - 20), r}); // cut by the bottom border
    const cv::Mat img = drawField(560, 420, discs);
    MadeField f;
    f.image = dir.filePath(QStringLiteral("field1.png"));
    cv::imwrite(f.image.toStdString(), img);
    QJsonArray objects;
    for (const Disc& d : discs) {
        const cv::Rect b = d.box();
        // The first disc may carry a parasite-stage type (an infected cell).
        const QString type = objects.isEmpty() ? firstType : QStringLiteral("red blood cell");
        objects.append(
            QJsonObject{{QStringLiteral("type"), type},
                        {QStringLiteral("bbox"),
                         QJsonObject{{QStringLiteral("x"), QString::number(b.x)},
                                     {QStringLiteral("y"), QString::number(b.y)},
                                     {QStringLiteral("w"), QString::number(b.width)},
                                     {QStringLiteral("h"), QString::number(b.height)}}}});
    }
    const QJsonArray root{QJsonObject{{QStringLiteral("image_name"), QStringLiteral("field1.png")},
                                      {QStringLiteral("objects"), objects}}};
    f.annotations = dir.filePath(QStringLiteral("annotations.json"));
    QFile file(f.annotations);
    if (file.open(QIODevice::WriteOnly))
        file.write(QJsonDocument(root).toJson());
    f.cells = int(discs.size());
    f.edgeCells = 2;
    return f;
}

// Four real IML fields, linked (not copied) into `dir`; false when a link fails.
bool linkFourImlFields(const QString& root, const QTemporaryDir& dir)
{
    const QStringList names{QStringLiteral("PA171690.JPG"), QStringLiteral("PA171782.JPG"),
                            QStringLiteral("PA171911.JPG"), QStringLiteral("PA171967.JPG")};
    for (const QString& n : names)
        if (!QFile::link(root + QStringLiteral("/images/") + n, dir.filePath(n)))
            return false;
    return true;
}

} // namespace

class TestCliSegment : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void helpAndUsage();
    void drawnFieldJson();
    void excludeEdge();
    void overlayIsWritten();
    void folderWithBadFiles();
    void classificationKeys();
    void exportCrops();
    void imlFieldsWithAnnotations();
    void fieldCountsAreCorrectedWithFieldRates();
    void csvOneRowPerCellOnImlFields();
    void thresholdComesFromTheModelCard();
    void unsplitClumpsInJsonOnCrowdedImlField();
};

void TestCliSegment::helpAndUsage()
{
    Run r = runCli({QStringLiteral("--help")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.contains("segment"));
    r = runCli({QStringLiteral("segment"), QStringLiteral("--help")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.contains("--annotations"));
    r = runCli({QStringLiteral("segment")});
    QCOMPARE(r.exitCode, 2);
    r = runCli({QStringLiteral("segment"), QStringLiteral("/no/such/field.png")});
    QCOMPARE(r.exitCode, 1);
    r = runCli({QStringLiteral("segment"), QStringLiteral("x.png"), QStringLiteral("--threshold"),
                QStringLiteral("7")});
    QCOMPARE(r.exitCode, 2);
}

void TestCliSegment::drawnFieldJson()
{
    QTemporaryDir dir;
    const MadeField f = makeField(QDir(dir.path()));
    const Run r =
        runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json"),
                QStringLiteral("--no-classify"), QStringLiteral("--annotations"), f.annotations});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 1);
    QCOMPARE(o.value(QStringLiteral("cells")).toInt(), f.cells);
    QCOMPARE(o.value(QStringLiteral("edge_cells")).toInt(), f.edgeCells);
    QCOMPARE(o.value(QStringLiteral("classified")).toBool(), false);
    QVERIFY(o.value(QStringLiteral("parasitized")).isNull());
    QVERIFY(o.value(QStringLiteral("parasitemia")).isNull());
    QCOMPARE(o.value(QStringLiteral("rbc_recall")).toDouble(), 1.0);
    QCOMPARE(o.value(QStringLiteral("rbc_precision")).toDouble(), 1.0);
    // Without classification the parasite figures cannot be given.
    QVERIFY(o.value(QStringLiteral("parasite_sensitivity")).isNull());
    QVERIFY(o.contains(QStringLiteral("healthy_false_positive_rate")));
    const QJsonArray fields = o.value(QStringLiteral("fields")).toArray();
    QCOMPARE(fields.size(), 1);
    QCOMPARE(fields.at(0).toObject().value(QStringLiteral("width")).toInt(), 560);
}

void TestCliSegment::excludeEdge()
{
    QTemporaryDir dir;
    const MadeField f = makeField(QDir(dir.path()));
    const Run r = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json"),
                          QStringLiteral("--no-classify"), QStringLiteral("--exclude-edge")});
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.json().value(QStringLiteral("cells")).toInt(), f.cells - f.edgeCells);
    QCOMPARE(r.json().value(QStringLiteral("exclude_edge")).toBool(), true);
    // With annotations, the annotated edge cells leave the ground truth as well.
    const Run a = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json"),
                          QStringLiteral("--no-classify"), QStringLiteral("--exclude-edge"),
                          QStringLiteral("--annotations"), f.annotations});
    QCOMPARE(a.exitCode, 0);
    QCOMPARE(a.json().value(QStringLiteral("rbc_recall")).toDouble(), 1.0);
    QCOMPARE(a.json().value(QStringLiteral("rbc_precision")).toDouble(), 1.0);
    QCOMPARE(a.json()
                 .value(QStringLiteral("counts"))
                 .toObject()
                 .value(QStringLiteral("truth_cells"))
                 .toInt(),
             f.cells - f.edgeCells);
    // Text output too.
    const Run t = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--no-classify")});
    QCOMPARE(t.exitCode, 0);
    QVERIFY(t.out.contains("Cells:       16"));
}

void TestCliSegment::overlayIsWritten()
{
    QTemporaryDir dir;
    const MadeField f = makeField(QDir(dir.path()));
    const QString out = dir.filePath(QStringLiteral("overlays"));
    const Run r = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--no-classify"),
                          QStringLiteral("--overlay"), out});
    QCOMPARE(r.exitCode, 0);
    const cv::Mat overlay =
        cv::imread(QDir(out).filePath(QStringLiteral("field1_cells.png")).toStdString());
    QCOMPARE(overlay.cols, 560);
    QCOMPARE(overlay.rows, 420);
}

void TestCliSegment::folderWithBadFiles()
{
    QTemporaryDir dir;
    const QDir d(dir.path());
    makeField(d);
    QFile bad(d.filePath(QStringLiteral("broken.jpg")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("not a jpeg at all");
    bad.close();
    cv::imwrite(d.filePath(QStringLiteral("blank.png")).toStdString(),
                cv::Mat(300, 300, CV_8UC3, cv::Scalar(255, 255, 255)));
    const Run r = runCli({QStringLiteral("segment"), dir.path(), QStringLiteral("--json"),
                          QStringLiteral("--no-classify")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 2);
    QCOMPARE(o.value(QStringLiteral("failed")).toInt(), 1);
    QCOMPARE(o.value(QStringLiteral("cells")).toInt(), 16);
    bool blankWarned = false;
    for (const QJsonValue& v : o.value(QStringLiteral("fields")).toArray()) {
        const QJsonObject f = v.toObject();
        if (f.value(QStringLiteral("path")).toString().endsWith(QLatin1String("blank.png")))
            blankWarned = f.value(QStringLiteral("cells")).toInt() == 0 &&
                          !f.value(QStringLiteral("warnings")).toArray().isEmpty();
    }
    QVERIFY(blankWarned);
}

void TestCliSegment::classificationKeys()
{
    // Without --no-classify: the embedded model when the build has one, otherwise a note and
    // segmentation only. Either way the JSON must be consistent.
    QTemporaryDir dir;
    const MadeField f = makeField(QDir(dir.path()));
    const Run r = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("cells")).toInt(), f.cells);
    if (!o.value(QStringLiteral("classified")).toBool()) {
        QVERIFY(o.value(QStringLiteral("note")).toString().contains(QLatin1String("--model")));
        QVERIFY(o.value(QStringLiteral("parasitemia")).isNull());
        return;
    }
    const int k = o.value(QStringLiteral("parasitized")).toInt(-1);
    QVERIFY(k >= 0 && k <= f.cells);
    const double p = o.value(QStringLiteral("parasitemia")).toDouble(-1);
    QCOMPARE(p, double(k) / f.cells);
    const QJsonArray ci = o.value(QStringLiteral("parasitemia_ci95")).toArray();
    QCOMPARE(ci.size(), 2);
    QVERIFY(ci.at(0).toDouble() <= p && p <= ci.at(1).toDouble());
    // A model file that does not exist is an error, not a silent fallback.
    const Run bad = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--model"),
                            dir.filePath(QStringLiteral("none.pt"))});
    QCOMPARE(bad.exitCode, 1);
}

void TestCliSegment::exportCrops()
{
    QTemporaryDir dir;
    const QDir d(dir.path());
    QVERIFY(d.mkpath(QStringLiteral("fields")));
    const MadeField f =
        makeField(QDir(d.filePath(QStringLiteral("fields"))), QStringLiteral("ring"));
    const QString out = d.filePath(QStringLiteral("crops"));
    const Run r = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json"),
                          QStringLiteral("--no-classify"), QStringLiteral("--annotations"),
                          f.annotations, QStringLiteral("--export-crops"), out});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject e = r.json().value(QStringLiteral("exported_crops")).toObject();
    QCOMPARE(e.value(QStringLiteral("parasitized")).toInt(), 1);
    QCOMPARE(e.value(QStringLiteral("uninfected")).toInt(), f.cells - 1);
    const QStringList infected =
        QDir(out + QStringLiteral("/Parasitized")).entryList(QDir::Files, QDir::Name);
    const QStringList healthy =
        QDir(out + QStringLiteral("/Uninfected")).entryList(QDir::Files, QDir::Name);
    QCOMPARE(infected.size(), 1);
    QCOMPARE(healthy.size(), f.cells - 1);
    // Named by field (C<digits of the image name>) so a training split keeps a field together.
    QVERIFY2(infected.first().startsWith(QLatin1String("C1_field1_cell")) &&
                 infected.first().endsWith(QLatin1String("_ring.png")),
             qPrintable(infected.first()));
    for (const QString& n : healthy)
        QVERIFY2(n.startsWith(QLatin1String("C1_field1_cell")) &&
                     n.endsWith(QLatin1String("_rbc.png")),
                 qPrintable(n));
    // A crop is the cell on black, square, about a cell wide.
    const cv::Mat crop = cv::imread(
        QDir(out + QStringLiteral("/Parasitized")).filePath(infected.first()).toStdString());
    QCOMPARE(crop.cols, crop.rows);
    QVERIFY2(crop.cols >= 55 && crop.cols <= 70, qPrintable(QString::number(crop.cols)));
    QCOMPARE(crop.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
    // Without annotations there are no labels; into the image folder would mix crops with fields.
    QCOMPARE(runCli({QStringLiteral("segment"), f.image, QStringLiteral("--no-classify"),
                     QStringLiteral("--export-crops"), out})
                 .exitCode,
             2);
    QCOMPARE(
        runCli({QStringLiteral("segment"), d.filePath(QStringLiteral("fields")),
                QStringLiteral("--no-classify"), QStringLiteral("--annotations"), f.annotations,
                QStringLiteral("--export-crops"), d.filePath(QStringLiteral("fields/crops"))})
            .exitCode,
        2);
    QVERIFY(!QFileInfo::exists(d.filePath(QStringLiteral("fields/crops"))));
}

void TestCliSegment::imlFieldsWithAnnotations()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFile::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields): CLI not checked on real fields");
    QTemporaryDir dir;
    QVERIFY(linkFourImlFields(root, dir));
    const Run r = runCli({QStringLiteral("segment"), dir.path(), QStringLiteral("--json"),
                          QStringLiteral("--no-classify"), QStringLiteral("--annotations"),
                          root + QStringLiteral("/annotations.json")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 4);
    QCOMPARE(o.value(QStringLiteral("annotated_images")).toInt(), 4);
    const double recall = o.value(QStringLiteral("rbc_recall")).toDouble();
    const double precision = o.value(QStringLiteral("rbc_precision")).toDouble();
    qInfo("4 IML fields: recall %.3f precision %.3f", recall, precision);
    QVERIFY2(recall >= 0.8, qPrintable(QString::number(recall)));
    QVERIFY2(precision >= 0.7, qPrintable(QString::number(precision)));
    QVERIFY(o.value(QStringLiteral("cells")).toInt() > 4 * 60);
}

// The embedded model's card has its IML rates on whole held-out fields (debris among the
// negatives): a field count is corrected with them, and segment --annotations prints the
// detection counts they are made of, each detection counted once.
void TestCliSegment::fieldCountsAreCorrectedWithFieldRates()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFile::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields): field rates not checked");
    QTemporaryDir dir;
    QVERIFY(linkFourImlFields(root, dir));
    const Run r =
        runCli({QStringLiteral("segment"), dir.path(), QStringLiteral("--json"),
                QStringLiteral("--annotations"), root + QStringLiteral("/annotations.json")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    const QJsonObject counts = o.value(QStringLiteral("counts")).toObject();
    const QJsonObject c = o.value(QStringLiteral("detection_confusion")).toObject();
    const int tp = c.value(QStringLiteral("true_positive")).toInt(-1);
    const int fn = c.value(QStringLiteral("false_negative")).toInt(-1);
    const int tn = c.value(QStringLiteral("true_negative")).toInt(-1);
    const int fp = c.value(QStringLiteral("false_positive")).toInt(-1);
    QVERIFY(tp >= 0 && fn >= 0 && tn >= 0 && fp >= 0);
    QCOMPARE(tp + fn + tn + fp, counts.value(QStringLiteral("detections")).toInt());
    QCOMPARE(tp, counts.value(QStringLiteral("infected_flagged")).toInt());
    QCOMPARE(tp + fn, counts.value(QStringLiteral("infected_matched")).toInt());
    QCOMPARE(fp, counts.value(QStringLiteral("healthy_flagged")).toInt() +
                     counts.value(QStringLiteral("unmatched_flagged")).toInt());
    const QString source = o.value(QStringLiteral("rates_source")).toString();
    QVERIFY2(source.contains(QStringLiteral("iml fields it held out")) &&
                 source.contains(QStringLiteral("debris included")),
             qPrintable(source));
    // The card's field rates carry their spread between fields, and the interval counts it.
    QVERIFY2(source.contains(QStringLiteral("spread between fields counted")), qPrintable(source));

    // Each field's own counts add up to the run's, and the run's design effect of the
    // non-parasite rate is theirs (Kish, worked out here from the per-field counts).
    int sumFp = 0, sumOthers = 0;
    std::vector<std::pair<int, int>> others;
    for (const QJsonValue& f : o.value(QStringLiteral("fields")).toArray()) {
        const QJsonObject fc = f.toObject().value(QStringLiteral("detection_confusion")).toObject();
        const int ffp = fc.value(QStringLiteral("false_positive")).toInt(-1);
        const int ftn = fc.value(QStringLiteral("true_negative")).toInt(-1);
        QVERIFY(ffp >= 0 && ftn >= 0);
        others.push_back({ffp, ffp + ftn});
        sumFp += ffp;
        sumOthers += ffp + ftn;
    }
    QCOMPARE(int(others.size()), 4);
    QCOMPARE(sumFp, fp);
    QCOMPARE(sumOthers, fp + tn);
    const double p = double(fp) / (fp + tn);
    double squares = 0;
    for (const auto& [called, n] : others)
        squares += (called - p * n) * (called - p * n);
    const double kish = 4.0 / 3.0 * squares / (p * (1 - p) * (fp + tn));
    const double deff = c.value(QStringLiteral("design_effect_specificity")).toDouble(-1);
    QVERIFY2(std::abs(deff - std::max(1.0, kish)) < 1e-9,
             qPrintable(QStringLiteral("%1 against %2").arg(deff).arg(kish)));
    QVERIFY(c.value(QStringLiteral("design_effect_sensitivity")).toDouble(-1) >= 1.0);
    // The detections that match no annotated cell, which make a corrected share of
    // detections one of red cells (ErrorRates::notACell).
    QCOMPARE(c.value(QStringLiteral("not_a_cell")).toInt(-1),
             counts.value(QStringLiteral("detections")).toInt() -
                 counts.value(QStringLiteral("matched")).toInt());

    // The slide's count pools four fields that differ: its interval counts their spread
    // (Kish on each field's called / cells, worked out here).
    std::vector<std::pair<int, int>> calledByField;
    int called = 0, cells = 0;
    for (const QJsonValue& f : o.value(QStringLiteral("fields")).toArray()) {
        const QJsonObject fo = f.toObject();
        calledByField.push_back({fo.value(QStringLiteral("parasitized")).toInt(),
                                 fo.value(QStringLiteral("cells")).toInt()});
        called += calledByField.back().first;
        cells += calledByField.back().second;
    }
    const double share = double(called) / cells;
    double spread = 0;
    for (const auto& [k, n] : calledByField)
        spread += (k - share * n) * (k - share * n);
    const double countKish = 4.0 / 3.0 * spread / (share * (1 - share) * cells);
    const double countDeff = o.value(QStringLiteral("count_design_effect")).toDouble(-1);
    QVERIFY2(std::abs(countDeff - std::max(1.0, countKish)) < 1e-9,
             qPrintable(QStringLiteral("%1 against %2").arg(countDeff).arg(countKish)));
}

void TestCliSegment::csvOneRowPerCellOnImlFields()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFile::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields): --csv not checked on real fields");
    QTemporaryDir dir;
    const QDir d(dir.path());
    QVERIFY(d.mkpath(QStringLiteral("fields")));
    const QStringList names{QStringLiteral("PA171690.JPG"), QStringLiteral("PA171911.JPG")};
    for (const QString& n : names)
        QVERIFY(QFile::link(root + QStringLiteral("/images/") + n,
                            d.filePath(QStringLiteral("fields/") + n)));
    struct CsvRow
    {
        QString field;
        int x, y, w, h;
        bool edge;
        QString probability, called;
    };
    const auto readCsv = [](const QString& path, QString* header) {
        std::vector<CsvRow> rows;
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            return rows;
        const QStringList lines =
            QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        *header = lines.value(0);
        for (int i = 1; i < lines.size(); ++i) {
            const QStringList c = lines.at(i).split(QLatin1Char(','));
            if (c.size() != 8)
                return std::vector<CsvRow>{};
            rows.push_back({c[0], c[1].toInt(), c[2].toInt(), c[3].toInt(), c[4].toInt(),
                            c[5] == QLatin1String("1"), c[6], c[7]});
        }
        return rows;
    };

    for (const bool classify : {false, true}) {
        const QString csv =
            d.filePath(classify ? QStringLiteral("classified.csv") : QStringLiteral("cells.csv"));
        QStringList args{QStringLiteral("segment"), d.filePath(QStringLiteral("fields")),
                         QStringLiteral("--json"), QStringLiteral("--csv"), csv};
        if (!classify)
            args << QStringLiteral("--no-classify");
        const Run r = runCli(args, 180000);
        QCOMPARE(r.exitCode, 0);
        const QJsonObject o = r.json();
        QString header;
        const std::vector<CsvRow> rows = readCsv(csv, &header);
        QCOMPARE(header, QStringLiteral("field,x,y,w,h,edge,probability_parasitized,called"));
        // Every cell (edge cells included: no --exclude-edge), field by field as in the JSON.
        QCOMPARE(int(rows.size()), o.value(QStringLiteral("cells")).toInt());
        QVERIFY(rows.size() > 2 * 60);
        int edge = 0, called = 0;
        for (const CsvRow& row : rows) {
            QVERIFY2(names.contains(row.field), qPrintable(row.field));
            QVERIFY(row.x >= 0 && row.y >= 0 && row.w > 20 && row.h > 20);
            QVERIFY(row.x + row.w <= 1280 && row.y + row.h <= 960);
            edge += row.edge ? 1 : 0;
            if (!classify || !o.value(QStringLiteral("classified")).toBool()) {
                QVERIFY(row.probability.isEmpty() && row.called.isEmpty());
                continue;
            }
            bool ok = false;
            const double p = row.probability.toDouble(&ok);
            QVERIFY(ok && p >= 0.0 && p <= 1.0);
            QCOMPARE(row.called, p >= 0.5 ? QStringLiteral("1") : QStringLiteral("0"));
            called += row.called == QLatin1String("1") ? 1 : 0;
        }
        QCOMPARE(edge, o.value(QStringLiteral("edge_cells")).toInt());
        if (classify && o.value(QStringLiteral("classified")).toBool())
            QCOMPARE(called, o.value(QStringLiteral("parasitized")).toInt());
        // Per field, the rows are that field's cells.
        for (const QJsonValue& v : o.value(QStringLiteral("fields")).toArray()) {
            const QString name =
                QFileInfo(v.toObject().value(QStringLiteral("path")).toString()).fileName();
            const auto n = std::count_if(rows.begin(), rows.end(),
                                         [&](const CsvRow& row) { return row.field == name; });
            QCOMPARE(int(n), v.toObject().value(QStringLiteral("cells")).toInt());
        }
    }
    // An unwritable CSV is an error.
    const Run bad =
        runCli({QStringLiteral("segment"), d.filePath(QStringLiteral("fields/PA171690.JPG")),
                QStringLiteral("--no-classify"), QStringLiteral("--csv"),
                d.filePath(QStringLiteral("no/such/dir/cells.csv"))});
    QCOMPARE(bad.exitCode, 1);
}

void TestCliSegment::thresholdComesFromTheModelCard()
{
    // A lab-calibrated model's card carries the lab's operating threshold; segment must count
    // parasitized cells at that threshold unless --threshold says otherwise, as classify does.
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    const QString model = QStringLiteral(MALARIALENS_TEST_SOURCE_DIR) +
                          QStringLiteral("/../resources/models/default.pt");
    if (!QFile::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields)");
    QTemporaryDir dir;
    const QDir d(dir.path());
    const QString copy = d.filePath(QStringLiteral("lab.pt"));
    QVERIFY(QFile::copy(model, copy));
    // The default model's own card with a lab's threshold in it.
    QFile original(model.chopped(3) + QStringLiteral(".json"));
    QVERIFY(original.open(QIODevice::ReadOnly));
    QJsonObject labCard = QJsonDocument::fromJson(original.readAll()).object();
    QVERIFY(labCard.contains(QStringLiteral("threshold")));
    labCard.insert(QStringLiteral("threshold"), 0.02);
    QFile card(d.filePath(QStringLiteral("lab.json")));
    QVERIFY(card.open(QIODevice::WriteOnly));
    card.write(QJsonDocument(labCard).toJson());
    card.close();
    const QString field = root + QStringLiteral("/images/PA171690.JPG");
    const QString csv = d.filePath(QStringLiteral("cells.csv"));
    const Run r = runCli({QStringLiteral("segment"), field, QStringLiteral("--model"), copy,
                          QStringLiteral("--json"), QStringLiteral("--csv"), csv},
                         180000);
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.json().value(QStringLiteral("threshold")).toDouble(), 0.02);
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines =
        QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    int below = 0;
    for (int i = 1; i < lines.size(); ++i) {
        const QStringList c = lines.at(i).split(QLatin1Char(','));
        QCOMPARE(c.size(), 8);
        const double p = c[6].toDouble();
        QCOMPARE(c[7], p >= 0.02 ? QStringLiteral("1") : QStringLiteral("0"));
        below += p < 0.5 && p >= 0.02;
    }
    QVERIFY2(below > 0, "no cell between 0.02 and 0.5: the field does not test the threshold");
    // --threshold still wins over the card.
    const Run explicitRun =
        runCli({QStringLiteral("segment"), field, QStringLiteral("--model"), copy,
                QStringLiteral("--json"), QStringLiteral("--threshold"), QStringLiteral("0.5")},
               180000);
    QCOMPARE(explicitRun.exitCode, 0);
    QCOMPARE(explicitRun.json().value(QStringLiteral("threshold")).toDouble(), 0.5);
}

void TestCliSegment::unsplitClumpsInJsonOnCrowdedImlField()
{
    // PA171747 is crowded (102 cells found, ~95 more in clumps of touching cells); PA171690 is
    // not. Per field and in total, the JSON says how many clumps were left unsplit and how many
    // cells they hold by area.
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFile::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields)");
    QTemporaryDir dir;
    for (const QString& n : {QStringLiteral("PA171747.JPG"), QStringLiteral("PA171690.JPG")})
        QVERIFY(QFile::link(root + QStringLiteral("/images/") + n, dir.filePath(n)));
    const Run r = runCli({QStringLiteral("segment"), dir.path(), QStringLiteral("--json"),
                          QStringLiteral("--no-classify")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = r.json();
    int regions = 0, estimate = 0;
    for (const QJsonValue& v : o.value(QStringLiteral("fields")).toArray()) {
        const QJsonObject f = v.toObject();
        QVERIFY(f.contains(QStringLiteral("unsplit_regions")));
        const int n = f.value(QStringLiteral("unsplit_regions")).toInt();
        const int e = f.value(QStringLiteral("unsplit_cells_estimate")).toInt();
        QVERIFY(e >= 2 * n);
        if (f.value(QStringLiteral("path")).toString().endsWith(QLatin1String("PA171747.JPG"))) {
            QVERIFY2(n >= 15, qPrintable(QString::number(n)));
            // The clumps hold a large share of what is visible: the count alone misleads.
            QVERIFY2(e >= f.value(QStringLiteral("cells")).toInt() / 2,
                     qPrintable(QString::number(e)));
        }
        regions += n;
        estimate += e;
    }
    QCOMPARE(o.value(QStringLiteral("unsplit_regions")).toInt(), regions);
    QCOMPARE(o.value(QStringLiteral("unsplit_cells_estimate")).toInt(), estimate);
    // The text output says it too.
    const Run t = runCli({QStringLiteral("segment"), dir.filePath(QStringLiteral("PA171747.JPG")),
                          QStringLiteral("--no-classify")});
    QCOMPARE(t.exitCode, 0);
    QVERIFY2(t.out.contains("clumps of touching cells"), t.out.constData());
    // A field without touching cells has none.
    QTemporaryDir drawn;
    const MadeField f = makeField(QDir(drawn.path()));
    const Run d = runCli({QStringLiteral("segment"), f.image, QStringLiteral("--json"),
                          QStringLiteral("--no-classify")});
    QCOMPARE(d.json().value(QStringLiteral("unsplit_regions")).toInt(-1), 0);
    QCOMPARE(d.json().value(QStringLiteral("unsplit_cells_estimate")).toInt(-1), 0);
}

QTEST_GUILESS_MAIN(TestCliSegment)
#include "tst_cli_segment.moc"
