// Classify and evaluate a small labelled folder of real cells through the main window,
// offscreen, with the embedded model: results table, filters, badges, CSV, evaluation
// views, threshold slider and the confusion-matrix galleries.
#include "browserpage.h"
#include "classifier.h"
#include "classifypage.h"
#include "datasetsession.h"
#include "evaluationpage.h"
#include "gallerydialog.h"
#include "imagelistmodel.h"
#include "mainwindow.h"
#include "modelsession.h"
#include "resultstablemodel.h"
#include "tablecsv.h"
#include "testimages.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListView>
#include <QProcess>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardPaths>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestClassifyGui : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void classifyAndEvaluate();

private:
    QTemporaryDir m_dir;
};

void TestClassifyGui::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(ml::Classifier::hasEmbeddedModel(), "this build has no embedded default model");
    const QString data = sharedData();
    if (data.isEmpty())
        QSKIP("../shared/data/nih-cells is missing: classification GUI test not run");
    for (const QString& cls : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}) {
        QVERIFY(QDir(m_dir.path()).mkdir(cls));
        QDir src(data + QStringLiteral("/nih-cells/") + cls);
        // Every 300th file: several patients, deterministic.
        const QStringList files = src.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        for (int i = 0; i < files.size(); i += 300)
            QVERIFY(QFile::link(src.filePath(files.at(i)),
                                m_dir.filePath(cls + QLatin1Char('/') + files.at(i))));
    }
}

