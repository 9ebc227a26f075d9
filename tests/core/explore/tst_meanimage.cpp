// Per-class mean / std images and HSV histograms over a folder (core/meanimage.h,
// core/hsvhistogram.h), on folders the test writes itself.

#include "folderscanner.h"
#include "hsvhistogram.h"
#include "meanimage.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <atomic>

using namespace ml;

namespace {

bool writeConstant(const QString& path, int w, int h, cv::Scalar bgr)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    return cv::imwrite(path.toStdString(), cv::Mat(h, w, CV_8UC3, bgr));
}

bool writeGarbage(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    f.write(QByteArray(500, 'x'));
    return true;
}

// A PNG cut in half: the header reads, the pixels do not.
bool writeTruncatedPng(const QString& path)
{
    std::vector<uchar> buf;
    cv::Mat noise(40, 40, CV_8UC3);
    cv::randu(noise, 0, 255);
    cv::imencode(".png", noise, buf);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    f.write(reinterpret_cast<const char*>(buf.data()), qint64(buf.size() / 2));
    return true;
}

cv::Vec3f at(const cv::Mat& m, int y, int x)
{
    return m.at<cv::Vec3f>(y, x);
}

bool near(const cv::Vec3f& a, const cv::Vec3f& b, float tol = 1e-5f)
{
    return std::abs(a[0] - b[0]) < tol && std::abs(a[1] - b[1]) < tol &&
           std::abs(a[2] - b[2]) < tol;
}

} // namespace

class TestMeanImage : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void meanAndStdOfConstantImages();
    void sizeIsAdjustable();
    void differenceParasitizedMinusUninfected();
    void oneClassFolder();
    void emptyClass();
    void unreadableImagesSkippedAndCounted();
    void cancelHalfWayIsIncomplete();
    void cacheHitUntilFolderChanges();
    void threadCountDoesNotChangeTheResult();
    void unlabeledFolderIsOneClass();
    void missingFolderIsAnError();
    void hsvHistogramOfPureColours();
    void hsvHistogramsPerClass();
    void hsvHistogramCancelIsIncomplete();
    void realCellsHaveBlackCorners();

private:
    QTemporaryDir m_cache;
    MeanImageOptions options() const
    {
        MeanImageOptions o;
        o.size = 8;
        o.threads = 2;
        o.cacheDir = m_cache.path() + QStringLiteral("/c");
        return o;
    }
};

void TestMeanImage::init()
{
    QVERIFY(m_cache.isValid());
    QDir(m_cache.path() + QStringLiteral("/c")).removeRecursively();
}

void TestMeanImage::meanAndStdOfConstantImages()
{
    QTemporaryDir dir;
    // Two constant Parasitized images of different sizes: mean (20,30,40), std 10 per
    // channel; one Uninfected image: mean = itself, std 0.
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 30, 20, {10, 20, 30}));
    QVERIFY(writeConstant(dir.filePath("Parasitized/b.png"), 50, 70, {30, 40, 50}));
    QVERIFY(writeConstant(dir.filePath("Uninfected/c.png"), 13, 17, {200, 100, 0}));
    const Dataset ds = scanFolder(dir.path());
    const MeanImageResult r = computeMeanImages(ds, options());
    QVERIFY(r.complete);
    QVERIFY(!r.cancelled);
    QCOMPARE(r.decoded, 3);
    QCOMPARE(int(r.classes.size()), 2);
    const ClassMeanImage& p = r.classes[0];
    QCOMPARE(p.className, QStringLiteral("Parasitized"));
    QCOMPARE(p.count, 2);
    QCOMPARE(p.mean.type(), CV_32FC3);
    QCOMPARE(p.mean.size(), cv::Size(8, 8));
    // Channels are B,G,R like decodeImage().
    QVERIFY(near(at(p.mean, 3, 4), cv::Vec3f(20, 30, 40) / 255.0f));
    QVERIFY(near(at(p.stddev, 7, 0), cv::Vec3f(10, 10, 10) / 255.0f));
    const ClassMeanImage& u = r.classes[1];
    QCOMPARE(u.count, 1);
    QVERIFY(near(at(u.mean, 0, 0), cv::Vec3f(200, 100, 0) / 255.0f));
    QVERIFY(near(at(u.stddev, 5, 5), cv::Vec3f(0, 0, 0)));
}

void TestMeanImage::sizeIsAdjustable()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("A/a.png"), 30, 20, {1, 2, 3}));
    const Dataset ds = scanFolder(dir.path());
    MeanImageOptions o = options();
    o.size = 64;
    QCOMPARE(computeMeanImages(ds, o).classes[0].mean.size(), cv::Size(64, 64));
    o.size = 17;
    QCOMPARE(computeMeanImages(ds, o).classes[0].mean.size(), cv::Size(17, 17));
}

