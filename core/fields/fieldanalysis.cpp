#include "fieldanalysis.h"

#include "csvfield.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QRegularExpression>

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

FieldCounts& FieldCounts::operator+=(const FieldCounts& o)
{
    images += o.images;
    cells += o.cells;
    parasitized += o.parasitized;
    paleCalled += o.paleCalled;
    edgeCells += o.edgeCells;
    unsplitRegions += o.unsplitRegions;
    unsplitCellsEstimate += o.unsplitCellsEstimate;
    return *this;
}

FieldCounts FieldResult::counts(bool excludeEdge) const
{
    FieldCounts c;
    c.images = 1;
    for (const FieldCell& fc : cells) {
        if (fc.cell.touchesEdge) {
            ++c.edgeCells;
            if (excludeEdge)
                continue;
        }
        ++c.cells;
        if (fc.parasitized)
            ++c.parasitized;
        if (fc.pale)
            ++c.paleCalled;
    }
    for (const UnsplitRegion& u : unsplit) {
        if (excludeEdge && u.touchesEdge)
            continue;
        ++c.unsplitRegions;
        c.unsplitCellsEstimate += u.estimatedCells;
    }
    return c;
}

std::vector<cv::Rect> FieldResult::boxes(bool excludeEdge) const
{
    std::vector<cv::Rect> out;
    for (const FieldCell& fc : cells)
        if (!excludeEdge || !fc.cell.touchesEdge)
            out.push_back(fc.cell.detectionBox);
    return out;
}

std::vector<bool> FieldResult::flags(bool excludeEdge) const
{
    std::vector<bool> out;
    for (const FieldCell& fc : cells)
        if (!excludeEdge || !fc.cell.touchesEdge)
            out.push_back(fc.parasitized);
    return out;
}

ColourStats nihCellColour()
{
    // bench/nih_colour.py: 1,500 random NIH cells (seed 1), 18.9 M cell pixels.
    return {cv::Vec3d(170.38, 144.73, 129.59), cv::Vec3d(14.37, 9.56, 10.03)};
}

ColourStats cellColourStats(const cv::Mat& bgr, const std::vector<FieldCell>& cells)
{
    ColourStats s;
    if (bgr.empty() || bgr.type() != CV_8UC3 || cells.empty())
        return s;
    cv::Mat mask = cv::Mat::zeros(bgr.size(), CV_8U);
    std::vector<std::vector<cv::Point>> polys;
    polys.reserve(cells.size());
    for (const FieldCell& c : cells)
        polys.push_back(c.cell.contour);
    cv::fillPoly(mask, polys, cv::Scalar(255));
    if (cv::countNonZero(mask) == 0)
        return s;
    cv::Mat lab;
    cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
    cv::Scalar mean, sd;
    cv::meanStdDev(lab, mean, sd, mask);
    s.mean = cv::Vec3d(mean[0], mean[1], mean[2]);
    s.stdDev = cv::Vec3d(sd[0], sd[1], sd[2]);
    return s;
}

cv::Mat transferColour(const cv::Mat& crop, const ColourStats& from, const ColourStats& to,
                       bool scaleSpread)
{
    if (crop.empty() || crop.type() != CV_8UC3 || !from.valid() || !to.valid())
        return crop.clone();
    cv::Mat lab;
    cv::cvtColor(crop, lab, cv::COLOR_BGR2Lab);
    cv::Mat f;
    lab.convertTo(f, CV_32FC3);
    const cv::Vec3f gain = !scaleSpread ? cv::Vec3f(1.0f, 1.0f, 1.0f)
                                        : cv::Vec3f(float(to.stdDev[0] / from.stdDev[0]),
                                                    float(to.stdDev[1] / from.stdDev[1]),
                                                    float(to.stdDev[2] / from.stdDev[2]));
    const cv::Vec3f offset(float(to.mean[0] - from.mean[0] * gain[0]),
                           float(to.mean[1] - from.mean[1] * gain[1]),
                           float(to.mean[2] - from.mean[2] * gain[2]));
    f.forEach<cv::Vec3f>([&](cv::Vec3f& px, const int*) {
        for (int c = 0; c < 3; ++c)
            px[c] = px[c] * gain[c] + offset[c];
    });
    f.convertTo(lab, CV_8UC3);
    cv::Mat out;
    cv::cvtColor(lab, out, cv::COLOR_Lab2BGR);
    // Outside the cell stays black (as in the training crops).
    cv::Mat outside;
    cv::inRange(crop, cv::Scalar::all(0), cv::Scalar::all(0), outside);
    out.setTo(cv::Scalar::all(0), outside);
    return out;
}

