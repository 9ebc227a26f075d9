#include "cellsegmenter.h"

#include <QLoggingCategory>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <climits>
#include <cmath>

namespace ml {

Q_LOGGING_CATEGORY(lcSegment, "malarialens.core.cellsegmenter", QtWarningMsg)

namespace {

// Below this many working pixels per cell diameter, contours and the distance transform are
// too coarse to split touching cells.
constexpr double kMinWorkingDiameter = 10.0;
// Blobs smaller than this (working pixels) are never used to estimate the cell size.
constexpr double kMinBlobArea = 30.0;

cv::Mat toBgr8(const cv::Mat& in)
{
    if (in.empty() || in.depth() != CV_8U)
        return {};
    cv::Mat out;
    switch (in.channels()) {
    case 1:
        cv::cvtColor(in, out, cv::COLOR_GRAY2BGR);
        return out;
    case 3:
        return in;
    case 4:
        cv::cvtColor(in, out, cv::COLOR_BGRA2BGR);
        return out;
    default:
        return {};
    }
}

// Background (bright glass/plasma) estimate of the green plane: a grey closing at 1/8
// scale removes every dark object smaller than ~1/6 of the image, so only the illumination
// remains. Working at 1/8 scale makes the large kernel cheap.
cv::Mat flatField(const cv::Mat& green)
{
    const int sw = std::max(4, green.cols / 8);
    const int sh = std::max(4, green.rows / 8);
    cv::Mat small;
    cv::resize(green, small, cv::Size(sw, sh), 0, 0, cv::INTER_AREA);
    const int k = std::max(3, (std::max(sw, sh) / 3) | 1);
    const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k));
    cv::Mat bg;
    cv::morphologyEx(small, bg, cv::MORPH_CLOSE, kernel);
    cv::GaussianBlur(bg, bg, cv::Size(k, k), 0);
    cv::resize(bg, bg, green.size(), 0, 0, cv::INTER_LINEAR);
    // green / background, scaled so the background sits at 220 (leaves headroom for noise).
    cv::Mat g32, bg32, out;
    green.convertTo(g32, CV_32F);
    bg.convertTo(bg32, CV_32F);
    cv::max(bg32, 1.0, bg32);
    cv::divide(g32, bg32, g32, 220.0);
    g32.convertTo(out, CV_8U);
    return out;
}

struct Blob
{
    double area;
    double solidity;
};

std::vector<Blob> externalBlobs(const cv::Mat& mask, std::vector<std::vector<cv::Point>>* all)
{
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    std::vector<Blob> blobs;
    blobs.reserve(contours.size());
    const cv::Rect inner(2, 2, mask.cols - 4, mask.rows - 4);
    for (const auto& c : contours) {
        const double a = cv::contourArea(c);
        if (a < kMinBlobArea)
            continue;
        const cv::Rect r = cv::boundingRect(c);
        if ((r & inner) != r) // cut by the border: its size says nothing
            continue;
        std::vector<cv::Point> hull;
        cv::convexHull(c, hull);
        const double ha = cv::contourArea(hull);
        blobs.push_back({a, ha > 0 ? a / ha : 0.0});
    }
    if (all)
        *all = std::move(contours);
    return blobs;
}

// Typical single-cell area (working pixels²): median area of the compact blobs, which are
// almost always single cells; 0 when fewer than three blobs are compact.
double typicalCellArea(const std::vector<Blob>& blobs)
{
    std::vector<double> compact;
    for (const Blob& b : blobs)
        if (b.solidity >= 0.9)
            compact.push_back(b.area);
    if (compact.size() < 3)
        return 0.0;
    auto mid = compact.begin() + compact.size() / 2;
    std::nth_element(compact.begin(), mid, compact.end());
    return *mid;
}

// Typical cell area from the distance transform, for dense fields where (almost) no cell
// lies apart: a cell's centre is a local maximum of the distance to the background, of height
// ~ its radius (a little less where cells overlap, hence the upper quartile). 0 when there is
// no peak.
double cellAreaFromDistancePeaks(const cv::Mat& mask)
{
    // Exact Euclidean distances: the 3x3 approximation has spurious ridge maxima.
    cv::Mat dist, dil;
    cv::distanceTransform(mask, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    cv::dilate(dist, dil, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(15, 15)));
    std::vector<float> heights;
    for (int y = 0; y < dist.rows; ++y) {
        const float* d = dist.ptr<float>(y);
        const float* m = dil.ptr<float>(y);
        for (int x = 0; x < dist.cols; ++x)
            if (d[x] >= 3.0f && d[x] >= m[x] - 1e-3f)
                heights.push_back(d[x]);
    }
    if (heights.empty())
        return 0.0;
    auto q = heights.begin() + heights.size() * 3 / 4;
    std::nth_element(heights.begin(), q, heights.end());
    return M_PI * double(*q) * double(*q);
}