void TestMeanImage::differenceParasitizedMinusUninfected()
{
    QTemporaryDir dir;
    // Class order is alphabetical (Parasitized 0, Uninfected 1); an extra class "Artifact"
    // sorts first, so the pair must be found by name, not position.
    QVERIFY(writeConstant(dir.filePath("Artifact/x.png"), 10, 10, {0, 0, 0}));
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 10, 10, {51, 102, 153}));
    QVERIFY(writeConstant(dir.filePath("Uninfected/b.png"), 10, 10, {0, 51, 102}));
    const MeanImageResult r = computeMeanImages(scanFolder(dir.path()), options());
    const auto [a, b] = differencePair(r);
    QCOMPARE(r.classes[size_t(a)].className, QStringLiteral("Parasitized"));
    QCOMPARE(r.classes[size_t(b)].className, QStringLiteral("Uninfected"));
    const cv::Mat d = meanDifference(r, a, b);
    QCOMPARE(d.type(), CV_32FC1);
    // ((51-0) + (102-51) + (153-102)) / 3 / 255 = 51/255 = 0.2
    QVERIFY(std::abs(d.at<float>(2, 2) - 0.2f) < 1e-5f);
}

void TestMeanImage::oneClassFolder()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 10, 10, {9, 9, 9}));
    const MeanImageResult r = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(r.complete);
    QCOMPARE(int(r.classes.size()), 1);
    QCOMPARE(r.classes[0].count, 1);
    QCOMPARE(differencePair(r), std::make_pair(-1, -1));
    QVERIFY(meanDifference(r, 0, 1).empty());
}

void TestMeanImage::emptyClass()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 10, 10, {9, 9, 9}));
    QVERIFY(QDir().mkpath(dir.filePath("Uninfected")));
    const MeanImageResult r = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(r.complete);
    QCOMPARE(int(r.classes.size()), 2);
    QCOMPARE(r.classes[1].className, QStringLiteral("Uninfected"));
    QCOMPARE(r.classes[1].count, 0);
    QVERIFY(r.classes[1].mean.empty());
    QVERIFY(r.classes[1].stddev.empty());
    QCOMPARE(differencePair(r), std::make_pair(-1, -1));
}

void TestMeanImage::unreadableImagesSkippedAndCounted()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/good.png"), 10, 10, {60, 60, 60}));
    QVERIFY(writeGarbage(dir.filePath("Parasitized/garbage.png")));
    QVERIFY(writeTruncatedPng(dir.filePath("Parasitized/truncated.png")));
    QVERIFY(writeConstant(dir.filePath("Uninfected/good.png"), 10, 10, {30, 30, 30}));
    const MeanImageResult r = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(r.complete);
    QCOMPARE(r.decoded, 2);
    QCOMPARE(r.failed.size(), 2);
    QCOMPARE(r.failed[0].path, QStringLiteral("Parasitized/garbage.png"));
    QCOMPARE(r.failed[1].path, QStringLiteral("Parasitized/truncated.png"));
    QVERIFY(!r.failed[0].reason.isEmpty());
    // The bad files do not pull the mean anywhere.
    QCOMPARE(r.classes[0].count, 1);
    QVERIFY(near(at(r.classes[0].mean, 1, 1), cv::Vec3f(60, 60, 60) / 255.0f));
}

void TestMeanImage::cancelHalfWayIsIncomplete()
{
    QTemporaryDir dir;
    for (int i = 0; i < 300; ++i)
        QVERIFY(writeConstant(
            dir.filePath(
                QStringLiteral("%1/%2.png").arg(i % 2 ? "Parasitized" : "Uninfected").arg(i)),
            24, 24, {double(i % 256), 0, 0}));
    const Dataset ds = scanFolder(dir.path());
    std::atomic<bool> cancel{false};
    std::atomic<int> maxSeen{0};
    MeanImageOptions o = options();
    o.cancel = &cancel;
    o.progress = [&](int done, int) {
        maxSeen = std::max(maxSeen.load(), done);
        if (done >= 150)
            cancel = true;
    };
    const MeanImageResult r = computeMeanImages(ds, o);
    QVERIFY(r.cancelled);
    QVERIFY(!r.complete);
    QVERIFY2(r.decoded >= 150 && r.decoded < 300, qPrintable(QString::number(r.decoded)));
    for (const ClassMeanImage& c : r.classes) {
        QVERIFY(c.mean.empty()); // nothing that could be shown as the folder's mean
        QCOMPARE(c.count, 0);
    }
    // A cancelled run is not cached: the next run computes everything.
    const MeanImageResult again = computeMeanImages(ds, options());
    QVERIFY(!again.fromCache);
    QVERIFY(again.complete);
    QCOMPARE(again.decoded, 300);
}

