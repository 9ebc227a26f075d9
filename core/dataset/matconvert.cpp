#include "matconvert.h"

#include <opencv2/imgproc.hpp>

namespace ml {

QImage matToQImage(const cv::Mat& mat)
{
    if (mat.empty())
        return {};
    cv::Mat eight;
    if (mat.depth() == CV_32F)
        mat.convertTo(eight, CV_8U, 255.0); // saturate_cast clamps to [0,255]
    else if (mat.depth() == CV_8U)
        eight = mat;
    else
        return {};

    // QImage over the Mat's rows (any step), copied so the image owns its pixels.
    const auto deepCopy = [](const cv::Mat& m, QImage::Format format) {
        return QImage(static_cast<const uchar*>(m.data), m.cols, m.rows, int(m.step), format)
            .copy();
    };
    cv::Mat converted;
    switch (eight.channels()) {
    case 1:
        return deepCopy(eight, QImage::Format_Grayscale8);
    case 3:
        cv::cvtColor(eight, converted, cv::COLOR_BGR2RGB);
        return deepCopy(converted, QImage::Format_RGB888);
    case 4:
        cv::cvtColor(eight, converted, cv::COLOR_BGRA2RGBA);
        return deepCopy(converted, QImage::Format_RGBA8888);
    default:
        return {};
    }
}

cv::Mat qimageToMat(const QImage& image)
{
    if (image.isNull())
        return {};
    // QImage rows are 4-byte aligned: copy row by row rather than trusting the stride.
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    cv::Mat mat(rgb.height(), rgb.width(), CV_8UC3);
    for (int y = 0; y < rgb.height(); ++y)
        memcpy(mat.ptr(y), rgb.constScanLine(y), size_t(rgb.width()) * 3);
    cv::cvtColor(mat, mat, cv::COLOR_RGB2BGR);
    return mat;
}

} // namespace ml
