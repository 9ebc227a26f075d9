#pragma once
// Pure image operations behind the exploratory views (HSV, Gaussian blur, colour maps).
//
// Every function takes and returns cv::Mat by value, owns no state, never throws on the
// documented inputs and is safe to call from any thread. 8-bit images are BGR, as
// decodeImage() returns them, so results go straight to matToQImage().

#include <opencv2/core/mat.hpp>

namespace ml {

/// The three planes of OpenCV's 8-bit HSV conversion (cv::COLOR_BGR2HSV), each CV_8UC1:
/// hue in [0,180) (degrees / 2), saturation and value in [0,255].
struct HsvPlanes
{
    cv::Mat hue;
    cv::Mat saturation;
    cv::Mat value;
};

/// Splits an 8-bit BGR image into OpenCV HSV planes. Pure red -> H 0, green -> 60,
/// blue -> 120 (degrees / 2); grey has S = 0 and H = 0. Empty or non-CV_8UC3 input gives
/// empty planes.
HsvPlanes toHsvPlanes(const cv::Mat& bgr8);

/// Cyclic colour map for an OpenCV hue plane (CV_8UC1, values 0..179): each hue is drawn as
/// the fully saturated, full-value colour of that hue, so 0 and 179 (both red) meet and
/// the map has no seam. Returns CV_8UC3 BGR.
cv::Mat hueColourMap(const cv::Mat& hue8);

/// The hue view of an image as the study showed it, plus one honesty fix: pixels whose hue
/// is undefined (saturation or value below `minDefined`, e.g. the black background around
/// a cell or a grey pixel) are drawn black instead of as red (hue 0). Returns CV_8UC3 BGR.
cv::Mat hueImage(const cv::Mat& bgr8, int minDefined = 1);

/// One plane (CV_8UC1) as a grey BGR image (CV_8UC3) so every view has the same format.
cv::Mat greyToBgr(const cv::Mat& plane8);

/// Nearest valid Gaussian kernel size: odd and >= 1 (even sizes round up, 0 or less -> 1).
int oddKernelSize(int kernelSize);

/// Gaussian blur with a square kernel (made odd with oddKernelSize()) and `sigma`
/// (<= 0: OpenCV derives it from the kernel size, 0.3*((k-1)*0.5-1)+0.8, as
/// cv2.GaussianBlur(img, (k, k), 0) in the study). Borders are reflected
/// (BORDER_REFLECT_101). Any depth/channel count OpenCV supports; empty in -> empty out.
cv::Mat gaussianBlur(const cv::Mat& image, int kernelSize, double sigma = 0.0);

/// Per-pixel scalar difference of two 3-channel float images of the same size: the mean over
/// the channels of (a - b). Returns CV_32FC1; empty when sizes or types differ.
cv::Mat channelMeanDifference(const cv::Mat& a, const cv::Mat& b);

/// Diverging colour map for a CV_32FC1 image: -scale -> blue (RGB 33,102,172), 0 -> white,
/// +scale -> red (RGB 178,24,43), linear in between, values beyond +-scale clamped.
/// scale <= 0 is treated as 1e-6 so zero maps to white. Returns CV_8UC3 BGR.
cv::Mat divergingColourMap(const cv::Mat& values, float scale);

/// The colour divergingColourMap() gives to `value` for a given scale, as B,G,R.
cv::Vec3b divergingColour(float value, float scale);

/// Largest absolute value of a CV_32FC1 image (0 for an empty one): the symmetric scale that
/// shows a difference image without clipping.
float symmetricScale(const cv::Mat& values);

} // namespace ml
