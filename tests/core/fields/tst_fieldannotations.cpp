// IML annotations, IoU matching, detection/classification metrics and the Wilson interval,
// all checked against numbers worked out by hand.
#include "fieldannotations.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestFieldAnnotations : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parsesStringsAndNumbers();
    void malformedInput_data();
    void malformedInput();
    void missingFile();
    void clipping();
    void iou_data();
    void iou();
    void greedyMatchingIsOneToOne();
    void wilson_data();
    void wilson();
    void evaluateByHand();
    void evaluateWithoutFlags();
    void sharedAnnotations();
};

void TestFieldAnnotations::parsesStringsAndNumbers()
{
    const QByteArray json = R"([
      {"image_name": "A.JPG", "objects": [
        {"type": "red blood cell", "bbox": {"x": "176", "y": "250", "w": "82", "h": "78"}},
        {"type": "ring", "bbox": {"x": 10, "y": 20, "w": 30, "h": 40}},
        {"type": "difficult", "bbox": {"x": "1", "y": "2", "w": "3", "h": "4"}},
        {"type": "gametocyte", "bbox": {"x": "5", "y": "5", "w": "x", "h": "4"}},
        {"type": "schizont", "bbox": {"x": "5", "y": "5", "w": "0", "h": "4"}}
      ]},
      {"image_name": "B.JPG", "objects": []},
      {"objects": [{"type": "red blood cell", "bbox": {"x": "1", "y": "1", "w": "1", "h": "1"}}]}
    ])";
    const FieldAnnotationSet set = parseFieldAnnotations(json);
    QVERIFY(set.ok());
    QCOMPARE(set.byName.size(), 2);
    const FieldAnnotation* a = set.find(QStringLiteral("/some/folder/A.JPG"));
    QVERIFY(a);
    QCOMPARE(int(a->objects.size()), 3); // the two malformed boxes are skipped
    QCOMPARE(a->objects[0].box, cv::Rect(176, 250, 82, 78));
    QVERIFY(!a->objects[0].infected);
    QCOMPARE(a->objects[1].box, cv::Rect(10, 20, 30, 40));
    QVERIFY(a->objects[1].infected);
    QVERIFY(a->objects[2].difficult);
    QCOMPARE(a->cellCount(), 2);
    QCOMPARE(a->infectedCount(), 1);
    QVERIFY(set.find(QStringLiteral("a.jpg"))); // case-insensitive fallback
    QVERIFY(!set.find(QStringLiteral("C.JPG")));
    QVERIFY(isParasiteStage(QStringLiteral("Trophozoite")));
    QVERIFY(!isParasiteStage(QStringLiteral("red blood cell")));
}

void TestFieldAnnotations::malformedInput_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::newRow("not json") << QByteArray("{[");
    QTest::newRow("object") << QByteArray(R"({"image_name": "A.JPG"})");
    QTest::newRow("empty") << QByteArray();
}

void TestFieldAnnotations::malformedInput()
{
    QFETCH(QByteArray, json);
    const FieldAnnotationSet set = parseFieldAnnotations(json);
    QVERIFY(!set.ok());
    QVERIFY(set.byName.isEmpty());
}

void TestFieldAnnotations::missingFile()
{
    QTemporaryDir dir;
    const FieldAnnotationSet set = loadFieldAnnotations(dir.filePath(QStringLiteral("none.json")));
    QVERIFY(!set.ok());
    QVERIFY(set.error.contains(QLatin1String("none.json")));
}

void TestFieldAnnotations::clipping()
{
    FieldAnnotation a;
    a.objects.push_back({cv::Rect(-4, 10, 20, 20), QStringLiteral("red blood cell")});
    a.objects.push_back({cv::Rect(90, 90, 20, 20), QStringLiteral("red blood cell")});
    a.objects.push_back({cv::Rect(200, 10, 20, 20), QStringLiteral("red blood cell")});
    const FieldAnnotation c = a.clippedTo(cv::Size(100, 100));
    QCOMPARE(int(c.objects.size()), 2); // the box outside the image vanishes
    QCOMPARE(c.objects[0].box, cv::Rect(0, 10, 16, 20));
    QCOMPARE(c.objects[1].box, cv::Rect(90, 90, 10, 10));
    a.objects.push_back({cv::Rect(40, 40, 20, 20), QStringLiteral("ring"), true});
    const FieldAnnotation inner = a.withoutEdgeObjects(cv::Size(100, 100));
    QCOMPARE(int(inner.objects.size()), 1); // only the box away from every border
    QCOMPARE(inner.objects[0].box, cv::Rect(40, 40, 20, 20));
}

