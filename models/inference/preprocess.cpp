#include "preprocess.h"

#include "imageio.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

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
    result.originalSize = decoded.bgr.size();
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

QString inputNormalizationName(InputNormalization n)
{
    switch (n) {
    case InputNormalization::ForegroundMedian:
        return QStringLiteral("foreground-median");
    case InputNormalization::CanonicalGrey:
        return QStringLiteral("canonical-grey");
    case InputNormalization::CanonicalLab:
        return QStringLiteral("canonical-lab");
    case InputNormalization::None:
        break;
    }
    return QStringLiteral("none");
}

CanonicalRecipe canonicalRecipeFor(InputNormalization n, bool* isCanonical)
{
    CanonicalRecipe r;
    const bool canonical =
        n == InputNormalization::CanonicalGrey || n == InputNormalization::CanonicalLab;
    if (n == InputNormalization::CanonicalLab)
        r.stain = CanonicalStain::Lab;
    if (isCanonical)
        *isCanonical = canonical;
    return r;
}

QJsonObject inputCardJson(InputNormalization n, int size)
{
    QJsonObject o{{QStringLiteral("width"), size},
                  {QStringLiteral("height"), size},
                  {QStringLiteral("channels"), 3},
                  {QStringLiteral("color"), QStringLiteral("RGB")},
                  {QStringLiteral("range"), QStringLiteral("[0,1]")},
                  {QStringLiteral("resize"), QStringLiteral("cv::INTER_AREA")},
                  {QStringLiteral("normalization"), inputNormalizationName(n)}};
    bool canonical = false;
    const CanonicalRecipe r = canonicalRecipeFor(n, &canonical);
    if (canonical)
        o.insert(QStringLiteral("canonical"), r.toJson());
    return o;
}

InputNormalization inputNormalizationFromName(const QString& name, bool* ok)
{
    const QString s = name.trimmed().toLower();
    if (ok)
        *ok = true;
    if (s == QLatin1String("foreground-median") || s == QLatin1String("median"))
        return InputNormalization::ForegroundMedian;
    if (s == QLatin1String("canonical-grey") || s == QLatin1String("canonical"))
        return InputNormalization::CanonicalGrey;
    if (s == QLatin1String("canonical-lab"))
        return InputNormalization::CanonicalLab;
    if (ok)
        *ok = s.isEmpty() || s == QLatin1String("none");
    return InputNormalization::None;
}

cv::Mat normalizeColour(const cv::Mat& rgb, InputNormalization n)
{
    if (n == InputNormalization::None || rgb.empty() || rgb.type() != CV_32FC3)
        return rgb;
    bool canonical = false;
    const CanonicalRecipe recipe = canonicalRecipeFor(n, &canonical);
    if (canonical) {
        CanonicalCell cell = canonicalizeCell(rgb, recipe);
        return cell.rgb.empty() ? rgb.clone() : cell.rgb;
    }
    const cv::Mat src = rgb.isContinuous() ? rgb : rgb.clone();
    const size_t pixels = src.total();
    const float* p = src.ptr<float>();
    std::vector<float> channel[3];
    for (auto& c : channel)
        c.reserve(pixels);
    for (size_t i = 0; i < pixels; ++i) {
        const float* px = p + 3 * i;
        if (std::max({px[0], px[1], px[2]}) > 0.04f) {
            for (int c = 0; c < 3; ++c)
                channel[c].push_back(px[c]);
        }
    }
    if (channel[0].size() < pixels / 20)
        return rgb.clone();
    float gain[3];
    for (int c = 0; c < 3; ++c) {
        auto& v = channel[c];
        auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
        std::nth_element(v.begin(), mid, v.end());
        const float median = std::max(*mid, 1e-3f);
        gain[c] = std::clamp(kReferenceColour[c] / median, 0.5f, 2.0f);
    }
    cv::Mat out(src.size(), CV_32FC3);
    float* q = out.ptr<float>();
    for (size_t i = 0; i < pixels; ++i) {
        for (int c = 0; c < 3; ++c)
            q[3 * i + c] = std::min(1.0f, p[3 * i + c] * gain[c]);
    }
    return out;
}

} // namespace ml
