// "Calibrate for this lab", driven offscreen from the first page to Keep, on real IML fields
// with the embedded model: cells found in the background, a reviewer (played from the fields'
// box annotations) labelling with the P / U / X / S / Z keys, labels in a real SQLite database
// at once, adapting stopped (no label lost) and run again for 1 epoch, the before/after report,
// and the model kept in a registry with lab_calibration in its card. With
// MALARIALENS_GRAB_DIR set, every page is saved as a PNG there (to look at them).
#include "calibrationfields.h"
#include "calibrationpages.h"
#include "calibrationwizard.h"
#include "celllabelsession.h"
#include "classifier.h"
#include "correctionstore.h"
#include "modelregistry.h"

#include <algorithm>

#include <QAbstractButton>
#include <QCheckBox>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestCalibrationWizard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void wholeFlowReachesTheReportAndKeepsTheModel();
    void stoppingTheSearchChangesNothing();
    void thresholdSentenceSaysTheRule();
    void weightsSentenceSaysWhenTheStartIsKept();
    void notACellSentenceSaysWhatTheParasitemiaCounts();
    void paleCellSentenceSaysWhenTheRuleIsOn();
    void anInt8ActiveModelIsCalibratedInFp32();

private:
    void grab(QWidget* w, const QString& name);
    /// Plays the reviewer until the page allows Next; returns the labels given.
    int labelUntilEnough(CalibrationWizard& wizard, const std::vector<CalibrationCell>& truth);

    QTemporaryDir m_dir;
    QString m_fields;
    Classifier m_model;
    FieldAnnotationSet m_truth;
    int m_notACellKeys = 0; ///< N presses by labelUntilEnough()
};

void TestCalibrationWizard::initTestCase()
{
    if (!QDir(mltest::imlFieldsDir()).exists())
        QSKIP("../shared/data/iml-fields is missing");
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    QVERIFY(m_dir.isValid());
    m_truth = loadFieldAnnotations(mltest::imlFieldsDir() + QStringLiteral("/annotations.json"));
    QVERIFY(m_truth.ok());
    m_fields = m_dir.filePath(QStringLiteral("lab-fields"));
    QCOMPARE(mltest::linkRichestFields(m_truth, 10, m_fields).size(), 10);
    QVERIFY(m_model.loadEmbedded());
}

void TestCalibrationWizard::grab(QWidget* w, const QString& name)
{
    const QString dir = qEnvironmentVariable("MALARIALENS_GRAB_DIR");
    if (!dir.isEmpty())
        w->grab().save(QDir(dir).filePath(name + QStringLiteral(".png")));
}

int TestCalibrationWizard::labelUntilEnough(CalibrationWizard& wizard,
                                            const std::vector<CalibrationCell>& truth)
{
    LabelCellsPage* page = wizard.labelPage();
    CellLabelSession* s = wizard.session();
    int labels = 0;
    bool triedUndo = false, triedUnsure = false;
    while (!page->isComplete() && s->currentCell() >= 0) {
        const int cell = s->currentCell();
        const int label = truth[size_t(cell)].label;
        if (!triedUnsure) { // an unsure label, then undone: the cell is asked again
            QTest::keyClick(page, Qt::Key_X);
            QTest::keyClick(page, Qt::Key_Z);
            triedUnsure = true;
            if (s->currentCell() != cell)
                return -1;
        }
        // The annotations' detections of no red cell are what a reviewer marks "not a cell".
        const bool debris = truth[size_t(cell)].notACell;
        QTest::keyClick(page, debris       ? Qt::Key_N
                              : label == 0 ? Qt::Key_P
                              : label == 1 ? Qt::Key_U
                                           : Qt::Key_S);
        labels += label >= 0;
        m_notACellKeys += debris;
        if (!triedUndo && label >= 0) { // undo and label again
            QTest::keyClick(page, Qt::Key_Z);
            QTest::keyClick(page, label == 0 ? Qt::Key_P : Qt::Key_U);
            triedUndo = true;
        }
    }
    return labels;
}