// Fills holes (e.g. the pale centre of a biconcave cell) smaller than maxHoleArea.
void fillSmallHoles(cv::Mat& mask, double maxHoleArea)
{
    std::vector<std::vector<cv::Point>> contours;
    std::vector<cv::Vec4i> hierarchy;
    cv::findContours(mask.clone(), contours, hierarchy, cv::RETR_CCOMP, cv::CHAIN_APPROX_SIMPLE);
    for (size_t i = 0; i < contours.size(); ++i) {
        if (hierarchy[i][3] < 0) // outer contour, not a hole
            continue;
        if (cv::contourArea(contours[i]) <= maxHoleArea)
            cv::drawContours(mask, contours, int(i), cv::Scalar(255), cv::FILLED);
    }
}

// Marker-controlled watershed on the inverted distance map, restricted to the foreground:
// pixels are flooded from the seeds in order of decreasing distance to the background, so
// two cells meet along the neck (the distance map's valley) between them. Written here
// rather than with cv::watershed because cv::watershed ranks pixels by colour *difference*
// to their neighbours, not by level, and it needs a background label that then eats into
// the cells' rims. Pixels where two labels meet become -1 (a one-pixel line).
void floodFromSeeds(const cv::Mat& dist, const cv::Mat& mask, cv::Mat& labels)
{
    constexpr float kLevelsPerPixel = 4.0f;
    const int w = labels.cols, h = labels.rows;
    double maxDist = 0.0;
    cv::minMaxLoc(dist, nullptr, &maxDist);
    const int nLevels = int(maxDist * kLevelsPerPixel) + 2;
    std::vector<std::vector<int>> buckets{size_t(nLevels)};
    std::vector<size_t> heads(size_t(nLevels), 0);
    std::vector<uchar> queued(size_t(w) * h, 0);
    auto levelOf = [&](int i) { return int(dist.ptr<float>(i / w)[i % w] * kLevelsPerPixel); };
    int cur = nLevels - 1;
    auto pushNeighbours = [&](int i) {
        const int x = i % w, y = i / w;
        const int nb[4] = {x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1,
                           y + 1 < h ? i + w : -1};
        for (int n : nb) {
            if (n < 0 || queued[size_t(n)] || !mask.data[n] || labels.ptr<int>()[n] != 0)
                continue;
            queued[size_t(n)] = 1;
            buckets[size_t(std::min(levelOf(n), cur))].push_back(n);
        }
    };
    CV_Assert(labels.isContinuous() && mask.isContinuous() && dist.isContinuous());
    int* lab = labels.ptr<int>();
    for (int i = 0; i < w * h; ++i)
        if (lab[i] > 0)
            queued[size_t(i)] = 1;
    for (int i = 0; i < w * h; ++i)
        if (lab[i] > 0)
            pushNeighbours(i);
    while (true) {
        while (cur >= 0 && heads[size_t(cur)] >= buckets[size_t(cur)].size())
            --cur;
        if (cur < 0)
            break;
        const int i = buckets[size_t(cur)][heads[size_t(cur)]++];
        const int x = i % w, y = i / w;
        const int nb[4] = {x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1,
                           y + 1 < h ? i + w : -1};
        int label = 0;
        bool conflict = false;
        for (int n : nb) {
            if (n < 0 || lab[n] <= 0)
                continue;
            if (label == 0)
                label = lab[n];
            else if (lab[n] != label)
                conflict = true;
        }
        if (label == 0) // reached only through a watershed line: stays unlabelled
            continue;
        lab[i] = conflict ? -1 : label;
        if (!conflict)
            pushNeighbours(i);
    }
}

// Bounding box and pixel count of every label 1..nLabels-1 over the foreground, in one pass.
std::vector<cv::Rect> labelBoxes(const cv::Mat& labels, const cv::Mat& mask, int nLabels,
                                 std::vector<int>* areas)
{
    const size_t n = size_t(nLabels);
    std::vector<int> x0(n, INT32_MAX), y0(n, INT32_MAX), x1(n, -1), y1(n, -1);
    areas->assign(n, 0);
    for (int y = 0; y < labels.rows; ++y) {
        const int* row = labels.ptr<int>(y);
        const uchar* m = mask.ptr<uchar>(y);
        for (int x = 0; x < labels.cols; ++x) {
            const int l = row[x];
            if (l < 1 || l >= nLabels || !m[x])
                continue;
            const size_t i = size_t(l);
            x0[i] = std::min(x0[i], x);
            x1[i] = std::max(x1[i], x);
            y0[i] = std::min(y0[i], y);
            y1[i] = std::max(y1[i], y);
            ++(*areas)[i];
        }
    }
    std::vector<cv::Rect> boxes(n);
    for (size_t i = 1; i < n; ++i)
        if (x1[i] >= 0)
            boxes[i] = cv::Rect(x0[i], y0[i], x1[i] - x0[i] + 1, y1[i] - y0[i] + 1);
    return boxes;
}

// State shared by the stages of segmentImpl; everything but bgr is at the working resolution.
struct SegmentState
{
    cv::Mat bgr;           // the input as 8-bit BGR
    cv::Mat green;         // green plane
    cv::Mat flat;          // flat-fielded, blurred green
    cv::Mat mask;          // foreground (cells)
    cv::Mat k3;            // 3x3 ellipse for openings and seed joins
    double meanLow = 0.0;  // mean flat level of the foreground
    double cellArea = 0.0; // typical single-cell area
    double diameter = 0.0; // typical cell diameter
    double radius = 0.0;
    cv::Mat dist;    // distance to the background
    cv::Mat markers; // labels: 0 unknown, -1 watershed line, 1.. pieces
    int nLabels = 0;
    std::vector<int> areas;
    std::vector<cv::Rect> boxes;
};

