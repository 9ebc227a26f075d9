#pragma once
// The one preprocessing path from a decoded image to network input, shared by inference
// and training (so what a model is trained on is exactly what it later sees):
//
//   file --ml::decodeImage()--> 8-bit BGR --preprocessImage()--> 64x64 RGB float [0,1]
//        --packNchw()--> N x 3 x 64 x 64 float (the tensor the networks take)
//
// decodeImage() (core/imageio.h) already turns every accepted format (png/jpg/tif/bmp,
// grey, grey+alpha, RGBA, palette, 16-bit) into 8-bit BGR, so these functions only see
// CV_8UC3. No torch here: the tensor is filled by the models library from packNchw().

#include "architecture.h"
#include "canonicalcell.h"

#include <QJsonObject>

#include <QString>

#include <opencv2/core/mat.hpp>

#include <vector>

namespace ml {

/// 8-bit BGR (as decoded) -> RGB -> resized to size x size with cv::INTER_AREA -> CV_32FC3
/// in [0,1], continuous and owning its pixels. Returns an empty Mat when `bgr8` is empty or
/// not CV_8UC3. Pure, thread-safe, never throws.
cv::Mat preprocessImage(const cv::Mat& bgr8, int size = kModelInputSize);

/// One file through decodeImage() and preprocessImage().
struct PreprocessedImage
{
    cv::Mat rgb;           ///< size x size CV_32FC3 RGB [0,1]; empty on failure
    QString error;         ///< why the file could not be used (decoder's reason); empty on success
    cv::Size originalSize; ///< the decoded image's size before the resize
    bool ok() const { return error.isEmpty() && !rgb.empty(); }
};

/// Decodes and preprocesses `path`. Thread-safe, never throws.
PreprocessedImage loadPreprocessed(const QString& path, int size = kModelInputSize);

/// Writes `images` (each size x size CV_32FC3, as preprocessImage() returns) as one
/// N x 3 x size x size float block (NCHW, channel order R, G, B) into `out`, which must hold
/// images.size() * 3 * size * size floats. Returns false (writing nothing) when an image
/// has another type or size.
bool packNchw(const std::vector<cv::Mat>& images, float* out, int size = kModelInputSize);

/// Writes `images` as one N x size x size x 3 float block (NHWC, R, G, B): a plain copy
/// of each image. The models library views it as an NCHW tensor in channels-last memory
/// format, which oneDNN convolutions run ~1.5x (inference) to ~3x (training) faster than
/// planar NCHW on these CPUs. Same checks and return value as packNchw().
bool packNhwc(const std::vector<cv::Mat>& images, float* out, int size = kModelInputSize);

/// Per-cell colour normalisation applied after preprocessImage() when a model was trained
/// with it (its card says so under input.normalization). Smears from different patients are
/// stained and imaged differently: the mean colour of a patient's cells varies from about
/// (0.53, 0.46, 0.56) to (0.85, 0.70, 0.74) in RGB on nih-cells, and a network trained on
/// raw colours can call every cell of one differently-stained healthy patient parasitized.
enum class InputNormalization {
    None,             ///< the image as preprocessImage() returns it
    ForegroundMedian, ///< each channel scaled so the cell's median colour is kReferenceColour
    /// The canonical cell (core/cell/canonicalcell.h): cell found whatever its surround,
    /// surround painted black, cell at one scale, stain normalised to a standardised grey.
    CanonicalGrey,
    /// The canonical cell with a per-cell Reinhard transfer in L*a*b* instead of grey.
    CanonicalLab,
};

/// The canonical-cell recipe a normalisation stands for (defaults of CanonicalRecipe with
/// its stain); nullopt-like: `*isCanonical` false for None and ForegroundMedian.
CanonicalRecipe canonicalRecipeFor(InputNormalization n, bool* isCanonical = nullptr);

/// The card's "input" object for a model trained with `n` (width, height, channels, color,
/// range, resize, normalization name, and for canonical inputs the recipe under "canonical"), so
/// that an old model keeps the input it was trained on.
QJsonObject inputCardJson(InputNormalization n, int size = kModelInputSize);

/// Median RGB of the cell pixels of nih-cells (64x64, [0,1]): the target of ForegroundMedian.
constexpr float kReferenceColour[3] = {0.765f, 0.584f, 0.608f};

/// Name used in model cards and on the command line ("none", "foreground-median",
/// "canonical-grey", "canonical-lab"), and back
/// ("median" is accepted too; an unknown name gives None and sets `*ok` to false).
QString inputNormalizationName(InputNormalization n);
InputNormalization inputNormalizationFromName(const QString& name, bool* ok = nullptr);

/// Applies `n` to a preprocessed 64x64 CV_32FC3 RGB image, returning a new image.
/// ForegroundMedian: the cell is every pixel brighter than the black crop background
/// (max channel > 0.04); each channel is multiplied by reference / median of the cell's
/// pixels (the median, not the mean, so a large purple parasite barely moves it), the
/// gain clamped to [0.5, 2], the result clipped to [0, 1]. The background stays black.
/// A crop with almost no cell pixels (< 5 %) is returned unchanged.
/// CanonicalGrey / CanonicalLab: canonicalizeCell() with canonicalRecipeFor(n). Pure,
/// thread-safe.
cv::Mat normalizeColour(const cv::Mat& rgb, InputNormalization n);

} // namespace ml
