// The augmentation functions shared by the preview and the trainer (core/augment.h).

#include "augment.h"

#include <QTest>

#include <opencv2/core.hpp>

using namespace ml;

namespace {

// A 3x4 RGB float image whose every pixel is different.
cv::Mat ramp()
{
    cv::Mat m(3, 4, CV_32FC3);
    for (int y = 0; y < m.rows; ++y)
        for (int x = 0; x < m.cols; ++x)
            m.at<cv::Vec3f>(y, x) = cv::Vec3f(float(x) / 10, float(y) / 10, float(x + y) / 20);
    return m;
}

double maxDiff(const cv::Mat& a, const cv::Mat& b)
{
    return cv::norm(a, b, cv::NORM_INF);
}

} // namespace

class TestAugment : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void flipsTwiceGiveTheOriginal();
    void flipsMovePixels();
    void brightnessClamps_data();
    void brightnessClamps();
    void contrastAroundChannelMean();
    void contrastClamps();
    void hueShiftOfRed();
    void identityParamsCopy();
    void toFloatRgbSwapsChannels();
    void drawIsReproducibleAndInRange();
    void switchesTurnPartsOff();
    void crossLabLeavesSomeCellsClean();
};

void TestAugment::flipsTwiceGiveTheOriginal()
{
    const cv::Mat m = ramp();
    QCOMPARE(maxDiff(flipHorizontal(flipHorizontal(m)), m), 0.0);
    QCOMPARE(maxDiff(flipVertical(flipVertical(m)), m), 0.0);
    QVERIFY(maxDiff(flipHorizontal(m), m) > 0.0);
}

void TestAugment::flipsMovePixels()
{
    const cv::Mat m = ramp();
    QCOMPARE(flipHorizontal(m).at<cv::Vec3f>(0, 0), m.at<cv::Vec3f>(0, 3));
    QCOMPARE(flipVertical(m).at<cv::Vec3f>(0, 1), m.at<cv::Vec3f>(2, 1));
}

void TestAugment::brightnessClamps_data()
{
    QTest::addColumn<float>("value");
    QTest::addColumn<float>("delta");
    QTest::addColumn<float>("expected");
    QTest::newRow("0.5 + 0.2") << 0.5f << 0.2f << 0.7f;
    QTest::newRow("0.9 + 0.2 clamps to 1") << 0.9f << 0.2f << 1.0f;
    QTest::newRow("0.1 - 0.2 clamps to 0") << 0.1f << -0.2f << 0.0f;
    QTest::newRow("1 + 0") << 1.0f << 0.0f << 1.0f;
}

void TestAugment::brightnessClamps()
{
    QFETCH(float, value);
    QFETCH(float, delta);
    QFETCH(float, expected);
    const cv::Mat m(2, 2, CV_32FC3, cv::Scalar::all(value));
    const cv::Mat out = adjustBrightness(m, delta);
    QCOMPARE(out.type(), CV_32FC3);
    for (int c = 0; c < 3; ++c)
        QVERIFY(std::abs(out.at<cv::Vec3f>(1, 1)[c] - expected) < 1e-6f);
}

void TestAugment::contrastAroundChannelMean()
{
    // Half the pixels 0.2, half 0.8: channel mean 0.5; factor 0.5 -> 0.35 and 0.65.
    cv::Mat m(2, 2, CV_32FC3, cv::Scalar::all(0.2));
    m.at<cv::Vec3f>(0, 1) = cv::Vec3f(0.8f, 0.8f, 0.8f);
    m.at<cv::Vec3f>(1, 0) = cv::Vec3f(0.8f, 0.8f, 0.8f);
    const cv::Mat out = adjustContrast(m, 0.5f);
    QVERIFY(std::abs(out.at<cv::Vec3f>(0, 0)[0] - 0.35f) < 1e-6f);
    QVERIFY(std::abs(out.at<cv::Vec3f>(0, 1)[2] - 0.65f) < 1e-6f);
    QCOMPARE(maxDiff(adjustContrast(m, 1.0f), m), 0.0);
}

void TestAugment::contrastClamps()
{
    // Factor 2 around 0.5: 0.2 -> -0.1 -> 0, 0.8 -> 1.1 -> 1.
    cv::Mat m(1, 2, CV_32FC3, cv::Scalar::all(0.2));
    m.at<cv::Vec3f>(0, 1) = cv::Vec3f(0.8f, 0.8f, 0.8f);
    const cv::Mat out = adjustContrast(m, 2.0f);
    QCOMPARE(out.at<cv::Vec3f>(0, 0), cv::Vec3f(0.0f, 0.0f, 0.0f));
    QCOMPARE(out.at<cv::Vec3f>(0, 1), cv::Vec3f(1.0f, 1.0f, 1.0f));
}

