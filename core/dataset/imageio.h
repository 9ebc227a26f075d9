#pragma once
// Decoding of user images: the one place where files become pixels.
//
// Every reader of images (browser, thumbnails, statistics, exploratory views, inference,
// training) goes through decodeImage(), so bad input is refused the same way everywhere:
// the file is read into memory (never modified), its header is checked against a pixel
// limit before any pixel buffer is allocated, and decoding failures come back as a reason
// instead of an exception. 8-bit RGB/RGBA PNGs (every NIH cell) go through a faster reader of
// our own (pngreader.h: libdeflate + SSE2 filters, pixels equal to OpenCV's); everything else,
// and every PNG that reader does not take, through OpenCV.

#include <QSize>
#include <QString>
#include <QStringList>

#include <opencv2/core/mat.hpp>

namespace ml {

/// Limits applied before decoding. The defaults refuse a 30,000 x 30,000 image (900 MP).
struct DecodeLimits
{
    qint64 maxPixels = 100'000'000;      ///< width*height above this is refused
    qint64 maxFileBytes = 1'000'000'000; ///< larger files are refused unread
};

/// Result of decoding one file. On failure `bgr` is empty and `error` says why.
struct DecodedImage
{
    cv::Mat bgr;      ///< CV_8UC3, BGR order (OpenCV's convention), continuous
    QSize size;       ///< original width/height
    int channels = 0; ///< channels stored in the file (1 gray, 2 gray+alpha, 3, 4)
    int bitDepth = 0; ///< bits per channel stored in the file (8 or 16)
    QString error;    ///< empty on success

    bool ok() const { return error.isEmpty() && !bgr.empty(); }
};

/// File name extensions (lower case, no dot) the browser accepts: png, jpg, jpeg, tif, tiff, bmp.
const QStringList& imageExtensions();

/// True when `fileName` ends with one of imageExtensions() (case-insensitive).
bool hasImageExtension(const QString& fileName);

/// Decodes `path` to 8-bit BGR. Grayscale, alpha, palette and 16-bit images are converted
/// (alpha dropped, 16-bit scaled by 1/257). Thread-safe; never throws.
DecodedImage decodeImage(const QString& path, const DecodeLimits& limits = {});

/// Same as decodeImage() for bytes already in memory.
DecodedImage decodeImageData(const QByteArray& data, const DecodeLimits& limits = {});

} // namespace ml
