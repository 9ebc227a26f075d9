#pragma once
// A fast path for the PNGs MalariaLens sees most: 8-bit RGB or RGBA, not interlaced (every
// NIH cell is one). Inflation runs through libdeflate (2.66x zlib's speed on the NIH IDAT
// streams) and the Paeth filter, which almost every row of those files uses, runs branch-free
// in SSE2 registers. Everything else, and anything unusual in a file this reader would take,
// is left to OpenCV: the reader only ever says "decoded" or "not mine", never an error, so
// decodeImageData() keeps one behaviour for bad input (docs/BENCHMARKS.md, issue 19).

#include <QtGlobal>

#include <opencv2/core/mat.hpp>

#include <cstddef>

namespace ml {

/// Decodes a PNG held in memory when it is one this reader handles, with pixels equal bit
/// for bit to `cv::imdecode(..., IMREAD_UNCHANGED)`: CV_8UC3 BGR for colour type 2 (RGB),
/// CV_8UC4 BGRA for colour type 6 (RGBA); `out` is continuous.
///
/// Returns false, leaving `out` untouched, for every file it does not decode itself, so the
/// caller falls back to OpenCV, which then gives its own result or error. That covers: any
/// other bit depth, colour type or interlacing; a tRNS, PLTE or unknown critical chunk; a
/// chunk CRC that does not match; a chunk name libpng would refuse or a chunk over 8 MB; a
/// missing IEND (truncated file); IDAT chunks that are not consecutive; a zlib window under
/// 32 KB; zlib data that is corrupt, fails its Adler-32, or inflates to more or fewer bytes
/// than the image needs; a filter type above 4; and an image whose width * height exceeds
/// `maxPixels` (or 2^30, OpenCV's own limit), refused before any pixel buffer is allocated.
///
/// Reads only inside [data, data + size). Thread-safe (one libdeflate decompressor per
/// thread); never throws.
bool readPngFast(const uchar* data, std::size_t size, qint64 maxPixels, cv::Mat& out);

/// True when `data` starts with the 8-byte PNG signature.
bool hasPngSignature(const uchar* data, std::size_t size);

} // namespace ml
