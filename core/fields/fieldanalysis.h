#pragma once
// The whole-field pipeline shared by the CLI, the GUI and the benchmark:
//   file --decodeImage()--> BGR --segmentCells()--> cells --cellCrop()--> crops
//        --CropClassifier (batches)--> P(Parasitized) per cell --> counts, parasitemia.
//
// core/ has no torch: classification comes in as a callback (CropClassifier), which the
// models library provides (see app/cli/cmd_segment.cpp and ui/fieldpage.cpp). Without a
// callback only segmentation runs and every probability stays -1.
//
// Memory: crops are made and classified in batches of FieldOptions::batchSize and dropped
// afterwards, so a field with thousands of cells never holds all crops at once.
// Thread-safety: analyzeField() is re-entrant; the callback must be safe to call from the
// calling thread.

#include "cellsegmenter.h"
#include "fieldannotations.h"
#include "imageio.h"
#include "palecells.h"

#include <QString>
#include <QStringList>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <optional>
#include <vector>

namespace ml {

/// Classifies BGR crops (as cellCrop() makes them): returns P(Parasitized) per crop, or
/// nullopt and `error` when classification failed.
using CropClassifier = std::function<std::optional<std::vector<float>>(
    const std::vector<cv::Mat>& bgrCrops, QString* error)>;

/// Colour statistics of cell pixels in CIE L*a*b* (OpenCV's 8-bit scale: L 0..255,
/// a and b offset by 128).
struct ColourStats
{
    cv::Vec3d mean;
    cv::Vec3d stdDev;
    bool valid() const { return stdDev[0] > 0 && stdDev[1] > 0 && stdDev[2] > 0; }
};

/// Cell colour of the NIH training crops (non-black pixels of 1,500 random cells of both
/// classes; measured with bench/nih_colour.py). The classifier learned these colours.
ColourStats nihCellColour();

/// How crops are recoloured before classification (see FieldOptions).
enum class ColourNormalization {
    None,     ///< crops as they are in the field
    Shift,    ///< shift the field's mean cell colour (L*a*b*) onto the reference
    Reinhard, ///< shift and scale (mean and spread) onto the reference
};

struct FieldOptions
{
    SegmentationParams segmentation;
    /// Field images may be large; segmentation downscales, so accept up to 200 MP.
    DecodeLimits limits{200'000'000, 1'000'000'000};
    CropClassifier classifier; ///< empty: segmentation only
    double threshold = 0.5;    ///< P(Parasitized) >= threshold counts as parasitized
    /// A lab's pale-cell rule (palecells.h, from its model card): a detection it finds pale
    /// counts as parasitized too. None by default.
    std::optional<PaleCellRule> paleCells;
    int batchSize = 64;  ///< crops per classifier call
    int cropPadding = 0; ///< see cellCrop()
    /// Before classification, map the field's cell colours onto the training colours
    /// (transferColour() from cellColourStats() of the field to colourReference). Fields from
    /// another lab/camera than the training crops differ mostly in stain colour; measured on
    /// the IML fields (docs/BENCHMARKS.md), the mean shift cut healthy false positives most.
    ColourNormalization colourNormalization = ColourNormalization::Shift;
    ColourStats colourReference = nihCellColour();
    std::function<bool()> cancelled; ///< polled between batches; true stops early
    /// Called after segmentation (0, cells) and after each classified batch (done, cells),
    /// in the calling thread.
    std::function<void(int done, int total)> progress;
};

/// One cell of an analysed field.
struct FieldCell
{
    SegmentedCell cell;
    float probability = -1.0f; ///< P(Parasitized); -1 when not classified
    bool parasitized = false;  ///< called: probability >= threshold, or a pale cell
    bool pale = false;         ///< FieldOptions::paleCells found it pale (classified fields)
};

/// Colour statistics over the pixels inside the contours of `cells` (one field: the stain,
/// camera and white balance of that field). Invalid when there are no cell pixels.
ColourStats cellColourStats(const cv::Mat& bgr, const std::vector<FieldCell>& cells);

/// Colour transfer of every non-black pixel of `crop` from statistics `from` to `to`, per
/// L*a*b* channel: with `scaleSpread` Reinhard's (x - m_from) / s_from * s_to + m_to, without
/// it a shift x - m_from + m_to (contrast kept). Black (outside the cell) stays black.
/// Returns CV_8UC3.
cv::Mat transferColour(const cv::Mat& crop, const ColourStats& from, const ColourStats& to,
                       bool scaleSpread = false);

/// The crops of `cells[which[k]]` exactly as analyzeFieldImage() hands them to the classifier:
/// cellCrop() with options.cropPadding, then options.colourNormalization from the colour of
/// *all* `cells` (the field) onto options.colourReference. Used by the pipeline itself and to
/// export labelled training crops, so a model fine-tuned on exported crops sees the same
/// input as at inference. Returns BGR CV_8UC3 crops (empty Mat for an empty cell box).
std::vector<cv::Mat> classifierCrops(const cv::Mat& bgr, const std::vector<FieldCell>& cells,
                                     const std::vector<size_t>& which, const FieldOptions& options);

/// A field id for crop file names: `C<digits>` from the last run of digits in `fieldName`
/// (IML "PA171710.JPG" -> "C171710"), or from a checksum of the name when it has none.
/// patientIdFromFileName() reads it back from "C171710_..." (its healthy-patient pattern),
/// so the training split keeps every crop of one field on one side.
QString fieldCropId(const QString& fieldName);

/// Cells, parasitized cells and parasitemia (Wilson 95 % interval) of some fields.
struct FieldCounts
{
    int images = 0;
    int cells = 0;
    int parasitized = 0;
    int paleCalled = 0; ///< of `parasitized`: pale cells (FieldCell::pale, a lab's rule)
    int edgeCells = 0;  ///< cells touching the border (excluded from cells when asked)
    /// Clumps of touching cells the segmenter could not split (UnsplitRegion; not in `cells`,
    /// not classified), and the cells they hold by area. Edge clumps follow `excludeEdge`.
    int unsplitRegions = 0;
    int unsplitCellsEstimate = 0;
    Proportion parasitemia() const { return wilsonInterval(parasitized, cells); }
    FieldCounts& operator+=(const FieldCounts& o);
};

/// Result of analysing one field.
struct FieldResult
{
    QString path;
    cv::Size imageSize;
    std::vector<FieldCell> cells;
    /// Touching cells the segmenter left merged (SegmentationResult::unsplit): shown and
    /// counted, never classified.
    std::vector<UnsplitRegion> unsplit;
    double cellDiameter = 0.0; ///< typical cell diameter (pixels) the segmenter used
    bool classified = false;   ///< the classifier ran on every cell
    bool cancelled = false;
    QString error;        ///< decode or classifier failure; empty on success
    QStringList warnings; ///< from the segmenter
    double decodeMs = 0.0, segmentMs = 0.0, classifyMs = 0.0;

