#pragma once
// The labelled 3x3 / 6x6 grids of cells in RGB, HSV, blur or augmentation mode. The
// Explore page and `malarialens-cli grid` both call renderGrid(), so a grid written from the
// command line is the grid the GUI shows for the same folder, mode, size and seed.

#include "augment.h"
#include "dataset.h"

#include <QImage>
#include <QString>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <optional>
#include <random>
#include <vector>

namespace ml {

/// What each tile of a grid shows.
enum class GridMode {
    Rgb,     ///< the image as decoded
    Hsv,     ///< hue with a cyclic colour map (hueImage(): undefined hue black)
    Blur,    ///< Gaussian blur (GridOptions::kernelSize, sigma)
    Augment, ///< one random draw of GridOptions::augment (applyAugment(), as in training)
};

/// "rgb", "hsv", "blur" or "augment".
QString gridModeName(GridMode mode);
/// Inverse of gridModeName() (case-insensitive); nullopt for anything else.
std::optional<GridMode> gridModeFromName(const QString& name);

/// How renderGrid() draws.
struct GridOptions
{
    GridMode mode = GridMode::Rgb;
    int size = 3;         ///< tiles per side (3 or 6 in the UI), clamped to [1, 10]
    int tilePixels = 160; ///< side of one tile in the output, clamped to [32, 1024]
    /// Picks the images (when `indices` is empty) and draws the augmentations: the same seed
    /// gives the same grid.
    quint32 seed = 1;
    int kernelSize = 5; ///< blur mode: kernel side (made odd), 5 as in the study
    double sigma = 0.0; ///< blur mode: <= 0 derives sigma from the kernel size
    AugmentConfig augment = AugmentConfig::study(); ///< augment mode
    /// Images to show (indices into Dataset::images), e.g. the browser's current batch;
    /// empty: size*size images picked with pickGridImages(seed).
    std::vector<int> indices;
    /// Augment mode: when set, each augmented tile is followed by the same augmented image as
    /// the model receives it ("what the model sees"), so the grid has twice the columns. Maps
    /// the augmented 8-bit BGR image to the model's input: CV_32FC3 RGB in [0,1] (as
    /// Classifier::modelInput() of preprocessImage() gives; core has no torch, the UI passes
    /// that) or 8-bit BGR. Called on the rendering thread: must be thread-safe.
    std::function<cv::Mat(const cv::Mat& bgr8)> modelView;
};

/// Result of renderGrid().
struct GridResult
{
    QImage image;              ///< the labelled grid (Format_RGB32); null on error
    std::vector<int> indices;  ///< the images shown, tile by tile (row-major)
    int columns = 0;           ///< tiles per row (size, or 2 x size with modelView)
    QList<SkippedFile> failed; ///< images that could not be decoded (their tile says so)
    QString error;             ///< non-empty when nothing could be drawn

    bool ok() const { return error.isEmpty() && !image.isNull(); }
};

/// `count` distinct indices into dataset.images drawn with `seed` (fewer when the folder has
/// fewer images). Portable: the same seed picks the same images on every platform.
std::vector<int> pickGridImages(const Dataset& dataset, int count, quint32 seed);

/// One tile's view of a decoded 8-bit BGR image in `options.mode`, before scaling; `rng`
/// draws the augmentation (augment mode only). Returns CV_8UC3 BGR.
cv::Mat gridTileView(const cv::Mat& bgr8, const GridOptions& options, std::mt19937& rng);

/// Human-readable parameters of a mode, shown in the grid's title (e.g. "blur 5x5, sigma auto").
QString gridModeDescription(const GridOptions& options);

/// Decodes the images and draws the grid: a title line, then size x size tiles with the
/// class name over each image (and the drawn augmentation in augment mode; with
/// GridOptions::modelView, each followed by what the model sees of it). Images are
/// scaled to fit a tile keeping their aspect ratio. Needs a QGuiApplication for fonts
/// (the CLI runs one on the offscreen platform). Blocks: call from a worker thread in a GUI.
GridResult renderGrid(const Dataset& dataset, const GridOptions& options);

} // namespace ml
