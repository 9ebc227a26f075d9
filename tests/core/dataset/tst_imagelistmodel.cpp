#include "folderscanner.h"
#include "imagefilterproxy.h"
#include "imagelistmodel.h"
#include "testimages.h"
#include "thumbnailservice.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestImageListModel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void modelTesterPasses();
    void thumbnailsArriveAndBrokenFilesReportReason();
    void filterByClassAndText();
    void cacheStaysWithinItsByteCap();

private:
    QTemporaryDir m_dir;
    std::shared_ptr<const ml::Dataset> m_ds;
};

void TestImageListModel::initTestCase()
{
    QDir d(m_dir.path());
    QVERIFY(d.mkdir(QStringLiteral("Parasitized")));
    QVERIFY(d.mkdir(QStringLiteral("Uninfected")));
    for (int i = 0; i < 5; ++i)
        QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C7P3thinF_%1.png").arg(i)),
                                 120, 100));
    for (int i = 0; i < 4; ++i)
        QVERIFY(writeColourImage(d.filePath(QStringLiteral("Uninfected/C8_thinF_%1.png").arg(i)),
                                 90, 90));
    QVERIFY(writeGarbage(d.filePath(QStringLiteral("Uninfected/C8_thinF_broken.png"))));
    m_ds = std::make_shared<const ml::Dataset>(ml::scanFolder(m_dir.path()));
    QCOMPARE(m_ds->images.size(), 10);
}

void TestImageListModel::modelTesterPasses()
{
    ml::ThumbnailService thumbs;
    ml::ImageListModel model(&thumbs);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setDataset(m_ds);
    QCOMPARE(model.rowCount(), 10);
    ml::ImageFilterProxy proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester proxyTester(&proxy,
                                         QAbstractItemModelTester::FailureReportingMode::QtTest);
    proxy.setClassFilter(1);
    QCOMPARE(proxy.rowCount(), 5);
    model.setDataset(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestImageListModel::thumbnailsArriveAndBrokenFilesReportReason()
{
    ml::ThumbnailService thumbs;
    ml::ImageListModel model(&thumbs);
    model.setDataset(m_ds);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    for (int r = 0; r < model.rowCount(); ++r)
        model.index(r).data(Qt::DecorationRole); // a view painting every row
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 10, 10000);
    int broken = 0;
    for (int r = 0; r < model.rowCount(); ++r) {
        const QModelIndex idx = model.index(r);
        QVERIFY(idx.data(ml::ImageListModel::ThumbnailReadyRole).toBool());
        const QImage img = idx.data(Qt::DecorationRole).value<QImage>();
        QVERIFY(!img.isNull());
        if (!idx.data(ml::ImageListModel::ErrorRole).toString().isEmpty()) {
            ++broken;
            QVERIFY(idx.data(Qt::ToolTipRole)
                        .toString()
                        .contains(QLatin1String("not a recognised image")));
        } else {
            QVERIFY(std::max(img.width(), img.height()) <= thumbs.edge());
        }
    }
    QCOMPARE(broken, 1);
    QCOMPARE(thumbs.decodedCount(), 10);
}

void TestImageListModel::filterByClassAndText()
{
    ml::ThumbnailService thumbs;
    ml::ImageListModel model(&thumbs);
    model.setDataset(m_ds);
    ml::ImageFilterProxy proxy;
    proxy.setSourceModel(&model);
    QCOMPARE(proxy.rowCount(), 10);
    proxy.setClassFilter(0);
    QCOMPARE(proxy.rowCount(), 5);
    proxy.setClassFilter(ml::ImageFilterProxy::AllClasses);
    proxy.setTextFilter(QStringLiteral("c8")); // patient C8, case-insensitive
    QCOMPARE(proxy.rowCount(), 5);
    proxy.setTextFilter(QStringLiteral("broken"));
    QCOMPARE(proxy.rowCount(), 1);
    proxy.setClassFilter(0);
    QCOMPARE(proxy.rowCount(), 0);
}

void TestImageListModel::cacheStaysWithinItsByteCap()
{
    ml::ThumbnailService::Options opts;
    opts.edge = 96;
    opts.cacheBytes = 3 * 96 * 96 * 3; // room for about three thumbnails
    ml::ThumbnailService thumbs(opts);
    QSignalSpy ready(&thumbs, &ml::ThumbnailService::thumbnailReady);
    for (int i = 0; i < 9; ++i)
        thumbs.thumbnail(m_ds->absolutePath(i));
    QTRY_COMPARE_WITH_TIMEOUT(ready.size(), 9, 10000);
    QVERIFY(thumbs.cachedBytes() <= opts.cacheBytes);
    QVERIFY(thumbs.cachedBytes() > 0);
}

QTEST_MAIN(TestImageListModel)
#include "tst_imagelistmodel.moc"
