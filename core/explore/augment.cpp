#include "augment.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <vector>

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
    if (!c.crossLabEnabled())
        return p;
    const auto sym = [&](float range) { return 1.0f + (2.0f * unit(rng) - 1.0f) * range; };
    p.gamma = sym(c.gammaJitter);
    p.exposure = sym(c.exposureJitter);
    p.blurSigma = unit(rng) * c.blurSigmaMax;
    p.scale = sym(c.scaleJitter);
    p.repaintSurround = unit(rng) < c.surroundProbability;
    // A light slide background, from grey to white, slightly tinted.
    const float level = 0.55f + 0.45f * unit(rng);
    for (int k = 0; k < 3; ++k)
        p.surroundColour[k] = std::min(1.0f, level * (0.94f + 0.06f * unit(rng)));
    p.noiseStd = unit(rng) * c.noiseStdMax;
    p.noiseSeed = unsigned(rng());
    const float q = unit(rng);
    p.jpegQuality =
        c.jpegQualityLow > 0 ? c.jpegQualityLow + int(q * float(95 - c.jpegQualityLow)) : 0;
    if (unit(rng) >= c.crossLabProbability) {
        // This cell stays as a lab like the training labs shows it (the values above were
        // drawn anyway, so the sequence does not depend on which cells keep them).
        const AugmentParams none;
        p.gamma = none.gamma;
        p.exposure = none.exposure;
        p.blurSigma = none.blurSigma;
        p.scale = none.scale;
        p.repaintSurround = none.repaintSurround;
        p.noiseStd = none.noiseStd;
        p.jpegQuality = none.jpegQuality;
    }
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

cv::Mat zoom(const cv::Mat& rgbFloat, float factor)
{
    if (factor <= 0.0f || factor == 1.0f)
        return rgbFloat.clone();
    const cv::Point2f centre(rgbFloat.cols / 2.0f, rgbFloat.rows / 2.0f);
    const cv::Mat m = cv::getRotationMatrix2D(centre, 0.0, factor);
    cv::Mat out;
    cv::warpAffine(rgbFloat, out, m, rgbFloat.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar::all(0));
    return out;
}

cv::Mat repaintSurround(const cv::Mat& rgbFloat, const cv::Vec3f& colour)
{
    cv::Mat out = rgbFloat.clone();
    cv::Mat surround;
    cv::inRange(rgbFloat, cv::Scalar::all(0), cv::Scalar::all(0.03), surround);
    // Soften the cut so the cell edge does not carry a black ring the model could key on.
    cv::Mat soft;
    surround.convertTo(soft, CV_32F, 1.0 / 255.0);
    cv::GaussianBlur(soft, soft, cv::Size(3, 3), 0.8);
    cv::Mat soft3;
    cv::Mat planes[3] = {soft, soft, soft};
    cv::merge(planes, 3, soft3);
    const cv::Mat paint(out.size(), CV_32FC3, cv::Scalar(colour[0], colour[1], colour[2]));
    out = out.mul(cv::Scalar::all(1.0) - soft3) + paint.mul(soft3);
    return out;
}

cv::Mat jpegRoundTrip(const cv::Mat& rgbFloat, int quality)
{
    std::vector<uchar> bytes;
    const cv::Mat bgr = toBgr8(rgbFloat);
    if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
        return rgbFloat.clone();
    const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
    return decoded.empty() ? rgbFloat.clone() : toFloatRgb(decoded);
}

cv::Mat applyAugment(const cv::Mat& rgbFloat, const AugmentParams& p)
{
    cv::Mat m = rgbFloat;
    if (p.scale != 1.0f)
        m = zoom(m, p.scale);
    if (p.repaintSurround)
        m = repaintSurround(m, p.surroundColour);
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
    if (p.exposure != 1.0f || p.gamma != 1.0f) {
        cv::Mat e;
        cv::min(cv::max(m * p.exposure, 0.0), 1.0, e);
        if (p.gamma != 1.0f)
            cv::pow(e, double(p.gamma), e);
        m = e;
    }
    if (p.blurSigma > 0.05f) {
        cv::Mat b;
        cv::GaussianBlur(m, b, cv::Size(0, 0), p.blurSigma);
        m = b;
    }
    if (p.noiseStd > 0.0f) {
        cv::Mat noise(m.size(), CV_32FC3);
        cv::RNG noiseRng(p.noiseSeed);
        noiseRng.fill(noise, cv::RNG::NORMAL, 0.0, p.noiseStd);
        cv::Mat n;
        cv::min(cv::max(m + noise, 0.0), 1.0, n);
        m = n;
    }
    if (p.jpegQuality > 0)
        m = jpegRoundTrip(m, p.jpegQuality);
    if (m.data == rgbFloat.data)
        m = m.clone();
    return m;
}

} // namespace ml
