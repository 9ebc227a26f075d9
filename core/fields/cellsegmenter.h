#pragma once
// Red blood cell segmentation in a Giemsa thin-smear field image (pure functions on cv::Mat).
//
// Method, and why:
//  1. Working resolution. The image is downscaled (INTER_AREA) so it holds at most
//     SegmentationParams::maxWorkingPixels pixels. A 1280x960 field becomes ~730x550: cells
//     stay ~45 px wide, which is plenty for boxes at IoU >= 0.5, and every later step costs
//     ~3x less. A huge image never costs more than one working copy plus a few masks of
//     that size; contours and boxes are mapped back to full-resolution coordinates.
//  2. Foreground. In Giemsa smears the background (plasma/glass) is bright and the red cells
//     absorb green light (they look pink/mauve), so the green channel separates cells from
//     background better than grey or saturation (the background is often tinted green or
//     grey, which saturation confuses with pale cells). The background level is estimated
//     by a grey closing at 1/8 scale (kernel 1/3 of the image: every cell disappears, the
//     illumination stays) and divided out (flat-field), so vignetting and uneven illumination
//     do not move the threshold; then Otsu picks the threshold. Otsu's between-class contrast
//     is checked on the raw and the flat-fielded green: a blank, dark or uniform image has
//     none and gives zero cells with a warning instead of segmenting noise.
//  3. Clean-up. A small opening removes dust and stain specks; holes smaller than a cell
//     (the pale centre of a biconcave cell, a ring's vacuole) are filled, larger enclosed
//     background is not.
//  4. Cell size. The typical cell area is estimated from the image itself: the median area
//     of the compact (solidity >= 0.9), isolated blobs, which are almost always single cells;
//     with fewer than three such blobs (dense fields, drawn test images), from the heights of
//     the distance-transform peaks (a cell's centre lies about one radius from the background).
//     Every later threshold is a fraction of it, so the method does not depend on the
//     magnification or the camera (`cellDiameter` overrides the estimate).
//  5. Touching and overlapping cells. A distance transform of the mask peaks at each cell's
//     centre; peaks (local maxima within 0.7 cell radius, at least 0.4 radius deep) seed a
//     marker watershed on the inverted distance map (flooded here with a bucket queue, in
//     order of decreasing distance, inside the foreground only), which cuts the blobs along
//     the necks between cells. Pieces still over twice a cell are clumps: they are split
//     once more, alone, with finer seeds. Stained pieces (parasite-dark pixels, see
//     stainLevel) are split from 1.3 cells, with finer seeds still: the clump around an
//     enlarged P. vivax cell was where most undetected parasites were (docs/MODEL.md). This is
//     the classical, cheap split of touching round objects (no training, ~50 ms per 1280x960
//     field on one core); strongly overlapping cells whose union is still convex stay merged,
//     which is the method's known limit.
//  6. Size filter. Pieces smaller than `minAreaFraction` of the typical cell (platelets,
//     debris, watershed slivers) are dropped; pieces larger than `maxAreaFraction` (white
//     cells' cytoplasm + clumps watershed could not split) are dropped and counted in the
//     warning.
//     Pieces less round than `minRoundness` (merged cells watershed could not split, slabs),
//     pieces mostly made of nucleus-dark pixels (white blood cell nuclei, far darker than any
//     red cell) and thin pieces filling under 45 % of their box (scale bars, fibres) are
//     dropped too. Fields whose pieces are mostly not round, or explain little of the dark
//     area, get a "not a thin smear field?" warning.
//     Before a piece that large is given up, its pixels are split in two by level (Otsu
//     inside the piece): a cell-sized, round region clearly darker than the rest is a cell a
//     parasite fills or stains (P. vivax gametocytes, schizonts, rings with Schüffner's dots)
//     among the healthy cells it overlaps, and becomes a cell of its own (darkCell*). On the
//     188 IML fields it found 13 more annotated parasites (237 -> 250 of 285) for 28 more
//     detections; a region mostly nucleus-dark (a white cell's nucleus) is not carved, as
//     such a piece is not kept either. Wider openings for stained cells still joined by a
//     thick neck, and the light class in deep-staining fields (where gametocytes are the
//     paler cells), found 5 more (255) for 35 more detections, precision unchanged at 0.905.
//     What remains of the piece is treated as below.
//     Dropped is not the same as gone: a piece dropped for its size or shape that is at
//     least `unsplitMinFraction` of a cell and as thick as a cell (its deepest point at least
//     `unsplitMinDepth` of the cell radius from the background: fibres, streaks and slivers
//     are not) is kept as an UnsplitRegion, "touching cells not split", with an estimated
//     cell count of its area / the typical cell area. They are not classified, but the user
//     sees and counts them: on a crowded field they can hold as many cells as were found.
//  7. Cells cut by the image border. Each cell is flagged when it touches the border (cut
//     cells are usually excluded from parasitemia counts, as a microscopist does). A fragment
//     showing less than `minEdgeVisible` of the typical diameter inside the image (measured
//     perpendicular to the border it touches) is dropped altogether: too little of the cell
//     is seen to classify it, it belongs to the neighbouring field, and it is not counted as
//     a cell. The IML annotators boxed a cut cell only when most of it was visible: their
//     border boxes show a median 0.95 and a 5th percentile 0.69 of the cell's full width,
//     while 1,500 of our 2,292 unmatched border detections showed under 0.7 of it. The
//     default 0.8 is relative to the *estimated* diameter (from the median area, which sits
//     ~10 % under the box width of a cell), so it keeps cuts of about 0.7 of the box width;
//     it was chosen on the even-indexed IML fields and checked on the odd ones
//     (docs/BENCHMARKS.md).
//  8. Reported box. `SegmentedCell::box` is the tight box of the contour (crops use it);
//     `SegmentedCell::detectionBox` grows it by `boxMargin` of the typical diameter on each
//     side. Annotators draw boxes with a margin around the outline (IML: on 17,684 matched
//     interior cells our tight boxes were a median 11 px = 13 % of the 82 px cell narrower
//     and shorter than theirs), so the grown box is the one to compare with ground truth
//     and to report; it moves borderline matches above IoU 0.5 and changes no count.
//
// Thread-safety: every function is re-entrant and safe to call from several threads at once.
// None throws: OpenCV exceptions are caught and come back as a warning with zero cells.