std::vector<cv::Mat> classifierCrops(const cv::Mat& bgr, const std::vector<FieldCell>& cells,
                                     const std::vector<size_t>& which, const FieldOptions& options)
{
    const bool normalize = options.colourNormalization != ColourNormalization::None;
    const bool scaleSpread = options.colourNormalization == ColourNormalization::Reinhard;
    const ColourStats fieldColour = normalize ? cellColourStats(bgr, cells) : ColourStats{};
    const bool transfer = fieldColour.valid() && options.colourReference.valid();
    std::vector<cv::Mat> crops;
    crops.reserve(which.size());
    for (size_t i : which) {
        cv::Mat crop =
            i < cells.size() ? cellCrop(bgr, cells[i].cell, options.cropPadding) : cv::Mat();
        crops.push_back(
            transfer && !crop.empty()
                ? transferColour(crop, fieldColour, options.colourReference, scaleSpread)
                : crop);
    }
    return crops;
}

QString fieldCropId(const QString& fieldName)
{
    const QString base = QFileInfo(fieldName).completeBaseName();
    static const QRegularExpression digits(QStringLiteral("(\\d{1,9})(?!.*\\d)"));
    const QRegularExpressionMatch m = digits.match(base);
    if (m.hasMatch())
        return QStringLiteral("C") + m.captured(1);
    return QStringLiteral("C") + QString::number(qChecksum(base.toUtf8()));
}

namespace {

// A lab's pale-cell rule over a classified field: the pale detections are called too.
void callPaleCells(const cv::Mat& bgr, const PaleCellRule& rule, FieldResult& r)
{
    const std::vector<CellTone> tones = relativeCellTones(bgr, r.boxes(false));
    for (size_t i = 0; i < r.cells.size() && i < tones.size(); ++i) {
        r.cells[i].pale = rule.isPale(tones[i]);
        r.cells[i].parasitized = r.cells[i].parasitized || r.cells[i].pale;
    }
}

} // namespace

FieldResult analyzeFieldImage(const cv::Mat& bgr, const FieldOptions& options)
{
    FieldResult r;
    r.imageSize = bgr.size();
    QElapsedTimer timer;
    timer.start();
    SegmentationResult seg = segmentCells(bgr, options.segmentation);
    r.segmentMs = timer.nsecsElapsed() / 1e6;
    r.warnings = seg.warnings;
    r.cellDiameter = seg.cellDiameter;
    r.unsplit = std::move(seg.unsplit);
    r.cells.reserve(seg.cells.size());
    for (SegmentedCell& c : seg.cells)
        r.cells.push_back(FieldCell{std::move(c), -1.0f, false, false});
    if (!options.classifier || r.cells.empty()) {
        r.classified = bool(options.classifier);
        return r;
    }

    if (options.progress)
        options.progress(0, int(r.cells.size()));
    // The field's colour statistics are computed once, not per batch (classifierCrops() does
    // the same for a subset).
    const bool normalize = options.colourNormalization != ColourNormalization::None;
    const bool scaleSpread = options.colourNormalization == ColourNormalization::Reinhard;
    const ColourStats fieldColour = normalize ? cellColourStats(bgr, r.cells) : ColourStats{};
    const bool transfer = fieldColour.valid() && options.colourReference.valid();
    timer.restart();
    const size_t batch = size_t(std::max(1, options.batchSize));
    std::vector<cv::Mat> crops;
    crops.reserve(batch);
    for (size_t start = 0; start < r.cells.size(); start += batch) {
        if (options.cancelled && options.cancelled()) {
            r.cancelled = true;
            r.classifyMs = timer.nsecsElapsed() / 1e6;
            return r;
        }
        const size_t end = std::min(r.cells.size(), start + batch);
        crops.clear();
        for (size_t i = start; i < end; ++i) {
            cv::Mat crop = cellCrop(bgr, r.cells[i].cell, options.cropPadding);
            crops.push_back(
                transfer ? transferColour(crop, fieldColour, options.colourReference, scaleSpread)
                         : crop);
        }
        QString error;
        const std::optional<std::vector<float>> probs = options.classifier(crops, &error);
        if (!probs || probs->size() != crops.size()) {
            r.error = error.isEmpty() ? QStringLiteral("classifier returned no result") : error;
            r.classifyMs = timer.nsecsElapsed() / 1e6;
            return r;
        }
        for (size_t i = start; i < end; ++i) {
            const float p = (*probs)[i - start];
            r.cells[i].probability = p;
            r.cells[i].parasitized = p >= options.threshold;
        }
        if (options.progress)
            options.progress(int(end), int(r.cells.size()));
    }
    if (options.paleCells)
        callPaleCells(bgr, *options.paleCells, r);
    r.classified = true;
    r.classifyMs = timer.nsecsElapsed() / 1e6;
    return r;
}

