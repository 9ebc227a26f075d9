#include "testimages.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QRandomGenerator>
#include <QtEndian>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <zlib.h>

namespace mltest {

namespace {
cv::Mat gradient(int w, int h)
{
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x * 255 / std::max(1, w - 1)),
                                              uchar(y * 255 / std::max(1, h - 1)), 128);
    return m;
}

bool writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    return f.write(bytes) == bytes.size();
}

QByteArray pngChunk(const char* type, const QByteArray& data)
{
    QByteArray out;
    char len[4];
    qToBigEndian<quint32>(quint32(data.size()), len);
    out.append(len, 4);
    QByteArray body(type, 4);
    body.append(data);
    out.append(body);
    char crc[4];
    qToBigEndian<quint32>(
        quint32(crc32(0, reinterpret_cast<const Bytef*>(body.constData()), uInt(body.size()))),
        crc);
    out.append(crc, 4);
    return out;
}
} // namespace

// cv::imwrite throws for an unknown extension; a fixture reports failure instead.
bool imwrite(const QString& path, const cv::Mat& m)
{
    try {
        return cv::imwrite(QFile::encodeName(path).toStdString(), m);
    } catch (const cv::Exception&) {
        return false;
    }
}

bool writeColourImage(const QString& path, int w, int h)
{
    return imwrite(path, gradient(w, h));
}

bool writeGrayImage(const QString& path, int w, int h)
{
    cv::Mat g;
    cv::cvtColor(gradient(w, h), g, cv::COLOR_BGR2GRAY);
    return imwrite(path, g);
}

bool writeRgbaPng(const QString& path, int w, int h)
{
    cv::Mat rgba;
    cv::cvtColor(gradient(w, h), rgba, cv::COLOR_BGR2BGRA);
    return imwrite(path, rgba);
}

bool write16BitPng(const QString& path, int w, int h)
{
    cv::Mat sixteen;
    gradient(w, h).convertTo(sixteen, CV_16U, 257.0);
    return imwrite(path, sixteen);
}

bool writePalettePng(const QString& path, int w, int h)
{
    QImage img(w, h, QImage::Format_Indexed8);
    img.setColorCount(4);
    img.setColor(0, qRgb(255, 0, 0));
    img.setColor(1, qRgb(0, 255, 0));
    img.setColor(2, qRgb(0, 0, 255));
    img.setColor(3, qRgb(200, 200, 200));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.setPixel(x, y, uint((x / 10 + y / 10) % 4));
    return img.save(path, "PNG");
}

bool writeTruncatedPng(const QString& path)
{
    std::vector<uchar> buf;
    cv::Mat noise(200, 200, CV_8UC3);
    cv::randu(noise, 0, 255); // incompressible, so half the file is half the pixels
    cv::imencode(".png", noise, buf);
    return writeBytes(path,
                      QByteArray(reinterpret_cast<const char*>(buf.data()), int(buf.size() / 2)));
}

bool writeTruncatedJpeg(const QString& path)
{
    std::vector<uchar> buf;
    cv::Mat noise(200, 200, CV_8UC3);
    cv::randu(noise, 0, 255);
    cv::imencode(".jpg", noise, buf);
    return writeBytes(path,
                      QByteArray(reinterpret_cast<const char*>(buf.data()), int(buf.size() / 2)));
}

bool writeGarbage(const QString& path, int bytes)
{
    QByteArray b(bytes, '\0');
    QRandomGenerator gen(42);
    for (char& c : b)
        c = char(gen.bounded(256));
    b[0] = 'x'; // never a valid magic number by chance
    return writeBytes(path, b);
}

bool writeEmpty(const QString& path)
{
    return writeBytes(path, QByteArray());
}

bool writeHugeHeaderPng(const QString& path, int width, int height)
{
    QByteArray png("\x89PNG\r\n\x1a\n", 8);
    QByteArray ihdr(13, '\0');
    qToBigEndian<quint32>(quint32(width), ihdr.data());
    qToBigEndian<quint32>(quint32(height), ihdr.data() + 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // colour type RGB
    png.append(pngChunk("IHDR", ihdr));
    png.append(pngChunk("IDAT", QByteArray(64, '\x01')));
    png.append(pngChunk("IEND", QByteArray()));
    return writeBytes(path, png);
}

QString sharedData()
{
    const QString dir = QStringLiteral(MALARIALENS_SHARED_DATA);
    return QDir(dir + QStringLiteral("/nih-cells")).exists() ? QDir(dir).absolutePath() : QString();
}

} // namespace mltest