void TestFieldAnnotations::iou_data()
{
    QTest::addColumn<cv::Rect>("a");
    QTest::addColumn<cv::Rect>("b");
    QTest::addColumn<double>("expected");
    QTest::newRow("same") << cv::Rect(0, 0, 10, 10) << cv::Rect(0, 0, 10, 10) << 1.0;
    QTest::newRow("disjoint") << cv::Rect(0, 0, 10, 10) << cv::Rect(20, 0, 10, 10) << 0.0;
    QTest::newRow("half shift") << cv::Rect(0, 0, 10, 10) << cv::Rect(5, 0, 10, 10) << 50.0 / 150.0;
    QTest::newRow("inside") << cv::Rect(0, 0, 10, 10) << cv::Rect(0, 0, 5, 10) << 0.5;
    QTest::newRow("empty") << cv::Rect(0, 0, 0, 10) << cv::Rect(0, 0, 5, 10) << 0.0;
}

void TestFieldAnnotations::iou()
{
    QFETCH(cv::Rect, a);
    QFETCH(cv::Rect, b);
    QFETCH(double, expected);
    QCOMPARE(boxIou(a, b), expected);
    QCOMPARE(boxIou(b, a), expected);
}

void TestFieldAnnotations::greedyMatchingIsOneToOne()
{
    // Truth t0 at x=0, t1 at x=4. d0 (x=3) overlaps both: IoU 0.538 with t0 and 0.818 with
    // t1; d1 (x=4) is identical to t1. Greedy: d1-t1 (1.0) first, then d0-t0 (0.538).
    const std::vector<cv::Rect> truth{cv::Rect(0, 0, 10, 10), cv::Rect(4, 0, 10, 10)};
    const std::vector<cv::Rect> det{cv::Rect(3, 0, 10, 10), cv::Rect(4, 0, 10, 10)};
    QCOMPARE(matchBoxes(det, truth, 0.5), (std::vector<int>{0, 1}));
    // At IoU >= 0.6, d0 may only take t1, which d1 already holds.
    QCOMPARE(matchBoxes(det, truth, 0.6), (std::vector<int>{-1, 1}));
    QCOMPARE(matchBoxes({}, truth), std::vector<int>{});
    QCOMPARE(matchBoxes(det, {}), (std::vector<int>{-1, -1}));
}

void TestFieldAnnotations::wilson_data()
{
    QTest::addColumn<int>("k");
    QTest::addColumn<int>("n");
    QTest::addColumn<double>("low");
    QTest::addColumn<double>("high");
    // Worked by hand with z = 1.96 (see the formula in fieldannotations.cpp).
    QTest::newRow("5/100") << 5 << 100 << 0.02154 << 0.11175;
    QTest::newRow("0/10") << 0 << 10 << 0.0 << 0.27753;
    QTest::newRow("10/10") << 10 << 10 << 0.72247 << 1.0;
    QTest::newRow("50/100") << 50 << 100 << 0.40383 << 0.59617;
    QTest::newRow("0/0") << 0 << 0 << 0.0 << 1.0;
}

void TestFieldAnnotations::wilson()
{
    QFETCH(int, k);
    QFETCH(int, n);
    QFETCH(double, low);
    QFETCH(double, high);
    const Proportion p = wilsonInterval(k, n);
    QCOMPARE(p.k, k);
    QCOMPARE(p.n, n);
    QVERIFY2(std::abs(p.low - low) < 2e-4, qPrintable(QString::number(p.low, 'f', 5)));
    QVERIFY2(std::abs(p.high - high) < 2e-4, qPrintable(QString::number(p.high, 'f', 5)));
    QVERIFY(p.low <= p.p && p.p <= p.high);
}