// Step 1: converts the input, picks the working resolution and extracts the green plane;
// false (with a warning) when the image cannot hold a smear.
bool prepareWorkingImage(const cv::Mat& input, const SegmentationParams& p, SegmentationResult& res,
                         SegmentState& s)
{
    s.bgr = toBgr8(input);
    const cv::Mat& bgr = s.bgr;
    if (bgr.empty()) {
        res.warnings << QStringLiteral("empty or unsupported image");
        return false;
    }
    if (bgr.cols < 16 || bgr.rows < 16) {
        res.warnings
            << QStringLiteral("image too small (%1x%2) to hold cells").arg(bgr.cols).arg(bgr.rows);
        return false;
    }

    // 1. Working resolution.
    const double pixels = double(bgr.cols) * bgr.rows;
    const double maxPixels = double(std::max<qint64>(p.maxWorkingPixels, 4096));
    res.scale = pixels > maxPixels ? std::sqrt(maxPixels / pixels) : 1.0;
    cv::Mat work;
    if (res.scale < 1.0) {
        const cv::Size ws(std::max(1, int(std::lround(bgr.cols * res.scale))),
                          std::max(1, int(std::lround(bgr.rows * res.scale))));
        cv::resize(bgr, work, ws, 0, 0, cv::INTER_AREA);
    } else {
        work = bgr;
    }
    cv::extractChannel(work, s.green, 1);

    // A smear field has a bright background; a (nearly) black image has none, and the
    // flat-field below would stretch its noise into "cells".
    const double meanLevel = cv::mean(s.green)[0];
    if (meanLevel < 25.0) {
        res.warnings << QStringLiteral("image is very dark (mean green %1): no smear background")
                            .arg(meanLevel, 0, 'f', 0);
        return false;
    }
    return true;
}

// Steps 2-3: the foreground mask (flat-fielded green, Otsu, opening); false (with a warning)
// when cells and background cannot be told apart.
bool findForeground(const SegmentationParams& p, SegmentationResult& res, SegmentState& s)
{
    // 2. Foreground: flat-fielded green, Otsu. Cells are darker than the background.
    s.flat = flatField(s.green);
    cv::GaussianBlur(s.flat, s.flat, cv::Size(3, 3), 0);
    const cv::Mat& flat = s.flat;
    const cv::Mat& green = s.green;
    cv::Mat& mask = s.mask;
    const double t = cv::threshold(flat, mask, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    s.meanLow = cv::mean(flat, mask)[0];
    // Contrast is judged on the raw green too: flat-fielding divides by the background, which
    // also amplifies the noise of a dim, empty image.
    const double contrast = std::min(cv::mean(flat, 255 - mask)[0] - s.meanLow,
                                     cv::mean(green, 255 - mask)[0] - cv::mean(green, mask)[0]);
    const double fgFraction = cv::countNonZero(mask) / double(mask.total());
    qCDebug(lcSegment) << "otsu" << t << "contrast" << contrast << "foreground" << fgFraction;
    if (contrast < p.minContrast || fgFraction < 0.002) {
        res.warnings << QStringLiteral("no contrast between cells and background (%1 grey levels): "
                                       "blank, dark or out-of-focus image")
                            .arg(contrast, 0, 'f', 1);
        return false;
    }
    if (fgFraction > 0.9)
        res.warnings << QStringLiteral("%1 % of the image is foreground: not a thin smear field?")
                            .arg(fgFraction * 100.0, 0, 'f', 0);

    // 3. Clean-up: opening removes specks smaller than the 3x3 kernel.
    s.k3 = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
    cv::morphologyEx(mask, mask, cv::MORPH_OPEN, s.k3);
    return true;
}

// Step 4: the typical cell area and diameter (given or estimated), then fills the cells'
// pale centres; false (with a warning) when nothing looks like a cell.
bool estimateCellSize(const SegmentationParams& p, SegmentationResult& res, SegmentState& s)
{
    double cellArea = 0.0;
    if (p.cellDiameter > 0) {
        const double d = p.cellDiameter * res.scale;
        cellArea = M_PI * d * d / 4.0;
    } else {
        const std::vector<Blob> blobs = externalBlobs(s.mask, nullptr);
        cellArea = typicalCellArea(blobs);
        if (cellArea <= 0.0)
            cellArea = cellAreaFromDistancePeaks(s.mask);
        if (cellArea <= 0.0 && !blobs.empty())
            cellArea =
                std::max_element(blobs.begin(), blobs.end(), [](const Blob& a, const Blob& b) {
                    return a.area < b.area;
                })->area;
    }
    if (cellArea <= 0.0) {
        res.warnings << QStringLiteral("no cell-like objects found: not a thin smear field?");
        return false;
    }
    s.cellArea = cellArea;
    const double diameter = 2.0 * std::sqrt(cellArea / M_PI);
    s.diameter = diameter;
    res.cellDiameter = diameter / res.scale;
    if (diameter < kMinWorkingDiameter)
        res.warnings << QStringLiteral(
                            "cells are only %1 px wide at the working resolution: results "
                            "unreliable (raise maxWorkingPixels or crop the image)")
                            .arg(diameter, 0, 'f', 1);
    fillSmallHoles(s.mask, 0.5 * cellArea);
    return true;
}

// Step 5: seeds at the distance-transform peaks, flooded over the foreground; false (with a
// warning) when there is no seed.
bool seedAndFlood(const SegmentationParams& p, SegmentationResult& res, SegmentState& s)
{
    // 5. Seeds: distance-transform peaks, then watershed on the inverted distance map.
    cv::distanceTransform(s.mask, s.dist, cv::DIST_L2, 3);
    s.radius = s.diameter / 2.0;
    const int win = std::max(3, int(2.0 * p.peakSeparation * s.radius) | 1);
    cv::Mat dil;
    cv::dilate(s.dist, dil, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(win, win)));
    cv::Mat peaks = (s.dist >= dil - 1e-3f) & (s.dist >= float(p.minPeakDepth * s.radius));
    // A flat ridge gives several neighbouring maxima: join them into one seed.
    cv::dilate(peaks, peaks, s.k3);
    const int nSeeds = cv::connectedComponents(peaks, s.markers, 8, CV_32S) - 1;
    if (nSeeds <= 0) {
        res.warnings << QStringLiteral("no cell centres found: not a thin smear field?");
        return false;
    }
    // Labels: 0 unknown, 1.. seeds; only foreground pixels are flooded.
    s.markers.setTo(0, peaks == 0);
    floodFromSeeds(s.dist, s.mask, s.markers);
    s.nLabels = nSeeds + 1;
    return true;
}

