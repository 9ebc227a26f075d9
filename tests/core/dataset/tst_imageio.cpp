#include "imageio.h"
#include "matconvert.h"
#include "testimages.h"

#include <QTemporaryDir>
#include <QTest>

#include <opencv2/core.hpp>

using namespace mltest;

class TestImageIo : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }
    void decodesFormats_data();
    void decodesFormats();
    void refusesBadInput_data();
    void refusesBadInput();
    void refusesHugeImageWithoutAllocating();
    void nonAsciiPath();
    void extensions();
    void matQImageRoundTrip_data();
    void matQImageRoundTrip();
    void floatMatClamps();

private:
    QTemporaryDir m_dir;
};

void TestImageIo::decodesFormats_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("bits");
    QTest::newRow("png rgb") << "a.png" << 3 << 8;
    QTest::newRow("jpeg") << "a.jpg" << 3 << 8;
    QTest::newRow("jpeg long ext") << "a.jpeg" << 3 << 8;
    QTest::newRow("tiff") << "a.tif" << 3 << 8;
    QTest::newRow("bmp") << "a.bmp" << 3 << 8;
    QTest::newRow("grayscale png") << "gray.png" << 1 << 8;
    QTest::newRow("rgba png") << "rgba.png" << 4 << 8;
    QTest::newRow("16-bit png") << "deep.png" << 3 << 16;
    QTest::newRow("palette png") << "palette.png" << 3 << 8;
}

void TestImageIo::decodesFormats()
{
    QFETCH(QString, file);
    QFETCH(int, channels);
    QFETCH(int, bits);
    const QString path = m_dir.filePath(file);
    bool written = false;
    if (file.startsWith(QLatin1String("gray")))
        written = writeGrayImage(path);
    else if (file.startsWith(QLatin1String("rgba")))
        written = writeRgbaPng(path);
    else if (file.startsWith(QLatin1String("deep")))
        written = write16BitPng(path);
    else if (file.startsWith(QLatin1String("palette")))
        written = writePalettePng(path);
    else
        written = writeColourImage(path);
    QVERIFY(written);
    const ml::DecodedImage img = ml::decodeImage(path);
    QVERIFY2(img.ok(), qPrintable(img.error));
    QCOMPARE(img.bgr.type(), CV_8UC3);
    QCOMPARE(img.bgr.cols, 40);
    QCOMPARE(img.bgr.rows, 30);
    QCOMPARE(img.size, QSize(40, 30));
    QCOMPARE(img.channels, channels);
    QCOMPARE(img.bitDepth, bits);
    if (file != QLatin1String("palette.png") && !file.endsWith(QLatin1String("jpg")) &&
        !file.endsWith(QLatin1String("jpeg"))) {
        // Lossless formats keep the gradient: blue (and so grey) rises left to right.
        const int left = img.bgr.at<cv::Vec3b>(0, 0)[0], right = img.bgr.at<cv::Vec3b>(0, 39)[0];
        QVERIFY2(right - left > 25, qPrintable(QStringLiteral("%1 -> %2").arg(left).arg(right)));
        if (channels != 1)
            QCOMPARE(left, 0);
    }
}

void TestImageIo::refusesBadInput_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("reasonPart");
    QTest::newRow("zero bytes") << "empty"
                                << "empty file";
    QTest::newRow("truncated png") << "truncpng"
                                   << "truncated";
    QTest::newRow("truncated jpeg") << "truncjpg"
                                    << "truncated";
    QTest::newRow("garbage with png extension") << "garbage"
                                                << "not a recognised image";
    QTest::newRow("missing file") << "missing"
                                  << "not found";
}

void TestImageIo::refusesBadInput()
{
    QFETCH(QString, kind);
    QFETCH(QString, reasonPart);
    QString path = m_dir.filePath(kind + QStringLiteral(".png"));
    if (kind == QLatin1String("empty"))
        QVERIFY(writeEmpty(path));
    else if (kind == QLatin1String("truncpng"))
        QVERIFY(writeTruncatedPng(path));
    else if (kind == QLatin1String("truncjpg"))
        QVERIFY(writeTruncatedJpeg(path = m_dir.filePath(QStringLiteral("t.jpg"))));
    else if (kind == QLatin1String("garbage"))
        QVERIFY(writeGarbage(path));
    const ml::DecodedImage img = ml::decodeImage(path);
    QVERIFY(!img.ok());
    QVERIFY(img.bgr.empty());
    QVERIFY2(img.error.contains(reasonPart), qPrintable(img.error));
}

