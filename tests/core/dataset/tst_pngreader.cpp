// The fast PNG reader (core/dataset/pngreader): pixels equal to OpenCV's bit for bit wherever
// it decodes (every real NIH cell, every filter type, RGB and RGBA), and "not mine" for every
// file it must leave to OpenCV, so that decodeImageData() gives the verdict it gave before.
#include "imageio.h"
#include "pngreader.h"
#include "testimages.h"

#include <QDirIterator>
#include <QFile>
#include <QTest>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <zlib.h>

#include <random>
#include <vector>

namespace {

const uchar* bytesOf(const QByteArray& a)
{
    return reinterpret_cast<const uchar*>(a.constData());
}

void put32(QByteArray& out, quint32 v)
{
    out.append(char(v >> 24)).append(char(v >> 16)).append(char(v >> 8)).append(char(v));
}

void putChunk(QByteArray& out, const char* type, const QByteArray& body, bool goodCrc = true)
{
    put32(out, quint32(body.size()));
    QByteArray typed = QByteArray(type, 4) + body;
    out.append(typed);
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(typed.constData()), uInt(typed.size()));
    put32(out, quint32(goodCrc ? crc : crc ^ 1u));
}

QByteArray ihdr(quint32 w, quint32 h, int bitDepth, int colourType, int interlace = 0)
{
    QByteArray b;
    put32(b, w);
    put32(b, h);
    b.append(char(bitDepth))
        .append(char(colourType))
        .append('\0')
        .append('\0')
        .append(char(interlace));
    return b;
}

QByteArray deflate(const QByteArray& raw, int windowBits = 15)
{
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
    QByteArray out(int(deflateBound(&z, uLong(raw.size()))), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.constData()));
    z.avail_in = uInt(raw.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(int(z.total_out));
    deflateEnd(&z);
    return out;
}

// What a test PNG is made of; the defaults give a valid 8-bit RGB file.
struct PngSpec
{
    int width = 17;
    int height = 9;
    int channels = 3;            // 3 = RGB (colour type 2), 4 = RGBA (6)
    std::vector<int> filters{0}; // filter type of row y = filters[y % size]
    unsigned seed = 1;           // pixel content
    int extraRows = 0;           // rows beyond the header's height in the zlib stream
    int missingBytes = 0;        // bytes cut off the end of the zlib payload
    int idatPieces = 1;          // IDAT chunks the zlib stream is split into
    int windowBits = 15;         // zlib window declared in the stream
    bool corruptIdatCrc = false;
    bool corruptZlib = false;    // flip a byte in the middle of the stream (CRC fixed)
    QByteArray chunkBeforeIdat;  // an extra chunk: type (4 bytes) + body
    QByteArray chunkBetweenIdat; // an extra chunk between two IDAT pieces
    bool iend = true;
};

// Filters random pixels row by row with the asked filter types (the encoder side of PNG),
// so every filter is exercised whatever an encoder library would have chosen.
QByteArray makePng(const PngSpec& s)
{
    const int bpp = s.channels;
    const int rowBytes = s.width * bpp;
    const int rows = s.height + s.extraRows;
    std::mt19937 rng(s.seed);
    std::vector<std::vector<int>> px(size_t(rows), std::vector<int>(size_t(rowBytes), 0));
    for (auto& r : px) {
        int v = int(rng() % 256);
        for (int& x : r) // smooth-ish content with jumps, like cells on a background
            x = v = (rng() % 8 == 0) ? int(rng() % 256) : (v + int(rng() % 7) - 3 + 256) % 256;
    }
    QByteArray raw;
    for (int y = 0; y < rows; ++y) {
        const int f = s.filters[size_t(y) % s.filters.size()];
        raw.append(char(f));
        for (int i = 0; i < rowBytes; ++i) {
            const int x = px[size_t(y)][size_t(i)];
            const int a = i >= bpp ? px[size_t(y)][size_t(i - bpp)] : 0;
            const int b = y > 0 ? px[size_t(y - 1)][size_t(i)] : 0;
            const int c = (y > 0 && i >= bpp) ? px[size_t(y - 1)][size_t(i - bpp)] : 0;
            int pred = 0;
            switch (f) {
            case 1:
                pred = a;
                break;
            case 2:
                pred = b;
                break;
            case 3:
                pred = (a + b) / 2;
                break;
            case 4: {
                const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
                pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
                break;
            }
            default:
                break;
            }
            raw.append(char((x - pred) & 0xff));
        }
    }
    QByteArray z = deflate(raw, s.windowBits);
    if (s.corruptZlib)
        z[z.size() / 2] = char(z[z.size() / 2] ^ 0x55);
    z.chop(s.missingBytes);

    QByteArray png("\x89PNG\r\n\x1a\n", 8);
    putChunk(png, "IHDR", ihdr(quint32(s.width), quint32(s.height), 8, s.channels == 4 ? 6 : 2));
    if (!s.chunkBeforeIdat.isEmpty())
        putChunk(png, s.chunkBeforeIdat.left(4).constData(), s.chunkBeforeIdat.mid(4));
    const int pieces = std::max(1, s.idatPieces);
    const int step = (int(z.size()) + pieces - 1) / pieces;
    for (int i = 0; i < pieces; ++i) {
        if (i == 1 && !s.chunkBetweenIdat.isEmpty())
            putChunk(png, s.chunkBetweenIdat.left(4).constData(), s.chunkBetweenIdat.mid(4));
        putChunk(png, "IDAT", z.mid(i * step, step), !(s.corruptIdatCrc && i == 0));
    }
    if (s.iend)
        putChunk(png, "IEND", {});
    return png;
}

