#pragma once
// Per-class mean and standard-deviation images over a whole folder: what an "average"
// infected and healthy cell look like at the model's input size, and where they differ.

#include "dataset.h"
#include "explorecache.h"

#include <QString>

#include <opencv2/core/mat.hpp>

#include <atomic>
#include <functional>
#include <utility>
#include <vector>

namespace ml {

/// How computeMeanImages() runs: threads, cancel, progress and cache as ExplorePassOptions.
struct MeanImageOptions : ExplorePassOptions
{
    /// Side of the square every image is resized to (bilinear, as Keras' image loader does)
    /// before accumulating: the model input size. Clamped to [4, 1024].
    int size = 64;
};

/// The mean and standard deviation of one class.
struct ClassMeanImage
{
    QString className;
    int count = 0;  ///< images accumulated
    cv::Mat mean;   ///< CV_32FC3, BGR like decodeImage(), values in [0,1]; empty if count == 0
    cv::Mat stddev; ///< CV_32FC3, BGR, population standard deviation per pixel and channel
};

/// Result of computeMeanImages(). Only a result with `complete` set may be shown as the
/// folder's mean: a cancelled run has `complete` false and empty `classes` images.
struct MeanImageResult
{
    int size = 0;
    /// One entry per class of the dataset, in class order; a single "unlabeled" entry for
    /// an unlabeled folder. A class without (readable) images has count 0 and empty images.
    std::vector<ClassMeanImage> classes;
    int decoded = 0;           ///< images accumulated over all classes
    QList<SkippedFile> failed; ///< images that could not be decoded (skipped), with reasons
    bool complete = false;     ///< every listed image was visited
    bool cancelled = false;    ///< stopped by MeanImageOptions::cancel
    bool fromCache = false;    ///< read from the cache, nothing decoded
    QString error;             ///< non-empty when nothing could be computed

    /// Index of the class named `name` (case-insensitive), or -1.
    int indexOf(const QString& name) const;
};

/// Computes the per-class mean and standard deviation images of `dataset` (sums of x and
/// x^2 in double precision per worker, merged at the end). Blocks: call it from a worker
/// thread. Unreadable images are skipped and listed in `failed`. Never throws.
MeanImageResult computeMeanImages(const Dataset& dataset, const MeanImageOptions& options = {});

/// The two classes the difference image compares: (Parasitized, Uninfected) when both have
/// images, else the first two classes with images; (-1, -1) when fewer than two have any.
std::pair<int, int> differencePair(const MeanImageResult& result);

/// Mean image of class `a` minus mean of class `b`, averaged over the three channels:
/// CV_32FC1, in [-1, 1]. Empty when either index is invalid or has no images.
cv::Mat meanDifference(const MeanImageResult& result, int a, int b);

} // namespace ml
