#pragma once
// Labelled figures of the mean-image results (difference with its colour scale, standard
// deviation, the overview panel), drawn once here for the Explore page and
// `malarialens-cli mean` alike. Needs a QGuiApplication (fonts); safe in worker threads.

#include "meanimage.h"

#include <QImage>
#include <QString>

#include <opencv2/core/mat.hpp>

namespace ml {

/// A vertical colour bar for divergingColourMap() at `scale`: red +scale at the top,
/// white 0, blue -scale at the bottom, with the three values written beside it.
/// `height` is the bar's height in pixels; the image is a little taller for the labels.
QImage renderDivergingScale(float scale, int height);

/// The difference image (CV_32FC1) in the diverging colour map at `scale`, enlarged to
/// `pixels` x `pixels` (nearest neighbour: every model pixel stays visible), with the
/// colour scale at its right and `title` above.
QImage renderDifferenceFigure(const cv::Mat& difference, float scale, int pixels,
                              const QString& title);

/// Largest standard deviation over every class, pixel and channel of `result` (0 if none):
/// the common scale the std images are shown with, so classes compare.
float maxStandardDeviation(const MeanImageResult& result);

/// A mean image (CV_32FC3 BGR in [0,1]) as 8-bit BGR.
cv::Mat meanDisplayImage(const cv::Mat& mean);

/// A standard-deviation image (CV_32FC3) divided by `maxStd` (white = maxStd), as 8-bit BGR.
cv::Mat stdDisplayImage(const cv::Mat& stddev, float maxStd);

/// One panel: the class means side by side, the difference with its scale, the std images,
/// each enlarged to `pixels` and labelled with class name and image count. For a result
/// that is not complete, a panel that says so (never the partial images).
QImage renderMeanOverview(const MeanImageResult& result, int pixels = 192);

} // namespace ml