void TestAugment::hueShiftOfRed()
{
    // Red rotated by +120 degrees is green, by -120 (wrapping below 0) blue.
    const cv::Mat red(2, 2, CV_32FC3, cv::Scalar(1, 0, 0));
    QVERIFY(maxDiff(jitterColour(red, 120.0f, 1.0f), cv::Mat(2, 2, CV_32FC3, cv::Scalar(0, 1, 0))) <
            1e-5);
    QVERIFY(maxDiff(jitterColour(red, -120.0f, 1.0f),
                    cv::Mat(2, 2, CV_32FC3, cv::Scalar(0, 0, 1))) < 1e-5);
    // Saturation 0 leaves grey of the same value.
    QVERIFY(maxDiff(jitterColour(red, 0.0f, 0.0f), cv::Mat(2, 2, CV_32FC3, cv::Scalar(1, 1, 1))) <
            1e-5);
}

void TestAugment::identityParamsCopy()
{
    const cv::Mat m = ramp();
    const cv::Mat out = applyAugment(m, AugmentParams{});
    QCOMPARE(maxDiff(out, m), 0.0);
    QVERIFY(out.data != m.data); // the caller may modify the result freely
}

void TestAugment::toFloatRgbSwapsChannels()
{
    const cv::Mat blueBgr(1, 1, CV_8UC3, cv::Scalar(255, 0, 0));
    const cv::Mat f = toFloatRgb(blueBgr);
    QCOMPARE(f.type(), CV_32FC3);
    QCOMPARE(f.at<cv::Vec3f>(0, 0), cv::Vec3f(0.0f, 0.0f, 1.0f));
    QCOMPARE(toBgr8(f).at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
    const cv::Mat over(1, 1, CV_32FC3, cv::Scalar(1.5, -0.5, 0.5));
    QCOMPARE(toBgr8(over).at<cv::Vec3b>(0, 0), cv::Vec3b(128, 0, 255));
}

void TestAugment::drawIsReproducibleAndInRange()
{
    const AugmentConfig cfg = AugmentConfig::study();
    std::mt19937 a(42), b(42);
    int hflips = 0, vflips = 0;
    float minB = 1, maxB = -1, minC = 2, maxC = 0;
    for (int i = 0; i < 2000; ++i) {
        const AugmentParams pa = drawAugment(cfg, a);
        const AugmentParams pb = drawAugment(cfg, b);
        QCOMPARE(pa.brightness, pb.brightness);
        QCOMPARE(pa.contrast, pb.contrast);
        QCOMPARE(pa.flipHorizontal, pb.flipHorizontal);
        hflips += pa.flipHorizontal;
        vflips += pa.flipVertical;
        minB = std::min(minB, pa.brightness);
        maxB = std::max(maxB, pa.brightness);
        minC = std::min(minC, pa.contrast);
        maxC = std::max(maxC, pa.contrast);
        QCOMPARE(pa.hueShift, 0.0f);
        QCOMPARE(pa.saturation, 1.0f);
    }
    QVERIFY(minB >= -0.2f && maxB <= 0.2f);
    QVERIFY(minB < -0.18f && maxB > 0.18f); // the whole range is used
    QVERIFY(minC >= 0.7f && maxC <= 1.3f);
    QVERIFY(minC < 0.72f && maxC > 1.28f);
    QVERIFY(hflips > 800 && hflips < 1200); // about half
    QVERIFY(vflips > 800 && vflips < 1200);
}

void TestAugment::switchesTurnPartsOff()
{
    AugmentConfig cfg;
    cfg.horizontalFlip = false;
    cfg.verticalFlip = false;
    cfg.brightnessDelta = 0.0f;
    cfg.contrastLow = cfg.contrastHigh = 1.0f;
    std::mt19937 rng(7);
    for (int i = 0; i < 100; ++i) {
        const AugmentParams p = drawAugment(cfg, rng);
        QVERIFY(!p.flipHorizontal && !p.flipVertical);
        QCOMPARE(p.brightness, 0.0f);
        QCOMPARE(p.contrast, 1.0f);
    }
}

// The cross-lab preset degrades about half of the cells and leaves the others as the training
// labs show them; with probability 1 every cell gets some JPEG loss.
void TestAugment::crossLabLeavesSomeCellsClean()
{
    AugmentConfig c = AugmentConfig::crossLab();
    QCOMPARE(c.crossLabProbability, 0.5f);
    std::mt19937 rng(11);
    int clean = 0;
    const int draws = 2000;
    for (int i = 0; i < draws; ++i) {
        const AugmentParams p = drawAugment(c, rng);
        const bool none = p.jpegQuality == 0 && p.noiseStd == 0.0f && p.blurSigma == 0.0f &&
                          p.gamma == 1.0f && p.exposure == 1.0f && p.scale == 1.0f &&
                          !p.repaintSurround;
        const bool all = p.jpegQuality >= 50 && p.gamma != 1.0f && p.exposure != 1.0f;
        QVERIFY2(none || all, "a cell gets all cross-lab parts or none");
        clean += none ? 1 : 0;
    }
    QVERIFY2(clean > 900 && clean < 1100, qPrintable(QString::number(clean)));
    c.crossLabProbability = 1.0f;
    for (int i = 0; i < 200; ++i)
        QVERIFY(drawAugment(c, rng).jpegQuality >= 50);
}

QTEST_GUILESS_MAIN(TestAugment)
#include "tst_augment.moc"
