#include "pngreader.h"

#include <libdeflate.h>

#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
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

// The filters' reconstruction of one pixel from its filtered bytes x, the pixel to its left a,
// the one above b and the one above-left c, in 16-bit lanes holding 0..255. An 8-bit add wraps
// modulo 256 as PNG wants and keeps the high bytes zero.
struct Sub
{
    static __m128i step(__m128i x, __m128i a, __m128i, __m128i) { return _mm_add_epi8(x, a); }
};
struct Average
{
    static __m128i step(__m128i x, __m128i a, __m128i b, __m128i)
    {
        return _mm_add_epi8(x, _mm_srli_epi16(_mm_add_epi16(a, b), 1));
    }
};
// Paeth, ties broken a, then b, then c, without a branch. libpng's Debian build runs a byte
// loop with a branch per byte that reloads the left byte from memory it just stored (a third
// of the mean images' time in perf).
struct Paeth
{
    static __m128i step(__m128i x, __m128i a, __m128i b, __m128i c)
    {
        __m128i pa = _mm_sub_epi16(b, c); // p - a = b - c
        __m128i pb = _mm_sub_epi16(a, c); // p - b = a - c
        const __m128i pc = abs16(_mm_add_epi16(pa, pb));
        pa = abs16(pa);
        pb = abs16(pb);
        const __m128i notA = _mm_or_si128(_mm_cmpgt_epi16(pa, pb), _mm_cmpgt_epi16(pa, pc));
        const __m128i useC = _mm_cmpgt_epi16(pb, pc);
        const __m128i bOrC = _mm_or_si128(_mm_and_si128(useC, c), _mm_andnot_si128(useC, b));
        const __m128i pred = _mm_or_si128(_mm_and_si128(notA, bOrC), _mm_andnot_si128(notA, a));
        return _mm_add_epi8(x, pred);
    }
};

// One pixel of a row: the left pixel `a` stays in a register (a byte loop would reload it
// from the byte just stored). For 3-byte pixels the fourth lane carries the next pixel's first
// byte along unused: the 4-byte store overwrites that byte, so the next pixel's input `xNext`
// is loaded before it, and the row's last pixel stores 3 bytes (the byte after it is the next
// row's filter type). Loads reach at most 4 bytes past the row: the next row or the padding.
template <int Bpp, class Filter>
inline void pixelStep(uchar* row, const uchar* prior, std::size_t i, bool last, __m128i& a,
                      __m128i& c, __m128i& xNext)
{
    uchar* p = row + i * Bpp;
    const __m128i x = xNext;
    xNext = load4(p + Bpp);
    const __m128i b = load4(prior + i * Bpp);
    a = Filter::step(x, a, b, c);
    const int v = _mm_cvtsi128_si32(_mm_packus_epi16(a, a));
    if (Bpp == 4 || !last)
        std::memcpy(p, &v, 4);
    else
        std::memcpy(p, &v, 3);
    c = b;
}

template <int Bpp, class Filter> void filterRow(uchar* row, const uchar* prior, std::size_t pixels)
{
    __m128i a = _mm_setzero_si128(), c = a, xNext = load4(row);
    for (std::size_t i = 0; i + 1 < pixels; ++i)
        pixelStep<Bpp, Filter>(row, prior, i, false, a, c, xNext);
    pixelStep<Bpp, Filter>(row, prior, pixels - 1, true, a, c, xNext);
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

struct Sub;
struct Average;
struct Paeth;

template <int Bpp, class Filter> void filterRow(uchar* row, const uchar* prior, std::size_t pixels)
{
    const std::size_t n = pixels * Bpp;
    for (std::size_t i = 0; i < n; ++i) {
        const int a = i >= Bpp ? row[i - Bpp] : 0;
        const int c = i >= Bpp ? prior[i - Bpp] : 0;
        int pred;
        if (std::is_same<Filter, Sub>::value)
            pred = a;
        else if (std::is_same<Filter, Average>::value)
            pred = (a + prior[i]) >> 1;
        else
            pred = paethPredictor(a, prior[i], c);
        row[i] = uchar(row[i] + pred);
    }
}

#endif

// Undoes the filter of every row in place. `buf` holds height rows of (filter byte + rowBytes)
// followed by kPadding readable bytes. False on a filter type above 4.
template <int Bpp>
bool unfilter(uchar* buf, std::size_t height, std::size_t rowBytes, const uchar* zeroRow)
{
    const std::size_t stride = rowBytes + 1;
    const std::size_t pixels = rowBytes / Bpp;
    const uchar* prior = zeroRow;
    for (std::size_t y = 0; y < height; ++y) {
        uchar* row = buf + y * stride + 1;
        switch (row[-1]) {
        case 0: // None
            break;
        case 1:
            filterRow<Bpp, Sub>(row, prior, pixels);
            break;
        case 2: // Up: no chain along the row, the compiler vectorises it
            for (std::size_t i = 0; i < rowBytes; ++i)
                row[i] = uchar(row[i] + prior[i]);
            break;
        case 3:
            filterRow<Bpp, Average>(row, prior, pixels);
            break;
        case 4:
            filterRow<Bpp, Paeth>(row, prior, pixels);
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
        if (!(bpp == 3 ? unfilter<3>(buf.get(), height, rowBytes, zeroRow.data())
                       : unfilter<4>(buf.get(), height, rowBytes, zeroRow.data())))
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