// Splits piece l again with finer seeds, inside the piece only; the new pieces take labels
// s.nLabels.. (s.nLabels grows by their number).
void resplitPiece(SegmentState& s, int l, double separation, double depth)
{
    cv::Mat& markers = s.markers;
    const cv::Rect roi = (s.boxes[size_t(l)] + cv::Size(2, 2) - cv::Point(1, 1)) &
                         cv::Rect(0, 0, markers.cols, markers.rows);
    const cv::Mat piece = (markers(roi) == l) & s.mask(roi);
    cv::Mat pieceDist;
    cv::distanceTransform(piece, pieceDist, cv::DIST_L2, 3);
    const int win2 = std::max(3, int(2.0 * separation * s.radius) | 1);
    cv::Mat pieceDil;
    cv::dilate(pieceDist, pieceDil,
               cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(win2, win2)));
    cv::Mat piecePeaks = (pieceDist >= pieceDil - 1e-3f) & (pieceDist >= float(depth * s.radius));
    cv::dilate(piecePeaks, piecePeaks, s.k3);
    cv::Mat pieceMarkers;
    const int k = cv::connectedComponents(piecePeaks, pieceMarkers, 8, CV_32S) - 1;
    if (k < 2)
        return;
    pieceMarkers.setTo(0, piecePeaks == 0);
    floodFromSeeds(pieceDist, piece, pieceMarkers);
    // New labels nLabels.. replace l inside the piece; unreached pixels become lines.
    cv::Mat target = markers(roi);
    for (int y = 0; y < roi.height; ++y) {
        const uchar* pm = piece.ptr<uchar>(y);
        const int* src = pieceMarkers.ptr<int>(y);
        int* dst = target.ptr<int>(y);
        for (int x = 0; x < roi.width; ++x)
            if (pm[x])
                dst[x] = src[x] > 0 ? s.nLabels - 1 + src[x] : -1;
    }
    s.nLabels += k;
}

// Whether the pixels of `mask` (inside `roi`) hold stained material: at least `minFraction`
// of them darker than `level` times the mean foreground level (parasite chromatin and
// cytoplasm, pigment; healthy red cells are evenly pale).
bool isStainedWithin(const SegmentState& s, const cv::Rect& roi, const cv::Mat& mask, double level,
                     double minFraction)
{
    const cv::Mat dark = (s.flat(roi) < level * s.meanLow) & mask;
    return cv::countNonZero(dark) >= minFraction * std::max(1, cv::countNonZero(mask));
}

// Whether piece l holds stained material (isStainedWithin()).
bool pieceIsStained(const SegmentState& s, int l, double level, double minFraction)
{
    const cv::Rect roi = s.boxes[size_t(l)];
    return isStainedWithin(s, roi, (s.markers(roi) == l) & s.mask(roi), level, minFraction);
}