void TestCalibrationWizard::wholeFlowReachesTheReportAndKeepsTheModel()
{
    const QString db = m_dir.filePath(QStringLiteral("corrections.sqlite"));
    const QString registryRoot = m_dir.filePath(QStringLiteral("registry"));
    CalibrationWizard wizard(m_model, m_fields);
    wizard.setDatabasePath(db);
    wizard.setRegistryRoot(registryRoot);
    wizard.setMinimumParasitized(4);
    wizard.setEpochs(1);
    wizard.setBudget(5000); // every cell may be asked: a few fields hold few parasites
    wizard.resize(1100, 800);
    wizard.show();
    QVERIFY(QTest::qWaitForWindowExposed(&wizard));

    // 1. Fields: the lab's name is needed before Next.
    QVERIFY(!wizard.fieldsPage()->isComplete());
    wizard.fieldsPage()->labEdit()->setText(QStringLiteral("Test lab"));
    wizard.fieldsPage()->reviewerEdit()->setText(QStringLiteral("tester"));
    QVERIFY(wizard.fieldsPage()->isComplete());
    grab(&wizard, QStringLiteral("1-fields"));
    wizard.next();

    // 2. Cells found in the background.
    QCOMPARE(wizard.currentId(), int(CalibrationWizard::FindCellsPageId));
    QTRY_VERIFY_WITH_TIMEOUT(wizard.currentPage()->isComplete(), 600000);
    grab(&wizard, QStringLiteral("2-cells"));
    std::vector<CalibrationCell> truth = wizard.session()->cells();
    labelFromAnnotations(truth, m_truth);
    wizard.next();

    // 3. Labels, with the keys, each in the database at once.
    QCOMPARE(wizard.currentId(), int(CalibrationWizard::LabelPageId));
    QTRY_VERIFY(!wizard.labelPage()->budgetLabel()->text().isEmpty());
    grab(&wizard, QStringLiteral("3-label-start"));
    const int labels = labelUntilEnough(wizard, truth);
    QVERIFY2(labels > 0, "the reviewer could not label");
    QVERIFY2(wizard.labelPage()->isComplete(),
             qPrintable(wizard.labelPage()->budgetLabel()->text()));
    QVERIFY(wizard.labelPage()->budgetLabel()->text().contains(QStringLiteral("Enough to adapt")));
    QCOMPARE(wizard.session()->pendingCount(), 0);
    grab(&wizard, QStringLiteral("3-label-enough"));
    CorrectionStore store;
    QVERIFY(store.open(db));
    QCOMPARE(latestCellLabels(store.all()).size(), wizard.session()->counts().labelled);
    // Every N is a stored "not a cell" label, named on the budget line and flagged on its cell.
    QVERIFY2(m_notACellKeys > 0, "no detection of no red cell was asked: the N key is untested");
    QCOMPARE(wizard.session()->counts().notACell, m_notACellKeys);
    QVERIFY(wizard.labelPage()->budgetLabel()->text().contains(
        QStringLiteral("%1 not a cell").arg(m_notACellKeys)));
    const auto debrisCells =
        std::count_if(wizard.session()->cells().begin(), wizard.session()->cells().end(),
                      [](const CalibrationCell& c) { return c.notACell; });
    QCOMPARE(int(debrisCells), m_notACellKeys);
    const qint64 rowsBefore = store.count();

    // 4. Adapt: stopped first (nothing lost), then run.
    QSignalSpy finished(&wizard, &CalibrationWizard::adaptFinished);
    wizard.next();
    QCOMPARE(wizard.currentId(), int(CalibrationWizard::AdaptPageId));
    wizard.stopWork();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 600000);
    QVERIFY(!finished.first().at(0).toBool());
    QVERIFY(!wizard.currentPage()->isComplete());
    QCOMPARE(store.count(), rowsBefore);
    wizard.adaptPage()->initializePage(); // "Adapt again"
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 900000);
    QVERIFY2(finished.last().at(0).toBool(), qPrintable(finished.last().at(1).toString()));
    QVERIFY(wizard.currentPage()->isComplete());
    grab(&wizard, QStringLiteral("4-adapt"));

    // 5. The report on the test fields, then Keep.
    wizard.next();
    QCOMPARE(wizard.currentId(), int(CalibrationWizard::ReportPageId));
    const QTableWidget* figures = wizard.reportPage()->figuresTable();
    for (int row = 0; row < 4; ++row)
        for (int col = 0; col < 2; ++col)
            QVERIFY(figures->item(row, col) && !figures->item(row, col)->text().isEmpty());
    const LabCalibrationResult& r = wizard.result();
    QVERIFY(!r.fieldsTest.isEmpty());
    // The "after" column names what it measured: adapted weights, or the ones the lab had.
    QCOMPARE(figures->horizontalHeaderItem(1)->text().contains(QLatin1String("same weights")),
             r.weights == LabWeights::Starting);
    QCOMPARE(finished.last().at(1).toString().contains(QLatin1String("did not beat")),
             r.weights == LabWeights::Starting); // and so does the adapt page's last line
    QVERIFY(r.after.truePositive + r.after.falseNegative > 0);
    grab(&wizard, QStringLiteral("5-report"));
    // A model that does worse on the lab's test fields is not made active unasked, and the
    // report says why; the reviewer may still tick the box.
    const bool better = r.after.balancedAccuracy >= r.before.balancedAccuracy;
    QCOMPARE(wizard.reportPage()->activateBox()->isChecked(), better);
    QCOMPARE(wizard.reportPage()->statusLabel()->text().contains(QLatin1String("not made active")),
             !better);
    wizard.reportPage()->activateBox()->setChecked(true);
    QSignalSpy activate(&wizard, &CalibrationWizard::activateRequested);
    wizard.button(QWizard::FinishButton)->click();
    QVERIFY(!wizard.keptModelId().isEmpty());
    QCOMPARE(activate.size(), 1);
    QCOMPARE(activate.first().at(0).toString(), wizard.keptModelId());

    const std::optional<RegistryEntry> entry =
        ModelRegistry(registryRoot).entry(wizard.keptModelId());
    QVERIFY(entry && entry->isUsable());
    const QJsonObject lab = entry->card.value(QStringLiteral("lab_calibration")).toObject();
    QCOMPARE(lab.value(QStringLiteral("lab")).toString(), QStringLiteral("Test lab"));
    QCOMPARE(lab.value(QStringLiteral("reviewer")).toString(), QStringLiteral("tester"));
    QVERIFY(lab.value(QStringLiteral("sensitivity")).isDouble());
    QVERIFY(lab.value(QStringLiteral("specificity")).isDouble());
    const QJsonObject calibration = lab.value(QStringLiteral("calibration")).toObject();
    QVERIFY(calibration.value(QStringLiteral("cells_used")).toInt() > 0);
    QCOMPARE(calibration.value(QStringLiteral("fields_test")).toArray().size(),
             r.fieldsTest.size());
    Classifier kept;
    QVERIFY2(kept.load(entry->modelPath), qPrintable(kept.errorString()));
}

