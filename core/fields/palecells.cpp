#include "palecells.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

namespace {

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    const auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

} // namespace

std::vector<CellTone> relativeCellTones(const cv::Mat& bgr, const std::vector<cv::Rect>& boxes)
{
    if (bgr.empty() || bgr.type() != CV_8UC3)
        return {};
    const cv::Rect image(0, 0, bgr.cols, bgr.rows);
    std::vector<CellTone> tones(boxes.size());
    std::vector<bool> measured(boxes.size(), false);
    for (size_t i = 0; i < boxes.size(); ++i) {
        const cv::Rect& b = boxes[i];
        // The middle three fifths: the cell's own pixels, not the gaps between cells that a
        // box's corners hold.
        const cv::Rect inner =
            cv::Rect(b.x + b.width / 5, b.y + b.height / 5, b.width - 2 * (b.width / 5),
                     b.height - 2 * (b.height / 5)) &
            image;
        if (inner.empty())
            continue;
        cv::Mat lab;
        cv::cvtColor(bgr(inner), lab, cv::COLOR_BGR2Lab);
        const cv::Scalar m = cv::mean(lab);
        tones[i] = CellTone{m[0], m[1]};
        measured[i] = true;
    }
    std::vector<double> lightness, redness;
    for (size_t i = 0; i < tones.size(); ++i)
        if (measured[i]) {
            lightness.push_back(tones[i].lightness);
            redness.push_back(tones[i].redness);
        }
    const double medianLightness = median(lightness), medianRedness = median(redness);
    for (size_t i = 0; i < tones.size(); ++i)
        tones[i] = measured[i] ? CellTone{tones[i].lightness - medianLightness,
                                          tones[i].redness - medianRedness}
                               : CellTone{};
    return tones;
}

QJsonObject PaleCellRule::toJson() const
{
    return QJsonObject{{QStringLiteral("lightness_above"), lightnessAbove},
                       {QStringLiteral("redness_below"), rednessBelow}};
}

std::optional<PaleCellRule> PaleCellRule::fromCard(const QJsonObject& card)
{
    const QJsonObject o = card.value(QStringLiteral("lab_calibration"))
                              .toObject()
                              .value(QStringLiteral("pale_cells"))
                              .toObject();
    if (!o.contains(QStringLiteral("lightness_above")) ||
        !o.contains(QStringLiteral("redness_below")))
        return std::nullopt;
    PaleCellRule r;
    r.lightnessAbove = o.value(QStringLiteral("lightness_above")).toDouble(r.lightnessAbove);
    r.rednessBelow = o.value(QStringLiteral("redness_below")).toDouble(r.rednessBelow);
    return r;
}

} // namespace ml