    bool ok() const { return error.isEmpty() && !cancelled; }
    /// Counts over this field; `excludeEdge` leaves out cells cut by the image border.
    FieldCounts counts(bool excludeEdge) const;
    /// Detection boxes (SegmentedCell::detectionBox, the annotation convention) and
    /// parasitized flags of the cells counted with `excludeEdge`, for evaluation.
    std::vector<cv::Rect> boxes(bool excludeEdge) const;
    std::vector<bool> flags(bool excludeEdge) const;
};

/// Decodes `path` (decodeImage() with options.limits) and analyses it. `image`, when not
/// null, receives the decoded BGR image (for overlays). Never throws.
FieldResult analyzeField(const QString& path, const FieldOptions& options,
                         cv::Mat* image = nullptr);
/// Analyses an already decoded BGR image.
FieldResult analyzeFieldImage(const cv::Mat& bgr, const FieldOptions& options);

/// Draws the cells of `result` on a copy of `bgr`: contours coloured by probability (blue
/// 0 -> red 1; green when unclassified), edge cells thin; unsplit clumps in
/// unsplitRegionColour() with their estimated cell count ("~4"). Returns CV_8UC3.
cv::Mat drawFieldOverlay(const cv::Mat& bgr, const FieldResult& result, bool excludeEdge);

/// Colour for a probability in [0,1] (blue -> yellow -> red) as B,G,R; green for p < 0.
cv::Scalar probabilityColour(float p);
/// Colour of unsplit clumps of touching cells (magenta, apart from the probability ramp), B,G,R.
cv::Scalar unsplitRegionColour();

/// Header of the per-cell CSV (`malarialens-cli segment --csv`), with its line break:
/// field,x,y,w,h,edge,probability_parasitized,called
QString fieldCellsCsvHeader();
/// One CSV line per cell of `result` (every cell, edge cells included, in segmentation order):
/// the field's file name, the detection box (SegmentedCell::detectionBox, the box the JSON and
/// the annotations compare), edge 1/0, P(Parasitized) with 6 decimals and called 1/0; the last
/// two are empty when the field was not classified. Empty for a field that failed.
QString fieldCellsCsvRows(const FieldResult& result);

/// Image files of a folder (imageExtensions()), sorted by name, not recursive.
QStringList fieldImagesInFolder(const QString& dir);

} // namespace ml
