// The Explore page, offscreen: background mean images, histograms, sample views and grids.

#include "classifier.h"
#include "explorepage.h"
#include "folderscanner.h"
#include "gridrenderer.h"
#include "hsvhistogramplot.h"
#include "imagepanel.h"
#include "meanimageview.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

using namespace ml;

namespace {

bool writeConstant(const QString& path, int w, int h, cv::Scalar bgr)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    return cv::imwrite(path.toStdString(), cv::Mat(h, w, CV_8UC3, bgr));
}

std::shared_ptr<const Dataset> scan(const QString& dir)
{
    return std::make_shared<const Dataset>(scanFolder(dir));
}

} // namespace

class TestExplorePage : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void meanImagesAreShown();
    void histogramsFollowTheMean();
    void sampleAndBlurViews();
    void gridModesAndReroll();
    void cancelShowsNoPartialResult();
    void newFolderReplacesOldResults();
    void emptyAndNullDataset();
    void hiddenPageWaitsUntilShown();
    void augmentGridPairsEachCellWithWhatTheModelSees();
    void augmentGridModelViewToggle();

private:
    QTemporaryDir m_dir;
};

void TestExplorePage::initTestCase()
{
    // The page caches per folder in the user's cache dir: keep the test's out of ~/.cache.
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    for (int i = 0; i < 8; ++i) {
        QVERIFY(writeConstant(m_dir.filePath(QStringLiteral("Parasitized/p%1.png").arg(i)), 40, 36,
                              {80, 40, 160}));
        QVERIFY(writeConstant(m_dir.filePath(QStringLiteral("Uninfected/u%1.png").arg(i)), 30, 44,
                              {40, 120, 200}));
    }
}

void TestExplorePage::cleanupTestCase()
{
    // Test-mode cache entries are keyed on temporary folders: never reused, so remove them.
    QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)).removeRecursively();
}

void TestExplorePage::meanImagesAreShown()
{
    ExplorePage page;
    page.show();
    page.resize(1200, 800);
    QSignalSpy finished(&page, &ExplorePage::meanImagesFinished);
    page.setDataset(scan(m_dir.path()));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    auto* view = page.findChild<MeanImageView*>(QStringLiteral("meanView"));
    QVERIFY(view);
    ImagePanel* p = view->panel(QStringLiteral("mean:Parasitized"));
    ImagePanel* u = view->panel(QStringLiteral("mean:Uninfected"));
    QVERIFY(p && u);
    QCOMPARE(p->image().size(), QSize(64, 64));
    QCOMPARE(p->image().pixel(10, 10), qRgb(160, 40, 80));
    QCOMPARE(u->image().pixel(30, 30), qRgb(200, 120, 40));
    ImagePanel* diff = view->panel(QStringLiteral("difference"));
    QVERIFY(diff && !diff->image().isNull());
    QVERIFY(view->panel(QStringLiteral("std:Parasitized")));
    QVERIFY(page.findChild<QLabel*>(QStringLiteral("meanStatus"))
                ->text()
                .contains(QStringLiteral("Done")));

    // Another size: recomputed at that size.
    page.findChild<QSpinBox*>(QStringLiteral("meanSize"))->setValue(16);
    QTest::mouseClick(page.findChild<QPushButton*>(QStringLiteral("meanCompute")), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 20000);
    QCOMPARE(view->panel(QStringLiteral("mean:Parasitized"))->image().size(), QSize(16, 16));
}

void TestExplorePage::histogramsFollowTheMean()
{
    ExplorePage page;
    page.show();
    QSignalSpy hist(&page, &ExplorePage::histogramsFinished);
    page.setDataset(scan(m_dir.path()));
    QTRY_COMPARE_WITH_TIMEOUT(hist.count(), 1, 20000);
    QCOMPARE(hist.at(0).at(0).toBool(), true);
    auto* plot = page.findChild<HsvHistogramPlot*>(QStringLiteral("histPlot"));
    QVERIFY(plot);
    QCOMPARE(plot->graphCount(), 2 * 3); // two classes x H, S, V
}

void TestExplorePage::sampleAndBlurViews()
{
    ExplorePage page;
    page.show();
    QSignalSpy sample(&page, &ExplorePage::sampleShown);
    page.setDataset(scan(m_dir.path()));
    QTRY_VERIFY_WITH_TIMEOUT(sample.count() >= 1, 10000);
    auto* hue = page.findChild<ImagePanel*>(QStringLiteral("hsvHue"));
    auto* value = page.findChild<ImagePanel*>(QStringLiteral("hsvValue"));
    auto* blurred = page.findChild<ImagePanel*>(QStringLiteral("blurBlurred"));
    QVERIFY(hue && value && blurred);
    // Image 1 is Parasitized BGR (80,40,160): V = 160; hue map of a hue is fully saturated.
    QCOMPARE(qGray(value->image().pixel(5, 5)), 160);
    QCOMPARE(hue->image().size(), QSize(40, 36));
    QCOMPARE(blurred->image().size(), QSize(40, 36));
    // Jump to an Uninfected image through the spin box.
    sample.clear();
    page.findChild<QSpinBox*>(QStringLiteral("hsvSample"))->setValue(12);
    QTRY_VERIFY_WITH_TIMEOUT(sample.count() >= 1, 10000);
    QCOMPARE(value->image().size(), QSize(30, 44));
    QCOMPARE(page.findChild<QSpinBox*>(QStringLiteral("blurSample"))->value(), 12);
    // Even kernels are made odd; the grid's kernel follows.
    page.findChild<QSpinBox*>(QStringLiteral("blurKernel"))->setValue(8);
    QCOMPARE(page.findChild<QSpinBox*>(QStringLiteral("blurKernel"))->value(), 9);
    QCOMPARE(page.findChild<QSpinBox*>(QStringLiteral("gridKernel"))->value(), 9);
}

