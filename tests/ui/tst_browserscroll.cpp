// A folder of 30,000 images: listed at once, and scrolling from top to bottom decodes only
// what was on screen (stale requests are dropped), with the cache inside its byte cap.
#include "browserpage.h"
#include "folderscanner.h"
#include "imagelistmodel.h"
#include "testimages.h"
#include "thumbnailservice.h"

#include <QFile>
#include <QListView>
#include <QScrollBar>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestBrowserScroll : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void thirtyThousandImages();
};

void TestBrowserScroll::thirtyThousandImages()
{
    QTemporaryDir dir;
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("A")));
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("B")));
    QTemporaryDir sourceDir;
    const QString source = sourceDir.filePath(QStringLiteral("source.png"));
    QVERIFY(writeColourImage(source, 120, 120));
    // Symbolic links keep the fixture small and quick to make.
    for (int i = 0; i < 30000; ++i) {
        const QString name = QStringLiteral("%1/C%2P%3thinF_cell_%4.png")
                                 .arg(i % 2 ? QStringLiteral("B") : QStringLiteral("A"))
                                 .arg(i % 50)
                                 .arg(i % 50)
                                 .arg(i);
        QVERIFY(QFile::link(source, dir.filePath(name)));
    }
    const auto ds = std::make_shared<const ml::Dataset>(ml::scanFolder(dir.path()));
    QCOMPARE(ds->images.size(), 30000);
    QCOMPARE(ds->countPerClass().value(QStringLiteral("A")), 15000);
    QCOMPARE(ds->countPerPatient().size(), 50);

    ml::ThumbnailService::Options opts;
    opts.cacheBytes = 8 * 1024 * 1024;
    ml::ThumbnailService thumbs(opts);
    ml::BrowserPage page(&thumbs);
    page.resize(900, 700);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.setDataset(ds);
    QCOMPARE(page.listView()->model()->rowCount(), 30000);
    QScrollBar* bar = page.listView()->verticalScrollBar();
    QTRY_VERIFY(bar->maximum() > 0);
    while (bar->value() < bar->maximum()) {
        bar->setValue(bar->value() + bar->pageStep() * 5);
        QCoreApplication::processEvents();
    }
    // The last screen gets its thumbnails ...
    const QModelIndex last = page.listView()->model()->index(29999, 0);
    QTRY_VERIFY_WITH_TIMEOUT(last.data(ml::ImageListModel::ThumbnailReadyRole).toBool(), 20000);
    // ... and far fewer than 30,000 images were decoded on the way (only visible rows and a
    // bounded queue), while the cache stayed inside its cap.
    QVERIFY2(thumbs.decodedCount() < 5000, qPrintable(QString::number(thumbs.decodedCount())));
    QVERIFY(thumbs.cachedBytes() <= opts.cacheBytes);
    QVERIFY(thumbs.pendingCount() <= opts.maxPending);
}

QTEST_MAIN(TestBrowserScroll)
#include "tst_browserscroll.moc"