FieldResult analyzeField(const QString& path, const FieldOptions& options, cv::Mat* image)
{
    QElapsedTimer timer;
    timer.start();
    DecodedImage d = decodeImage(path, options.limits);
    const double decodeMs = timer.nsecsElapsed() / 1e6;
    if (!d.ok()) {
        FieldResult r;
        r.path = path;
        r.error = d.error;
        r.decodeMs = decodeMs;
        return r;
    }
    FieldResult r = analyzeFieldImage(d.bgr, options);
    r.path = path;
    r.decodeMs = decodeMs;
    if (image)
        *image = std::move(d.bgr);
    return r;
}

cv::Scalar probabilityColour(float p)
{
    if (p < 0.0f)
        return cv::Scalar(60, 200, 60);
    p = std::clamp(p, 0.0f, 1.0f);
    // blue (0) -> yellow (0.5) -> red (1), in BGR.
    if (p < 0.5f) {
        const double t = p / 0.5;
        return cv::Scalar(255 * (1 - t), 200 * t + 80 * (1 - t), 230 * t + 20 * (1 - t));
    }
    const double t = (p - 0.5) / 0.5;
    return cv::Scalar(0, 200 * (1 - t), 230 + 25 * t);
}

cv::Scalar unsplitRegionColour()
{
    return cv::Scalar(220, 40, 220);
}

cv::Mat drawFieldOverlay(const cv::Mat& bgr, const FieldResult& result, bool excludeEdge)
{
    cv::Mat out;
    if (bgr.empty())
        return out;
    out = bgr.clone();
    const int thick = std::max(1, int(std::lround(std::max(bgr.cols, bgr.rows) / 640.0)));
    for (const UnsplitRegion& u : result.unsplit) {
        const bool excluded = u.touchesEdge && excludeEdge;
        const cv::Scalar colour = excluded ? cv::Scalar(150, 150, 150) : unsplitRegionColour();
        const std::vector<std::vector<cv::Point>> polys{u.contour};
        cv::polylines(out, polys, true, colour, thick, cv::LINE_AA);
        const std::string label = "~" + std::to_string(u.estimatedCells);
        const double fontScale = 0.5 * thick;
        int baseline = 0;
        const cv::Size ts =
            cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, fontScale, thick, &baseline);
        const cv::Point at(u.box.x + (u.box.width - ts.width) / 2,
                           u.box.y + (u.box.height + ts.height) / 2);
        cv::putText(out, label, at, cv::FONT_HERSHEY_SIMPLEX, fontScale, colour, thick,
                    cv::LINE_AA);
    }
    for (const FieldCell& fc : result.cells) {
        const bool edge = fc.cell.touchesEdge;
        const cv::Scalar colour =
            (edge && excludeEdge) ? cv::Scalar(150, 150, 150) : probabilityColour(fc.probability);
        const std::vector<std::vector<cv::Point>> polys{fc.cell.contour};
        cv::polylines(out, polys, true, colour, edge ? std::max(1, thick / 2) : thick, cv::LINE_AA);
        if (fc.parasitized && !(edge && excludeEdge))
            cv::rectangle(out, fc.cell.detectionBox, colour, thick);
    }
    return out;
}

QString fieldCellsCsvHeader()
{
    return QStringLiteral("field,x,y,w,h,edge,probability_parasitized,called\n");
}

QString fieldCellsCsvRows(const FieldResult& result)
{
    QString out;
    if (!result.error.isEmpty())
        return out;
    const QString field = csvField(QFileInfo(result.path).fileName());
    for (const FieldCell& fc : result.cells) {
        const cv::Rect& b = fc.cell.detectionBox;
        const bool classified = result.classified && fc.probability >= 0.0f;
        out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                   .arg(field)
                   .arg(b.x)
                   .arg(b.y)
                   .arg(b.width)
                   .arg(b.height)
                   .arg(fc.cell.touchesEdge ? 1 : 0)
                   .arg(classified ? QString::number(double(fc.probability), 'f', 6) : QString(),
                        classified ? QString::number(fc.parasitized ? 1 : 0) : QString());
    }
    return out;
}

QStringList fieldImagesInFolder(const QString& dir)
{
    QStringList out;
    const QDir d(dir);
    const QStringList names = d.entryList(QDir::Files, QDir::Name);
    for (const QString& n : names)
        if (hasImageExtension(n))
            out << d.filePath(n);
    return out;
}

} // namespace ml
