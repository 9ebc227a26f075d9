#pragma once
// The one place where cv::Mat and QImage meet.
//
// Lifetime rule: every function here returns an image that owns its pixels (a deep copy),
// so the result may outlive its source and cross threads freely.

#include <QImage>

#include <opencv2/core/mat.hpp>

namespace ml {

/// Converts an OpenCV image to a QImage (deep copy).
/// Accepted: CV_8UC1 (grey), CV_8UC3 (BGR), CV_8UC4 (BGRA), CV_32FC1 / CV_32FC3 with values
/// in [0,1] (clamped). Returns a null QImage for anything else.
QImage matToQImage(const cv::Mat& mat);

/// Converts any QImage (any format, including indexed, 16-bit and padded rows) to a
/// continuous CV_8UC3 BGR matrix (deep copy). Alpha is dropped. Null image -> empty Mat.
cv::Mat qimageToMat(const QImage& image);

} // namespace ml
