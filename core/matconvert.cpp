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

    switch (eight.channels()) {
    case 1: {
        QImage img(eight.cols, eight.rows, QImage::Format_Grayscale8);
        for (int y = 0; y < eight.rows; ++y)
            memcpy(img.scanLine(y), eight.ptr(y), size_t(eight.cols));
        return img;
    }
    case 3: {
        cv::Mat rgb;
        cv::cvtColor(eight, rgb, cv::COLOR_BGR2RGB);
        QImage img(rgb.cols, rgb.rows, QImage::Format_RGB888);
        for (int y = 0; y < rgb.rows; ++y)
            memcpy(img.scanLine(y), rgb.ptr(y), size_t(rgb.cols) * 3);
        return img;
    }
    case 4: {
        cv::Mat rgba;
        cv::cvtColor(eight, rgba, cv::COLOR_BGRA2RGBA);
        QImage img(rgba.cols, rgba.rows, QImage::Format_RGBA8888);
        for (int y = 0; y < rgba.rows; ++y)
            memcpy(img.scanLine(y), rgba.ptr(y), size_t(rgba.cols) * 4);
        return img;
    }
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