void TestCalibrationWizard::stoppingTheSearchChangesNothing()
{
    const QString db = m_dir.filePath(QStringLiteral("stop.sqlite"));
    CalibrationWizard wizard(m_model, m_fields);
    wizard.setDatabasePath(db);
    wizard.setRegistryRoot(m_dir.filePath(QStringLiteral("registry-stop")));
    wizard.show();
    wizard.fieldsPage()->labEdit()->setText(QStringLiteral("Stop lab"));
    QSignalSpy found(&wizard, &CalibrationWizard::cellsFound);
    wizard.next();
    wizard.stopWork();
    QTRY_COMPARE_WITH_TIMEOUT(found.size(), 1, 600000);
    QVERIFY(!found.first().at(0).toBool());
    QVERIFY(found.first().at(1).toString().contains(QStringLiteral("Stopped")));
    QVERIFY(!wizard.currentPage()->isComplete());
    QVERIFY(!QFile::exists(db));
}

void TestCalibrationWizard::thresholdSentenceSaysTheRule()
{
    // The report's three sentences on the lab's threshold, with the figures they quote.
    LabCalibrationResult r;
    r.thresholdBefore = 0.5;
    LabThreshold& t = r.labThreshold;
    t.threshold = 0.28;
    t.chosen = true;
    t.meetsTarget = true;
    t.falsePositiveRate = 0.0148;
    t.sensitivity = 22.0 / 25.0;
    t.parasitized = 25;
    const QString chosen = ReportPage::thresholdSentence(r, 0.015);
    for (const char* part : {"<b>0.28</b> instead of 0.5", "the lowest setting", "1.5 %",
                             "1.5 % of the other cells called", "22 of 25 parasites found"})
        QVERIFY2(chosen.contains(QLatin1String(part)), qPrintable(chosen));
    QVERIFY2(!chosen.contains(QLatin1String("not a fault")), qPrintable(chosen));
    t.threshold = 0.02; // a low-scoring fine-tune's setting gets a word of explanation
    const QString low = ReportPage::thresholdSentence(r, 0.015);
    QVERIFY2(low.contains(QLatin1String("<b>0.02</b>")) &&
                 low.contains(QLatin1String("not a fault")),
             qPrintable(low));
    t.threshold = 0.28;
    t.meetsTarget = false;
    t.threshold = 0.95;
    t.falsePositiveRate = 0.031;
    const QString missed = ReportPage::thresholdSentence(r, 0.015);
    for (const char* part : {"Warning", "0.95", "3.1 %", "at most 1.5 %", "do not keep"})
        QVERIFY2(missed.contains(QLatin1String(part)), qPrintable(missed));
    t.chosen = false;
    t.threshold = 0.5;
    t.note = QStringLiteral("too few cells <500");
    const QString kept = ReportPage::thresholdSentence(r, 0.015);
    QVERIFY2(kept.contains(QLatin1String("from a probability of 0.5, as before")),
             qPrintable(kept));
    QVERIFY2(kept.contains(QLatin1String("too few cells &lt;500")), qPrintable(kept)); // escaped
}