void TestExplorePage::gridModesAndReroll()
{
    ExplorePage page;
    page.show();
    QSignalSpy grid(&page, &ExplorePage::gridShown);
    page.setDataset(scan(m_dir.path()));
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 10000);
    auto* panel = page.findChild<ImagePanel*>(QStringLiteral("gridPanel"));
    QVERIFY(panel && !panel->image().isNull());
    const QImage three = panel->image();
    auto* size = page.findChild<QComboBox*>(QStringLiteral("gridSize"));
    grid.clear();
    size->setCurrentIndex(1); // 6 x 6
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 10000);
    QTRY_VERIFY(panel->image().width() > three.width());

    auto* mode = page.findChild<QComboBox*>(QStringLiteral("gridMode"));
    mode->setCurrentIndex(mode->findData(QStringLiteral("augment")));
    QTRY_VERIFY_WITH_TIMEOUT(
        !page.findChild<QLabel*>(QStringLiteral("gridCommand"))->text().isEmpty(), 5000);
    QTRY_VERIFY(page.findChild<QLabel*>(QStringLiteral("gridCommand"))
                    ->text()
                    .contains(QStringLiteral("--mode augment")));
    auto* seed = page.findChild<QSpinBox*>(QStringLiteral("gridSeed"));
    auto* reroll = page.findChild<QPushButton*>(QStringLiteral("gridReroll"));
    const int before = seed->value();
    QTest::mouseClick(reroll, Qt::LeftButton);
    QVERIFY(seed->value() != before);
    // A fixed seed turns re-roll off and survives a new folder.
    page.findChild<QCheckBox*>(QStringLiteral("gridFixedSeed"))->setChecked(true);
    QVERIFY(!reroll->isEnabled());
    const int fixed = seed->value();
    page.setDataset(scan(m_dir.path()));
    QCOMPARE(seed->value(), fixed);
}

void TestExplorePage::cancelShowsNoPartialResult()
{
    QTemporaryDir dir;
    for (int i = 0; i < 1500; ++i)
        QVERIFY(
            writeConstant(dir.filePath(QStringLiteral("%1/%2.png").arg(i % 2 ? "A" : "B").arg(i)),
                          120, 120, {double(i % 200), 50, 50}));
    ExplorePage page;
    page.show();
    QSignalSpy finished(&page, &ExplorePage::meanImagesFinished);
    page.setDataset(scan(dir.path()));
    auto* cancel = page.findChild<QPushButton*>(QStringLiteral("meanCancel"));
    QVERIFY(cancel->isEnabled());
    QTest::mouseClick(cancel, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    auto* view = page.findChild<MeanImageView*>(QStringLiteral("meanView"));
    QVERIFY(!view->panel(QStringLiteral("mean:A")));
    QVERIFY(page.findChild<QLabel*>(QStringLiteral("meanMessage"))
                ->text()
                .contains(QStringLiteral("Cancelled")));
    QVERIFY(page.findChild<QLabel*>(QStringLiteral("meanStatus"))
                ->text()
                .contains(QStringLiteral("Cancelled")));
}

void TestExplorePage::newFolderReplacesOldResults()
{
    QTemporaryDir other;
    QVERIFY(writeConstant(other.filePath(QStringLiteral("Solo/a.png")), 20, 20, {0, 255, 0}));
    ExplorePage page;
    page.show();
    QSignalSpy finished(&page, &ExplorePage::meanImagesFinished);
    page.setDataset(scan(m_dir.path()));
    page.setDataset(scan(other.path())); // while the first may still run
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() >= 1, 20000);
    auto* view = page.findChild<MeanImageView*>(QStringLiteral("meanView"));
    QTRY_VERIFY(view->panel(QStringLiteral("mean:Solo")));
    QVERIFY(!view->panel(QStringLiteral("mean:Parasitized")));
    QCOMPARE(view->panel(QStringLiteral("mean:Solo"))->image().pixel(3, 3), qRgb(0, 255, 0));
    QVERIFY(view->panel(QStringLiteral("difference"))->image().isNull()); // one class
}