#include <QString>
#include <QStringList>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include <vector>

namespace ml {

/// Tunable parameters of segmentCells(). The defaults were tuned on the IML field images
/// (1280x960, Olympus, P. vivax) and are expressed relative to the estimated cell size so
/// they carry over to other magnifications.
struct SegmentationParams
{
    /// The image is downscaled to at most this many pixels before segmentation.
    qint64 maxWorkingPixels = 400'000;
    /// Expected cell diameter in original pixels; <= 0 estimates it from the image.
    double cellDiameter = 0.0;
    /// Pieces smaller than this fraction of the typical cell area are dropped.
    double minAreaFraction = 0.30;
    /// Pieces larger than this multiple of the typical cell area are dropped (clumps, WBCs).
    double maxAreaFraction = 2.6;
    /// Distance-transform peaks closer than this fraction of the cell radius merge.
    double peakSeparation = 0.7;
    /// Peaks shallower than this fraction of the cell radius are not seeds.
    double minPeakDepth = 0.4;
    /// Pieces larger than this multiple of the typical cell area after the first watershed
    /// are split again with finer seeds (<= 0 disables).
    double resplitAbove = 2.0;
    /// Peak separation and depth (fractions of the cell radius) of that second split.
    double resplitSeparation = 0.45;
    double resplitDepth = 0.3;
    /// Stained pieces (see stainLevel) larger than this multiple of the typical cell area are
    /// split again with the finer seeds below instead (<= 0 disables).
    double stainedResplitAbove = 1.3;
    double stainedResplitSeparation = 0.35;
    double stainedResplitDepth = 0.2;
    /// A piece is stained when at least minStainFraction of its pixels are darker than
    /// stainLevel times the mean foreground level (flat-fielded green).
    double stainLevel = 0.75;
    double minStainFraction = 0.03;
    /// Pieces less round than this (4πA/P², 1 = disc) are dropped: merged cells, slabs,
    /// streaks. Single cells score ~0.85 (median over the IML fields; no field median below
    /// 0.70), so 0.6 keeps nearly all of them.
    double minRoundness = 0.6;
    /// Pixels darker than this fraction of the mean foreground level (flat-fielded green)
    /// are nucleus-dark (white blood cell nuclei; also parasite chromatin dots).
    double nucleusLevel = 0.45;
    /// Pieces with more than this fraction of nucleus-dark pixels are white cells and dropped
    /// (>= 1 disables the check).
    double maxNucleusFraction = 0.4;
    /// Minimum Otsu contrast (difference of class means, 0..255, after flat-field) below
    /// which the image is considered blank and yields no cells.
    double minContrast = 12.0;
    /// A cell whose working-resolution mask comes within this many working pixels of the
    /// border touches the edge.
    int edgeMargin = 1;
    /// Cells touching the border whose extent perpendicular to it is below this fraction of
    /// the typical cell diameter are fragments and dropped (<= 0 keeps every fragment).
    double minEdgeVisible = 0.8;
    /// SegmentedCell::detectionBox is the tight box grown by this fraction of the typical
    /// cell diameter on each side (the annotation convention; 0 = tight box).
    double boxMargin = 0.06;
    /// A clump (a dropped piece of at least unsplitMinFraction cells) gives up a cell-sized
    /// region that stains darker than the rest of it (Otsu inside the clump, the two classes'
    /// mean levels at least darkCellContrast of the mean foreground level apart; <= 0 never)
    /// when, after an opening of a fifth of a cell, that region's area lies between
    /// darkCellMinFraction and darkCellMaxFraction of a cell and its roundness reaches
    /// darkCellRoundness: an infected cell overlapping healthy ones (see step 6).
    double darkCellContrast = 0.15;
    double darkCellMinFraction = 0.6;
    double darkCellMaxFraction = 2.0;
    double darkCellRoundness = 0.7;
    /// Where the region is still joined to a neighbour after the opening of a fifth of a cell,
    /// wider openings are tried, up to this fraction of a cell (<= 0.2: the fifth only). A
    /// region only a wider opening frees must be stained (stainLevel, minStainFraction): on
    /// the 188 IML fields the unstained ones added about 90 detections and no parasite.
    double darkCellMaxOpening = 0.5;
    /// Where the dark class holds no such region and the two classes' mean levels lie at
    /// least this fraction of the mean foreground level apart, the light class is searched the
    /// same way (<= 0 never): in fields whose healthy cells stain deep, P. vivax gametocytes
    /// are the paler cells of their clump.
    double lightCellContrast = 0.5;
    /// Dropped pieces (too large, not round or hollow) of at least this multiple of the typical
    /// cell area ...
    double unsplitMinFraction = 1.3;
    /// ... whose deepest point lies at least this fraction of the cell radius inside are kept
    /// as unsplit clumps of touching cells (SegmentationResult::unsplit); <= 0 keeps none.
    double unsplitMinDepth = 0.6;
};

/// One segmented cell, in original (full-resolution) image coordinates.
struct SegmentedCell
{
    std::vector<cv::Point> contour; ///< outer contour (mapped back from working resolution)
    cv::Rect box;                   ///< tight bounding box of the contour, clipped to the image
    /// `box` grown by SegmentationParams::boxMargin and clipped: the box to report and to
    /// compare with annotated boxes (see the header comment, step 8).
    cv::Rect detectionBox;
    double area = 0.0;        ///< contour area in original pixels²
    cv::Point2f centre;       ///< centroid
    bool touchesEdge = false; ///< cut by the image border
};

/// Touching or overlapping cells the watershed could not split into single cells, in original
/// image coordinates (see the header comment, step 6). Not a cell: never cropped nor
/// classified, but shown and counted so that what was missed is visible.
struct UnsplitRegion
{
    std::vector<cv::Point> contour; ///< outer contour
    cv::Rect box;                   ///< tight bounding box, clipped to the image
    double area = 0.0;              ///< original pixels²
    int estimatedCells = 0;         ///< area / typical cell area, rounded, at least 2
    bool touchesEdge = false;       ///< cut by the image border
};

/// Result of segmentCells(). `warnings` is non-empty when the image looks unusable or
/// suspicious (blank, too dark, tiny, not a smear, many clumps); cells may then be empty.
struct SegmentationResult
{
    std::vector<SegmentedCell> cells;
    cv::Size imageSize;           ///< size of the input image
    double scale = 1.0;           ///< working size / original size (<= 1)
    double cellDiameter = 0.0;    ///< typical cell diameter used, original pixels (0 if none)
    int droppedClumps = 0;        ///< pieces above maxAreaFraction that were dropped
    int droppedEdgeFragments = 0; ///< border fragments below minEdgeVisible that were dropped
    /// Clumps of touching cells that were not split (not in `cells`), in segmentation order.
    std::vector<UnsplitRegion> unsplit;
    QStringList warnings; ///< human-readable, empty when all looked normal

    /// Number of cells that do not touch the image border.
    int interiorCount() const;
    /// Sum of UnsplitRegion::estimatedCells over `unsplit`.
    int unsplitCellsEstimate() const;
};

/// Segments the red blood cells of an 8-bit BGR field image (CV_8UC3 as decodeImage() gives;
/// CV_8UC1 and CV_8UC4 are converted). Empty or unsupported input gives zero cells and a
/// warning. Never throws.
SegmentationResult segmentCells(const cv::Mat& bgr, const SegmentationParams& params = {});

/// A square crop around `cell` for classification, made to look like the NIH cell crops the
/// classifier was trained on: the cell's bounding box centred in a square of side
/// max(w, h) (+ 2 * padding), every pixel outside the cell's contour black. Parts of the
/// square outside the image are black too. Returns CV_8UC3 (deep copy), empty if the cell's
/// box is empty.
cv::Mat cellCrop(const cv::Mat& bgr, const SegmentedCell& cell, int padding = 0);

} // namespace ml
