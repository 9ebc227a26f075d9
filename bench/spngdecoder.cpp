#include "spngdecoder.h"

#include <QtGlobal>

#include <opencv2/imgproc.hpp>

#include <spng.h>

#include <cstring>
#include <exception>
#include <memory>

namespace ml::bench {

namespace {

struct SpngFree
{
    void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

// What cv::imdecode(IMREAD_UNCHANGED) returns for a PNG without tRNS (OpenCV 4.6,
// grfmt_png.cpp): grey -> 1 channel; RGB and palette -> 3 channels BGR; grey+alpha -> 4
// channels (grey copied to B, G and R) + alpha; RGBA -> BGRA; 16-bit samples kept
// (host-endian), everything else 8-bit. `fmt` is the libspng output giving the same samples
// in RGB(A) order; `swapRb` says whether R and B must then be exchanged.
struct Layout
{
    int fmt = 0;
    int cvType = -1;
    bool swapRb = false;
};

Layout layoutFor(const spng_ihdr& ihdr)
{
    const bool sixteen = ihdr.bit_depth == 16;
    switch (ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE:
        if (ihdr.bit_depth == 8)
            return {SPNG_FMT_G8, CV_8UC1, false};
        if (sixteen)
            return {SPNG_FMT_PNG, CV_16UC1, false};
        return {}; // 1, 2, 4 bits: libpng's expansion rule, left to OpenCV
    case SPNG_COLOR_TYPE_TRUECOLOR:
        return sixteen ? Layout{SPNG_FMT_PNG, CV_16UC3, true}
                       : Layout{SPNG_FMT_RGB8, CV_8UC3, true};
    case SPNG_COLOR_TYPE_INDEXED:
        return {SPNG_FMT_RGB8, CV_8UC3, true};
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
        return sixteen ? Layout{SPNG_FMT_RGBA16, CV_16UC4, false}
                       : Layout{SPNG_FMT_RGBA8, CV_8UC4, false};
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA:
        return sixteen ? Layout{SPNG_FMT_RGBA16, CV_16UC4, true}
                       : Layout{SPNG_FMT_RGBA8, CV_8UC4, true};
    default:
        return {};
    }
}

} // namespace

bool hasPngSignature(const QByteArray& data)
{
    static const char signature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
    return data.size() >= 8 && std::memcmp(data.constData(), signature, 8) == 0;
}

PngDecodeResult decodePngFast(const QByteArray& data, qint64 maxPixels)
{
    using Status = PngDecodeResult::Status;
    PngDecodeResult result;
    if (!hasPngSignature(data))
        return result;
    std::unique_ptr<spng_ctx, SpngFree> ctx(spng_ctx_new(0));
    if (!ctx || spng_set_png_buffer(ctx.get(), data.constData(), size_t(data.size())) != 0)
        return result;
    spng_ihdr ihdr{};
    if (spng_get_ihdr(ctx.get(), &ihdr) != 0 || ihdr.width == 0 || ihdr.height == 0 ||
        ihdr.width > 0x7fffffffu || ihdr.height > 0x7fffffffu)
        return result;
    result.size = QSize(int(ihdr.width), int(ihdr.height));
    if (qint64(ihdr.width) * qint64(ihdr.height) > maxPixels) {
        result.status = Status::TooLarge;
        return result;
    }
    // With tRNS, OpenCV adds an alpha channel (RGB, palette) or keeps grey as is: rare in
    // microscopy exports, so left to OpenCV rather than reproduced here.
    spng_trns trns{};
    const int trnsStatus = spng_get_trns(ctx.get(), &trns);
    if (trnsStatus != SPNG_ECHUNKAVAIL)
        return result; // present, or the chunks before IDAT could not be read
    const Layout layout = layoutFor(ihdr);
    if (layout.cvType < 0)
        return result;
    size_t bytes = 0;
    if (spng_decoded_image_size(ctx.get(), layout.fmt, &bytes) != 0)
        return result;
    try {
        cv::Mat decoded(int(ihdr.height), int(ihdr.width), layout.cvType);
        if (decoded.total() * decoded.elemSize() != bytes)
            return result;
        if (spng_decode_image(ctx.get(), decoded.data, bytes, layout.fmt, 0) != 0)
            return result;
        // Read on to IEND as libpng does (png_read_end): a file cut after its pixel data is
        // refused by OpenCV, so it must not be accepted here either.
        if (spng_decode_chunks(ctx.get()) != 0)
            return result;
        if (layout.swapRb) {
            const int code = decoded.channels() == 4 ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR;
            cv::cvtColor(decoded, result.raw, code);
        } else {
            result.raw = decoded;
        }
    } catch (const std::exception&) { // cv::Exception (out of memory) or std::bad_alloc
        result.raw.release();
        return result;
    }
    result.status = Status::Decoded;
    return result;
}

} // namespace ml::bench