void TestMeanImage::cacheHitUntilFolderChanges()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 10, 10, {10, 10, 10}));
    QVERIFY(writeConstant(dir.filePath("Uninfected/b.png"), 10, 10, {20, 20, 20}));
    QVERIFY(writeGarbage(dir.filePath("Uninfected/bad.png")));
    const MeanImageResult first = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(first.complete);
    QVERIFY(!first.fromCache);
    const MeanImageResult second = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(second.complete);
    QVERIFY(second.fromCache);
    QCOMPARE(cv::norm(second.classes[0].mean, first.classes[0].mean, cv::NORM_INF), 0.0);
    QCOMPARE(second.classes[1].count, 1);
    QCOMPARE(second.failed.size(), 1); // the skipped file is still reported
    // Another size is another cache entry.
    MeanImageOptions o = options();
    o.size = 9;
    QVERIFY(!computeMeanImages(scanFolder(dir.path()), o).fromCache);

    // Rewrite one image (other content, other size on disk): the cache is stale.
    QTest::qWait(20); // mtimes need to move on coarse file systems
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 11, 10, {110, 110, 110}));
    const MeanImageResult third = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(!third.fromCache);
    QVERIFY(near(at(third.classes[0].mean, 0, 0), cv::Vec3f(110, 110, 110) / 255.0f));
    // An added file is a change too.
    QVERIFY(writeConstant(dir.filePath("Parasitized/new.png"), 10, 10, {10, 10, 10}));
    const MeanImageResult fourth = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(!fourth.fromCache);
    QCOMPARE(fourth.classes[0].count, 2);
    // useCache off never reads it.
    o = options();
    o.useCache = false;
    QVERIFY(!computeMeanImages(scanFolder(dir.path()), o).fromCache);
}

void TestMeanImage::threadCountDoesNotChangeTheResult()
{
    QTemporaryDir dir;
    cv::RNG rng(3);
    for (int i = 0; i < 40; ++i) {
        cv::Mat m(20 + i, 25, CV_8UC3);
        rng.fill(m, cv::RNG::UNIFORM, 0, 256);
        const QString path =
            dir.filePath(QStringLiteral("%1/%2.png").arg(i % 2 ? "P" : "U").arg(i));
        QDir().mkpath(QFileInfo(path).absolutePath());
        QVERIFY(cv::imwrite(path.toStdString(), m));
    }
    const Dataset ds = scanFolder(dir.path());
    MeanImageOptions one = options();
    one.threads = 1;
    one.useCache = false;
    MeanImageOptions four = one;
    four.threads = 4;
    const MeanImageResult a = computeMeanImages(ds, one);
    const MeanImageResult b = computeMeanImages(ds, four);
    for (int c = 0; c < 2; ++c) {
        QVERIFY(cv::norm(a.classes[size_t(c)].mean, b.classes[size_t(c)].mean, cv::NORM_INF) <
                1e-6);
        QVERIFY(cv::norm(a.classes[size_t(c)].stddev, b.classes[size_t(c)].stddev, cv::NORM_INF) <
                1e-5);
    }
}

void TestMeanImage::unlabeledFolderIsOneClass()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("a.png"), 10, 10, {1, 2, 3}));
    QVERIFY(writeConstant(dir.filePath("b.png"), 10, 10, {3, 4, 5}));
    const MeanImageResult r = computeMeanImages(scanFolder(dir.path()), options());
    QVERIFY(r.complete);
    QCOMPARE(int(r.classes.size()), 1);
    QCOMPARE(r.classes[0].className, QStringLiteral("unlabeled"));
    QVERIFY(near(at(r.classes[0].mean, 0, 0), cv::Vec3f(2, 3, 4) / 255.0f));
}

void TestMeanImage::missingFolderIsAnError()
{
    const MeanImageResult r =
        computeMeanImages(scanFolder(QStringLiteral("/nonexistent/folder")), options());
    QVERIFY(!r.complete);
    QVERIFY(!r.error.isEmpty());
}

