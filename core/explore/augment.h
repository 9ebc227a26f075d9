#pragma once
// The study's augmentation (random flips, brightness +-0.2, contrast 0.7-1.3) plus the
// colour/stain jitter the embedded model needs. The exploratory preview and the trainer
// call exactly these functions, so what a trainer sees is what the network is fed.
//
// Images are CV_32FC3, RGB order, values in [0,1] (see toFloatRgb()).

#include <opencv2/core/mat.hpp>

#include <random>

namespace ml {

/// Ranges to draw augmentations from. Zero ranges / false switch that part off.
struct AugmentConfig
{
    bool horizontalFlip = true;
    bool verticalFlip = true;
    float brightnessDelta = 0.2f; ///< added value drawn from [-d, +d] (tf.image.random_brightness)
    float contrastLow = 0.7f;     ///< contrast factor drawn from [low, high]
    float contrastHigh = 1.3f;
    float hueShiftDegrees = 0.0f;  ///< hue shift drawn from [-h, +h] degrees (stain jitter)
    float saturationJitter = 0.0f; ///< saturation factor drawn from [1-s, 1+s]

    /// The study's augmentation: flips, brightness 0.2, contrast 0.7-1.3, no colour jitter.
    static AugmentConfig study() { return {}; }
    /// Study augmentation plus hue +-10 degrees and saturation +-25 % (stain robustness).
    static AugmentConfig withStainJitter()
    {
        AugmentConfig c;
        c.hueShiftDegrees = 10.0f;
        c.saturationJitter = 0.25f;
        return c;
    }
};

/// One concrete draw: applying it is deterministic.
struct AugmentParams
{
    bool flipHorizontal = false;
    bool flipVertical = false;
    float brightness = 0.0f; ///< added to every channel
    float contrast = 1.0f;   ///< (x - channel mean) * contrast + channel mean
    float hueShift = 0.0f;   ///< degrees
    float saturation = 1.0f; ///< factor
};

/// Draws parameters from `config` with `rng` (seed it for a reproducible preview).
AugmentParams drawAugment(const AugmentConfig& config, std::mt19937& rng);

/// Converts 8-bit BGR (as decoded) to CV_32FC3 RGB in [0,1].
cv::Mat toFloatRgb(const cv::Mat& bgr8);
/// Converts CV_32FC3 RGB in [0,1] back to 8-bit BGR (values clamped).
cv::Mat toBgr8(const cv::Mat& rgbFloat);

cv::Mat flipHorizontal(const cv::Mat& image);
cv::Mat flipVertical(const cv::Mat& image);
/// x + delta, clamped to [0,1].
cv::Mat adjustBrightness(const cv::Mat& rgbFloat, float delta);
/// (x - mean_c) * factor + mean_c per channel c, clamped to [0,1] (tf.image.adjust_contrast).
cv::Mat adjustContrast(const cv::Mat& rgbFloat, float factor);
/// Rotates hue by `degrees` and scales saturation by `saturationFactor` (clamped), in HSV.
cv::Mat jitterColour(const cv::Mat& rgbFloat, float degrees, float saturationFactor);

/// Applies `params` in a fixed order: flips, colour jitter, brightness, contrast.
cv::Mat applyAugment(const cv::Mat& rgbFloat, const AugmentParams& params);

} // namespace ml
