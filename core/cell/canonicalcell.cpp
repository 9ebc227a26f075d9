#include "canonicalcell.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ml {

namespace {

// Below this share of the image a "cell" is debris or noise; above it the surround was not
// told apart from the cell (a crop filled by the cell, or a blank image).
constexpr double kMinCellFraction = 0.05;
constexpr double kMaxCellFraction = 0.97;
// Distance to the surround colour under which a pixel is surround whatever Otsu says: JPEG
// ringing and camera noise on a flat surround stay below it.
constexpr double kMinThreshold = 0.06;

// L*a*b* mean and standard deviation of the NIH cells' pixels (64 x 64 crops, OpenCV's
// float L*a*b*: L in [0,100], a and b about [-127,127]): the target of CanonicalStain::Lab.
constexpr float kLabMean[3] = {64.4f, 17.2f, 3.9f};
constexpr float kLabStd[3] = {9.3f, 4.4f, 3.2f};

cv::Vec3f medianBorderColour(const cv::Mat& rgb)
{
    std::vector<float> ch[3];
    const int w = rgb.cols, h = rgb.rows;
    auto add = [&](int y, int x) {
        const cv::Vec3f& p = rgb.at<cv::Vec3f>(y, x);
        for (int c = 0; c < 3; ++c)
            ch[c].push_back(p[c]);
    };
    for (int x = 0; x < w; ++x) {
        add(0, x);
        add(h - 1, x);
    }
    for (int y = 1; y < h - 1; ++y) {
        add(y, 0);
        add(y, w - 1);
    }
    cv::Vec3f m;
    for (int c = 0; c < 3; ++c) {
        auto mid = ch[c].begin() + long(ch[c].size() / 2);
        std::nth_element(ch[c].begin(), mid, ch[c].end());
        m[c] = *mid;
    }
    return m;
}

// The cell: pixels far from the surround colour (Otsu on the distance, with a floor), closed,
// the largest component kept and its holes filled (a pale cell centre is still the cell).
cv::Mat findCellMask(const cv::Mat& rgb, const cv::Vec3f& surround)
{
    cv::Mat diff = rgb - cv::Scalar(surround[0], surround[1], surround[2]);
    std::vector<cv::Mat> planes;
    cv::split(diff, planes);
    cv::Mat dist = planes[0].mul(planes[0]) + planes[1].mul(planes[1]) + planes[2].mul(planes[2]);
    cv::sqrt(dist, dist);
    cv::Mat dist8;
    dist.convertTo(dist8, CV_8U, 255.0 / std::sqrt(3.0));
    cv::Mat mask;
    const double otsu = cv::threshold(dist8, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    const double floor8 = kMinThreshold * 255.0 / std::sqrt(3.0);
    if (otsu < floor8)
        cv::threshold(dist8, mask, floor8, 255, cv::THRESH_BINARY);
    const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
    cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, kernel);

    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
    if (n <= 1)
        return cv::Mat::zeros(rgb.size(), CV_8U);
    // The largest component, preferring one that covers the centre (a field crop may show a
    // neighbour's edge).
    const int centre = labels.at<int>(rgb.rows / 2, rgb.cols / 2);
    int best = 1;
    for (int i = 2; i < n; ++i)
        if (stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA))
            best = i;
    if (centre > 0 &&
        stats.at<int>(centre, cv::CC_STAT_AREA) * 2 >= stats.at<int>(best, cv::CC_STAT_AREA))
        best = centre;
    cv::Mat cell = labels == best;

