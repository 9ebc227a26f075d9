#pragma once
// The canonical cell: one presentation of a red blood cell, whatever lab, camera, stain or
// crop software it came from. Every cell a canonical-input model sees goes through
// canonicalizeCell(): training, classify, evaluate, fields, review and explain (the models
// library calls it from normalizeColour(), so no caller can forget it).
//
// Why: a network trained on the NIH crops learns how NIH presents a cell (black surround,
// pink stain, crop scale), not the parasite. Another lab's crops on a white surround were
// 94 % missed. The canonical cell removes those three lab signatures:
//   1. find the cell with OpenCV (distance to the surround colour, Otsu, largest component,
//      holes filled), whatever the surround colour;
//   2. bring it to one scale: its bounding square fills `cellFill` of the input;
//   3. paint everything outside the cell one fixed value (`surround`);
//   4. normalise the stain (Stain::Grey or Stain::Lab, see below).
// Pure OpenCV on the 64 x 64 float image preprocessImage() returns (cheap: the work is on
// 4,096 pixels), thread-safe, never throws.

#include <QJsonObject>
#include <QString>

#include <opencv2/core/mat.hpp>

namespace ml {

/// How the stain colour is normalised after the cell is found and scaled.
enum class CanonicalStain {
    /// Luminance only, standardised over the cell's pixels (mean 0.5, std 0.15), copied to the
    /// three channels. Colour is the lab's signature, not the parasite's: the chromatin of a
    /// parasite is the darkest structure in the cell under any Giemsa shade.
    Grey,
    /// Reinhard transfer per cell in L*a*b*: each channel's mean and standard deviation over
    /// the cell moved to those of the NIH cells (kept for comparison, see docs/MODEL.md).
    Lab,
};

/// A canonical-input recipe, recorded in the model card (input.canonical) so a model always
/// gets the input it was trained on, whatever later versions of the product default to.
struct CanonicalRecipe
{
    int version = 1;
    float cellFill = 0.875f; ///< side of the cell's bounding square / side of the input
    float surround = 0.0f;   ///< value painted outside the cell (every channel)
    CanonicalStain stain = CanonicalStain::Grey;

    QJsonObject toJson() const;
    /// Reads a recipe written by toJson(); unknown or missing keys keep their defaults, and
    /// `*ok` (when given) is false for a stain name this version does not know.
    static CanonicalRecipe fromJson(const QJsonObject& o, bool* ok = nullptr);
};

QString canonicalStainName(CanonicalStain s);

/// What canonicalizeCell() found and made.
struct CanonicalCell
{
    cv::Mat rgb;       ///< same size as the input, CV_32FC3 RGB in [0,1]: what the model sees
    cv::Mat mask;      ///< CV_8U, 255 on the cell, in `rgb`'s frame
    cv::Mat inputMask; ///< CV_8U, 255 on the cell, in the input image's frame
    cv::Rect cellBox;  ///< the cell's bounding box in the input image
    cv::Vec3f surroundColour; ///< the input's surround colour (median of its border)
    bool cellFound = false;   ///< false: no plausible cell; the whole image was used
    double cellFraction = 0;  ///< cell pixels / input pixels, before rescaling
};

/// Canonicalises one cell. `rgb` is CV_32FC3 RGB in [0,1] (preprocessImage() output, any
/// square size; 64 x 64 in practice). An empty or wrongly typed input gives an empty
/// result. When no plausible cell is found (under 5 % or over 97 % of the image after
/// cleaning), the whole image is taken as the cell, so a prediction is still made; callers
/// that report on input quality read cellFound.
CanonicalCell canonicalizeCell(const cv::Mat& rgb, const CanonicalRecipe& recipe = {});

} // namespace ml
