// Every metric against small cases worked out by hand.
#include "metrics.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include <cmath>

using ml::ScoredImage;

namespace {
const QStringList kClasses{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};

// label 0 = Parasitized (positive), 1 = Uninfected.
std::vector<ScoredImage> cells(std::initializer_list<std::pair<int, double>> list,
                               const QString& patient = QStringLiteral("P"))
{
    std::vector<ScoredImage> out;
    int i = 0;
    for (const auto& [label, p] : list)
        out.push_back({i++, label, p, patient});
    return out;
}
} // namespace

class TestMetrics : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void confusionAndReport();
    void aucCountsPairs_data();
    void aucCountsPairs();
    void averagePrecision();
    void noPredictionsOfAClass();
    void oneClassFolder();
    void calibrationBins();
    void patientLevel();
    void thresholdMovesOnlyCounts();
    void jsonKeys();
};

void TestMetrics::confusionAndReport()
{
    // tp: 0.9, fn: 0.4, fp: 0.6, tn: 0.1 at threshold 0.5.
    const auto c = cells({{0, 0.9}, {0, 0.4}, {1, 0.6}, {1, 0.1}, {0, 0.5}});
    const ml::BinaryCounts k = ml::countAt(c, 0.5);
    QCOMPARE(k.tp, 2); // 0.5 >= threshold counts as positive
    QCOMPARE(k.fn, 1);
    QCOMPARE(k.fp, 1);
    QCOMPARE(k.tn, 1);
    const ml::ClassificationReport r = ml::reportFrom(k, kClasses);
    QCOMPARE(r.perClass.at(0).name, QStringLiteral("Parasitized"));
    QCOMPARE(r.perClass.at(0).precision, 2.0 / 3);
    QCOMPARE(r.perClass.at(0).recall, 2.0 / 3);
    QCOMPARE(r.perClass.at(0).f1, 2.0 / 3);
    QCOMPARE(r.perClass.at(0).support, 3);
    QCOMPARE(r.perClass.at(1).precision, 0.5);
    QCOMPARE(r.perClass.at(1).recall, 0.5);
    QCOMPARE(r.perClass.at(1).support, 2);
    QCOMPARE(r.accuracy, 3.0 / 5);
    QCOMPARE(r.macro.precision, (2.0 / 3 + 0.5) / 2);
    QCOMPARE(r.weighted.recall, (2.0 / 3 * 3 + 0.5 * 2) / 5);
    QCOMPARE(r.sensitivity, 2.0 / 3);
    QCOMPARE(r.specificity, 0.5);
    QCOMPARE(r.falsePositives, 1);
    QCOMPARE(r.falseNegatives, 1);
}

void TestMetrics::aucCountsPairs_data()
{
    QTest::addColumn<QList<double>>("positives");
    QTest::addColumn<QList<double>>("negatives");
    QTest::addColumn<double>("auc");
    // Pairs (pos, neg) won / all pairs, ties counted half.
    QTest::newRow("3 of 4 pairs") << QList<double>{0.9, 0.4} << QList<double>{0.6, 0.1} << 0.75;
    QTest::newRow("perfect") << QList<double>{0.9, 0.8} << QList<double>{0.2, 0.1} << 1.0;
    QTest::newRow("inverted") << QList<double>{0.1} << QList<double>{0.9} << 0.0;
    QTest::newRow("one tie") << QList<double>{0.5} << QList<double>{0.5} << 0.5;
    QTest::newRow("ties mixed") << QList<double>{0.8, 0.5} << QList<double>{0.5, 0.2} << 0.875;
    QTest::newRow("all equal") << QList<double>{0.3, 0.3, 0.3} << QList<double>{0.3, 0.3} << 0.5;
}