cv::Mat opencvDecode(const QByteArray& png)
{
    const cv::Mat buf(1, int(png.size()), CV_8UC1, const_cast<char*>(png.constData()));
    return cv::imdecode(buf, cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION);
}

bool identical(const cv::Mat& a, const cv::Mat& b)
{
    return a.type() == b.type() && a.size() == b.size() &&
           (a.empty() || cv::norm(a, b, cv::NORM_INF) == 0);
}

} // namespace

class TestPngReader : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void equalsOpenCvOnEveryNihCell();
    void equalsOpenCvForEveryFilter_data();
    void equalsOpenCvForEveryFilter();
    void equalsOpenCvOnOpenCvEncodedImages_data();
    void equalsOpenCvOnOpenCvEncodedImages();
    void leavesToOpenCv_data();
    void leavesToOpenCv();
    void refusesHugeHeaderBeforeAllocating();
    void truncatedAtEveryLengthNeverDecodes();
    void randomFilterBytesNeverCrash();
};

// The acceptance test of issue 19: on the real data, every file the reader takes decodes to
// OpenCV's pixels exactly; decodeImage() then returns them as before.
void TestPngReader::equalsOpenCvOnEveryNihCell()
{
    const QString shared = mltest::sharedData();
    if (shared.isEmpty())
        QSKIP("shared data (../shared/data/nih-cells) not found");
    QDirIterator it(shared + QStringLiteral("/nih-cells"), {QStringLiteral("*.png")}, QDir::Files,
                    QDirIterator::Subdirectories);
    int files = 0, fast = 0;
    while (it.hasNext()) {
        const QString path = it.next();
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray data = f.readAll();
        ++files;
        const cv::Mat reference = opencvDecode(data);
        QVERIFY2(!reference.empty(), qPrintable(path));
        cv::Mat mine;
        if (ml::readPngFast(bytesOf(data), size_t(data.size()), 100'000'000, mine)) {
            ++fast;
            QVERIFY2(identical(mine, reference), qPrintable(path));
            QVERIFY(mine.isContinuous());
        }
        const ml::DecodedImage img = ml::decodeImageData(data);
        QVERIFY2(img.ok(), qPrintable(path + QLatin1Char(' ') + img.error));
        QVERIFY2(identical(img.bgr, reference), qPrintable(path));
        QCOMPARE(img.channels, 3);
        QCOMPARE(img.bitDepth, 8);
        QCOMPARE(img.size, QSize(reference.cols, reference.rows));
    }
    qInfo("%d NIH cells, %d through the fast reader, all equal to OpenCV", files, fast);
    QVERIFY(files > 10'000);
    // 13 of the 14,015 cells declare a 16 KB zlib window and go to OpenCV.
    QVERIFY2(fast >= files - files / 100, qPrintable(QString::number(fast)));
}

void TestPngReader::equalsOpenCvForEveryFilter_data()
{
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<std::vector<int>>("filters");
    QTest::addColumn<int>("idatPieces");
    const std::vector<int> all{0, 1, 2, 3, 4};
    for (int ch : {3, 4}) {
        const QByteArray c = ch == 3 ? "rgb" : "rgba";
        for (int f = 0; f <= 4; ++f)
            QTest::addRow("%s filter %d", c.constData(), f)
                << ch << 23 << 7 << std::vector<int>{f} << 1;
        QTest::addRow("%s every filter in turn", c.constData()) << ch << 40 << 25 << all << 1;
        QTest::addRow("%s paeth then others", c.constData())
            << ch << 33 << 12 << std::vector<int>{4, 4, 1, 4, 2, 3, 4, 0} << 1;
        QTest::addRow("%s 1 pixel wide", c.constData()) << ch << 1 << 11 << all << 1;
        QTest::addRow("%s 2 pixels wide", c.constData()) << ch << 2 << 6 << all << 1;
        QTest::addRow("%s 1 row", c.constData()) << ch << 64 << 1 << std::vector<int>{4} << 1;
        QTest::addRow("%s 1 x 1", c.constData()) << ch << 1 << 1 << std::vector<int>{4} << 1;
        QTest::addRow("%s split over 5 IDATs", c.constData()) << ch << 50 << 30 << all << 5;
        QTest::addRow("%s cell size", c.constData())
            << ch << 148 << 142 << std::vector<int>{4, 4, 4, 1, 4, 2} << 1;
    }
}

void TestPngReader::equalsOpenCvForEveryFilter()
{
    QFETCH(int, channels);
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(std::vector<int>, filters);
    QFETCH(int, idatPieces);
    for (unsigned seed = 1; seed <= 5; ++seed) {
        PngSpec s;
        s.width = width;
        s.height = height;
        s.channels = channels;
        s.filters = filters;
        s.idatPieces = idatPieces;
        s.seed = seed;
        const QByteArray png = makePng(s);
        const cv::Mat reference = opencvDecode(png);
        QVERIFY(!reference.empty());
        QCOMPARE(reference.channels(), channels);
        cv::Mat mine;
        QVERIFY(ml::readPngFast(bytesOf(png), size_t(png.size()), 100'000'000, mine));
        QVERIFY(identical(mine, reference));
        const ml::DecodedImage img = ml::decodeImageData(png);
        QVERIFY2(img.ok(), qPrintable(img.error));
        QCOMPARE(img.channels, channels);
        cv::Mat bgr = reference;
        if (channels == 4)
            cv::cvtColor(reference, bgr, cv::COLOR_BGRA2BGR);
        QVERIFY(identical(img.bgr, bgr));
    }
}

void TestPngReader::equalsOpenCvOnOpenCvEncodedImages_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<int>("compression");
    QTest::addColumn<int>("strategy");
    QTest::newRow("bgr default") << CV_8UC3 << 3 << int(cv::IMWRITE_PNG_STRATEGY_DEFAULT);
    QTest::newRow("bgr level 9") << CV_8UC3 << 9 << int(cv::IMWRITE_PNG_STRATEGY_DEFAULT);
    QTest::newRow("bgr level 0 (stored)") << CV_8UC3 << 0 << int(cv::IMWRITE_PNG_STRATEGY_DEFAULT);
    QTest::newRow("bgr huffman only") << CV_8UC3 << 6 << int(cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY);
    QTest::newRow("bgr rle") << CV_8UC3 << 6 << int(cv::IMWRITE_PNG_STRATEGY_RLE);
    QTest::newRow("bgra default") << CV_8UC4 << 3 << int(cv::IMWRITE_PNG_STRATEGY_DEFAULT);
    QTest::newRow("bgra level 9") << CV_8UC4 << 9 << int(cv::IMWRITE_PNG_STRATEGY_FILTERED);
}

