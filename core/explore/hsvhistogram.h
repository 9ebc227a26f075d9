#pragma once
// Per-class histograms of hue, saturation and value over a whole folder (OpenCV's 8-bit
// HSV), so the colour of stained parasites can be compared with healthy cells.

#include "dataset.h"
#include "explorecache.h"

#include <QString>

#include <opencv2/core/mat.hpp>

#include <atomic>
#include <functional>
#include <vector>

namespace ml {

/// How computeHsvHistograms() runs: threads, cancel, progress and cache as
/// ExplorePassOptions.
struct HsvHistogramOptions : ExplorePassOptions
{
    /// Pixels with value (V) below this are not counted: the NIH crops pad each cell with
    /// pure black (V = 0), which would otherwise dwarf every other bin. 0 counts every pixel.
    int minValue = 1;
};

/// Which histogram of a class.
enum class HsvChannel { Hue = 0, Saturation = 1, Value = 2 };

/// Pixel counts of one class at full image resolution.
struct ClassHsvHistogram
{
    static constexpr int kHueBins = 180;   ///< OpenCV 8-bit hue: degrees / 2, 0..179
    static constexpr int kLevelBins = 256; ///< saturation and value 0..255

    QString className;
    int images = 0;    ///< images counted
    double pixels = 0; ///< pixels counted (after the minValue mask)
    std::vector<double> hue = std::vector<double>(kHueBins, 0.0);
    std::vector<double> saturation = std::vector<double>(kLevelBins, 0.0);
    std::vector<double> value = std::vector<double>(kLevelBins, 0.0);

    /// Counts of `channel`.
    const std::vector<double>& counts(HsvChannel channel) const;
    /// Counts of `channel` divided by `pixels` (fractions summing to 1; zeros if no pixels),
    /// so classes of different sizes compare.
    std::vector<double> fractions(HsvChannel channel) const;
};

/// Result of computeHsvHistograms(). Only a result with `complete` set is the folder's.
struct HsvHistogramResult
{
    /// One entry per class in class order; a single "unlabeled" entry for an unlabeled folder.
    std::vector<ClassHsvHistogram> classes;
    int minValue = 1;
    int decoded = 0;
    QList<SkippedFile> failed; ///< unreadable images (skipped), with reasons
    bool complete = false;
    bool cancelled = false;
    bool fromCache = false;
    QString error;
};

/// Counts H, S and V of every pixel of every image of `dataset` per class. Blocks: call it
/// from a worker thread. Unreadable images are skipped and listed. Never throws.
HsvHistogramResult computeHsvHistograms(const Dataset& dataset,
                                        const HsvHistogramOptions& options = {});

/// Adds the H, S, V counts of one 8-bit BGR image to `histogram` (pixels with V < minValue
/// are left out). Exposed for tests and single-image views.
void accumulateHsv(const cv::Mat& bgr8, int minValue, ClassHsvHistogram& histogram);

} // namespace ml
