// The main window, offscreen, on real data: open the folder, show a 6x6 grid, check that
// 36 labelled images are painted, that the summary fills in and the browser lists all.
#include "batchgridwidget.h"
#include "browserpage.h"
#include "datasetsession.h"
#include "gridpage.h"
#include "imagefilterproxy.h"
#include "mainwindow.h"
#include "summarypage.h"
#include "testimages.h"

#include <QApplication>
#include <QListView>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "qcustomplotinclude.h"

using namespace mltest;

class TestBrowserGui : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void opensNihCellsAndPaints6x6Grid();
    void badFolderShowsReasonAndKeepsPrevious();
    void skippedFilesAreListed();
};

void TestBrowserGui::opensNihCellsAndPaints6x6Grid()
{
    const QString data = sharedData();
    if (data.isEmpty())
        QSKIP("../shared/data/nih-cells is missing: GUI test on real data not run");
    ml::MainWindow w;
    w.resize(1200, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy changed(w.session(), &ml::DatasetSession::datasetChanged);
    QSignalSpy summary(w.session(), &ml::DatasetSession::summaryReady);
    w.openFolder(data + QStringLiteral("/nih-cells"));
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 20000);
    QCOMPARE(w.browserPage()->listView()->model()->rowCount(), 14015);

    QSignalSpy shown(w.gridPage(), &ml::GridPage::batchShown);
    w.tabs()->setCurrentWidget(w.gridPage());
    w.gridPage()->setGridSize(6);
    QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty() && shown.last().at(0).toInt() == 36, 20000);
    ml::BatchGridWidget* grid = w.gridPage()->gridWidget();
    QCOMPARE(grid->columns(), 6);
    QCOMPARE(grid->tiles().size(), 36);
    grid->repaint();
    QCOMPARE(grid->paintedImageCount(), 36);
    QSet<QString> captions;
    for (const auto& t : grid->tiles()) {
        QVERIFY(!t.failed);
        QVERIFY(t.caption == QLatin1String("Parasitized") ||
                t.caption == QLatin1String("Uninfected"));
        captions.insert(t.caption);
    }
    QCOMPARE(captions.size(), 2); // a shuffled batch of 36 shows both classes

    // What a user sees: each of the 36 cells of the grab holds image pixels (not the
    // dark background) in its centre.
    const QImage shot = grid->grab().toImage();
    const int side = std::min(shot.width(), shot.height());
    const int x0 = (shot.width() - side) / 2, y0 = (shot.height() - side) / 2;
    int lit = 0;
    for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 6; ++c) {
            const QColor px = shot.pixelColor(x0 + (2 * c + 1) * side / 12,
                                              y0 + (2 * r + 1) * side / 12 + side / 40);
            if (px.value() > 60)
                ++lit;
        }
    QVERIFY2(lit >= 30, qPrintable(QStringLiteral("only %1 of 36 cells show an image").arg(lit)));

    // Next batch shows other images.
    const QString first = grid->tiles().first().detail;
    w.gridPage()->nextBatch();
    QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= 2 && grid->tiles().first().detail != first, 20000);

    // Summary and chart fill in from the background job.
    QTRY_COMPARE_WITH_TIMEOUT(summary.size(), 1, 120000);
    QCOMPARE(w.summaryPage()->chart()->plottableCount(), 1);
    QCOMPARE(w.summaryPage()->patientTable()->rowCount(), 100);
    QCOMPARE(w.summaryPage()->skippedTable()->rowCount(), 0);

    // Class filter and search on the browser.
    w.browserPage()->proxy()->setClassFilter(1);
    QCOMPARE(w.browserPage()->listView()->model()->rowCount(), 6967);
    w.browserPage()->proxy()->setTextFilter(QStringLiteral("C1_"));
    QCOMPARE(w.browserPage()->listView()->model()->rowCount(), 70);
}

void TestBrowserGui::badFolderShowsReasonAndKeepsPrevious()
{
    QTemporaryDir dir;
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("a.png"))));
    ml::MainWindow w;
    w.show();
    QSignalSpy changed(w.session(), &ml::DatasetSession::datasetChanged);
    QSignalSpy failed(w.session(), &ml::DatasetSession::scanFailed);
    w.openFolder(dir.path());
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 10000);
    // The failure dialog is modal: close it as soon as it shows.
    QTimer closer;
    connect(&closer, &QTimer::timeout, [] {
        if (QWidget* m = QApplication::activeModalWidget())
            m->close();
    });
    closer.start(50);
    w.openFolder(QStringLiteral("/nonexistent/folder"));
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
    QVERIFY(failed.first().at(1).toString().contains(QLatin1String("not found")));
    QCOMPARE(w.session()->dataset()->images.size(), 1);
    QCOMPARE(w.browserPage()->listView()->model()->rowCount(), 1);
}

void TestBrowserGui::skippedFilesAreListed()
{
    QTemporaryDir dir;
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("a.png"))));
    QVERIFY(writeTruncatedPng(dir.filePath(QStringLiteral("b.png"))));
    QVERIFY(writeEmpty(dir.filePath(QStringLiteral("c.png"))));
    ml::MainWindow w;
    w.show();
    QSignalSpy summary(w.session(), &ml::DatasetSession::summaryReady);
    w.openFolder(dir.path());
    QTRY_COMPARE_WITH_TIMEOUT(summary.size(), 1, 10000);
    QTableWidget* skipped = w.summaryPage()->skippedTable();
    QCOMPARE(skipped->rowCount(), 2);
    QStringList rows;
    for (int r = 0; r < 2; ++r)
        rows << skipped->item(r, 0)->text() + QStringLiteral(": ") + skipped->item(r, 1)->text();
    rows.sort();
    QVERIFY(rows.at(0).startsWith(QLatin1String("b.png: decode failed")));
    QCOMPARE(rows.at(1), QStringLiteral("c.png: empty file (0 bytes)"));
}

QTEST_MAIN(TestBrowserGui)
#include "tst_browsergui.moc"