// Files written by libpng (through OpenCV), whose filter choice and zlib settings are its own.
void TestPngReader::equalsOpenCvOnOpenCvEncodedImages()
{
    QFETCH(int, type);
    QFETCH(int, compression);
    QFETCH(int, strategy);
    cv::Mat img(97, 131, type);
    cv::randu(img, 0, 256);
    cv::GaussianBlur(img, img, cv::Size(5, 5), 0); // mixes smooth areas with noise
    img(cv::Rect(10, 10, 40, 30)).setTo(cv::Scalar(20, 200, 90, 255));
    std::vector<uchar> encoded;
    QVERIFY(cv::imencode(
        ".png", img, encoded,
        {cv::IMWRITE_PNG_COMPRESSION, compression, cv::IMWRITE_PNG_STRATEGY, strategy}));
    const QByteArray png(reinterpret_cast<const char*>(encoded.data()), int(encoded.size()));
    const cv::Mat reference = opencvDecode(png);
    QVERIFY(identical(reference, img));
    cv::Mat mine;
    QVERIFY(ml::readPngFast(bytesOf(png), size_t(png.size()), 100'000'000, mine));
    QVERIFY(identical(mine, reference));
}

void TestPngReader::leavesToOpenCv_data()
{
    QTest::addColumn<QByteArray>("png");
    QTest::addColumn<bool>("opencvDecodes"); // what the fallback must then return
    PngSpec ok;
    ok.filters = {0, 1, 2, 3, 4};
    QByteArray p;

    PngSpec s = ok;
    s.corruptIdatCrc = true;
    QTest::newRow("corrupt IDAT CRC") << makePng(s) << false;
    s = ok;
    s.corruptZlib = true;
    QTest::newRow("corrupt zlib data (CRC right)") << makePng(s) << false;
    s = ok;
    s.missingBytes = 6;
    QTest::newRow("zlib stream cut short") << makePng(s) << false;
    s = ok;
    s.extraRows = 2;
    QTest::newRow("more rows than the header") << makePng(s) << true;
    s = ok;
    s.iend = false;
    QTest::newRow("no IEND") << makePng(s) << false;
    s = ok;
    s.filters = {4, 5};
    QTest::newRow("filter type 5") << makePng(s) << false;
    s = ok;
    s.windowBits = 9;
    QTest::newRow("512-byte zlib window") << makePng(s) << true;
    s = ok;
    s.idatPieces = 2;
    s.chunkBetweenIdat = QByteArray("tEXt") + QByteArray("k\0v", 3);
    QTest::newRow("IDATs not consecutive") << makePng(s) << false;
    s = ok;
    s.chunkBeforeIdat = QByteArray("tRNS") + QByteArray(6, '\0');
    QTest::newRow("tRNS") << makePng(s) << true;
    s = ok;
    s.chunkBeforeIdat = QByteArray("PLTE") + QByteArray(6, '\x10');
    QTest::newRow("suggested palette (PLTE)") << makePng(s) << true;
    s = ok;
    s.chunkBeforeIdat = QByteArray("tE1t") + QByteArray("x");
    QTest::newRow("chunk name with a digit") << makePng(s) << false;
    s = ok;
    s.chunkBeforeIdat = QByteArray("ZZZZ") + QByteArray("x");
    QTest::newRow("unknown critical chunk") << makePng(s) << false;

    // Formats OpenCV converts: written by the same fixtures tst_imageio uses.
    const auto viaFile = [](bool (*write)(const QString&, int, int)) {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("x.png"));
        QFile f(path);
        return write(path, 40, 30) && f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    QTest::newRow("16-bit") << viaFile(mltest::write16BitPng) << true;
    QTest::newRow("palette") << viaFile(mltest::writePalettePng) << true;
    QTest::newRow("grey") << viaFile(mltest::writeGrayImage) << true;
    p = viaFile(mltest::writeRgbaPng);
    QTest::newRow("truncated half") << p.left(p.size() / 2) << false;
    QTest::newRow("truncated before IEND") << p.left(p.size() - 12) << false;
    QTest::newRow("signature only") << p.left(8) << false;

    // Interlaced: an IHDR saying Adam7 over a stream of rows; OpenCV fails or decodes it.
    p = makePng(ok);
    QByteArray body = ihdr(17, 9, 8, 2, 1);
    QByteArray patched;
    putChunk(patched, "IHDR", body);
    p.replace(8, patched.size(), patched);
    QTest::newRow("interlaced") << p << !opencvDecode(p).empty();
}

