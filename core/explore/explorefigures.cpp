#include "explorefigures.h"

#include "imageops.h"
#include "matconvert.h"

#include <QFont>
#include <QFontMetrics>
#include <QPainter>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

namespace {

QString signedValue(float v)
{
    return QStringLiteral("%1%2")
        .arg(v > 0 ? QStringLiteral("+") : QString())
        .arg(double(v), 0, 'f', 3);
}

QImage enlarged(const cv::Mat& bgr8, int pixels)
{
    return matToQImage(bgr8).scaled(pixels, pixels, Qt::IgnoreAspectRatio, Qt::FastTransformation);
}

} // namespace

QImage renderDivergingScale(float scale, int height)
{
    QFont font;
    font.setPixelSize(std::max(10, height / 16));
    const QFontMetrics fm(font);
    const int barWidth = 16;
    const int margin = fm.height() / 2 + 1;
    const int textWidth = fm.horizontalAdvance(signedValue(-std::max(scale, 0.001f))) + 6;
    QImage img(barWidth + textWidth + 4, height + 2 * margin, QImage::Format_RGB32);
    img.fill(Qt::white);
    QPainter p(&img);
    for (int y = 0; y < height; ++y) {
        // Top row is +scale, bottom row -scale.
        const float v = scale * (1.0f - 2.0f * float(y) / float(std::max(1, height - 1)));
        const cv::Vec3b c = divergingColour(v, scale);
        p.setPen(QColor(c[2], c[1], c[0]));
        p.drawLine(0, margin + y, barWidth - 1, margin + y);
    }
    p.setPen(Qt::black);
    p.drawRect(0, margin, barWidth - 1, height - 1);
    p.setFont(font);
    const int x = barWidth + 4;
    p.drawText(QRect(x, 0, textWidth, 2 * margin), Qt::AlignLeft | Qt::AlignVCenter,
               signedValue(scale));
    p.drawText(QRect(x, margin + height / 2 - margin, textWidth, 2 * margin),
               Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("0"));
    p.drawText(QRect(x, height, textWidth, 2 * margin), Qt::AlignLeft | Qt::AlignVCenter,
               signedValue(-scale));
    return img;
}

QImage renderDifferenceFigure(const cv::Mat& difference, float scale, int pixels,
                              const QString& title)
{
    QFont font;
    font.setPixelSize(std::max(11, pixels / 16));
    const QFontMetrics fm(font);
    const QImage map = enlarged(divergingColourMap(difference, scale), pixels);
    const QImage bar = renderDivergingScale(scale, pixels);
    const int titleHeight = fm.height() * 2 + 6;
    const int width = std::max(pixels + 8 + bar.width(), fm.horizontalAdvance(title) + 8);
    QImage img(width, titleHeight + bar.height(), QImage::Format_RGB32);
    img.fill(Qt::white);
    QPainter p(&img);
    p.setFont(font);
    p.setPen(Qt::black);
    p.drawText(QRect(0, 0, width, titleHeight), Qt::AlignCenter | Qt::TextWordWrap, title);
    const int barMargin = (bar.height() - pixels) / 2;
    p.drawImage(0, titleHeight + barMargin, map);
    p.drawImage(pixels + 8, titleHeight, bar);
    return img;
}

float maxStandardDeviation(const MeanImageResult& result)
{
    double best = 0;
    for (const ClassMeanImage& c : result.classes) {
        if (c.stddev.empty())
            continue;
        double lo = 0, hi = 0;
        cv::minMaxLoc(c.stddev.reshape(1), &lo, &hi);
        best = std::max(best, hi);
    }
    return float(best);
}

cv::Mat meanDisplayImage(const cv::Mat& mean)
{
    if (mean.empty())
        return {};
    cv::Mat out;
    mean.convertTo(out, CV_8U, 255.0); // saturating: rounds and clamps to [0,255]
    return out;
}

cv::Mat stdDisplayImage(const cv::Mat& stddev, float maxStd)
{
    if (stddev.empty())
        return {};
    cv::Mat out;
    stddev.convertTo(out, CV_8U, 255.0 / std::max(1e-6, double(maxStd)));
    return out;
}

QImage renderMeanOverview(const MeanImageResult& result, int pixels)
{
    QFont font;
    font.setPixelSize(std::max(11, pixels / 14));
    const QFontMetrics fm(font);
    const int labelHeight = fm.height() * 2 + 6;
    const int gap = 12;
    const int n = std::max<int>(1, int(result.classes.size()));

    if (!result.complete) {
        QImage img(pixels * 2, pixels / 2, QImage::Format_RGB32);
        img.fill(Qt::white);
        QPainter p(&img);
        p.setFont(font);
        p.drawText(img.rect(), Qt::AlignCenter | Qt::TextWordWrap,
                   result.cancelled
                       ? QStringLiteral("Cancelled: no mean images")
                       : QStringLiteral("Mean images not computed: %1").arg(result.error));
        return img;
    }

    const auto [a, b] = differencePair(result);
    const cv::Mat diff = meanDifference(result, a, b);
    const float scale = symmetricScale(diff);
    QImage diffFigure;
    if (!diff.empty()) {
        diffFigure = renderDifferenceFigure(
            diff, scale, pixels,
            QStringLiteral("%1 \u2212 %2\n(mean of R,G,B)")
                .arg(result.classes[size_t(a)].className, result.classes[size_t(b)].className));
    }
    const float maxStd = maxStandardDeviation(result);

    const int rowWidth =
        n * (pixels + gap) + (diffFigure.isNull() ? 0 : diffFigure.width() + gap) + gap;
    const int height = 2 * (labelHeight + pixels + gap) + gap;
    QImage img(rowWidth, std::max(height, diffFigure.height() + 2 * gap), QImage::Format_RGB32);
    img.fill(Qt::white);
    QPainter p(&img);
    p.setFont(font);
    p.setPen(Qt::black);
    for (int i = 0; i < int(result.classes.size()); ++i) {
        const ClassMeanImage& c = result.classes[size_t(i)];
        const int x = gap + i * (pixels + gap);
        const QRect meanLabel(x, gap, pixels, labelHeight);
        const QRect stdLabel(x, gap + labelHeight + pixels + gap, pixels, labelHeight);
        p.drawText(meanLabel, Qt::AlignCenter,
                   QStringLiteral("%1\nmean of %2").arg(c.className).arg(c.count));
        p.drawText(
            stdLabel, Qt::AlignCenter,
            QStringLiteral("%1\nstd (white = %2)").arg(c.className).arg(double(maxStd), 0, 'f', 3));
        const QRect meanRect(x, meanLabel.bottom() + 1, pixels, pixels);
        const QRect stdRect(x, stdLabel.bottom() + 1, pixels, pixels);
        if (c.count == 0) {
            p.drawRect(meanRect.adjusted(0, 0, -1, -1));
            p.drawText(meanRect, Qt::AlignCenter, QStringLiteral("no images"));
            continue;
        }
        p.drawImage(meanRect.topLeft(), enlarged(meanDisplayImage(c.mean), pixels));
        p.drawImage(stdRect.topLeft(), enlarged(stdDisplayImage(c.stddev, maxStd), pixels));
    }
    if (!diffFigure.isNull())
        p.drawImage(gap + n * (pixels + gap), gap, diffFigure);
    return img;
}

} // namespace ml
