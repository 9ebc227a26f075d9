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

/// The opacity to draw a heatmap of the Parasitized class's evidence with over a cell the
/// model gives P(Parasitized) = `probability`: `maxOpacity` times it (0 for NaN). A heatmap is
/// normalised per cell, so its strongest spot is red even on a cell the model is sure is
/// healthy; drawn at a fixed opacity it would point at a "parasite" the model does not see.
double parasiteEvidenceOpacity(double probability, double maxOpacity = 0.6);

} // namespace ml