// Every file the reader leaves alone gets OpenCV's result from decodeImageData(): the same
// pixels when OpenCV decodes it, a clear error when it does not.
void TestPngReader::leavesToOpenCv()
{
    QFETCH(QByteArray, png);
    QFETCH(bool, opencvDecodes);
    QVERIFY(!png.isEmpty());
    cv::Mat mine;
    QVERIFY(!ml::readPngFast(bytesOf(png), size_t(png.size()), 100'000'000, mine));
    QVERIFY(mine.empty());
    const cv::Mat reference = opencvDecode(png);
    QCOMPARE(!reference.empty(), opencvDecodes);
    const ml::DecodedImage img = ml::decodeImageData(png);
    if (!opencvDecodes) {
        QVERIFY(!img.ok());
        QVERIFY(img.bgr.empty());
        QVERIFY(!img.error.isEmpty());
        return;
    }
    QVERIFY2(img.ok(), qPrintable(img.error));
    cv::Mat eight = reference;
    if (reference.depth() == CV_16U)
        reference.convertTo(eight, CV_8U, 1.0 / 257.0);
    cv::Mat bgr = eight;
    if (eight.channels() == 1)
        cv::cvtColor(eight, bgr, cv::COLOR_GRAY2BGR);
    else if (eight.channels() == 4)
        cv::cvtColor(eight, bgr, cv::COLOR_BGRA2BGR);
    QVERIFY(identical(img.bgr, bgr));
}