void TestMetrics::aucCountsPairs()
{
    QFETCH(QList<double>, positives);
    QFETCH(QList<double>, negatives);
    QFETCH(double, auc);
    std::vector<ScoredImage> c;
    for (double p : positives)
        c.push_back({0, 0, p, {}});
    for (double p : negatives)
        c.push_back({0, 1, p, {}});
    const ml::RocCurve roc = ml::rocCurve(c);
    QVERIFY(roc.auc.has_value());
    QVERIFY2(std::abs(*roc.auc - auc) < 1e-12, qPrintable(QString::number(*roc.auc)));
    QCOMPARE(roc.points.front().x, 0.0);
    QCOMPARE(roc.points.back().x, 1.0);
    QCOMPARE(roc.points.back().y, 1.0);
}

void TestMetrics::averagePrecision()
{
    // Walk: 0.9 pos (R .5, P 1), 0.6 neg (R .5, P .5), 0.4 pos (R 1, P 2/3), 0.1 neg.
    const ml::PrCurve pr = ml::prCurve(cells({{0, 0.9}, {0, 0.4}, {1, 0.6}, {1, 0.1}}));
    QVERIFY(pr.averagePrecision.has_value());
    QVERIFY(std::abs(*pr.averagePrecision - (0.5 * 1.0 + 0.5 * 2.0 / 3)) < 1e-12);
}

void TestMetrics::noPredictionsOfAClass()
{
    // Nothing reaches the threshold: no cell is predicted Parasitized.
    const auto c = cells({{0, 0.1}, {0, 0.3}, {1, 0.2}});
    const ml::Evaluation e = ml::evaluate(c, kClasses, 0.5);
    QCOMPARE(e.counts.tp, 0);
    QCOMPARE(e.report.perClass.at(0).precision, 0.0);
    QVERIFY(e.report.perClass.at(0).precisionUndefined);
    QCOMPARE(e.report.perClass.at(0).f1, 0.0);
    QVERIFY(!std::isnan(e.report.macro.f1));
    QVERIFY(e.warnings.join(QLatin1Char(' '))
                .contains(QLatin1String("no cell was predicted Parasitized")));
    const QByteArray json = QJsonDocument(e.toJson()).toJson();
    QVERIFY(!json.contains("nan"));
}

void TestMetrics::oneClassFolder()
{
    const auto c = cells({{1, 0.1}, {1, 0.7}, {1, 0.2}});
    const ml::Evaluation e = ml::evaluate(c, kClasses, 0.5);
    QVERIFY(!e.roc.auc.has_value());
    QVERIFY(!e.pr.averagePrecision.has_value());
    QCOMPARE(e.report.specificity, 2.0 / 3);
    QCOMPARE(e.report.sensitivity, 0.0);
    QVERIFY(e.report.perClass.at(0).recallUndefined);
    QVERIFY(e.warnings.join(QLatin1Char(' ')).contains(QLatin1String("only one class present")));
    const QJsonObject o = e.toJson();
    QVERIFY(o.value(QStringLiteral("auc")).isNull());
    QVERIFY(!QJsonDocument(o).toJson().contains("nan"));
    QVERIFY(e.toText().contains(QLatin1String("AUC undefined")));
}

void TestMetrics::calibrationBins()
{
    // Bin 9 (0.9-1.0): 0.95 pos, 0.95 neg, 1.0 pos -> mean p 0.9667, rate 2/3.
    // Bin 1 (0.1-0.2): 0.15 neg -> mean 0.15, rate 0.
    const auto c = cells({{0, 0.95}, {1, 0.95}, {0, 1.0}, {1, 0.15}});
    const ml::Calibration cal = ml::calibration(c, 10);
    QCOMPARE(int(cal.bins.size()), 10);
    QCOMPARE(cal.bins[9].count, 3);
    QVERIFY(std::abs(cal.bins[9].meanProbability - 2.9 / 3) < 1e-12);
    QVERIFY(std::abs(cal.bins[9].positiveRate - 2.0 / 3) < 1e-12);
    QCOMPARE(cal.bins[1].count, 1);
    QCOMPARE(cal.bins[0].count, 0);
    const double expected = std::abs(2.0 / 3 - 2.9 / 3) * 3 / 4 + 0.15 * 1 / 4;
    QVERIFY2(std::abs(cal.ece - expected) < 1e-12, qPrintable(QString::number(cal.ece)));
    // Perfectly calibrated: ECE 0.
    const ml::Calibration perfect = ml::calibration(cells({{0, 1.0}, {1, 0.0}}), 10);
    QCOMPARE(perfect.ece, 0.0);
}

