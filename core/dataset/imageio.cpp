#include "imageio.h"

#include "pngreader.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace ml {

const QStringList& imageExtensions()
{
    static const QStringList exts = {QStringLiteral("png"),  QStringLiteral("jpg"),
                                     QStringLiteral("jpeg"), QStringLiteral("tif"),
                                     QStringLiteral("tiff"), QStringLiteral("bmp")};
    return exts;
}

bool hasImageExtension(const QString& fileName)
{
    const int dot = fileName.lastIndexOf(QLatin1Char('.'));
    if (dot < 0)
        return false;
    const QString ext = fileName.mid(dot + 1).toLower();
    return imageExtensions().contains(ext);
}

namespace {

// libjpeg "succeeds" on a truncated file and pads it with grey; a missing end-of-image
// marker is the reliable sign of truncation, so check it before decoding.
bool isTruncatedJpeg(const QByteArray& data)
{
    if (data.size() < 4 || uchar(data[0]) != 0xFF || uchar(data[1]) != 0xD8)
        return false;
    int end = data.size();
    while (end > 2 && (data[end - 1] == '\0' || data[end - 1] == '\n' || data[end - 1] == '\r'))
        --end; // some writers pad after EOI
    return !(uchar(data[end - 2]) == 0xFF && uchar(data[end - 1]) == 0xD9);
}

cv::Mat toBgr8(const cv::Mat& raw)
{
    cv::Mat m = raw;
    if (m.depth() == CV_16U) {
        cv::Mat eight;
        m.convertTo(eight, CV_8U, 1.0 / 257.0);
        m = eight;
    } else if (m.depth() != CV_8U) {
        cv::Mat eight;
        cv::normalize(m, eight, 0, 255, cv::NORM_MINMAX, CV_8U);
        m = eight;
    }
    cv::Mat bgr;
    switch (m.channels()) {
    case 1:
        cv::cvtColor(m, bgr, cv::COLOR_GRAY2BGR);
        break;
    case 2: {
        std::vector<cv::Mat> planes;
        cv::split(m, planes);
        cv::cvtColor(planes[0], bgr, cv::COLOR_GRAY2BGR);
        break;
    }
    case 3:
        bgr = m.isContinuous() ? m : m.clone();
        break;
    case 4:
        cv::cvtColor(m, bgr, cv::COLOR_BGRA2BGR);
        break;
    default:
        break;
    }
    return bgr;
}

} // namespace

DecodedImage decodeImageData(const QByteArray& data, const DecodeLimits& limits)
{
    DecodedImage out;
    if (data.isEmpty()) {
        out.error = QStringLiteral("empty file (0 bytes)");
        return out;
    }
    // The common PNG (8-bit RGB/RGBA, e.g. every NIH cell) through the fast reader: pixels
    // equal to OpenCV's, about twice as fast (docs/BENCHMARKS.md, issue 19). It checks the
    // pixel limit itself before allocating; anything it does not take, valid or not, goes
    // down the path below unchanged, so bad input gets the same verdict as before.
    const auto* bytes = reinterpret_cast<const uchar*>(data.constData());
    if (hasPngSignature(bytes, size_t(data.size()))) {
        cv::Mat fast;
        if (readPngFast(bytes, size_t(data.size()), limits.maxPixels, fast)) {
            out.size = QSize(fast.cols, fast.rows);
            out.channels = fast.channels();
            out.bitDepth = 8;
            try {
                out.bgr = toBgr8(fast);
            } catch (const cv::Exception& e) {
                out.error =
                    QStringLiteral("conversion failed: %1").arg(QString::fromStdString(e.msg));
            }
            return out;
        }
    }
    // Header first: refuse huge images before OpenCV allocates their pixels.
    QBuffer buffer;
    buffer.setData(data);
    buffer.open(QIODevice::ReadOnly);
    QImageReader header(&buffer);
    const QSize size = header.size();
    if (!size.isValid()) {
        const QByteArray fmt = header.format();
        out.error = fmt.isEmpty()
                        ? QStringLiteral("not a recognised image (unknown or corrupt header)")
                        : QStringLiteral("corrupt %1 header").arg(QString::fromLatin1(fmt));
        return out;
    }
    out.size = size;
    if (qint64(size.width()) * size.height() > limits.maxPixels) {
        out.error =
            QStringLiteral("image too large: %1 x %2 pixels exceeds the limit of %3 megapixels")
                .arg(size.width())
                .arg(size.height())
                .arg(limits.maxPixels / 1'000'000);
        return out;
    }
    if (isTruncatedJpeg(data)) {
        out.error = QStringLiteral("truncated JPEG (no end-of-image marker)");
        return out;
    }
    cv::Mat raw;
    try {
        const cv::Mat buf(1, int(data.size()), CV_8UC1,
                          const_cast<uchar*>(reinterpret_cast<const uchar*>(data.constData())));
        raw = cv::imdecode(buf, cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception& e) {
        out.error =
            QStringLiteral("decode failed: %1").arg(QString::fromStdString(e.msg).trimmed());
        return out;
    }
    if (raw.empty()) {
        out.error = QStringLiteral("decode failed (truncated or corrupt image data)");
        return out;
    }
    out.channels = raw.channels();
    out.bitDepth = raw.depth() == CV_16U ? 16 : raw.depth() == CV_8U ? 8 : 32;
    try {
        out.bgr = toBgr8(raw);
    } catch (const cv::Exception& e) {
        out.error = QStringLiteral("conversion failed: %1").arg(QString::fromStdString(e.msg));
        return out;
    }
    if (out.bgr.empty())
        out.error = QStringLiteral("unsupported channel count %1").arg(raw.channels());
    return out;
}

DecodedImage decodeImage(const QString& path, const DecodeLimits& limits)
{
    DecodedImage out;
    QFileInfo info(path);
    if (!info.exists()) {
        out.error = info.isSymLink() ? QStringLiteral("broken symbolic link")
                                     : QStringLiteral("file not found");
        return out;
    }
    if (info.isDir()) {
        out.error = QStringLiteral("is a folder");
        return out;
    }
    if (info.size() > limits.maxFileBytes) {
        out.error = QStringLiteral("file too large (%1 MB)").arg(info.size() / 1'000'000);
        return out;
    }
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        out.error = QStringLiteral("cannot read: %1").arg(file.errorString());
        return out;
    }
    return decodeImageData(file.readAll(), limits);
}

} // namespace ml
