// The labelled grids shared by the Explore page and `malarialens-cli grid`.

#include "folderscanner.h"
#include "gridrenderer.h"

#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <set>

using namespace ml;

namespace {

bool writeConstant(const QString& path, int w, int h, cv::Scalar bgr)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    return cv::imwrite(path.toStdString(), cv::Mat(h, w, CV_8UC3, bgr));
}

// Centre pixel of tile `t` of a grid drawn with `o`, from the layout renderGrid() uses.
QRgb tileCentre(const QImage& grid, const GridOptions& o, int t)
{
    const int gap = 4, title = std::max(22, o.tilePixels / 7);
    const int x = gap + t % o.size * (o.tilePixels + gap) + o.tilePixels / 2;
    const int y = title + t / o.size * (o.tilePixels + gap) + o.tilePixels / 2;
    return grid.pixel(x, y);
}

} // namespace

class TestGridRenderer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void modeNamesRoundTrip();
    void pickIsDistinctAndReproducible();
    void rgbGridShowsTheImagesLabelled();
    void sixBySixLayout();
    void hsvModeShowsHueColours();
    void blurModeSmoothsEdges();
    void augmentIsReproducibleWithSeed();
    void explicitIndicesAreShown();
    void unreadableImageGetsAnErrorTile();
    void emptyFolderIsAnError();
    void realCellsGrid();

private:
    QTemporaryDir m_dir;
    Dataset m_ds;
};

void TestGridRenderer::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // Parasitized: pure green; Uninfected: pure red. 20 of each.
    for (int i = 0; i < 20; ++i) {
        QVERIFY(writeConstant(
            m_dir.filePath(QStringLiteral("Parasitized/p%1.png").arg(i, 2, 10, QLatin1Char('0'))),
            40, 40, {0, 255, 0}));
        QVERIFY(writeConstant(
            m_dir.filePath(QStringLiteral("Uninfected/u%1.png").arg(i, 2, 10, QLatin1Char('0'))),
            40, 40, {0, 0, 255}));
    }
    m_ds = scanFolder(m_dir.path());
    QCOMPARE(m_ds.images.size(), 40);
}

void TestGridRenderer::modeNamesRoundTrip()
{
    for (GridMode m : {GridMode::Rgb, GridMode::Hsv, GridMode::Blur, GridMode::Augment})
        QCOMPARE(*gridModeFromName(gridModeName(m)), m);
    QCOMPARE(*gridModeFromName(QStringLiteral("HSV")), GridMode::Hsv);
    QVERIFY(!gridModeFromName(QStringLiteral("sepia")));
}

void TestGridRenderer::pickIsDistinctAndReproducible()
{
    const std::vector<int> a = pickGridImages(m_ds, 36, 5);
    QCOMPARE(int(a.size()), 36);
    QCOMPARE(int(std::set<int>(a.begin(), a.end()).size()), 36);
    QCOMPARE(pickGridImages(m_ds, 36, 5), a);
    QVERIFY(pickGridImages(m_ds, 36, 6) != a);
    QCOMPARE(int(pickGridImages(m_ds, 100, 5).size()), 40); // never more than the folder
}

void TestGridRenderer::rgbGridShowsTheImagesLabelled()
{
    GridOptions o;
    o.size = 3;
    o.tilePixels = 96;
    o.seed = 11;
    const GridResult r = renderGrid(m_ds, o);
    QVERIFY(r.ok());
    QCOMPARE(int(r.indices.size()), 9);
    QCOMPARE(r.image.width(), 4 + 3 * (96 + 4));
    for (int t = 0; t < 9; ++t) {
        const bool parasitized = m_ds.images.at(r.indices[size_t(t)]).label == 0;
        QCOMPARE(tileCentre(r.image, o, t), parasitized ? qRgb(0, 255, 0) : qRgb(255, 0, 0));
    }
    // The label strip over the first tile holds light text pixels.
    const int title = std::max(22, o.tilePixels / 7);
    int light = 0;
    for (int y = title; y < title + 14; ++y)
        for (int x = 4; x < 4 + 96; ++x)
            light += qGray(r.image.pixel(x, y)) > 200;
    QVERIFY2(light > 10, "no class name drawn over the tile");
    // Same seed, same grid.
    QCOMPARE(renderGrid(m_ds, o).image, r.image);
}

void TestGridRenderer::sixBySixLayout()
{
    GridOptions o;
    o.size = 6;
    o.tilePixels = 64;
    const GridResult r = renderGrid(m_ds, o);
    QVERIFY(r.ok());
    QCOMPARE(int(r.indices.size()), 36);
    QCOMPARE(r.image.width(), 4 + 6 * (64 + 4));
    QCOMPARE(r.image.height(), std::max(22, 64 / 7) + 6 * (64 + 4) + 2);
}