void TestCalibrationWizard::weightsSentenceSaysWhenTheStartIsKept()
{
    LabCalibrationResult r;
    r.weights = LabWeights::Adapted;
    QVERIFY(ReportPage::weightsSentence(r).isEmpty()); // the usual case needs no sentence
    r.weights = LabWeights::Starting;
    r.labThreshold.chosen = r.labThreshold.meetsTarget = true;
    r.labThreshold.parasitized = 26;
    r.labThreshold.sensitivity = 23.0 / 26.0;
    r.otherThreshold = r.labThreshold;
    r.otherThreshold.sensitivity = 17.0 / 26.0;
    const QString s = ReportPage::weightsSentence(r);
    for (const char* part : {"did not find more parasites", "17 of 26 against 23",
                             "keeps the weights you had", "only its threshold"})
        QVERIFY2(s.contains(QLatin1String(part)), qPrintable(s));
}

void TestCalibrationWizard::notACellSentenceSaysWhatTheParasitemiaCounts()
{
    CalibrationFigures f;
    QVERIFY(ReportPage::notACellSentence(f).isEmpty()); // nothing marked N on the test fields
    f.notACell = 3;
    const QString s = ReportPage::notACellSentence(f);
    for (const char* part :
         {"counts the 3 detection", "no red cell", "share of the red cells", "the red cells'"})
        QVERIFY2(s.contains(QLatin1String(part)), qPrintable(s));
}

void TestCalibrationWizard::paleCellSentenceSaysWhenTheRuleIsOn()
{
    LabCalibrationResult r;
    r.paleCells.parasitized = 2;
    r.paleCells.other = 9;
    QVERIFY(ReportPage::paleCellSentence(r).isEmpty()); // the rule is off: nothing to say
    r.paleCells = PaleCellEvidence{16, 10, true};
    const QString s = ReportPage::paleCellSentence(r);
    for (const char* part : {"16 of the 26 labelled cells", "paler and less red",
                             "also counts such cells as parasitized", "the after column"})
        QVERIFY2(s.contains(QLatin1String(part)), qPrintable(s));
}

void TestCalibrationWizard::anInt8ActiveModelIsCalibratedInFp32()
{
    // The Models page can make the embedded model run int8; fine-tuning, and keeping the
    // starting weights, both need the fp32 weights it was quantised from.
    Classifier int8 = m_model;
    QVERIFY2(int8.setPrecision(Precision::Int8), qPrintable(int8.precisionNote()));
    QCOMPARE(int8.precision(), Precision::Int8);
    CalibrationWizard wizard(int8, m_fields);
    QCOMPARE(wizard.startModel().precision(), Precision::Fp32);
    QCOMPARE(wizard.startModel().weightsSha256(), m_model.weightsSha256());
}

QTEST_MAIN(TestCalibrationWizard)
#include "tst_calibrationwizard.moc"