    // Fill holes: flood the surround from a padded border; what it cannot reach is cell.
    cv::Mat padded;
    cv::copyMakeBorder(cell, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::Mat flood = padded.clone();
    cv::floodFill(flood, cv::Point(0, 0), cv::Scalar(255));
    cv::Mat holes;
    cv::bitwise_not(flood, holes);
    padded |= holes;
    return padded(cv::Rect(1, 1, rgb.cols, rgb.rows)).clone();
}

// The cell's bounding square, centred on its box and grown so that the cell fills `fill` of
// it; may reach outside the image (the outside is surround).
cv::Rect scaleSquare(const cv::Rect& box, float fill)
{
    const double side = std::max(box.width, box.height) / double(std::clamp(fill, 0.3f, 1.0f));
    const double cx = box.x + box.width / 2.0, cy = box.y + box.height / 2.0;
    const int s = std::max(1, int(std::lround(side)));
    return {int(std::lround(cx - s / 2.0)), int(std::lround(cy - s / 2.0)), s, s};
}

// Cuts `square` out of `image` (padding with `pad` where it leaves the image) and resizes it
// to `size`.
cv::Mat cutAndResize(const cv::Mat& image, const cv::Rect& square, const cv::Size& size,
                     const cv::Scalar& pad, int interpolation)
{
    const cv::Rect inside = square & cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat cut(square.size(), image.type(), pad);
    if (!inside.empty())
        image(inside).copyTo(cut(cv::Rect(inside.tl() - square.tl(), inside.size())));
    cv::Mat out;
    cv::resize(cut, out, size, 0, 0, interpolation);
    return out;
}

void normaliseGrey(cv::Mat& rgb, const cv::Mat& mask)
{
    cv::Mat grey;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    cv::Scalar mean, sd;
    cv::meanStdDev(grey, mean, sd, mask);
    const double s = std::max(sd[0], 0.02); // a flat cell is not blown up into noise
    cv::Mat g = (grey - mean[0]) * (0.15 / s) + 0.5;
    cv::Mat channels[3] = {g, g, g};
    cv::merge(channels, 3, rgb);
}

void normaliseLab(cv::Mat& rgb, const cv::Mat& mask)
{
    cv::Mat lab;
    cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
    cv::Scalar mean, sd;
    cv::meanStdDev(lab, mean, sd, mask);
    std::vector<cv::Mat> ch;
    cv::split(lab, ch);
    for (int c = 0; c < 3; ++c) {
        const double s = std::max(sd[c], c == 0 ? 1.0 : 0.5);
        ch[size_t(c)] = (ch[size_t(c)] - mean[c]) * (kLabStd[c] / s) + kLabMean[c];
    }
    cv::merge(ch, lab);
    cv::cvtColor(lab, rgb, cv::COLOR_Lab2RGB);
}

} // namespace

QString canonicalStainName(CanonicalStain s)
{
    return s == CanonicalStain::Lab ? QStringLiteral("lab-reinhard") : QStringLiteral("grey");
}

QJsonObject CanonicalRecipe::toJson() const
{
    return QJsonObject{{QStringLiteral("version"), version},
                       {QStringLiteral("cell_fill"), double(cellFill)},
                       {QStringLiteral("surround"), double(surround)},
                       {QStringLiteral("stain"), canonicalStainName(stain)}};
}

CanonicalRecipe CanonicalRecipe::fromJson(const QJsonObject& o, bool* ok)
{
    CanonicalRecipe r;
    r.version = o.value(QStringLiteral("version")).toInt(r.version);
    r.cellFill = float(o.value(QStringLiteral("cell_fill")).toDouble(r.cellFill));
    r.surround = float(o.value(QStringLiteral("surround")).toDouble(r.surround));
    const QString stain = o.value(QStringLiteral("stain")).toString(canonicalStainName(r.stain));
    bool known = true;
    if (stain == QLatin1String("grey"))
        r.stain = CanonicalStain::Grey;
    else if (stain == QLatin1String("lab-reinhard"))
        r.stain = CanonicalStain::Lab;
    else
        known = false;
    if (ok)
        *ok = known;
    return r;
}

CanonicalCell canonicalizeCell(const cv::Mat& rgb, const CanonicalRecipe& recipe)
{
    CanonicalCell out;
    if (rgb.empty() || rgb.type() != CV_32FC3 || rgb.cols < 8 || rgb.rows < 8)
        return out;
    try {
        out.surroundColour = medianBorderColour(rgb);
        cv::Mat mask = findCellMask(rgb, out.surroundColour);
        const double fraction = cv::countNonZero(mask) / double(rgb.total());
        out.cellFraction = fraction;
        out.cellFound = fraction >= kMinCellFraction && fraction <= kMaxCellFraction;
        if (!out.cellFound)
            mask = cv::Mat(rgb.size(), CV_8U, cv::Scalar(255));
        out.cellBox = cv::boundingRect(mask);
        out.inputMask = mask;

        const cv::Rect square = scaleSquare(out.cellBox, recipe.cellFill);
        const cv::Scalar s(out.surroundColour[0], out.surroundColour[1], out.surroundColour[2]);
        cv::Mat scaled = cutAndResize(rgb, square, rgb.size(), s, cv::INTER_AREA);
        cv::Mat scaledMask =
            cutAndResize(mask, square, rgb.size(), cv::Scalar(0), cv::INTER_NEAREST);

        if (recipe.stain == CanonicalStain::Grey)
            normaliseGrey(scaled, scaledMask);
        else
            normaliseLab(scaled, scaledMask);
        cv::Mat outside;
        cv::bitwise_not(scaledMask, outside);
        scaled.setTo(cv::Scalar::all(recipe.surround), outside);
        cv::min(cv::max(scaled, 0.0), 1.0, scaled);
        out.rgb = scaled.isContinuous() ? scaled : scaled.clone();
        out.mask = scaledMask;
    } catch (const cv::Exception&) {
        return CanonicalCell{};
    }
    return out;
}

} // namespace ml
