#pragma once
// One parallel pass over the images of a Dataset: the shared loop behind the per-class mean
// images and the HSV histograms (decode on a thread budget, cancel, progress, failures).

#include "dataset.h"

#include <opencv2/core/mat.hpp>

#include <atomic>
#include <functional>

namespace ml {

/// How runImagePass() runs.
struct ImagePassOptions
{
    /// Worker threads (the thread budget); <= 0 means QThread::idealThreadCount().
    int threads = 0;
    /// Set from any thread to stop the pass; images not yet started are then not visited.
    const std::atomic<bool>* cancel = nullptr;
    /// Called from the worker threads (concurrently: must be thread-safe) with the number
    /// of images finished so far, about every 0.5 % of the total and once at the end.
    std::function<void(int done, int total)> progress;
};

/// What a pass did.
struct ImagePassResult
{
    int decoded = 0;           ///< images decoded and handed to the visitor
    QList<SkippedFile> failed; ///< images that could not be decoded, with the reason
    bool cancelled = false;    ///< stopped by `cancel` before every image was visited
};

/// Visits one decoded image: `worker` in [0, threads) identifies the calling thread so the
/// visitor can keep per-thread accumulators without locks; `index` is the index into
/// Dataset::images; `bgr8` is CV_8UC3 BGR as decodeImage() returns it.
using ImageVisitor = std::function<void(int worker, int index, const cv::Mat& bgr8)>;

/// Number of worker threads runImagePass() uses for `options` and `images` images.
int imagePassThreads(const ImagePassOptions& options, int images);

/// Decodes every image of `dataset` with decodeImage() on imagePassThreads() threads and
/// calls `visit` for each one that decodes. Blocks until done or cancelled. A visitor that
/// throws cv::Exception or std::exception counts the image as failed. Never throws.
ImagePassResult runImagePass(const Dataset& dataset, const ImagePassOptions& options,
                             const ImageVisitor& visit);

} // namespace ml
