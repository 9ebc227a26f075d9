#include "pngreader.h"

#include <libdeflate.h>

#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ml {

namespace {

constexpr uchar kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// libpng's defaults on Debian (pnglibconf.h): PNG_USER_WIDTH_MAX / HEIGHT_MAX and
// PNG_USER_CHUNK_MALLOC_MAX. Files beyond them make libpng fail; leaving them to OpenCV keeps
// that result instead of decoding what OpenCV would refuse.
constexpr quint32 kMaxSide = 1'000'000;
constexpr quint32 kMaxChunk = 8'000'000;
// OpenCV's CV_IO_MAX_IMAGE_PIXELS default: imdecode refuses larger images.
constexpr qint64 kOpenCvMaxPixels = qint64(1) << 30;
// Bytes readable past the inflated rows: the SSE2 filters load 4 bytes per 3-byte pixel.
constexpr std::size_t kPadding = 16;

quint32 be32(const uchar* p)
{
    return (quint32(p[0]) << 24) | (quint32(p[1]) << 16) | (quint32(p[2]) << 8) | quint32(p[3]);
}

bool isChunk(const uchar* type, const char* name)
{
    return std::memcmp(type, name, 4) == 0;
}

// libpng refuses chunk names outside [A-Za-z] (png_check_chunk_name).
bool validChunkName(const uchar* t)
{
    for (int i = 0; i < 4; ++i) {
        const uchar c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

// One decompressor per thread: allocating one costs more than inflating a small cell.
struct Decompressor
{
    libdeflate_decompressor* d = libdeflate_alloc_decompressor();
    ~Decompressor()
    {
        if (d)
            libdeflate_free_decompressor(d);
    }
};

libdeflate_decompressor* threadDecompressor()
{
    thread_local Decompressor tl;
    return tl.d;
}

#if defined(__SSE2__)
// 4 bytes at p as four 16-bit lanes.
inline __m128i load4(const uchar* p)
{
    int v;
    std::memcpy(&v, p, 4);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128());
}

inline __m128i abs16(__m128i v)
{
    return _mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), v));
}

