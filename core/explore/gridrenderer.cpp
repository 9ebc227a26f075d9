#include "gridrenderer.h"

#include "batchgrid.h"
#include "imageio.h"
#include "imageops.h"
#include "matconvert.h"

#include <QFont>
#include <QPainter>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <numeric>

namespace ml {

QString gridModeName(GridMode mode)
{
    switch (mode) {
    case GridMode::Rgb:
        return QStringLiteral("rgb");
    case GridMode::Hsv:
        return QStringLiteral("hsv");
    case GridMode::Blur:
        return QStringLiteral("blur");
    case GridMode::Augment:
        break;
    }
    return QStringLiteral("augment");
}

std::optional<GridMode> gridModeFromName(const QString& name)
{
    for (GridMode m : {GridMode::Rgb, GridMode::Hsv, GridMode::Blur, GridMode::Augment}) {
        if (name.compare(gridModeName(m), Qt::CaseInsensitive) == 0)
            return m;
    }
    return std::nullopt;
}

std::vector<int> pickGridImages(const Dataset& dataset, int count, quint32 seed)
{
    const int n = int(dataset.images.size());
    std::vector<int> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    const int k = std::clamp(count, 0, n);
    // Partial Fisher-Yates with raw mt19937 output: std::uniform_int_distribution differs
    // between standard libraries, and the CLI must reproduce the GUI's grid anywhere.
    std::mt19937 rng(seed);
    for (int i = 0; i < k; ++i) {
        const int j = i + int(rng() % quint32(n - i));
        std::swap(all[size_t(i)], all[size_t(j)]);
    }
    all.resize(size_t(k));
    return all;
}

cv::Mat gridTileView(const cv::Mat& bgr8, const GridOptions& options, std::mt19937& rng)
{
    switch (options.mode) {
    case GridMode::Rgb:
        return bgr8;
    case GridMode::Hsv:
        return hueImage(bgr8);
    case GridMode::Blur:
        return gaussianBlur(bgr8, options.kernelSize, options.sigma);
    case GridMode::Augment:
        break;
    }
    const AugmentParams p = drawAugment(options.augment, rng);
    return toBgr8(applyAugment(toFloatRgb(bgr8), p));
}

QString gridModeDescription(const GridOptions& o)
{
    switch (o.mode) {
    case GridMode::Rgb:
        return QStringLiteral("RGB");
    case GridMode::Hsv:
        return QStringLiteral("HSV hue (cyclic colour map, undefined hue black)");
    case GridMode::Blur:
        return QStringLiteral("Gaussian blur %1x%1, sigma %2")
            .arg(oddKernelSize(o.kernelSize))
            .arg(o.sigma > 0 ? QString::number(o.sigma, 'g', 3) : QStringLiteral("auto"));
    case GridMode::Augment:
        break;
    }
    return QStringLiteral("augmentation: flips, brightness \u00b1%1, contrast %2\u2013%3")
        .arg(double(o.augment.brightnessDelta), 0, 'g', 2)
        .arg(double(o.augment.contrastLow), 0, 'g', 2)
        .arg(double(o.augment.contrastHigh), 0, 'g', 2);
}

namespace {

QString augmentCaption(const AugmentParams& p)
{
    QStringList parts;
    if (p.flipHorizontal)
        parts << QStringLiteral("\u2194");
    if (p.flipVertical)
        parts << QStringLiteral("\u2195");
    parts << QStringLiteral("b%1%2")
                 .arg(p.brightness >= 0 ? "+" : "")
                 .arg(double(p.brightness), 0, 'f', 2);
    parts << QStringLiteral("c%1").arg(double(p.contrast), 0, 'f', 2);
    return parts.join(QLatin1Char(' '));
}

// The model's input for display: float RGB [0,1] (Classifier::modelInput()) or 8-bit BGR.
QImage modelViewImage(const cv::Mat& m)
{
    if (m.empty())
        return {};
    if (m.type() == CV_32FC3) {
        cv::Mat bgr;
        cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
        return matToQImage(bgr);
    }
    return matToQImage(m);
}

} // namespace

GridResult renderGrid(const Dataset& dataset, const GridOptions& options)
{
    GridResult result;
    if (!dataset.error.isEmpty()) {
        result.error = dataset.error;
        return result;
    }
    if (dataset.images.isEmpty()) {
        result.error = QStringLiteral("the folder has no images");
        return result;
    }
    const int side = std::clamp(options.size, 1, 10);
    const int tile = std::clamp(options.tilePixels, 32, 1024);
    result.indices = options.indices.empty() ? pickGridImages(dataset, side * side, options.seed)
                                             : options.indices;
    for (int i : result.indices) {
        if (i < 0 || i >= dataset.images.size()) {
            result.error = QStringLiteral("image index %1 out of range").arg(i);
            return result;
        }
    }
    if (int(result.indices.size()) > side * side)
        result.indices.resize(size_t(side * side));

    const bool pairs = options.mode == GridMode::Augment && bool(options.modelView);
    const int columns = pairs ? 2 * side : side;
    result.columns = columns;
    const int gap = 4;
    const int titleHeight = std::max(22, tile / 7);
    QImage grid(gap + columns * (tile + gap), titleHeight + side * (tile + gap) + gap / 2,
                QImage::Format_RGB32);
    grid.fill(QColor(32, 32, 32));
    QPainter painter(&grid);
    painter.setRenderHint(QPainter::SmoothPixmapTransform);
    painter.setRenderHint(QPainter::TextAntialiasing);
    QFont titleFont;
    titleFont.setPixelSize(std::max(11, titleHeight / 2));
    painter.setFont(titleFont);
    painter.setPen(Qt::white);
    painter.drawText(
        QRect(gap, 0, grid.width() - 2 * gap, titleHeight), Qt::AlignVCenter | Qt::AlignLeft,
        QStringLiteral("%1  \u00b7  seed %2%3")
            .arg(gridModeDescription(options))
            .arg(options.seed)
            .arg(pairs ? QStringLiteral("  \u00b7  each cell: augmented | what the model sees")
                       : QString()));

    // Augmentation draws come from their own stream, one per tile in order, so they do not
    // depend on how the images were picked.
    std::mt19937 augmentRng(options.seed ^ 0x9e3779b9u);
    QList<GridTile> tiles;
    for (const int index : result.indices) {
        const ImageEntry& entry = dataset.images.at(index);
        GridTile t;
        t.caption = dataset.className(entry.label);
        const DecodedImage decoded = decodeImage(dataset.absolutePath(index));
        if (!decoded.ok()) {
            result.failed.append({entry.relativePath, decoded.error});
            t.failed = true;
            t.detail = QStringLiteral("unreadable:\n%1").arg(decoded.error);
            // Keep the augmentation stream aligned with the tile order.
            if (options.mode == GridMode::Augment)
                drawAugment(options.augment, augmentRng);
        } else if (options.mode == GridMode::Augment) {
            // Drawn here (not inside gridTileView) to caption the tile with the draw.
            const AugmentParams p = drawAugment(options.augment, augmentRng);
            const cv::Mat augmented = toBgr8(applyAugment(toFloatRgb(decoded.bgr), p));
            t.image = matToQImage(augmented);
            t.footer = augmentCaption(p);
            if (pairs) {
                tiles.append(t);
                GridTile seen;
                seen.caption = QStringLiteral("model sees");
                try {
                    seen.image = modelViewImage(options.modelView(augmented));
                } catch (const cv::Exception&) {
                    seen.image = QImage(); // shown as a failed tile below
                }
                seen.footer = QStringLiteral("%1 \u00d7 %2 input")
                                  .arg(seen.image.width())
                                  .arg(seen.image.height());
                if (seen.image.isNull()) {
                    seen.failed = true;
                    seen.detail = QStringLiteral("no model input");
                }
                tiles.append(seen);
                continue;
            }
        } else {
            t.image = matToQImage(gridTileView(decoded.bgr, options, augmentRng));
        }
        tiles.append(t);
        if (pairs) // an unreadable image keeps its pair's place
            tiles.append(
                GridTile{QImage(), QStringLiteral("model sees"), QString(), QString(), true});
    }
    // Tiles of `tile` pixels starting right under the title: paintGrid() sizes them from the
    // area, with a gap above the first row, over the rows the tiles fill.
    const int rows = (int(tiles.size()) + columns - 1) / columns;
    paintGrid(painter, QRect(0, titleHeight - gap, grid.width(), rows * (tile + gap) + gap), tiles,
              columns);
    painter.end();
    result.image = grid;
    return result;
}

} // namespace ml