void TestMetrics::patientLevel()
{
    auto c = cells({{0, 0.9}, {1, 0.6}}, QStringLiteral("A"));
    for (const auto& s : cells({{0, 0.4}, {1, 0.1}}, QStringLiteral("B")))
        c.push_back(s);
    for (const auto& s : cells({{1, 0.1}, {1, 0.2}, {1, 0.7}}, QStringLiteral("H")))
        c.push_back(s);
    const auto rows = ml::patientTable(c, 0.5, 0.05);
    QCOMPARE(int(rows.size()), 3);
    QCOMPARE(rows[0].id, QStringLiteral("A"));
    QCOMPARE(rows[0].cells, 2);
    QCOMPARE(rows[0].trueInfectedShare, 0.5);
    QCOMPARE(rows[0].predictedInfectedShare, 1.0);
    QCOMPARE(rows[0].cellAccuracy, 0.5);
    QVERIFY(rows[0].predictedInfected);
    QCOMPARE(rows[1].predictedInfectedShare, 0.0);
    QVERIFY(!rows[1].predictedInfected);
    QCOMPARE(rows[2].id, QStringLiteral("H"));
    QVERIFY(!rows[2].trulyInfected);
    QVERIFY(std::abs(rows[2].predictedInfectedShare - 1.0 / 3) < 1e-12);
    const ml::BinaryCounts k = ml::patientCounts(rows);
    QCOMPARE(k.tp, 1); // A
    QCOMPARE(k.fn, 1); // B
    QCOMPARE(k.fp, 1); // H: healthy, a third of its cells called parasitized
    QCOMPARE(k.tn, 0);
}

void TestMetrics::thresholdMovesOnlyCounts()
{
    const auto c = cells({{0, 0.9}, {0, 0.4}, {1, 0.6}, {1, 0.1}});
    ml::Evaluation e = ml::evaluate(c, kClasses, 0.5);
    const double auc = *e.roc.auc;
    ml::moveThreshold(e, c, 0.3);
    QCOMPARE(e.threshold, 0.3);
    QCOMPARE(e.counts.tp, 2);
    QCOMPARE(e.counts.fp, 1);
    QCOMPARE(*e.roc.auc, auc);
    ml::moveThreshold(e, c, 0.95);
    QCOMPARE(e.counts.tp, 0);
    QCOMPARE(e.counts.tn, 2);
}

void TestMetrics::jsonKeys()
{
    const ml::Evaluation e = ml::evaluate(cells({{0, 0.9}, {1, 0.2}}), kClasses, 0.5);
    const QJsonObject o = e.toJson();
    for (const char* key : {"classes", "confusion_matrix", "accuracy", "sensitivity", "specificity",
                            "precision", "f1", "auc", "threshold", "ece", "patients"})
        QVERIFY2(o.contains(QLatin1String(key)), key);
    QCOMPARE(o.value(QStringLiteral("confusion_matrix")).toArray().at(0).toArray().at(0).toInt(),
             1);
    QCOMPARE(o.value(QStringLiteral("classes")).toArray().at(0).toString(),
             QStringLiteral("Parasitized"));
    const QJsonObject p = o.value(QStringLiteral("patients")).toArray().at(0).toObject();
    for (const char* key : {"id", "cells", "true_infected_share", "predicted_infected_share"})
        QVERIFY2(p.contains(QLatin1String(key)), key);
    QCOMPARE(o.value(QStringLiteral("auc")).toDouble(), 1.0);
}

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
