#pragma once
// The study's 3x3 / 6x6 grids: one batch of images with the class name over each.

#include "dataset.h"

#include <QImage>
#include <QList>
#include <QRect>

#include <functional>

class QPainter;

namespace ml {

/// One cell of a grid: the picture and the caption painted over it.
struct GridTile
{
    QImage image;    ///< null when the file could not be decoded
    QString caption; ///< class name (or "unlabeled")
    QString detail;  ///< second line: file name, or the decode error
    /// Painted on a band at the bottom of the tile when not empty (e.g. the augmentation
    /// drawn for it).
    QString footer;
    bool failed = false;
};

/// Indices of batch `batchNumber` of `batchSize` images, in the order of a shuffle seeded
/// with `seed` (seed 0 keeps the folder order). Wraps around at the end of the folder.
QList<int> batchIndices(const Dataset& dataset, int batchSize, int batchNumber, quint32 seed);

/// Decodes the images of `indices` (scaled to fit `edge` pixels). Call it off the GUI
/// thread. `transform`, when set, is applied to each decoded 8-bit BGR image first (the
/// exploratory views use it for HSV, blur and augmentation modes).
QList<GridTile>
loadGridTiles(const Dataset& dataset, const QList<int>& indices, int edge,
              const std::function<QImage(const QString& path, QString* error)>& load = {});

/// Paints `tiles` in a grid of `columns` columns filling `area` (a 4-pixel gap around every
/// tile), captions on a dark band at the top of each tile, footers on one at the bottom,
/// the error over a tile that failed. The one grid painter: the Grid page's widget,
/// renderGridImage() and the Explore page's renderGrid() all draw with it.
void paintGrid(QPainter& painter, const QRect& area, const QList<GridTile>& tiles, int columns);

/// The grid as an image of columns x rows tiles of `tileEdge` pixels (for the CLI and tests).
QImage renderGridImage(const QList<GridTile>& tiles, int columns, int tileEdge = 160);

} // namespace ml
