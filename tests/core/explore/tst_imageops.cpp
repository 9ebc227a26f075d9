// Image operations of the exploratory views against values worked out by hand.

#include "imageops.h"

#include <QTest>

#include <opencv2/core.hpp>

using namespace ml;

class TestImageOps : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hueOfPureColours_data();
    void hueOfPureColours();
    void hueColourMapIsCyclic();
    void hueImageBlacksOutUndefinedHue();
    void oddKernelSize_data();
    void oddKernelSize();
    void blurOfSinglePixelIsNormalisedKernel();
    void blurWithAutoSigmaIsBinomial();
    void blurOfConstantImageIsConstant();
    void divergingColours();
    void channelMeanDifferenceOfConstants();
    void symmetricScaleIsLargestMagnitude();
    void wrongInputGivesEmpty();
};

void TestImageOps::hueOfPureColours_data()
{
    QTest::addColumn<int>("b");
    QTest::addColumn<int>("g");
    QTest::addColumn<int>("r");
    QTest::addColumn<int>("hue");
    QTest::addColumn<int>("sat");
    QTest::addColumn<int>("val");
    // OpenCV 8-bit hue is degrees / 2: red 0, yellow 60/2, green 120/2, cyan 180/2,
    // blue 240/2, magenta 300/2. S = (max-min)/max*255, V = max.
    QTest::newRow("red") << 0 << 0 << 255 << 0 << 255 << 255;
    QTest::newRow("yellow") << 0 << 255 << 255 << 30 << 255 << 255;
    QTest::newRow("green") << 0 << 255 << 0 << 60 << 255 << 255;
    QTest::newRow("cyan") << 255 << 255 << 0 << 90 << 255 << 255;
    QTest::newRow("blue") << 255 << 0 << 0 << 120 << 255 << 255;
    QTest::newRow("magenta") << 255 << 0 << 255 << 150 << 255 << 255;
    QTest::newRow("grey") << 128 << 128 << 128 << 0 << 0 << 128;
    QTest::newRow("black") << 0 << 0 << 0 << 0 << 0 << 0;
    QTest::newRow("dark red half saturated") << 64 << 64 << 128 << 0 << 128 << 128;
}

void TestImageOps::hueOfPureColours()
{
    QFETCH(int, b);
    QFETCH(int, g);
    QFETCH(int, r);
    QFETCH(int, hue);
    QFETCH(int, sat);
    QFETCH(int, val);
    const cv::Mat img(4, 5, CV_8UC3, cv::Scalar(b, g, r));
    const HsvPlanes p = toHsvPlanes(img);
    QCOMPARE(p.hue.type(), CV_8UC1);
    QCOMPARE(p.hue.size(), img.size());
    QCOMPARE(int(p.hue.at<uchar>(2, 3)), hue);
    QCOMPARE(int(p.saturation.at<uchar>(2, 3)), sat);
    QCOMPARE(int(p.value.at<uchar>(2, 3)), val);
}

void TestImageOps::hueColourMapIsCyclic()
{
    cv::Mat hue(1, 4, CV_8UC1);
    hue.at<uchar>(0, 0) = 0;
    hue.at<uchar>(0, 1) = 60;
    hue.at<uchar>(0, 2) = 120;
    hue.at<uchar>(0, 3) = 179;
    const cv::Mat c = hueColourMap(hue);
    QCOMPARE(c.type(), CV_8UC3);
    QCOMPARE(c.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255)); // red
    QCOMPARE(c.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 255, 0)); // green
    QCOMPARE(c.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 0, 0)); // blue
    // 179 (358 degrees) is red again with a touch of blue: the map has no seam.
    const cv::Vec3b last = c.at<cv::Vec3b>(0, 3);
    QCOMPARE(int(last[2]), 255);
    QCOMPARE(int(last[1]), 0);
    QVERIFY2(last[0] <= 10, qPrintable(QString::number(last[0])));
}

