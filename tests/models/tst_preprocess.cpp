// The one preprocessing path (decode -> RGB -> 64x64 INTER_AREA -> float [0,1] -> NCHW/NHWC)
// over every input format the browser accepts. Files are written by the test.
#include "preprocess.h"

#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

using namespace ml;

class TestPreprocess : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void formats_data();
    void formats();
    void resizeUsesInterArea();
    void badInput();
    void packLayouts();
    void colourNormalization();

private:
    QTemporaryDir m_dir;
};

namespace {

// A w x h image whose left half is `left` and right half `right` (BGR, 8-bit).
cv::Mat twoTone(int w, int h, cv::Scalar left, cv::Scalar right)
{
    cv::Mat m(h, w, CV_8UC3, right);
    m(cv::Rect(0, 0, w / 2, h)).setTo(left);
    return m;
}

} // namespace

void TestPreprocess::initTestCase()
{
    QVERIFY(m_dir.isValid());
}

void TestPreprocess::formats_data()
{
    // Each row: a file written with cv::imwrite and the RGB value expected in the middle of
    // its left half after preprocessing, with the tolerance of the format.
    QTest::addColumn<QString>("file");
    QTest::addColumn<double>("r");
    QTest::addColumn<double>("g");
    QTest::addColumn<double>("b");
    QTest::addColumn<double>("tolerance");

    const cv::Mat colour =
        twoTone(128, 96, cv::Scalar(30, 80, 200), cv::Scalar(250, 250, 250)); // BGR
    const auto write = [this](const QString& name, const cv::Mat& m) {
        const QString path = m_dir.filePath(name);
        if (!cv::imwrite(path.toStdString(), m))
            qFatal("cannot write %s", qPrintable(path));
        return path;
    };
    // Lossless colour formats: exact (8-bit resize of a flat area keeps the value).
    for (const char* ext : {"png", "tif", "bmp"}) {
        QTest::newRow(ext) << write(QStringLiteral("colour.%1").arg(QLatin1String(ext)), colour)
                           << 200 / 255.0 << 80 / 255.0 << 30 / 255.0 << 1e-6;
    }
    QTest::newRow("jpg") << write(QStringLiteral("colour.jpg"), colour) << 200 / 255.0 << 80 / 255.0
                         << 30 / 255.0 << 0.05;
    cv::Mat gray(90, 120, CV_8UC1, cv::Scalar(250));
    gray(cv::Rect(0, 0, 60, 90)).setTo(100);
    QTest::newRow("gray-png") << write(QStringLiteral("gray.png"), gray) << 100 / 255.0
                              << 100 / 255.0 << 100 / 255.0 << 1e-6;
    QTest::newRow("gray-jpg") << write(QStringLiteral("gray.jpg"), gray) << 100 / 255.0
                              << 100 / 255.0 << 100 / 255.0 << 0.05;
    cv::Mat rgba;
    cv::cvtColor(colour, rgba, cv::COLOR_BGR2BGRA);
    rgba.forEach<cv::Vec4b>([](cv::Vec4b& px, const int*) { px[3] = 128; }); // half transparent
    QTest::newRow("rgba-png") << write(QStringLiteral("rgba.png"), rgba) << 200 / 255.0
                              << 80 / 255.0 << 30 / 255.0 << 1e-6;
    cv::Mat sixteen;
    colour.convertTo(sixteen, CV_16UC3, 257.0); // 8-bit value v -> 16-bit 257 v
    QTest::newRow("16bit-png") << write(QStringLiteral("sixteen.png"), sixteen) << 200 / 255.0
                               << 80 / 255.0 << 30 / 255.0 << 1e-6;
    QTest::newRow("16bit-tif") << write(QStringLiteral("sixteen.tif"), sixteen) << 200 / 255.0
                               << 80 / 255.0 << 30 / 255.0 << 1e-6;
    cv::Mat gray16;
    gray.convertTo(gray16, CV_16UC1, 257.0);
    QTest::newRow("16bit-gray-png") << write(QStringLiteral("gray16.png"), gray16) << 100 / 255.0
                                    << 100 / 255.0 << 100 / 255.0 << 1e-6;
    // Already 64x64 and tiny images go through the same path.
    QTest::newRow("64x64") << write(QStringLiteral("exact.png"),
                                    twoTone(64, 64, cv::Scalar(30, 80, 200), cv::Scalar(0, 0, 0)))
                           << 200 / 255.0 << 80 / 255.0 << 30 / 255.0 << 1e-6;
    QTest::newRow("upscale-20x20")
        << write(QStringLiteral("small.png"), cv::Mat(20, 20, CV_8UC3, cv::Scalar(30, 80, 200)))
        << 200 / 255.0 << 80 / 255.0 << 30 / 255.0 << 1e-6;
}