void TestClassifyGui::classifyAndEvaluate()
{
    ml::MainWindow w;
    w.resize(1300, 850);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.modelSession()->hasModel());
    QSignalSpy changed(w.session(), &ml::DatasetSession::datasetChanged);
    w.openFolder(m_dir.path());
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 10000);
    const int n = int(w.session()->dataset()->images.size());
    QVERIFY(n >= 40);

    QSignalSpy finished(w.modelSession(), &ml::ModelSession::classificationFinished);
    QSignalSpy batches(w.modelSession(), &ml::ModelSession::resultsUpdated);
    w.classifyPage()->classify();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 120000);
    QVERIFY(!finished.first().at(0).toBool());            // not cancelled
    QVERIFY(finished.first().at(1).toString().isEmpty()); // no error
    QVERIFY(!batches.isEmpty());

    // Results table: every image, sortable, filterable.
    auto* proxy = w.classifyPage()->proxy();
    QCOMPARE(proxy->rowCount(), n);
    const auto results = w.modelSession()->results();
    QCOMPARE(results->classified(), n);
    QVERIFY2(results->accuracy() >= 0.85, qPrintable(QString::number(results->accuracy())));
    proxy->setPredictedFilter(0);
    int predictedPositive = 0;
    for (int i = 0; i < n; ++i)
        predictedPositive += results->predicted(i) == 0;
    QCOMPARE(proxy->rowCount(), predictedPositive);
    proxy->setPredictedFilter(-1);
    proxy->setCorrectness(ml::ResultsFilterProxy::Correctness::Wrong);
    const int wrong = proxy->rowCount();
    proxy->setCorrectness(ml::ResultsFilterProxy::Correctness::Any);
    proxy->setProbabilityRange(0.9, 1.0);
    for (int r = 0; r < proxy->rowCount(); ++r)
        QVERIFY(proxy->index(r, 0).data(ml::ResultsTableModel::ProbabilityRole).toDouble() >= 0.9);
    proxy->setProbabilityRange(0.0, 1.0);

    // Badges on the browser thumbnails.
    auto* browserModel = w.browserPage()->model();
    for (int r = 0; r < browserModel->rowCount(); ++r)
        QVERIFY(browserModel->index(r).data(ml::ImageListModel::ProbabilityRole).toDouble() >= 0.0);

    // CSV export: header + one row per image.
    QTemporaryDir out;
    const QString csv = out.filePath(QStringLiteral("results.csv"));
    QVERIFY(w.classifyPage()->exportCsv(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), n + 1);
    QCOMPARE(lines.first(),
             QByteArray("file,patient,true_label,predicted,probability_parasitized,correct,error"));

    // The PDF report, written in the background.
    const QString pdf = out.filePath(QStringLiteral("report.pdf"));
    QSignalSpy written(w.classifyPage(), &ml::ClassifyPage::reportWritten);
    w.classifyPage()->exportReport(pdf);
    QTRY_COMPARE_WITH_TIMEOUT(written.size(), 1, 60000);
    QVERIFY2(written.first().at(1).toBool(), qPrintable(written.first().at(2).toString()));
    QFile report(pdf);
    QVERIFY(report.open(QIODevice::ReadOnly));
    QVERIFY(report.read(5) == "%PDF-");

    // Evaluation: same numbers as the results, every view filled.
    ml::EvaluationPage* eval = w.evaluationPage();
    QCOMPARE(eval->evaluation().cells, n);
    const ml::BinaryCounts k = eval->evaluation().counts;
    QCOMPARE(k.fp + k.fn, wrong);
    QVERIFY(eval->evaluation().roc.auc.has_value());
    QVERIFY(*eval->evaluation().roc.auc > 0.9);
    QVERIFY(eval->patientTable()->rowCount() > 1);
    QCOMPARE(eval->imagesInCell(0, 1).size(), k.fn);
    QCOMPARE(eval->imagesInCell(1, 0).size(), k.fp);
    QCOMPARE(eval->imagesInCell(0, 0).size(), k.tp);

    // The command line computes the same figures (one core implementation).
    {
        QProcess cli;
        cli.start(QStringLiteral(MALARIALENS_CLI),
                  {QStringLiteral("evaluate"), m_dir.path(), QStringLiteral("--json"),
                   QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--threshold"),
                   QStringLiteral("0.5")});
        QVERIFY(cli.waitForFinished(180000));
        QCOMPARE(cli.exitCode(), 0);
        const QJsonObject o = QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
        const QJsonArray m = o.value(QStringLiteral("confusion_matrix")).toArray();
        QCOMPARE(m.at(0).toArray().at(0).toInt(), k.tp);
        QCOMPARE(m.at(0).toArray().at(1).toInt(), k.fn);
        QCOMPARE(m.at(1).toArray().at(0).toInt(), k.fp);
        QCOMPARE(m.at(1).toArray().at(1).toInt(), k.tn);
        QVERIFY(qAbs(o.value(QStringLiteral("auc")).toDouble() - *eval->evaluation().roc.auc) <
                1e-6);
        QVERIFY(qAbs(o.value(QStringLiteral("ece")).toDouble() -
                     eval->evaluation().calibration.ece) < 1e-6);
        QCOMPARE(o.value(QStringLiteral("patients")).toArray().size(),
                 int(eval->evaluation().patients.size()));
    }

    // The threshold slider moves every figure; an extreme threshold calls almost nothing
    // Parasitized.
    QSignalSpy updated(eval, &ml::EvaluationPage::updated);
    eval->thresholdSlider()->setValue(999);
    QVERIFY(!updated.isEmpty());
    QCOMPARE(w.modelSession()->threshold(), 0.999);
    const ml::BinaryCounts strict = eval->evaluation().counts;
    QVERIFY(strict.tp <= k.tp);
    QVERIFY(strict.fp <= k.fp);
    QCOMPARE(strict.total(), n);
    QCOMPARE(proxy->rowCount(), n);
    eval->thresholdSlider()->setValue(500);
    QCOMPARE(eval->evaluation().counts.tp, k.tp);

    // Every table exports as CSV with its header: the classification report keeps its row titles.
    const QByteArray reportCsv = ml::modelToCsv(*eval->reportTable()->model(), true);
    QVERIFY(reportCsv.startsWith("row,precision,recall,f1-score,support\nParasitized,"));
    QCOMPARE(reportCsv.count('\n'), 6);
    const QByteArray patientsCsv = ml::modelToCsv(*eval->patientTable()->model());
    QVERIFY(patientsCsv.startsWith(
        "Patient,Cells,True infected,Predicted infected,Cell accuracy,Decision\n"));
    QCOMPARE(int(patientsCsv.count('\n')), eval->patientTable()->rowCount() + 1);

    // A click on a matrix cell opens exactly those images.
    eval->openGallery(1, 1);
    auto* gallery = eval->findChild<ml::GalleryDialog*>();
    QVERIFY(gallery);
    QCOMPARE(gallery->imageCount(), k.tn);
    gallery->close();
}

QTEST_MAIN(TestClassifyGui)
#include "tst_classifygui.moc"