// Paeth, one pixel per step in 16-bit lanes with the left pixel kept in a register. libpng's
// Debian build runs a byte loop with a branch per byte and reloads the left byte from the row
// it just stored (35 % of the mean images' time, perf); this is branch-free. For 3-byte
// pixels the fourth lane carries the next pixel's first byte along unused: the 4-byte store
// overwrites that byte, so the next pixel's input is loaded before it, and the row's last
// pixel stores 3 bytes (the next byte is the following row's filter type).
template <int Bpp> void paethRow(uchar* row, const uchar* prior, std::size_t pixels)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i a = zero, c = zero;
    __m128i xNext = load4(row);
    for (std::size_t i = 0; i < pixels; ++i) {
        uchar* p = row + i * Bpp;
        const __m128i x = xNext;
        xNext = load4(p + Bpp); // reads at most 4 bytes past the row: next row or padding
        const __m128i b = load4(prior + i * Bpp);
        __m128i pa = _mm_sub_epi16(b, c); // p - a = b - c
        __m128i pb = _mm_sub_epi16(a, c); // p - b = a - c
        const __m128i pc = abs16(_mm_add_epi16(pa, pb));
        pa = abs16(pa);
        pb = abs16(pb);
        const __m128i notA = _mm_or_si128(_mm_cmpgt_epi16(pa, pb), _mm_cmpgt_epi16(pa, pc));
        const __m128i useC = _mm_cmpgt_epi16(pb, pc);
        const __m128i bOrC = _mm_or_si128(_mm_and_si128(useC, c), _mm_andnot_si128(useC, b));
        const __m128i pred = _mm_or_si128(_mm_and_si128(notA, bOrC), _mm_andnot_si128(notA, a));
        // Lanes hold 0..255 with a zero high byte: an 8-bit add wraps modulo 256 as PNG wants
        // and leaves the high byte zero.
        a = _mm_add_epi8(x, pred);
        const int v = _mm_cvtsi128_si32(_mm_packus_epi16(a, a));
        if (Bpp == 4 || i + 1 < pixels)
            std::memcpy(p, &v, 4);
        else
            std::memcpy(p, &v, 3);
        c = b;
    }
}
#else
// The Paeth predictor of the PNG specification, ties broken a, then b, then c.
inline int paethPredictor(int a, int b, int c)
{
    const int pa = std::abs(b - c);
    const int pb = std::abs(a - c);
    const int pc = std::abs(a + b - 2 * c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

template <int Bpp> void paethRow(uchar* row, const uchar* prior, std::size_t pixels)
{
    const std::size_t n = pixels * Bpp;
    for (std::size_t i = 0; i < Bpp; ++i)
        row[i] = uchar(row[i] + prior[i]);
    for (std::size_t i = Bpp; i < n; ++i)
        row[i] = uchar(row[i] + paethPredictor(row[i - Bpp], prior[i], prior[i - Bpp]));
}
#endif

// Undoes the filter of every row in place. `buf` holds height rows of (filter byte + rowBytes)
// followed by kPadding readable bytes. False on a filter type above 4.
bool unfilter(uchar* buf, std::size_t height, std::size_t rowBytes, int bpp, const uchar* zeroRow)
{
    const std::size_t stride = rowBytes + 1;
    const std::size_t pixels = rowBytes / std::size_t(bpp);
    const uchar* prior = zeroRow;
    for (std::size_t y = 0; y < height; ++y) {
        uchar* row = buf + y * stride + 1;
        switch (row[-1]) {
        case 0: // None
            break;
        case 1: // Sub
            for (std::size_t i = std::size_t(bpp); i < rowBytes; ++i)
                row[i] = uchar(row[i] + row[i - std::size_t(bpp)]);
            break;
        case 2: // Up
            for (std::size_t i = 0; i < rowBytes; ++i)
                row[i] = uchar(row[i] + prior[i]);
            break;
        case 3: // Average
            for (std::size_t i = 0; i < std::size_t(bpp); ++i)
                row[i] = uchar(row[i] + (prior[i] >> 1));
            for (std::size_t i = std::size_t(bpp); i < rowBytes; ++i)
                row[i] = uchar(row[i] + ((int(row[i - std::size_t(bpp)]) + prior[i]) >> 1));
            break;
        case 4: // Paeth
            if (bpp == 3)
                paethRow<3>(row, prior, pixels);
            else
                paethRow<4>(row, prior, pixels);
            break;
        default:
            return false; // libpng: "bad adaptive filter value"
        }
        prior = row;
    }
    return true;
}

} // namespace

bool hasPngSignature(const uchar* data, std::size_t size)
{
    return size >= sizeof(kSignature) && std::memcmp(data, kSignature, sizeof(kSignature)) == 0;
}

bool readPngFast(const uchar* data, std::size_t size, qint64 maxPixels, cv::Mat& out)
{
    if (!data || !hasPngSignature(data, size))
        return false;
    quint32 width = 0, height = 0;
    int colourType = -1;
    // IDAT payloads in file order: [offset, length).
    std::vector<std::pair<std::size_t, std::size_t>> idat;
    bool idatEnded = false, sawIend = false;
    std::size_t p = sizeof(kSignature);
    while (!sawIend) {
        if (size - p < 12)
            return false; // truncated: no IEND
        const quint32 length = be32(data + p);
        if (length > kMaxChunk || size - p - 12 < length)
            return false;
        const uchar* type = data + p + 4;
        const uchar* body = type + 4;
        if (!validChunkName(type))
            return false;
        // libpng checks every chunk's CRC; a mismatch is OpenCV's to report (or to skip, for
        // ancillary chunks): never decode what it might refuse.
        if (quint32(libdeflate_crc32(0, type, std::size_t(length) + 4)) != be32(body + length))
            return false;
        const bool first = p == sizeof(kSignature);
        if (first != isChunk(type, "IHDR"))
            return false; // IHDR must come first, once
        if (first) {
            if (length != 13)
                return false;
            width = be32(body);
            height = be32(body + 4);
            const int bitDepth = body[8];
            colourType = body[9];
            if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide ||
                bitDepth != 8 || (colourType != 2 && colourType != 6) || body[10] != 0 ||
                body[11] != 0 || body[12] != 0)
                return false;
            // Refused before any allocation; OpenCV then gives the caller's usual verdict.
            const qint64 pixels = qint64(width) * qint64(height);
            if (pixels > maxPixels || pixels > kOpenCvMaxPixels)
                return false;
        } else if (isChunk(type, "IDAT")) {
            if (idatEnded)
                return false; // IDATs must be consecutive
            idat.emplace_back(std::size_t(body - data), std::size_t(length));
        } else {
            idatEnded = !idat.empty();
            if (isChunk(type, "IEND")) {
                if (length != 0)
                    return false;
                sawIend = true;
            } else if ((type[0] & 0x20) == 0 || isChunk(type, "tRNS")) {
                // PLTE, unknown critical chunks and transparency change what libpng returns.
                return false;
            }
        }
        p += std::size_t(length) + 12;
    }
    if (idat.empty())
        return false;

    try {
        const int bpp = colourType == 6 ? 4 : 3;
        const std::size_t rowBytes = std::size_t(width) * std::size_t(bpp);
        const std::size_t total = (rowBytes + 1) * std::size_t(height);

        // The zlib stream: in place when one IDAT holds it (the usual case), else joined.
        std::vector<uchar> joined;
        const uchar* zdata = data + idat.front().first;
        std::size_t zsize = idat.front().second;
        if (idat.size() > 1) {
            std::size_t n = 0;
            for (const auto& c : idat)
                n += c.second;
            joined.reserve(n);
            for (const auto& c : idat)
                joined.insert(joined.end(), data + c.first, data + c.first + c.second);
            zdata = joined.data();
            zsize = joined.size();
        }
        // libpng honours the stream's window size and fails on a distance beyond it;
        // libdeflate always allows 32 KB. Only streams declaring 32 KB decode the same in both.
        if (zsize < 2 || (zdata[0] >> 4) != 7)
            return false;

        std::unique_ptr<uchar[]> buf(new uchar[total + kPadding]);
        std::memset(buf.get() + total, 0, kPadding);
        libdeflate_decompressor* d = threadDecompressor();
        if (!d)
            return false;
        // Exactly `total` bytes or nothing: a short stream (truncated data) and one with more
        // rows than the header says both go to OpenCV. The Adler-32 is checked.
        if (libdeflate_zlib_decompress(d, zdata, zsize, buf.get(), total, nullptr) !=
            LIBDEFLATE_SUCCESS)
            return false;

        const std::vector<uchar> zeroRow(rowBytes + kPadding, 0);
        if (!unfilter(buf.get(), height, rowBytes, bpp, zeroRow.data()))
            return false;

        // PNG stores RGB(A); OpenCV returns BGR(A).
        const cv::Mat rows(int(height), int(width), bpp == 3 ? CV_8UC3 : CV_8UC4, buf.get() + 1,
                           rowBytes + 1);
        cv::Mat result;
        cv::cvtColor(rows, result, bpp == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_RGBA2BGRA);
        if (!result.isContinuous())
            result = result.clone();
        out = result;
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    } catch (const cv::Exception&) {
        return false;
    }
}

} // namespace ml