void TestPreprocess::formats()
{
    QFETCH(QString, file);
    QFETCH(double, r);
    QFETCH(double, g);
    QFETCH(double, b);
    QFETCH(double, tolerance);
    const PreprocessedImage p = loadPreprocessed(file);
    QVERIFY2(p.ok(), qPrintable(p.error));
    QCOMPARE(p.rgb.type(), CV_32FC3);
    QCOMPARE(p.rgb.cols, 64);
    QCOMPARE(p.rgb.rows, 64);
    QVERIFY(p.rgb.isContinuous());
    double lo, hi;
    cv::minMaxLoc(p.rgb.reshape(1), &lo, &hi);
    QVERIFY(lo >= 0.0 && hi <= 1.0);
    // Channel order is R, G, B (OpenCV decodes B, G, R).
    const cv::Vec3f px = p.rgb.at<cv::Vec3f>(32, 8);
    QVERIFY2(std::abs(px[0] - r) <= tolerance, qPrintable(QString::number(px[0])));
    QVERIFY2(std::abs(px[1] - g) <= tolerance, qPrintable(QString::number(px[1])));
    QVERIFY2(std::abs(px[2] - b) <= tolerance, qPrintable(QString::number(px[2])));
}

void TestPreprocess::resizeUsesInterArea()
{
    // A 1-pixel checkerboard averages to grey with INTER_AREA; nearest/linear sampling of a
    // 128 -> 64 shrink would pick single pixels (0 or 1).
    cv::Mat board(128, 128, CV_8UC3);
    for (int y = 0; y < 128; ++y)
        for (int x = 0; x < 128; ++x)
            board.at<cv::Vec3b>(y, x) =
                ((x + y) % 2) ? cv::Vec3b(255, 255, 255) : cv::Vec3b(1, 1, 1);
    const cv::Mat out = preprocessImage(board);
    QCOMPARE(out.size(), cv::Size(64, 64));
    const cv::Vec3f px = out.at<cv::Vec3f>(10, 10);
    QVERIFY2(std::abs(px[0] - 128 / 255.0) < 0.01, qPrintable(QString::number(px[0])));
}

void TestPreprocess::badInput()
{
    QVERIFY(preprocessImage(cv::Mat()).empty());
    QVERIFY(preprocessImage(cv::Mat(10, 10, CV_8UC1, cv::Scalar(3))).empty()); // not decoded BGR
    QVERIFY(preprocessImage(cv::Mat(10, 10, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5))).empty());
    const PreprocessedImage missing = loadPreprocessed(m_dir.filePath(QStringLiteral("nope.png")));
    QVERIFY(!missing.ok());
    QVERIFY(!missing.error.isEmpty());
    QFile garbage(m_dir.filePath(QStringLiteral("garbage.png")));
    QVERIFY(garbage.open(QIODevice::WriteOnly));
    garbage.write(QByteArray(500, 'x'));
    garbage.close();
    const PreprocessedImage bad = loadPreprocessed(garbage.fileName());
    QVERIFY(!bad.ok());
    QVERIFY(!bad.error.isEmpty());
}

void TestPreprocess::packLayouts()
{
    cv::Mat a(64, 64, CV_32FC3, cv::Scalar(0.1f, 0.2f, 0.3f));
    cv::Mat b(64, 64, CV_32FC3, cv::Scalar(0.4f, 0.5f, 0.6f));
    b.at<cv::Vec3f>(1, 2) = cv::Vec3f(0.7f, 0.8f, 0.9f);
    std::vector<float> nchw(2 * 3 * 64 * 64), nhwc(2 * 64 * 64 * 3);
    QVERIFY(packNchw({a, b}, nchw.data()));
    QVERIFY(packNhwc({a, b}, nhwc.data()));
    const size_t plane = 64 * 64;
    QCOMPARE(nchw[0], 0.1f);                              // image 0, R
    QCOMPARE(nchw[plane], 0.2f);                          // image 0, G
    QCOMPARE(nchw[2 * plane], 0.3f);                      // image 0, B
    QCOMPARE(nchw[3 * plane + 0 * plane + 64 + 2], 0.7f); // image 1, R at (y 1, x 2)
    QCOMPARE(nchw[3 * plane + 2 * plane + 64 + 2], 0.9f); // image 1, B at (y 1, x 2)
    QCOMPARE(nhwc[3 * plane + (64 + 2) * 3 + 1], 0.8f);   // image 1, G at (y 1, x 2)
    QVERIFY(!packNchw({cv::Mat(32, 32, CV_32FC3)}, nchw.data()));
    QVERIFY(!packNhwc({cv::Mat(64, 64, CV_8UC3)}, nhwc.data()));
}