void TestFieldAnnotations::evaluateByHand()
{
    FieldAnnotation a;
    a.objects.push_back({cv::Rect(0, 0, 10, 10), QStringLiteral("red blood cell")});    // h0
    a.objects.push_back({cv::Rect(20, 0, 10, 10), QStringLiteral("red blood cell")});   // h1
    a.objects.push_back({cv::Rect(40, 0, 10, 10), QStringLiteral("red blood cell")});   // h2
    a.objects.push_back({cv::Rect(60, 0, 10, 10), QStringLiteral("ring"), true});       // i0
    a.objects.push_back({cv::Rect(80, 0, 10, 10), QStringLiteral("gametocyte"), true}); // i1
    a.objects.push_back({cv::Rect(100, 0, 10, 10), QStringLiteral("difficult"), false, true});
    // Detections: h0 (flagged: false positive), h1 (not flagged), i0 (flagged), one on the
    // difficult box (ignored), one on nothing (flagged), one poor overlap with h2 (IoU 0.25:
    // unmatched). Not found: h2, i1.
    const std::vector<cv::Rect> det{cv::Rect(0, 0, 10, 10),  cv::Rect(21, 1, 10, 10),
                                    cv::Rect(60, 0, 10, 10), cv::Rect(100, 0, 10, 10),
                                    cv::Rect(0, 50, 10, 10), cv::Rect(46, 0, 10, 10)};
    const std::vector<bool> flags{true, false, true, true, true, false};
    const FieldEvaluation e = evaluateField(det, flags, a, cv::Size(200, 100));
    QCOMPARE(e.truthCells, 5);
    QCOMPARE(e.detections, 5);
    QCOMPARE(e.ignoredDetections, 1);
    QCOMPARE(e.matched, 3);
    QCOMPARE(e.recall(), 3.0 / 5.0);
    QCOMPARE(e.precision(), 3.0 / 5.0);
    QCOMPARE(e.infectedTruth, 2);
    QCOMPARE(e.infectedMatched, 1);
    QCOMPARE(e.infectedFlagged, 1);
    QCOMPARE(e.parasiteSensitivity(), 0.5);
    QCOMPARE(e.healthyMatched, 2);
    QCOMPARE(e.healthyFlagged, 1);
    QCOMPARE(e.healthyFalsePositiveRate(), 0.5);
    QCOMPARE(e.unmatchedFlagged, 1);
    // Over the detections: h0, h1, the flagged one on nothing and the poor overlap are no
    // parasite; h0 and the one on nothing are flagged.
    QCOMPARE(e.nonParasiteDetections(), 4);
    QCOMPARE(e.nonParasiteFlagged(), 2);

    FieldEvaluation sum = e;
    sum += e;
    QCOMPARE(sum.matched, 6);
    QCOMPARE(sum.recall(), 0.6);
}

void TestFieldAnnotations::evaluateWithoutFlags()
{
    FieldAnnotation a;
    a.objects.push_back({cv::Rect(-5, 0, 15, 10), QStringLiteral("red blood cell")});
    // The truth box overruns the image; clipped to (0,0,10,10) it matches the detection.
    const FieldEvaluation e = evaluateField({cv::Rect(0, 0, 10, 10)}, {}, a, cv::Size(50, 50));
    QCOMPARE(e.matched, 1);
    QCOMPARE(e.healthyMatched, 1);
    QCOMPARE(e.healthyFlagged, 0);
    QCOMPARE(e.unmatchedFlagged, 0);
}

void TestFieldAnnotations::sharedAnnotations()
{
    const QString path =
        QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields/annotations.json");
    if (!QFile::exists(path))
        QSKIP("shared data missing (../shared/data/iml-fields/annotations.json)");
    const FieldAnnotationSet set = loadFieldAnnotations(path);
    QVERIFY2(set.ok(), qPrintable(set.error));
    QCOMPARE(set.byName.size(), 188);
    int cells = 0, infected = 0, difficult = 0;
    for (const FieldAnnotation& a : set.byName) {
        cells += a.cellCount();
        infected += a.infectedCount();
        for (const AnnotatedObject& o : a.objects)
            difficult += o.difficult ? 1 : 0;
    }
    // The counts of the dataset README: 20,497 RBC + 91 + 42 + 14 + 138 stages, 12 difficult.
    QCOMPARE(infected, 91 + 42 + 14 + 138);
    QCOMPARE(cells, 20497 + infected);
    QCOMPARE(difficult, 12);
}

QTEST_GUILESS_MAIN(TestFieldAnnotations)
#include "tst_fieldannotations.moc"