// Step 6: boxes and areas of the pieces; pieces still much larger than a cell are re-split.
void resplitClumps(const SegmentationParams& p, SegmentState& s)
{
    // 6. Pieces still much larger than a cell are clumps of three or more overlapping cells,
    // whose necks are shallower than the global peak criteria allow: split them again with
    // finer seeds, inside the piece only (so single cells elsewhere are never over-split).
    // Stained pieces (an infected cell among them) are split from a smaller size and with
    // finer seeds still: P. vivax enlarges the cells it infects, and the clump around an
    // enlarged infected cell is where most undetected parasites were (docs/MODEL.md). Doing it
    // only there keeps the healthy clumps, where the finer split mostly cuts single cells in
    // two, as they were.
    s.boxes = labelBoxes(s.markers, s.mask, s.nLabels, &s.areas);
    const bool stainedSplit = p.stainedResplitAbove > 0;
    if (p.resplitAbove > 0 || stainedSplit) {
        const int nFirst = s.nLabels;
        for (int l = 1; l < nFirst; ++l) {
            const double area = s.areas[size_t(l)];
            if (stainedSplit && area > p.stainedResplitAbove * s.cellArea &&
                pieceIsStained(s, l, p.stainLevel, p.minStainFraction))
                resplitPiece(s, l, p.stainedResplitSeparation, p.stainedResplitDepth);
            else if (p.resplitAbove > 0 && area > p.resplitAbove * s.cellArea)
                resplitPiece(s, l, p.resplitSeparation, p.resplitDepth);
        }
        if (s.nLabels != nFirst)
            s.boxes = labelBoxes(s.markers, s.mask, s.nLabels, &s.areas);
    }
}

// Working-resolution contour -> original image coordinates.
std::vector<cv::Point> toOriginal(const std::vector<cv::Point>& contour, double inv)
{
    std::vector<cv::Point> out;
    out.reserve(contour.size());
    for (const cv::Point& pt : contour)
        out.emplace_back(int(std::lround((pt.x + 0.5) * inv - 0.5)),
                         int(std::lround((pt.y + 0.5) * inv - 0.5)));
    return out;
}

// Working-resolution box -> original image coordinates, clipped to the image.
cv::Rect toOriginalBox(const cv::Rect& r, double inv, const cv::Mat& bgr)
{
    const int bx0 = int(std::floor(r.x * inv));
    const int by0 = int(std::floor(r.y * inv));
    const int bx1 = int(std::ceil((r.x + r.width) * inv));
    const int by1 = int(std::ceil((r.y + r.height) * inv));
    return cv::Rect(bx0, by0, bx1 - bx0, by1 - by0) & cv::Rect(0, 0, bgr.cols, bgr.rows);
}

// One labelled piece at the working resolution: its outline and shape.
struct Piece
{
    cv::Rect r;                     // box
    cv::Rect pr;                    // box padded by one pixel
    cv::Mat cellMask;               // the piece inside pr
    std::vector<cv::Point> contour; // largest outline
    double bestArea = 0.0;          // contourArea of the outline
    double area = 0.0;              // pixel area
    double roundness = 0.0;         // 4πA/P²
};

// Outline and shape of pc.cellMask (inside pc.pr); false when it has no outline.
bool outlineMask(Piece& pc)
{
    std::vector<std::vector<cv::Point>> cs;
    cv::findContours(pc.cellMask, cs, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE, pc.pr.tl());
    if (cs.empty())
        return false;
    size_t best = 0;
    double bestArea = -1.0;
    for (size_t i = 0; i < cs.size(); ++i) {
        const double a = cv::contourArea(cs[i]);
        if (a > bestArea) {
            bestArea = a;
            best = i;
        }
    }
    pc.contour = std::move(cs[best]);
    pc.bestArea = bestArea;
    // contourArea runs through pixel centres: add half the perimeter for the pixel area.
    const double perimeter = cv::arcLength(pc.contour, true);
    pc.area = bestArea + 0.5 * perimeter;
    // Roundness 4πA/P² (1 for a disc; ~0.8 for a cell outline on the pixel grid).
    pc.roundness = perimeter > 0 ? 4.0 * M_PI * bestArea / (perimeter * perimeter) : 0.0;
    return true;
}

// Outline of piece l; false when it has no pixels or no outline.
bool outlinePiece(const SegmentState& s, int l, Piece& pc)
{
    const cv::Mat& markers = s.markers;
    pc.r = s.boxes[size_t(l)];
    if (pc.r.empty())
        return false;
    // Pad by one pixel so findContours sees a closed outline.
    pc.pr = (pc.r + cv::Size(2, 2) - cv::Point(1, 1)) & cv::Rect(0, 0, markers.cols, markers.rows);
    pc.cellMask = (markers(pc.pr) == l) & s.mask(pc.pr);
    // Watershed regions can hang on by one-pixel bridges along the lines; an opening
    // removes them so the contour follows the cell instead of spiking along the line.
    cv::morphologyEx(pc.cellMask, pc.cellMask, cv::MORPH_OPEN, s.k3);
    return outlineMask(pc);
}

// White blood cells: their nucleus is far darker than any red cell (green ~20-40 of a 220
// background against ~90-150 for red cells, parasites included); a piece that is mostly such
// pixels is a nucleus, not a red cell. Parasite chromatin is as dark but covers only a small
// part of its cell. Never true with maxNucleusFraction >= 1 (the check disabled).
bool isMostlyNucleus(const SegmentationParams& p, const SegmentState& s, const Piece& pc)
{
    if (p.maxNucleusFraction >= 1.0)
        return false;
    const cv::Mat nucleus = (s.flat(pc.pr) < p.nucleusLevel * s.meanLow) & pc.cellMask;
    return cv::countNonZero(nucleus) > p.maxNucleusFraction * cv::countNonZero(pc.cellMask);
}