void TestMeanImage::hsvHistogramOfPureColours()
{
    // 3 red pixels (H 0, S 255, V 255), 1 green (H 60), 2 grey 128 (H 0, S 0, V 128),
    // 4 black (left out with minValue 1).
    cv::Mat img(1, 10, CV_8UC3, cv::Scalar(0, 0, 0));
    for (int x = 0; x < 3; ++x)
        img.at<cv::Vec3b>(0, x) = cv::Vec3b(0, 0, 255);
    img.at<cv::Vec3b>(0, 3) = cv::Vec3b(0, 255, 0);
    img.at<cv::Vec3b>(0, 4) = img.at<cv::Vec3b>(0, 5) = cv::Vec3b(128, 128, 128);
    ClassHsvHistogram h;
    accumulateHsv(img, 1, h);
    QCOMPARE(h.pixels, 6.0);
    QCOMPARE(h.images, 1);
    QCOMPARE(h.hue[0], 5.0);
    QCOMPARE(h.hue[60], 1.0);
    QCOMPARE(h.saturation[255], 4.0);
    QCOMPARE(h.saturation[0], 2.0);
    QCOMPARE(h.value[255], 4.0);
    QCOMPARE(h.value[128], 2.0);
    QCOMPARE(h.value[0], 0.0);
    const std::vector<double> f = h.fractions(HsvChannel::Hue);
    QVERIFY(std::abs(f[0] - 5.0 / 6.0) < 1e-12);
    ClassHsvHistogram all;
    accumulateHsv(img, 0, all);
    QCOMPARE(all.pixels, 10.0);
    QCOMPARE(all.value[0], 4.0);
}

void TestMeanImage::hsvHistogramsPerClass()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 4, 5, {255, 0, 0}));  // blue: H 120
    QVERIFY(writeConstant(dir.filePath("Parasitized/b.png"), 2, 5, {0, 0, 255}));  // red: H 0
    QVERIFY(writeConstant(dir.filePath("Uninfected/c.png"), 3, 3, {0, 255, 255})); // yellow: H 30
    QVERIFY(writeGarbage(dir.filePath("Uninfected/bad.png")));
    HsvHistogramOptions o;
    o.cacheDir = m_cache.path() + QStringLiteral("/c");
    const HsvHistogramResult r = computeHsvHistograms(scanFolder(dir.path()), o);
    QVERIFY(r.complete);
    QCOMPARE(r.failed.size(), 1);
    QCOMPARE(r.decoded, 3);
    QCOMPARE(r.classes[0].hue[120], 20.0);
    QCOMPARE(r.classes[0].hue[0], 10.0);
    QCOMPARE(r.classes[0].pixels, 30.0);
    QCOMPARE(r.classes[1].hue[30], 9.0);
    QCOMPARE(r.classes[1].images, 1);
    const HsvHistogramResult cached = computeHsvHistograms(scanFolder(dir.path()), o);
    QVERIFY(cached.fromCache);
    QCOMPARE(cached.classes[0].hue, r.classes[0].hue);
    QCOMPARE(cached.failed.size(), 1);
}

void TestMeanImage::hsvHistogramCancelIsIncomplete()
{
    QTemporaryDir dir;
    for (int i = 0; i < 200; ++i)
        QVERIFY(
            writeConstant(dir.filePath(QStringLiteral("P/%1.png").arg(i)), 16, 16, {0, 0, 200}));
    std::atomic<bool> cancel{false};
    HsvHistogramOptions o;
    o.useCache = false;
    o.threads = 2;
    o.cancel = &cancel;
    o.progress = [&](int done, int) {
        if (done >= 100)
            cancel = true;
    };
    const HsvHistogramResult r = computeHsvHistograms(scanFolder(dir.path()), o);
    QVERIFY(r.cancelled);
    QVERIFY(!r.complete);
    QCOMPARE(r.classes[0].pixels, 0.0);
}

void TestMeanImage::realCellsHaveBlackCorners()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFileInfo::exists(root))
        QSKIP("shared data folder ../shared/data/nih-cells is missing: real-data check skipped");
    Dataset ds = scanFolder(root);
    QCOMPARE(ds.classNames,
             QStringList({QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}));
    // 100 cells of each class keep the test quick.
    QList<ImageEntry> subset;
    int per[2] = {0, 0};
    for (const ImageEntry& e : ds.images) {
        if (per[e.label] < 100) {
            subset.append(e);
            ++per[e.label];
        }
    }
    ds.images = subset;
    MeanImageOptions o = options();
    o.size = 64;
    o.useCache = false;
    const MeanImageResult r = computeMeanImages(ds, o);
    QVERIFY(r.complete);
    QCOMPARE(r.decoded, 200);
    for (const ClassMeanImage& c : r.classes) {
        // Cells are centred on black padding: corners dark, centre bright (pinkish).
        const cv::Vec3f corner = at(c.mean, 0, 0), centre = at(c.mean, 32, 32);
        QVERIFY2(corner[0] + corner[1] + corner[2] < 0.6f, qPrintable(c.className));
        QVERIFY2(centre[2] > 0.5f && centre[2] > centre[1], qPrintable(c.className));
    }
}

QTEST_GUILESS_MAIN(TestMeanImage)
#include "tst_meanimage.moc"