void TestGridRenderer::hsvModeShowsHueColours()
{
    GridOptions o;
    o.mode = GridMode::Hsv;
    o.tilePixels = 64;
    const GridResult r = renderGrid(m_ds, o);
    QVERIFY(r.ok());
    // Green (H 60) and red (H 0) map to themselves in the cyclic map.
    for (int t = 0; t < 9; ++t) {
        const bool parasitized = m_ds.images.at(r.indices[size_t(t)]).label == 0;
        QCOMPARE(tileCentre(r.image, o, t), parasitized ? qRgb(0, 255, 0) : qRgb(255, 0, 0));
    }
}

void TestGridRenderer::blurModeSmoothsEdges()
{
    // One image, left half black, right half white: blurred, the edge has greys.
    QTemporaryDir dir;
    cv::Mat m(40, 40, CV_8UC3, cv::Scalar::all(0));
    m(cv::Rect(20, 0, 20, 40)).setTo(cv::Scalar::all(255));
    QDir().mkpath(dir.filePath("A"));
    QVERIFY(cv::imwrite(dir.filePath("A/edge.png").toStdString(), m));
    const Dataset ds = scanFolder(dir.path());
    GridOptions o;
    o.size = 1;
    o.tilePixels = 40; // 1:1, no scaling
    o.mode = GridMode::Rgb;
    const QImage sharp = renderGrid(ds, o).image;
    o.mode = GridMode::Blur;
    o.kernelSize = 9;
    o.sigma = 3.0;
    const QImage blurred = renderGrid(ds, o).image;
    const int title = 22, y = title + 30, x0 = 4;
    QCOMPARE(qGray(sharp.pixel(x0 + 19, y)), 0);
    QCOMPARE(qGray(sharp.pixel(x0 + 20, y)), 255);
    QVERIFY(qGray(blurred.pixel(x0 + 19, y)) > 40);
    QVERIFY(qGray(blurred.pixel(x0 + 20, y)) < 215);
}

void TestGridRenderer::augmentIsReproducibleWithSeed()
{
    GridOptions o;
    o.mode = GridMode::Augment;
    o.tilePixels = 64;
    o.seed = 3;
    const GridResult a = renderGrid(m_ds, o);
    QVERIFY(a.ok());
    QCOMPARE(renderGrid(m_ds, o).image, a.image);
    o.seed = 4;
    QVERIFY(renderGrid(m_ds, o).image != a.image);
    // Brightness off, contrast fixed: a constant green tile stays green whatever flips.
    o.augment.brightnessDelta = 0.0f;
    o.augment.contrastLow = o.augment.contrastHigh = 1.0f;
    const GridResult c = renderGrid(m_ds, o);
    for (int t = 0; t < 9; ++t) {
        const bool parasitized = m_ds.images.at(c.indices[size_t(t)]).label == 0;
        QCOMPARE(tileCentre(c.image, o, t), parasitized ? qRgb(0, 255, 0) : qRgb(255, 0, 0));
    }
}

void TestGridRenderer::explicitIndicesAreShown()
{
    GridOptions o;
    o.tilePixels = 48;
    o.indices = {0, 1, 2, 25};
    const GridResult r = renderGrid(m_ds, o);
    QVERIFY(r.ok());
    QCOMPARE(r.indices, o.indices);
    QCOMPARE(tileCentre(r.image, o, 3), qRgb(255, 0, 0)); // index 25 is Uninfected
    o.indices = {99};
    QVERIFY(!renderGrid(m_ds, o).ok());
}

void TestGridRenderer::unreadableImageGetsAnErrorTile()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("A/good.png"), 20, 20, {0, 255, 0}));
    QDir().mkpath(dir.filePath("A"));
    QFile bad(dir.filePath("A/bad.png"));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write(QByteArray(300, 'z'));
    bad.close();
    GridOptions o;
    o.size = 3;
    const GridResult r = renderGrid(scanFolder(dir.path()), o);
    QVERIFY(r.ok());
    QCOMPARE(int(r.indices.size()), 2);
    QCOMPARE(r.failed.size(), 1);
    QCOMPARE(r.failed[0].path, QStringLiteral("A/bad.png"));
}

void TestGridRenderer::emptyFolderIsAnError()
{
    QTemporaryDir dir;
    QDir().mkpath(dir.filePath("A"));
    const GridResult r = renderGrid(scanFolder(dir.path()), GridOptions{});
    QVERIFY(!r.ok());
    QVERIFY(!r.error.isEmpty());
}

void TestGridRenderer::realCellsGrid()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFileInfo::exists(root))
        QSKIP("shared data folder ../shared/data/nih-cells is missing: real-data check skipped");
    GridOptions o;
    o.size = 6;
    o.mode = GridMode::Hsv;
    const GridResult r = renderGrid(scanFolder(root), o);
    QVERIFY(r.ok());
    QCOMPARE(int(r.indices.size()), 36);
    QCOMPARE(r.failed.size(), 0);
}

// Fonts for the labels need a QGuiApplication (offscreen in CTest).
QTEST_MAIN(TestGridRenderer)
#include "tst_gridrenderer.moc"
