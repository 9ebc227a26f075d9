#pragma once
// PNG decoding through libspng, for bench_decode (issue 19): the candidate replacement of
// OpenCV's decoder inside decodeImageData(). Measured slower than OpenCV/libpng on the NIH
// cells with Debian's libspng 0.7.3 (docs/BENCHMARKS.md), so the application does not use it.
//
// The result is the same cv::Mat that cv::imdecode(IMREAD_UNCHANGED) gives for the file
// (same type, same channel order, same values; bench_decode checks this file by file), so
// the comparison is like for like. Bit depths below 8, a tRNS chunk and anything libspng
// refuses (truncated, corrupt, bad CRC, missing IEND) come back as NotHandled: a caller
// would fall back to OpenCV. Pure functions, thread-safe, never throw.

#include <QByteArray>
#include <QSize>

#include <opencv2/core/mat.hpp>

namespace ml::bench {

struct PngDecodeResult
{
    enum class Status {
        Decoded,    ///< `raw` holds the pixels as imdecode(IMREAD_UNCHANGED) would give them
        TooLarge,   ///< header read, width*height above the limit; nothing allocated
        NotHandled, ///< not a PNG, or one this decoder leaves to OpenCV
    };
    Status status = Status::NotHandled;
    cv::Mat raw; ///< CV_8U or CV_16U, 1, 3 or 4 channels, BGR(A) order; empty unless Decoded
    QSize size;  ///< width/height from the header (Decoded and TooLarge)
};

/// True when `data` starts with the 8-byte PNG signature.
bool hasPngSignature(const QByteArray& data);

/// Decodes a PNG held in memory with libspng. `maxPixels` is checked on the header before
/// any pixel buffer is allocated.
PngDecodeResult decodePngFast(const QByteArray& data, qint64 maxPixels);

} // namespace ml::bench
