#include "imageops.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace ml {

HsvPlanes toHsvPlanes(const cv::Mat& bgr8)
{
    HsvPlanes planes;
    if (bgr8.empty() || bgr8.type() != CV_8UC3)
        return planes;
    cv::Mat hsv;
    cv::cvtColor(bgr8, hsv, cv::COLOR_BGR2HSV);
    std::vector<cv::Mat> ch;
    cv::split(hsv, ch);
    planes.hue = ch[0];
    planes.saturation = ch[1];
    planes.value = ch[2];
    return planes;
}

namespace {

// A 256-entry table is cheaper than a cvtColor per call and also gives hues >= 180
// (impossible from cvtColor, possible from a user plane) a defined, wrapped colour.
const cv::Mat& hueLut()
{
    static const cv::Mat lut = [] {
        cv::Mat hsv(1, 256, CV_8UC3);
        for (int i = 0; i < 256; ++i)
            hsv.at<cv::Vec3b>(0, i) = cv::Vec3b(uchar(i % 180), 255, 255);
        cv::Mat bgr;
        cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
        return bgr;
    }();
    return lut;
}

} // namespace

cv::Mat hueColourMap(const cv::Mat& hue8)
{
    if (hue8.empty() || hue8.type() != CV_8UC1)
        return {};
    cv::Mat three, out;
    cv::merge(std::vector<cv::Mat>{hue8, hue8, hue8}, three);
    cv::LUT(three, hueLut(), out);
    return out;
}

cv::Mat hueImage(const cv::Mat& bgr8, int minDefined)
{
    const HsvPlanes p = toHsvPlanes(bgr8);
    if (p.hue.empty())
        return {};
    cv::Mat out = hueColourMap(p.hue);
    const cv::Mat undefined = (p.saturation < minDefined) | (p.value < minDefined);
    out.setTo(cv::Scalar::all(0), undefined);
    return out;
}

cv::Mat greyToBgr(const cv::Mat& plane8)
{
    if (plane8.empty() || plane8.type() != CV_8UC1)
        return {};
    cv::Mat out;
    cv::cvtColor(plane8, out, cv::COLOR_GRAY2BGR);
    return out;
}

int oddKernelSize(int kernelSize)
{
    if (kernelSize < 1)
        return 1;
    return kernelSize % 2 == 1 ? kernelSize : kernelSize + 1;
}

cv::Mat gaussianBlur(const cv::Mat& image, int kernelSize, double sigma)
{
    if (image.empty())
        return {};
    const int k = oddKernelSize(kernelSize);
    cv::Mat out;
    cv::GaussianBlur(image, out, cv::Size(k, k), sigma > 0.0 ? sigma : 0.0, 0.0,
                     cv::BORDER_REFLECT_101);
    return out;
}

cv::Mat channelMeanDifference(const cv::Mat& a, const cv::Mat& b)
{
    if (a.empty() || a.size() != b.size() || a.type() != b.type() || a.channels() != 3)
        return {};
    cv::Mat da, db;
    a.convertTo(da, CV_32F);
    b.convertTo(db, CV_32F);
    const cv::Mat diff = da - db;
    cv::Mat out;
    // Sum of the three channels in one pass, then / 3.
    cv::transform(diff, out, cv::Matx13f(1.0f / 3, 1.0f / 3, 1.0f / 3));
    return out;
}

namespace {
// ColorBrewer RdBu end points (colour-blind safe), white in the middle.
constexpr float kBlue[3] = {33, 102, 172};
constexpr float kRed[3] = {178, 24, 43};
} // namespace

cv::Vec3b divergingColour(float value, float scale)
{
    const float s = scale > 0.0f ? scale : 1e-6f;
    const float t = std::clamp(value / s, -1.0f, 1.0f);
    const float* end = t < 0.0f ? kBlue : kRed;
    const float a = std::fabs(t);
    auto mix = [&](int c) { return uchar(std::lround(255.0f + (end[c] - 255.0f) * a)); };
    return cv::Vec3b(mix(2), mix(1), mix(0));
}

cv::Mat divergingColourMap(const cv::Mat& values, float scale)
{
    if (values.empty() || values.type() != CV_32FC1)
        return {};
    cv::Mat out(values.size(), CV_8UC3);
    for (int y = 0; y < values.rows; ++y) {
        const float* src = values.ptr<float>(y);
        cv::Vec3b* dst = out.ptr<cv::Vec3b>(y);
        for (int x = 0; x < values.cols; ++x)
            dst[x] = divergingColour(src[x], scale);
    }
    return out;
}

float symmetricScale(const cv::Mat& values)
{
    if (values.empty())
        return 0.0f;
    double lo = 0, hi = 0;
    cv::minMaxLoc(values.reshape(1), &lo, &hi);
    return float(std::max(std::fabs(lo), std::fabs(hi)));
}

} // namespace ml
