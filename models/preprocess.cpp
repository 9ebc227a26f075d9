#include "preprocess.h"

#include "imageio.h"

#include <opencv2/imgproc.hpp>

#include <cstring>

namespace ml {

cv::Mat preprocessImage(const cv::Mat& bgr8, int size)
{
    if (bgr8.empty() || bgr8.type() != CV_8UC3 || size < 1)
        return {};
    try {
        cv::Mat rgb, resized, out;
        cv::cvtColor(bgr8, rgb, cv::COLOR_BGR2RGB);
        // INTER_AREA averages source pixels when shrinking (cells are ~130 px): no aliasing.
        // Resizing the 8-bit image is ~4x cheaper than resizing floats; the rounding
        // (<= 0.5/255) is far below what the network resolves.
        if (rgb.cols == size && rgb.rows == size)
            resized = rgb;
        else
            cv::resize(rgb, resized, cv::Size(size, size), 0, 0, cv::INTER_AREA);
        resized.convertTo(out, CV_32FC3, 1.0 / 255.0);
        return out.isContinuous() ? out : out.clone();
    } catch (const cv::Exception&) {
        return {};
    }
}

PreprocessedImage loadPreprocessed(const QString& path, int size)
{
    PreprocessedImage result;
    const DecodedImage decoded = decodeImage(path);
    if (!decoded.ok()) {
        result.error =
            decoded.error.isEmpty() ? QStringLiteral("could not be decoded") : decoded.error;
        return result;
    }
    result.rgb = preprocessImage(decoded.bgr, size);
    if (result.rgb.empty())
        result.error = QStringLiteral("could not be converted to the model's input");
    return result;
}

bool packNchw(const std::vector<cv::Mat>& images, float* out, int size)
{
    for (const cv::Mat& m : images) {
        if (m.type() != CV_32FC3 || m.cols != size || m.rows != size)
            return false;
    }
    const size_t plane = size_t(size) * size;
    for (size_t i = 0; i < images.size(); ++i) {
        const cv::Mat& m = images[i];
        float* r = out + i * 3 * plane;
        float* g = r + plane;
        float* b = g + plane;
        // HWC -> CHW: the networks (and PyTorch) want planar channels.
        for (int y = 0; y < size; ++y) {
            const float* src = m.ptr<float>(y);
            const size_t row = size_t(y) * size;
            for (int x = 0; x < size; ++x) {
                r[row + x] = src[3 * x];
                g[row + x] = src[3 * x + 1];
                b[row + x] = src[3 * x + 2];
            }
        }
    }
    return true;
}

bool packNhwc(const std::vector<cv::Mat>& images, float* out, int size)
{
    for (const cv::Mat& m : images) {
        if (m.type() != CV_32FC3 || m.cols != size || m.rows != size || !m.isContinuous())
            return false;
    }
    const size_t floats = size_t(size) * size * 3;
    for (size_t i = 0; i < images.size(); ++i)
        std::memcpy(out + i * floats, images[i].ptr<float>(), floats * sizeof(float));
    return true;
}

} // namespace ml
