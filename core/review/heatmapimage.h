#pragma once
// Drawing an explanation heatmap over its cell (for the Review page, the evaluation
// galleries and `malarialens-cli explain`). Pure functions, Qt Gui + OpenCV.

#include <QImage>

#include <opencv2/core/mat.hpp>

namespace ml {

/// The heatmap (CV_32FC1 in [0,1], any size) in the JET colour map (blue = no evidence,
/// red = the strongest), resized bilinearly to `size`. Null image for an empty heatmap.
QImage heatmapColours(const cv::Mat& heatmap, const QSize& size);

/// `cell` with heatmapColours() blended over it: out = (1 - opacity) * cell + opacity *
/// colours, opacity clamped to [0,1] (0 = the cell alone). The heatmap covers the whole
/// cell image (it was computed on the whole image resized to the model input). RGB32 result
/// of the cell's size; the cell unchanged when the heatmap is empty.
QImage heatmapOverlay(const QImage& cell, const cv::Mat& heatmap, double opacity);

} // namespace ml