void TestExplorePage::emptyAndNullDataset()
{
    QTemporaryDir empty;
    QVERIFY(QDir().mkpath(empty.filePath(QStringLiteral("Parasitized"))));
    ExplorePage page;
    page.show();
    page.setDataset(scan(empty.path()));
    QVERIFY(!page.findChild<QPushButton*>(QStringLiteral("meanCompute"))->isEnabled());
    QVERIFY(page.findChild<QLabel*>(QStringLiteral("meanMessage"))
                ->text()
                .contains(QStringLiteral("no images")));
    page.setDataset(nullptr);
    QVERIFY(page.findChild<ImagePanel*>(QStringLiteral("gridPanel"))->image().isNull());
}

void TestExplorePage::hiddenPageWaitsUntilShown()
{
    ExplorePage page; // not shown: e.g. a tab the user has not opened
    QSignalSpy finished(&page, &ExplorePage::meanImagesFinished);
    page.setDataset(scan(m_dir.path()));
    QTest::qWait(300);
    QCOMPARE(finished.count(), 0);
    QVERIFY(!page.findChild<QPushButton*>(QStringLiteral("meanCancel"))->isEnabled());
    page.show();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QVERIFY(page.findChild<MeanImageView*>(QStringLiteral("meanView"))
                ->panel(QStringLiteral("mean:Parasitized")));
}

void TestExplorePage::augmentGridPairsEachCellWithWhatTheModelSees()
{
    // renderGrid() with a model view: twice the columns, each augmented tile followed by the
    // model's input of it (here a model input painted pure green, to find it in the grid).
    const Dataset ds = scanFolder(m_dir.path());
    GridOptions o;
    o.mode = GridMode::Augment;
    o.size = 3;
    const GridResult plain = renderGrid(ds, o);
    QVERIFY(plain.ok());
    QCOMPARE(plain.columns, 3);
    int calls = 0;
    o.modelView = [&calls](const cv::Mat& bgr8) {
        ++calls;
        return bgr8.type() == CV_8UC3 ? cv::Mat(64, 64, CV_32FC3, cv::Scalar(0, 1, 0)) : cv::Mat();
    };
    const GridResult paired = renderGrid(ds, o);
    QVERIFY(paired.ok());
    QCOMPARE(calls, 9);
    QCOMPARE(paired.columns, 6);
    QCOMPARE(paired.indices, plain.indices); // the same cells, the same augmentations
    QCOMPARE(paired.image.height(), plain.image.height());
    QVERIFY(paired.image.width() > 2 * plain.image.width() - 10);
    // Tile centres: the model-view column (odd) is green, the augmented one (even) is not.
    const int tile = o.tilePixels, gap = 4, title = std::max(22, tile / 7);
    for (int col = 0; col < 6; ++col) {
        const QPoint centre(gap + col * (tile + gap) + tile / 2, title + tile / 2);
        const QColor c = paired.image.pixelColor(centre);
        const bool green = c.green() > 200 && c.red() < 60 && c.blue() < 60;
        QVERIFY2(green == (col % 2 == 1),
                 qPrintable(QStringLiteral("column %1: %2").arg(col).arg(c.name())));
    }
    // The augmented tiles are the ones the plain grid shows.
    const QPoint first(gap + tile / 2, title + tile / 2);
    QCOMPARE(paired.image.pixelColor(first), plain.image.pixelColor(first));
}

void TestExplorePage::augmentGridModelViewToggle()
{
    ExplorePage page;
    if (Classifier::hasEmbeddedModel()) {
        Classifier c;
        QVERIFY(c.loadEmbedded());
        page.setClassifier(c);
    }
    page.show();
    QSignalSpy grid(&page, &ExplorePage::gridShown);
    page.setDataset(scan(m_dir.path()));
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 10000);
    auto* toggle = page.findChild<QCheckBox*>(QStringLiteral("gridModelView"));
    QVERIFY(toggle);
    QVERIFY(!toggle->isEnabled()); // RGB mode: nothing is augmented
    auto* mode = page.findChild<QComboBox*>(QStringLiteral("gridMode"));
    auto* panel = page.findChild<ImagePanel*>(QStringLiteral("gridPanel"));
    grid.clear();
    mode->setCurrentIndex(mode->findData(QStringLiteral("augment")));
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(!panel->image().isNull(), 10000);
    const QImage augmented = panel->image();
    QVERIFY(toggle->isEnabled());
    grid.clear();
    toggle->setChecked(true);
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(panel->image().width() > 2 * augmented.width() - 10, 30000);
    QCOMPARE(panel->image().height(), augmented.height());
    if (qEnvironmentVariableIsSet("MALARIALENS_GRAB_DIR"))
        page.grab().save(qEnvironmentVariable("MALARIALENS_GRAB_DIR") +
                         QStringLiteral("/explore-modelview.png"));
    // Back to the plain grid when switched off.
    grid.clear();
    toggle->setChecked(false);
    QTRY_VERIFY_WITH_TIMEOUT(grid.count() >= 1, 10000);
    QTRY_COMPARE(panel->image().width(), augmented.width());
}

QTEST_MAIN(TestExplorePage)
#include "tst_explorepage.moc"
