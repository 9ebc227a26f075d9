// Validation figures of the model card: ROC AUC, cell and patient level metrics.
#include "evaluation.h"

#include <QTest>

using namespace ml;

class TestEvaluation : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void aucKnownValues();
    void cellAndPatientLevel();
};

void TestEvaluation::aucKnownValues()
{
    QCOMPARE(rocAuc({0.9, 0.8, 0.2, 0.1}, {true, true, false, false}), 1.0);
    QCOMPARE(rocAuc({0.1, 0.2, 0.8, 0.9}, {true, true, false, false}), 0.0);
    // One of 4 positive/negative pairs misordered -> 0.75; ties count half.
    QCOMPARE(rocAuc({0.9, 0.3, 0.4, 0.1}, {true, true, false, false}), 0.75);
    QCOMPARE(rocAuc({0.5, 0.5}, {true, false}), 0.5);
    QCOMPARE(rocAuc({0.5, 0.7}, {true, true}), 0.5); // one class missing
}

void TestEvaluation::cellAndPatientLevel()
{
    // Patient A infected: 3 parasitized cells (one missed), 1 uninfected cell.
    // Patient B healthy: 4 uninfected cells, one called parasitized (25 %).
    // Patient C healthy: 2 uninfected cells, all right.
    std::vector<ScoredCell> cells{{0, 0.9f, QStringLiteral("A")}, {0, 0.8f, QStringLiteral("A")},
                                  {0, 0.3f, QStringLiteral("A")}, {1, 0.1f, QStringLiteral("A")},
                                  {1, 0.2f, QStringLiteral("B")}, {1, 0.6f, QStringLiteral("B")},
                                  {1, 0.1f, QStringLiteral("B")}, {1, 0.0f, QStringLiteral("B")},
                                  {1, 0.1f, QStringLiteral("C")}, {1, 0.2f, QStringLiteral("C")},
                                  {-1, 0.9f, QStringLiteral("C")} /* unlabeled: ignored */};
    const ValidationReport r = evaluateCells(cells, 0.5, 0.3);
    QCOMPARE(r.cells.count, 10);
    QCOMPARE(r.cells.truePositive, 2);
    QCOMPARE(r.cells.falseNegative, 1);
    QCOMPARE(r.cells.falsePositive, 1);
    QCOMPARE(r.cells.trueNegative, 6);
    QCOMPARE(r.cells.accuracy, 0.8);
    QCOMPARE(r.cells.sensitivity, 2.0 / 3.0);
    QCOMPARE(r.cells.specificity, 6.0 / 7.0);
    QCOMPARE(r.infectedPatients, 1);
    QCOMPARE(r.healthyPatients, 2);
    QCOMPARE(r.maxHealthyParasitizedShare, 0.25);
    QCOMPARE(r.maxHealthyPatient, QStringLiteral("B"));
    QCOMPARE(r.worstPatientAccuracy, 0.75); // A and B both 3/4; the first found is reported
    // Patient level at 30 %: A (50 %) infected, B (25 %) and C (0 %) healthy -> all right.
    QCOMPARE(r.patients.accuracy, 1.0);
    QCOMPARE(r.patients.auc, 1.0);
    const QJsonObject json = r.toJson();
    QVERIFY(json.value(QStringLiteral("per_patient")).toObject().contains(QStringLiteral("B")));
    QCOMPARE(json.value(QStringLiteral("cell_level"))
                 .toObject()
                 .value(QStringLiteral("accuracy"))
                 .toDouble(),
             0.8);
    QVERIFY(r.logLoss > 0);
}

QTEST_GUILESS_MAIN(TestEvaluation)
#include "tst_evaluation.moc"
