#include "heatmapimage.h"

#include "matconvert.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

QImage heatmapColours(const cv::Mat& heatmap, const QSize& size)
{
    if (heatmap.empty() || heatmap.type() != CV_32FC1 || size.isEmpty())
        return {};
    cv::Mat resized, grey, colours;
    cv::resize(heatmap, resized, cv::Size(size.width(), size.height()), 0, 0, cv::INTER_LINEAR);
    resized.convertTo(grey, CV_8U, 255.0); // saturates outside [0,1]
    cv::applyColorMap(grey, colours, cv::COLORMAP_JET);
    return matToQImage(colours);
}

QImage heatmapOverlay(const QImage& cell, const cv::Mat& heatmap, double opacity)
{
    const QImage base = cell.convertToFormat(QImage::Format_RGB32);
    const QImage colours =
        heatmapColours(heatmap, base.size()).convertToFormat(QImage::Format_RGB32);
    if (colours.isNull() || base.isNull())
        return base;
    const double a = std::clamp(opacity, 0.0, 1.0);
    QImage out(base.size(), QImage::Format_RGB32);
    for (int y = 0; y < base.height(); ++y) {
        const QRgb* c = reinterpret_cast<const QRgb*>(base.constScanLine(y));
        const QRgb* h = reinterpret_cast<const QRgb*>(colours.constScanLine(y));
        QRgb* o = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < base.width(); ++x) {
            auto mix = [a](int p, int q) { return int(p * (1 - a) + q * a + 0.5); };
            o[x] = qRgb(mix(qRed(c[x]), qRed(h[x])), mix(qGreen(c[x]), qGreen(h[x])),
                        mix(qBlue(c[x]), qBlue(h[x])));
        }
    }
    return out;
}

double parasiteEvidenceOpacity(double probability, double maxOpacity)
{
    if (!(probability > 0)) // also NaN
        return 0.0;
    return std::min(probability, 1.0) * maxOpacity;
}

} // namespace ml