void TestImageOps::hueImageBlacksOutUndefinedHue()
{
    cv::Mat img(2, 2, CV_8UC3, cv::Scalar(0, 0, 255)); // red
    img.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 0, 0);      // black background
    img.at<cv::Vec3b>(0, 1) = cv::Vec3b(90, 90, 90);   // grey
    const cv::Mat h = hueImage(img);
    QCOMPARE(h.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
    QCOMPARE(h.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
    QCOMPARE(h.at<cv::Vec3b>(1, 1), cv::Vec3b(0, 0, 255));
}

void TestImageOps::oddKernelSize_data()
{
    QTest::addColumn<int>("in");
    QTest::addColumn<int>("out");
    QTest::newRow("5 stays") << 5 << 5;
    QTest::newRow("4 rounds up") << 4 << 5;
    QTest::newRow("1 stays") << 1 << 1;
    QTest::newRow("0 -> 1") << 0 << 1;
    QTest::newRow("negative -> 1") << -7 << 1;
}

void TestImageOps::oddKernelSize()
{
    QFETCH(int, in);
    QFETCH(int, out);
    QCOMPARE(ml::oddKernelSize(in), out);
}

void TestImageOps::blurOfSinglePixelIsNormalisedKernel()
{
    // sigma 1, 5 taps: exp(-x^2/2) for x = -2..2 = 0.135335, 0.606531, 1, 0.606531, 0.135335,
    // sum 2.483732, normalised 0.054489, 0.244201, 0.402620, 0.244201, 0.054489. A blur of
    // a single 1 is the outer product of that kernel with itself.
    const double k[5] = {0.054489, 0.244201, 0.402620, 0.244201, 0.054489};
    cv::Mat img = cv::Mat::zeros(11, 11, CV_32FC1);
    img.at<float>(5, 5) = 1.0f;
    const cv::Mat out = gaussianBlur(img, 5, 1.0);
    QCOMPARE(out.type(), CV_32FC1);
    for (int y = 0; y < 11; ++y) {
        for (int x = 0; x < 11; ++x) {
            const int dy = y - 5, dx = x - 5;
            const double expected =
                (std::abs(dy) <= 2 && std::abs(dx) <= 2) ? k[dy + 2] * k[dx + 2] : 0.0;
            QVERIFY2(std::abs(out.at<float>(y, x) - expected) < 1e-5,
                     qPrintable(QStringLiteral("(%1,%2): %3 vs %4")
                                    .arg(x)
                                    .arg(y)
                                    .arg(out.at<float>(y, x))
                                    .arg(expected)));
        }
    }
    QVERIFY(std::abs(cv::sum(out)[0] - 1.0) < 1e-5);
}

void TestImageOps::blurWithAutoSigmaIsBinomial()
{
    // Sigma 0 with a 5x5 kernel (the study's cv2.GaussianBlur(img, (5, 5), 0)): OpenCV uses
    // the binomial kernel 1 4 6 4 1 / 16, so the centre is 36/256 and a corner 1/256.
    cv::Mat img = cv::Mat::zeros(9, 9, CV_32FC1);
    img.at<float>(4, 4) = 1.0f;
    const cv::Mat out = gaussianBlur(img, 5, 0.0);
    QVERIFY(std::abs(out.at<float>(4, 4) - 36.0f / 256.0f) < 1e-6);
    QVERIFY(std::abs(out.at<float>(2, 2) - 1.0f / 256.0f) < 1e-6);
    QVERIFY(std::abs(out.at<float>(4, 2) - 6.0f / 256.0f) < 1e-6);
    QCOMPARE(out.at<float>(1, 4), 0.0f);
}

void TestImageOps::blurOfConstantImageIsConstant()
{
    const cv::Mat img(20, 30, CV_8UC3, cv::Scalar(10, 100, 200));
    const cv::Mat out = gaussianBlur(img, 7, 2.5);
    QCOMPARE(out.type(), CV_8UC3);
    QCOMPARE(cv::norm(out, img, cv::NORM_INF), 0.0);
}

void TestImageOps::divergingColours()
{
    QCOMPARE(divergingColour(0.0f, 0.5f), cv::Vec3b(255, 255, 255));
    QCOMPARE(divergingColour(0.5f, 0.5f), cv::Vec3b(43, 24, 178));   // red end (BGR)
    QCOMPARE(divergingColour(-0.5f, 0.5f), cv::Vec3b(172, 102, 33)); // blue end (BGR)
    QCOMPARE(divergingColour(3.0f, 0.5f), cv::Vec3b(43, 24, 178));   // clamped
    // Half way to red: 255 + (178-255)/2 = 216.5 -> 217 (R), (24+255)/2 = 139.5 -> 140.
    QCOMPARE(divergingColour(0.25f, 0.5f), cv::Vec3b(149, 140, 217));
    cv::Mat values(1, 3, CV_32FC1);
    values.at<float>(0, 0) = -1.0f;
    values.at<float>(0, 1) = 0.0f;
    values.at<float>(0, 2) = 1.0f;
    const cv::Mat map = divergingColourMap(values, 1.0f);
    QCOMPARE(map.type(), CV_8UC3);
    QCOMPARE(map.at<cv::Vec3b>(0, 0), cv::Vec3b(172, 102, 33));
    QCOMPARE(map.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
    QCOMPARE(map.at<cv::Vec3b>(0, 2), cv::Vec3b(43, 24, 178));
    // A zero scale (identical means) still maps zero to white.
    QCOMPARE(divergingColour(0.0f, 0.0f), cv::Vec3b(255, 255, 255));
}

void TestImageOps::channelMeanDifferenceOfConstants()
{
    const cv::Mat a(3, 3, CV_32FC3, cv::Scalar(0.6, 0.4, 0.2));
    const cv::Mat b(3, 3, CV_32FC3, cv::Scalar(0.3, 0.3, 0.3));
    const cv::Mat d = channelMeanDifference(a, b);
    QCOMPARE(d.type(), CV_32FC1);
    // ((0.6-0.3) + (0.4-0.3) + (0.2-0.3)) / 3 = 0.1
    QVERIFY(std::abs(d.at<float>(1, 1) - 0.1f) < 1e-6);
    QVERIFY(channelMeanDifference(a, cv::Mat(2, 2, CV_32FC3)).empty());
}

void TestImageOps::symmetricScaleIsLargestMagnitude()
{
    cv::Mat v = cv::Mat::zeros(2, 2, CV_32FC1);
    v.at<float>(0, 0) = 0.1f;
    v.at<float>(1, 1) = -0.3f;
    QCOMPARE(symmetricScale(v), 0.3f);
    QCOMPARE(symmetricScale(cv::Mat()), 0.0f);
}

void TestImageOps::wrongInputGivesEmpty()
{
    QVERIFY(toHsvPlanes(cv::Mat()).hue.empty());
    QVERIFY(toHsvPlanes(cv::Mat(3, 3, CV_8UC1)).hue.empty());
    QVERIFY(hueColourMap(cv::Mat(3, 3, CV_8UC3)).empty());
    QVERIFY(gaussianBlur(cv::Mat(), 5).empty());
    QVERIFY(divergingColourMap(cv::Mat(2, 2, CV_8UC1), 1.0f).empty());
}

QTEST_GUILESS_MAIN(TestImageOps)
#include "tst_imageops.moc"