void TestPreprocess::colourNormalization()
{
    // A cell of colour (0.6, 0.45, 0.5) on a black crop background, with a darker
    // parasite-like patch on a minority of its pixels: the median is the cell colour, so
    // each channel's gain is reference / cell colour.
    cv::Mat m(64, 64, CV_32FC3, cv::Scalar(0, 0, 0));
    cv::circle(m, {32, 32}, 28, cv::Scalar(0.6f, 0.45f, 0.5f), cv::FILLED);
    cv::circle(m, {26, 30}, 7, cv::Scalar(0.3f, 0.15f, 0.45f), cv::FILLED);
    const cv::Mat n = normalizeColour(m, InputNormalization::ForegroundMedian);
    QCOMPARE(n.type(), CV_32FC3);
    QCOMPARE(n.size(), m.size());
    const cv::Vec3f cell = n.at<cv::Vec3f>(32, 50);
    const cv::Vec3f parasite = n.at<cv::Vec3f>(30, 26);
    const float gain[3] = {kReferenceColour[0] / 0.6f, kReferenceColour[1] / 0.45f,
                           kReferenceColour[2] / 0.5f};
    for (int c = 0; c < 3; ++c) {
        QVERIFY2(std::abs(cell[c] - kReferenceColour[c]) < 1e-5f, qPrintable(QString::number(c)));
        const float expected = std::min(1.0f, m.at<cv::Vec3f>(30, 26)[c] * gain[c]);
        QVERIFY2(std::abs(parasite[c] - expected) < 1e-5f, qPrintable(QString::number(c)));
    }
    QCOMPARE(n.at<cv::Vec3f>(0, 0), cv::Vec3f(0, 0, 0));              // the background stays black
    QVERIFY(m.at<cv::Vec3f>(32, 50) == cv::Vec3f(0.6f, 0.45f, 0.5f)); // the input is untouched

    // A very pale cell: gains are clamped to [0.5, 2].
    cv::Mat dim(64, 64, CV_32FC3, cv::Scalar(0, 0, 0));
    cv::circle(dim, {32, 32}, 28, cv::Scalar(0.1f, 0.1f, 0.1f), cv::FILLED);
    const cv::Vec3f d =
        normalizeColour(dim, InputNormalization::ForegroundMedian).at<cv::Vec3f>(32, 32);
    QVERIFY(std::abs(d[0] - 0.2f) < 1e-6f);

    // Almost no cell pixels: unchanged. None: unchanged.
    cv::Mat empty(64, 64, CV_32FC3, cv::Scalar(0, 0, 0));
    empty.at<cv::Vec3f>(3, 3) = cv::Vec3f(0.9f, 0.1f, 0.1f);
    QCOMPARE(normalizeColour(empty, InputNormalization::ForegroundMedian).at<cv::Vec3f>(3, 3),
             cv::Vec3f(0.9f, 0.1f, 0.1f));
    QCOMPARE(normalizeColour(m, InputNormalization::None).at<cv::Vec3f>(32, 50),
             cv::Vec3f(0.6f, 0.45f, 0.5f));

    // Two differently stained copies of one cell come out the same (gains within the clamp).
    cv::Mat stained;
    cv::multiply(m, cv::Scalar(1.3, 0.8, 1.1), stained);
    const cv::Mat n2 = normalizeColour(stained, InputNormalization::ForegroundMedian);
    QVERIFY(cv::norm(n, n2, cv::NORM_INF) < 1e-5);

    bool ok = false;
    QCOMPARE(inputNormalizationFromName(
                 inputNormalizationName(InputNormalization::ForegroundMedian), &ok),
             InputNormalization::ForegroundMedian);
    QVERIFY(ok);
    inputNormalizationFromName(QStringLiteral("sepia"), &ok);
    QVERIFY(!ok);
}

QTEST_GUILESS_MAIN(TestPreprocess)
#include "tst_preprocess.moc"