void TestImageIo::refusesHugeImageWithoutAllocating()
{
    const QString path = m_dir.filePath(QStringLiteral("huge.png"));
    QVERIFY(writeHugeHeaderPng(path, 30000, 30000));
    const ml::DecodedImage img = ml::decodeImage(path);
    QVERIFY(!img.ok());
    QVERIFY2(img.error.contains(QLatin1String("too large")), qPrintable(img.error));
    QCOMPARE(img.size, QSize(30000, 30000));
}

void TestImageIo::nonAsciiPath()
{
    const QString path = m_dir.filePath(QStringLiteral("Plasmodium_ñandú_血液.png"));
    QVERIFY(writeColourImage(path));
    const ml::DecodedImage img = ml::decodeImage(path);
    QVERIFY2(img.ok(), qPrintable(img.error));
}

void TestImageIo::extensions()
{
    QVERIFY(ml::hasImageExtension(QStringLiteral("a.PNG")));
    QVERIFY(ml::hasImageExtension(QStringLiteral("a.TiFf")));
    QVERIFY(ml::hasImageExtension(QStringLiteral("x.y.jpeg")));
    QVERIFY(!ml::hasImageExtension(QStringLiteral("a.gif")));
    QVERIFY(!ml::hasImageExtension(QStringLiteral("png")));
    QVERIFY(!ml::hasImageExtension(QStringLiteral("notes.txt")));
}

void TestImageIo::matQImageRoundTrip_data()
{
    QTest::addColumn<int>("format");
    QTest::newRow("RGB32") << int(QImage::Format_RGB32);
    QTest::newRow("ARGB32") << int(QImage::Format_ARGB32);
    QTest::newRow("RGB888 odd width (padded rows)") << int(QImage::Format_RGB888);
    QTest::newRow("Grayscale8") << int(QImage::Format_Grayscale8);
    QTest::newRow("Grayscale16") << int(QImage::Format_Grayscale16);
    QTest::newRow("RGBA64") << int(QImage::Format_RGBA64);
    QTest::newRow("Indexed8") << int(QImage::Format_Indexed8);
}

void TestImageIo::matQImageRoundTrip()
{
    QFETCH(int, format);
    // Odd width so QImage pads every scanline.
    QImage src(13, 7, QImage::Format_RGB32);
    for (int y = 0; y < src.height(); ++y)
        for (int x = 0; x < src.width(); ++x)
            src.setPixel(x, y, qRgb(x * 19, y * 36, 200));
    const bool gray = format == QImage::Format_Grayscale8 || format == QImage::Format_Grayscale16;
    if (gray)
        src = src.convertToFormat(QImage::Format_Grayscale8);
    const QImage in = src.convertToFormat(QImage::Format(format));
    const cv::Mat mat = ml::qimageToMat(in);
    QCOMPARE(mat.type(), CV_8UC3);
    QCOMPARE(mat.cols, 13);
    QCOMPARE(mat.rows, 7);
    QVERIFY(mat.isContinuous());
    const QImage back = ml::matToQImage(mat);
    QCOMPARE(back.size(), QSize(13, 7));
    for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 13; ++x) {
            const QRgb a = src.pixel(x, y), b = back.pixel(x, y);
            QVERIFY2(qAbs(qRed(a) - qRed(b)) <= 1 && qAbs(qGreen(a) - qGreen(b)) <= 1 &&
                         qAbs(qBlue(a) - qBlue(b)) <= 1,
                     qPrintable(QStringLiteral("pixel %1,%2").arg(x).arg(y)));
        }
}

void TestImageIo::floatMatClamps()
{
    cv::Mat f(2, 2, CV_32FC1);
    f.at<float>(0, 0) = -0.5f;
    f.at<float>(0, 1) = 0.5f;
    f.at<float>(1, 0) = 1.0f;
    f.at<float>(1, 1) = 7.0f;
    const QImage img = ml::matToQImage(f);
    QCOMPARE(img.format(), QImage::Format_Grayscale8);
    QCOMPARE(qGray(img.pixel(0, 0)), 0);
    QCOMPARE(qGray(img.pixel(1, 0)), 128);
    QCOMPARE(qGray(img.pixel(0, 1)), 255);
    QCOMPARE(qGray(img.pixel(1, 1)), 255);
}

QTEST_GUILESS_MAIN(TestImageIo)
#include "tst_imageio.moc"
