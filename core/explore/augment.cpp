#include "augment.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace ml {

AugmentParams drawAugment(const AugmentConfig& c, std::mt19937& rng)
{
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    AugmentParams p;
    // Draw every value whatever the switches, so one seed gives the same sequence of
    // images when only one switch changes.
    const float h = unit(rng), v = unit(rng), b = unit(rng), k = unit(rng), hue = unit(rng),
                sat = unit(rng);
    p.flipHorizontal = c.horizontalFlip && h < 0.5f;
    p.flipVertical = c.verticalFlip && v < 0.5f;
    p.brightness = (2.0f * b - 1.0f) * c.brightnessDelta;
    p.contrast = c.contrastLow + k * (c.contrastHigh - c.contrastLow);
    p.hueShift = (2.0f * hue - 1.0f) * c.hueShiftDegrees;
    p.saturation = 1.0f + (2.0f * sat - 1.0f) * c.saturationJitter;
    return p;
}

cv::Mat toFloatRgb(const cv::Mat& bgr8)
{
    cv::Mat rgb, f;
    cv::cvtColor(bgr8, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32F, 1.0 / 255.0);
    return f;
}

cv::Mat toBgr8(const cv::Mat& rgbFloat)
{
    cv::Mat eight, bgr;
    rgbFloat.convertTo(eight, CV_8U, 255.0); // saturating
    cv::cvtColor(eight, bgr, cv::COLOR_RGB2BGR);
    return bgr;
}

cv::Mat flipHorizontal(const cv::Mat& image)
{
    cv::Mat out;
    cv::flip(image, out, 1);
    return out;
}

cv::Mat flipVertical(const cv::Mat& image)
{
    cv::Mat out;
    cv::flip(image, out, 0);
    return out;
}

namespace {
// cv::max(mat, double) on a multi-channel Mat is flagged by OpenCV as "might change"
// (opencv#16739: the double may become a first-channel-only Scalar); an explicit
// Scalar::all clamps every channel now and later.
cv::Mat clamp01(const cv::Mat& m)
{
    cv::Mat out;
    cv::max(m, cv::Scalar::all(0.0), out);
    cv::min(out, cv::Scalar::all(1.0), out);
    return out;
}
} // namespace

cv::Mat adjustBrightness(const cv::Mat& rgbFloat, float delta)
{
    return clamp01(rgbFloat + cv::Scalar::all(double(delta)));
}

cv::Mat adjustContrast(const cv::Mat& rgbFloat, float factor)
{
    const cv::Scalar mean = cv::mean(rgbFloat);
    cv::Mat out = (rgbFloat - mean) * double(factor) + mean;
    return clamp01(out);
}

cv::Mat jitterColour(const cv::Mat& rgbFloat, float degrees, float saturationFactor)
{
    if (degrees == 0.0f && saturationFactor == 1.0f)
        return rgbFloat.clone();
    cv::Mat hsv;
    cv::cvtColor(rgbFloat, hsv, cv::COLOR_RGB2HSV); // float: H in [0,360), S,V in [0,1]
    std::vector<cv::Mat> ch;
    cv::split(hsv, ch);
    ch[0] += double(degrees);
    // Wrap hue into [0,360).
    cv::Mat below = ch[0] < 0.0, above = ch[0] >= 360.0;
    cv::add(ch[0], 360.0, ch[0], below);
    cv::subtract(ch[0], 360.0, ch[0], above);
    ch[1] = clamp01(ch[1] * double(saturationFactor));
    cv::merge(ch, hsv);
    cv::Mat rgb;
    cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
    return clamp01(rgb);
}

cv::Mat applyAugment(const cv::Mat& rgbFloat, const AugmentParams& p)
{
    cv::Mat m = rgbFloat;
    if (p.flipHorizontal)
        m = flipHorizontal(m);
    if (p.flipVertical)
        m = flipVertical(m);
    if (p.hueShift != 0.0f || p.saturation != 1.0f)
        m = jitterColour(m, p.hueShift, p.saturation);
    if (p.brightness != 0.0f)
        m = adjustBrightness(m, p.brightness);
    if (p.contrast != 1.0f)
        m = adjustContrast(m, p.contrast);
    if (m.data == rgbFloat.data)
        m = m.clone();
    return m;
}

} // namespace ml
