// The PDF report from known classification results: figures, gallery order, and a PDF that
// poppler renders to pages.
#include "classificationresults.h"
#include "folderscanner.h"
#include "pdfreport.h"
#include "testimages.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestPdfReport : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void figuresAndPdf();
    void unwritableTargetFails();
};

void TestPdfReport::figuresAndPdf()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("Parasitized")));
    QVERIFY(d.mkdir(QStringLiteral("Uninfected")));
    for (int i = 0; i < 4; ++i)
        QVERIFY(
            writeColourImage(d.filePath(QStringLiteral("Parasitized/C5P1thinF_%1.png").arg(i))));
    for (int i = 0; i < 6; ++i)
        QVERIFY(writeColourImage(d.filePath(QStringLiteral("Uninfected/C9_thinF_%1.png").arg(i))));
    const auto ds = std::make_shared<const ml::Dataset>(ml::scanFolder(dir.path()));
    ml::ClassificationResults results(ds, 0.5);
    // Parasitized 0..3: 0.9, 0.8, 0.7, 0.2; Uninfected 4..9: 0.6, then 0.1 ...
    const float p[] = {0.9f, 0.8f, 0.7f, 0.2f, 0.6f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    for (int i = 0; i < 10; ++i)
        results.set(i, p[i]);
    const ml::ReportContent c =
        ml::buildReport(results, QStringLiteral("test model"), QStringLiteral("abc"), {}, 3);
    QCOMPARE(c.classified, 10);
    QCOMPARE(c.predictedParasitized, 4);
    QCOMPARE(c.parasitemia, 0.4);
    // Wilson 95 % interval of 4/10, worked out by hand: 0.1682 .. 0.6873.
    QVERIFY(qAbs(c.parasitemiaLow - 0.1682) < 1e-3);
    QVERIFY(qAbs(c.parasitemiaHigh - 0.6873) < 1e-3);
    QCOMPARE(c.patients.size(), 2);
    QCOMPARE(c.flagged.size(), 3); // capped
    QCOMPARE(c.flagged.at(0).probability, double(0.9f));
    QCOMPARE(c.flagged.at(2).probability, double(0.7f));
    QVERIFY(c.evaluation.has_value());
    QCOMPARE(c.evaluation->counts.tp, 3);
    QCOMPARE(c.evaluation->counts.fp, 1);

    const QString pdf = dir.filePath(QStringLiteral("report.pdf"));
    QString error;
    QVERIFY2(ml::writePdfReport(c, pdf, &error), qPrintable(error));
    QFile f(pdf);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.read(5) == "%PDF-");
    QVERIFY(f.size() > 5000);
    const QString pdftoppm = QStandardPaths::findExecutable(QStringLiteral("pdftoppm"));
    if (pdftoppm.isEmpty())
        QSKIP("pdftoppm (poppler-utils) missing: the PDF was not rendered");
    QProcess render;
    render.start(pdftoppm, {QStringLiteral("-r"), QStringLiteral("40"), QStringLiteral("-png"), pdf,
                            dir.filePath(QStringLiteral("page"))});
    QVERIFY(render.waitForFinished(60000));
    QCOMPARE(render.exitCode(), 0);
    const QStringList pages = QDir(dir.path()).entryList({QStringLiteral("page*.png")});
    QVERIFY(!pages.isEmpty());
    QImage first(dir.filePath(pages.first()));
    QVERIFY(!first.isNull());
    // Not a blank page: the title and tables put dark pixels on it.
    int dark = 0;
    for (int y = 0; y < first.height(); y += 2)
        for (int x = 0; x < first.width(); x += 2)
            dark += qGray(first.pixel(x, y)) < 128;
    QVERIFY(dark > 100);
}

void TestPdfReport::unwritableTargetFails()
{
    QTemporaryDir dir;
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("a.png"))));
    const auto ds = std::make_shared<const ml::Dataset>(ml::scanFolder(dir.path()));
    ml::ClassificationResults results(ds, 0.5);
    results.set(0, 0.7f);
    const ml::ReportContent c =
        ml::buildReport(results, QStringLiteral("m"), QStringLiteral("x"), {});
    QVERIFY(!c.evaluation.has_value()); // unlabeled folder
    QString error;
    QVERIFY(!ml::writePdfReport(c, QStringLiteral("/nonexistent/folder/report.pdf"), &error));
    QVERIFY(error.contains(QLatin1String("cannot write")));
}

QTEST_MAIN(TestPdfReport)
#include "tst_pdfreport.moc"
