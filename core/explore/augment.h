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

    // Cross-lab augmentation: what differs between labs we have never seen (camera exposure
    // and gamma, focus, cell scale, crop surround, JPEG export, sensor noise). All off by
    // default; crossLab() switches them on.
    float gammaJitter = 0.0f;    ///< gamma drawn from [1-g, 1+g] (x^gamma)
    float exposureJitter = 0.0f; ///< gain drawn from [1-e, 1+e] (multiplies every channel)
    float blurSigmaMax = 0.0f; ///< Gaussian defocus, sigma drawn from [0, max] pixels (64 px input)
    float scaleJitter = 0.0f;  ///< zoom drawn from [1-s, 1+s] about the centre
    float surroundProbability = 0.0f; ///< chance that the black surround is repainted grey/white
    float noiseStdMax = 0.0f;         ///< Gaussian noise, std drawn from [0, max]
    int jpegQualityLow = 0; ///< JPEG round trip at a quality drawn from [low, 95]; 0 = off
    /// Chance that a cell gets the cross-lab parts at all (the others keep only flips,
    /// brightness, contrast and stain jitter). Below 1 so that clean cells stay inside the
    /// training distribution: with every cell degraded (always some JPEG, noise and blur),
    /// the network learnt features that only read right under the statistics of degraded
    /// batches, and its eval-mode accuracy on clean cells swung between 0.92 and 0.42 from
    /// epoch to epoch (docs/MODEL.md, "Across labs").
    float crossLabProbability = 1.0f;

    /// True when any cross-lab part is on (its values are drawn only then, so the study and
    /// stain presets keep their exact random sequences).
    bool crossLabEnabled() const
    {
        return gammaJitter > 0 || exposureJitter > 0 || blurSigmaMax > 0 || scaleJitter > 0 ||
               surroundProbability > 0 || noiseStdMax > 0 || jpegQualityLow > 0;
    }

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
    /// Stain jitter widened (hue +-15 degrees, saturation +-40 %) plus every cross-lab part,
    /// kept mild enough that a ring form stays visible at 64 px: gamma +-25 %, exposure
    /// +-20 %, defocus up to sigma 0.8 px, scale +-15 %, the surround repainted in half of the
    /// cells, noise up to 0.02, JPEG down to quality 50; half of the cells get none of the
    /// cross-lab parts (crossLabProbability). (A first run with twice the blur and quality 40
    /// trained unstably: docs/MODEL.md.)
    static AugmentConfig crossLab()
    {
        AugmentConfig c;
        c.hueShiftDegrees = 15.0f;
        c.saturationJitter = 0.4f;
        c.gammaJitter = 0.25f;
        c.exposureJitter = 0.2f;
        c.blurSigmaMax = 0.8f;
        c.scaleJitter = 0.15f;
        c.surroundProbability = 0.5f;
        c.noiseStdMax = 0.02f;
        c.jpegQualityLow = 50;
        c.crossLabProbability = 0.5f;
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
    float gamma = 1.0f;      ///< x^gamma
    float exposure = 1.0f;   ///< gain
    float blurSigma = 0.0f;  ///< Gaussian blur sigma in pixels; 0 = none
    float scale = 1.0f;      ///< zoom about the centre
    bool repaintSurround = false;
    cv::Vec3f surroundColour{0, 0, 0}; ///< RGB of the repainted surround
    float noiseStd = 0.0f;             ///< Gaussian noise std; 0 = none
    unsigned noiseSeed = 0;            ///< seeds the noise, so applying stays deterministic
    int jpegQuality = 0;               ///< JPEG round trip quality; 0 = none
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

/// Zooms by `factor` about the centre (the outside filled black, as the NIH crops' surround).
cv::Mat zoom(const cv::Mat& rgbFloat, float factor);
/// Repaints the black surround (every channel < 0.03) with `colour`, as a lab that exports
/// crops on white or grey would.
cv::Mat repaintSurround(const cv::Mat& rgbFloat, const cv::Vec3f& colour);
/// Encodes to JPEG at `quality` and decodes again (8-bit round trip).
cv::Mat jpegRoundTrip(const cv::Mat& rgbFloat, int quality);

/// Applies `params` in a fixed order: zoom, surround, flips, colour jitter, brightness,
/// contrast, exposure, gamma, blur, noise, JPEG (the study's order for its own parts; the
/// lab's optics and camera act after the stain).
cv::Mat applyAugment(const cv::Mat& rgbFloat, const AugmentParams& params);

} // namespace ml