// The 30,000 x 30,000 header of tst_imageio, but complete and valid apart from its size: the
// reader must refuse it from the header (it would need 2.7 GB) and decodeImageData() must give
// the usual "too large" error.
void TestPngReader::refusesHugeHeaderBeforeAllocating()
{
    QByteArray png("\x89PNG\r\n\x1a\n", 8);
    putChunk(png, "IHDR", ihdr(30000, 30000, 8, 2));
    putChunk(png, "IDAT", deflate(QByteArray(1000, '\0')));
    putChunk(png, "IEND", {});
    cv::Mat mine;
    QVERIFY(!ml::readPngFast(bytesOf(png), size_t(png.size()), 100'000'000, mine));
    QVERIFY(!ml::readPngFast(bytesOf(png), size_t(png.size()), qint64(1) << 40, mine));
    const ml::DecodedImage img = ml::decodeImageData(png);
    QVERIFY(!img.ok());
    QVERIFY2(img.error.contains(QLatin1String("too large")), qPrintable(img.error));
    // A smaller limit refuses a small image the same way.
    PngSpec s;
    const QByteArray small = makePng(s);
    QVERIFY(!ml::readPngFast(bytesOf(small), size_t(small.size()), 100, mine));
    ml::DecodeLimits limits;
    limits.maxPixels = 100;
    QVERIFY(ml::decodeImageData(small, limits).error.contains(QLatin1String("too large")));
}

// Every prefix of a valid file: never decoded, never a read past the prefix (the buffer is a
// copy of exactly that length, so a sanitizer build sees any overrun).
void TestPngReader::truncatedAtEveryLengthNeverDecodes()
{
    PngSpec s;
    s.filters = {4, 1, 2, 3, 0};
    s.idatPieces = 3;
    const QByteArray png = makePng(s);
    cv::Mat mine;
    for (int n = 0; n < png.size(); ++n) {
        const std::vector<uchar> prefix(bytesOf(png), bytesOf(png) + n);
        QVERIFY(!ml::readPngFast(prefix.data(), prefix.size(), 100'000'000, mine));
    }
    QVERIFY(mine.empty());
    const std::vector<uchar> whole(bytesOf(png), bytesOf(png) + png.size());
    QVERIFY(ml::readPngFast(whole.data(), whole.size(), 100'000'000, mine));
}

// Valid zlib streams of random bytes: random filter types (above 4 too) and widths. The
// reader either refuses or agrees with OpenCV.
void TestPngReader::randomFilterBytesNeverCrash()
{
    std::mt19937 rng(19);
    int decoded = 0;
    for (int trial = 0; trial < 300; ++trial) {
        const int ch = trial % 2 ? 4 : 3;
        const int w = 1 + int(rng() % 40), h = 1 + int(rng() % 12);
        QByteArray raw;
        for (int y = 0; y < h; ++y) {
            raw.append(char(rng() % 6)); // 5 = invalid
            for (int i = 0; i < w * ch; ++i)
                raw.append(char(rng()));
        }
        QByteArray png("\x89PNG\r\n\x1a\n", 8);
        putChunk(png, "IHDR", ihdr(quint32(w), quint32(h), 8, ch == 4 ? 6 : 2));
        putChunk(png, "IDAT", deflate(raw));
        putChunk(png, "IEND", {});
        const std::vector<uchar> exact(bytesOf(png), bytesOf(png) + png.size());
        cv::Mat mine;
        const bool ok = ml::readPngFast(exact.data(), exact.size(), 100'000'000, mine);
        const cv::Mat reference = opencvDecode(png);
        if (ok) {
            ++decoded;
            QVERIFY(identical(mine, reference));
        }
        // Where OpenCV decodes, the reader refuses only rows with filter type 5, which libpng
        // refuses too: so the two agree on which files decode.
        QCOMPARE(ok, !reference.empty());
    }
    QVERIFY(decoded > 10);
}

QTEST_GUILESS_MAIN(TestPngReader)
#include "tst_pngreader.moc"