// An elliptic structuring element `width` of a typical cell across (odd, at least 3 pixels).
cv::Mat discOf(const SegmentState& s, double width)
{
    const int k = std::max(3, int(width * s.diameter) | 1);
    return cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k, k));
}

// The largest region of `regions` (a mask inside clump.pr), filled, as a piece; true when it
// is a cell: between darkCellMinFraction and darkCellMaxFraction of a cell, at least
// darkCellRoundness round, and not mostly nucleus-dark.
bool largestRegion(const SegmentationParams& p, const SegmentState& s, const Piece& clump,
                   const cv::Mat& regions, Piece& out)
{
    // Stippling and the parasite's pale parts leave holes: the cell is the filled outline.
    std::vector<std::vector<cv::Point>> cs;
    cv::findContours(regions, cs, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    if (cs.empty())
        return false;
    const auto largest = std::max_element(cs.begin(), cs.end(), [](const auto& a, const auto& b) {
        return cv::contourArea(a) < cv::contourArea(b);
    });
    out.pr = clump.pr;
    out.cellMask = cv::Mat::zeros(clump.cellMask.size(), CV_8U);
    cv::drawContours(out.cellMask, cs, int(largest - cs.begin()), cv::Scalar(255), cv::FILLED);
    out.cellMask &= clump.cellMask;
    if (!outlineMask(out) || out.area < p.darkCellMinFraction * s.cellArea ||
        out.area > p.darkCellMaxFraction * s.cellArea || out.roundness < p.darkCellRoundness)
        return false;
    // A white cell's nucleus among red cells is dark, round and cell-sized too: the test
    // whole pieces pass (collectCells) keeps it from becoming a "cell".
    return !isMostlyNucleus(p, s, out);
}

// A cell-sized region of one level class of a clump (`level`, a mask inside clump.pr). An
// opening of a fifth of a cell removes the overlap lenses and rims that share the level but
// are thin; where a thicker neck still joins the cell to a neighbour, wider openings (up to
// darkCellMaxOpening of a cell, which a cell-sized region survives) cut it, and the region
// must then be stained: the wider reach is for parasites.
bool regionOfLevel(const SegmentationParams& p, const SegmentState& s, const Piece& clump,
                   const cv::Mat& level, Piece& cell)
{
    for (const double width : {0.2, 0.35, 0.5}) {
        if (width > 0.2 && width > p.darkCellMaxOpening + 1e-9)
            return false;
        cv::Mat opened;
        cv::morphologyEx(level, opened, cv::MORPH_OPEN, discOf(s, width));
        if (largestRegion(p, s, clump, opened, cell))
            return width <= 0.2 ||
                   isStainedWithin(s, cell.pr, cell.cellMask, p.stainLevel, p.minStainFraction);
    }
    return false;
}

// A cell-sized region of a clump that stains clearly darker than the rest of it: a cell
// a parasite fills (P. vivax gametocytes, schizonts, grown trophozoites) among the healthy
// cells it overlaps. The distance transform cannot cut it out when the union has no neck
// (docs/MODEL.md: most parasites the segmenter missed on the IML fields lay in such clumps),
// but its level can: Otsu inside the clump splits it into a dark and a light class, and the
// dark class is searched for a cell (regionOfLevel()). Where it holds none and the classes
// lie far apart (lightCellContrast), so is the light class: in deep-staining fields the
// gametocytes are the paler cells. Returns the region as a piece (`cell`), and the clump
// without it (`rest`); false when the clump holds no such region.
bool carveCell(const SegmentationParams& p, const SegmentState& s, const Piece& clump, Piece& cell,
               Piece& rest)
{
    if (p.darkCellContrast <= 0)
        return false;
    const cv::Mat flat = s.flat(clump.pr);
    // Otsu over the clump's pixels only (cv::threshold takes no mask).
    std::vector<uchar> inside;
    for (int y = 0; y < flat.rows; ++y)
        for (int x = 0; x < flat.cols; ++x)
            if (clump.cellMask.at<uchar>(y, x))
                inside.push_back(flat.at<uchar>(y, x));
    if (inside.size() < 16)
        return false;
    cv::Mat darkMask;
    const double t =
        cv::threshold(cv::Mat(inside), darkMask, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    darkMask = (flat <= t) & clump.cellMask;
    const cv::Mat lightMask = clump.cellMask & ~darkMask;
    const double contrast = cv::mean(flat, lightMask)[0] - cv::mean(flat, darkMask)[0];
    if (contrast < p.darkCellContrast * s.meanLow)
        return false;
    const bool searchLight = p.lightCellContrast > 0 && contrast >= p.lightCellContrast * s.meanLow;
    if (!regionOfLevel(p, s, clump, darkMask, cell) &&
        !(searchLight && regionOfLevel(p, s, clump, lightMask, cell)))
        return false;
    cell.r = cv::boundingRect(cell.contour); // outlineMask() gives image coordinates
    rest.pr = clump.pr;
    cv::Mat grown;
    cv::dilate(cell.cellMask, grown, s.k3);
    rest.cellMask = clump.cellMask & ~grown;
    cv::morphologyEx(rest.cellMask, rest.cellMask, cv::MORPH_OPEN, discOf(s, 0.2));
    if (outlineMask(rest))
        rest.r = cv::boundingRect(rest.contour);
    return true;
}

// A rejected piece that is as thick as a cell and larger than one: touching cells the
// watershed left merged, kept to be shown and counted, not classified.
void keepIfUnsplit(const SegmentationParams& p, SegmentationResult& res, const SegmentState& s,
                   const Piece& pc)
{
    if (p.unsplitMinDepth > 0 && pc.area >= p.unsplitMinFraction * s.cellArea) {
        const double inv = 1.0 / res.scale;
        const int margin = std::max(0, p.edgeMargin);
        const cv::Rect& r = pc.r;
        double depth = 0.0;
        cv::minMaxLoc(s.dist(pc.pr), nullptr, &depth, nullptr, nullptr, pc.cellMask);
        if (depth >= p.unsplitMinDepth * s.radius) {
            UnsplitRegion u;
            u.contour = toOriginal(pc.contour, inv);
            u.box = toOriginalBox(r, inv, s.bgr);
            u.area = pc.area * inv * inv;
            u.estimatedCells = std::max(2, int(std::lround(pc.area / s.cellArea)));
            u.touchesEdge = r.x <= margin || r.br().x >= s.markers.cols - margin || r.y <= margin ||
                            r.br().y >= s.markers.rows - margin;
            res.unsplit.push_back(std::move(u));
        }
    }
}

// Adds the piece as a cell unless it is a border fragment too small to classify; true when
// added.
bool addCell(const SegmentationParams& p, SegmentationResult& res, const SegmentState& s,
             const Piece& pc)
{
    const double inv = 1.0 / res.scale;
    const int margin = std::max(0, p.edgeMargin);
    const cv::Rect& r = pc.r;
    SegmentedCell cell;
    const bool cutX = r.x <= margin || r.br().x >= s.markers.cols - margin;
    const bool cutY = r.y <= margin || r.br().y >= s.markers.rows - margin;
    cell.touchesEdge = cutX || cutY;
    // A border fragment: how much of the cell lies inside the image is its extent
    // perpendicular to the border (the smaller one at a corner).
    if (cell.touchesEdge && p.minEdgeVisible > 0) {
        const int visible = std::min(cutX ? r.width : INT_MAX, cutY ? r.height : INT_MAX);
        if (visible < p.minEdgeVisible * s.diameter) {
            ++res.droppedEdgeFragments;
            return false;
        }
    }
    cell.contour = toOriginal(pc.contour, inv);
    cell.box = toOriginalBox(r, inv, s.bgr);
    const cv::Rect image(0, 0, s.bgr.cols, s.bgr.rows);
    const int grow = int(std::lround(std::max(0.0, p.boxMargin) * res.cellDiameter));
    cell.detectionBox = (cell.box + cv::Size(2 * grow, 2 * grow) - cv::Point(grow, grow)) & image;
    cell.area = pc.area * inv * inv;
    const cv::Moments mo = cv::moments(pc.contour);
    cell.centre = mo.m00 > 0 ? cv::Point2f(float((mo.m10 / mo.m00 + 0.5) * inv - 0.5),
                                           float((mo.m01 / mo.m00 + 0.5) * inv - 0.5))
                             : cv::Point2f(float(cell.box.x + cell.box.width / 2.0),
                                           float(cell.box.y + cell.box.height / 2.0));
    res.cells.push_back(std::move(cell));
    return true;
}

// Step 7: per-piece contours and filters; returns the roundness of every accepted cell.
std::vector<double> collectCells(const SegmentationParams& p, SegmentationResult& res,
                                 const SegmentState& s)
{
    std::vector<double> roundnesses;
    const double minArea = p.minAreaFraction * s.cellArea;
    const double maxArea = p.maxAreaFraction * s.cellArea;
    for (int l = 1; l < s.nLabels; ++l) {
        Piece pc;
        if (!outlinePiece(s, l, pc))
            continue;
        // Every test below drops the piece; their order only decides which dropped pieces are
        // reported as unsplit clumps, never which pieces become cells.
        if (pc.area < minArea)
            continue;
        if (isMostlyNucleus(p, s, pc))
            continue;
        // Two or more cells merged into one piece, and slabs that are no cell at all, are far
        // less round than any single cell; counting them would cost precision and never match.
        const bool notRound = pc.roundness < p.minRoundness;
        // Thin or hollow shapes (scale bars, fibres, stain streaks) fill little of their box;
        // a cell, even an overlapped one, fills well over half of it (a disc: 0.785).
        const bool hollow = pc.area < 0.45 * double(pc.r.area());
        const bool tooLarge = pc.area > maxArea;
        if (notRound || hollow || tooLarge) {
            Piece dark, rest;
            if (pc.area >= p.unsplitMinFraction * s.cellArea && carveCell(p, s, pc, dark, rest)) {
                if (addCell(p, res, s, dark))
                    roundnesses.push_back(dark.roundness);
                if (!rest.contour.empty())
                    keepIfUnsplit(p, res, s, rest);
                continue;
            }
            if (tooLarge && !notRound && !hollow)
                ++res.droppedClumps;
            keepIfUnsplit(p, res, s, pc);
            continue;
        }
        if (addCell(p, res, s, pc))
            roundnesses.push_back(pc.roundness);
    }
    return roundnesses;
}

// The field-level warnings once the cells are known (clumps, roundness, coverage, count).
void addFieldWarnings(SegmentationResult& res, const SegmentState& s,
                      std::vector<double>& roundnesses)
{
    if (res.droppedClumps > 0 && res.droppedClumps * 4 > int(res.cells.size()))
        res.warnings << QStringLiteral("%1 clumps or large objects could not be split into cells")
                            .arg(res.droppedClumps);
    // Red cells are round (median roundness 0.85 over the IML fields, no field below 0.70):
    // a field whose pieces are mostly not is not a smear.
    if (!roundnesses.empty()) {
        auto mid = roundnesses.begin() + roundnesses.size() / 2;
        std::nth_element(roundnesses.begin(), mid, roundnesses.end());
        if (*mid < 0.65)
            res.warnings << QStringLiteral("objects are not round like red cells (median "
                                           "roundness %1): not a thin smear field?")
                                .arg(*mid, 0, 'f', 2);
    }
    // In a smear most of the foreground is cells; when the accepted cells explain little of
    // it, the dark objects were something else (a photo, a tissue section, a thick film).
    double cellPixels = 0.0;
    for (const SegmentedCell& c : res.cells)
        cellPixels += c.area;
    const double foreground = double(cv::countNonZero(s.mask)) / (res.scale * res.scale);
    if (!res.cells.empty() && foreground > 0 && cellPixels < 0.3 * foreground)
        res.warnings << QStringLiteral("cells explain only %1 % of the dark objects: not a thin "
                                       "smear field?")
                            .arg(100.0 * cellPixels / foreground, 0, 'f', 0);
    if (res.cells.empty())
        res.warnings << QStringLiteral("no cells found");
    else if (res.cells.size() < 5)
        res.warnings << QStringLiteral("only %1 cell-like objects: not a thin smear field?")
                            .arg(res.cells.size());
}

SegmentationResult segmentImpl(const cv::Mat& input, const SegmentationParams& p)
{
    SegmentationResult res;
    res.imageSize = input.size();
    SegmentState s;
    if (!prepareWorkingImage(input, p, res, s) || !findForeground(p, res, s) ||
        !estimateCellSize(p, res, s) || !seedAndFlood(p, res, s))
        return res;
    resplitClumps(p, s);
    std::vector<double> roundnesses = collectCells(p, res, s);
    addFieldWarnings(res, s, roundnesses);
    return res;
}

} // namespace

int SegmentationResult::interiorCount() const
{
    return int(std::count_if(cells.begin(), cells.end(),
                             [](const SegmentedCell& c) { return !c.touchesEdge; }));
}

int SegmentationResult::unsplitCellsEstimate() const
{
    int n = 0;
    for (const UnsplitRegion& u : unsplit)
        n += u.estimatedCells;
    return n;
}

SegmentationResult segmentCells(const cv::Mat& bgr, const SegmentationParams& params)
{
    try {
        return segmentImpl(bgr, params);
    } catch (const cv::Exception& e) {
        SegmentationResult res;
        res.imageSize = bgr.size();
        res.warnings
            << QStringLiteral("segmentation failed: %1").arg(QString::fromStdString(e.what()));
        qCWarning(lcSegment) << "OpenCV:" << e.what();
        return res;
    } catch (const std::bad_alloc&) {
        SegmentationResult res;
        res.imageSize = bgr.size();
        res.warnings << QStringLiteral("segmentation failed: out of memory");
        return res;
    }
}

cv::Mat cellCrop(const cv::Mat& bgr, const SegmentedCell& cell, int padding)
{
    if (cell.box.empty() || bgr.empty() || bgr.type() != CV_8UC3)
        return {};
    try {
        const int side = std::max(cell.box.width, cell.box.height) + 2 * std::max(0, padding);
        const cv::Point origin(cell.box.x + cell.box.width / 2 - side / 2,
                               cell.box.y + cell.box.height / 2 - side / 2);
        const cv::Rect square(origin, cv::Size(side, side));
        cv::Mat mask = cv::Mat::zeros(side, side, CV_8U);
        const std::vector<std::vector<cv::Point>> polys{cell.contour};
        cv::fillPoly(mask, polys, cv::Scalar(255), cv::LINE_8, 0, -origin);
        cv::Mat out = cv::Mat::zeros(side, side, CV_8UC3);
        const cv::Rect inImage = square & cv::Rect(0, 0, bgr.cols, bgr.rows);
        if (inImage.empty())
            return out;
        const cv::Rect local(inImage.tl() - origin, inImage.size());
        bgr(inImage).copyTo(out(local), mask(local));
        return out;
    } catch (const cv::Exception& e) {
        qCWarning(lcSegment) << "crop failed:" << e.what();
        return {};
    }
}

} // namespace ml
