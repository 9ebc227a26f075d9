#pragma once
// Ground truth of whole field images (IML_Malaria annotations.json) and the figures that
// compare a segmentation/classification against it: RBC detection recall/precision at an IoU
// threshold, parasite-stage sensitivity, healthy false-positive rate, and parasitemia with a
// Wilson confidence interval.
//
// The IML format is a JSON array of
//   {"image_name": "PA171710.JPG",
//    "objects": [{"type": "red blood cell", "bbox": {"x": "176", "y": "250", "w": "82", "h":
//    "78"}}]}
// with x, y the top-left corner and all four numbers as strings (plain numbers are accepted
// too). A box of a parasite stage (ring, trophozoite, schizont, gametocyte) is an infected red
// cell: the dataset boxes it *instead of* as "red blood cell", so the cells of a field are the
// union of both kinds. "difficult" boxes are neither counted nor held against a detection.
//
// Pure functions and plain values; thread-safe; never throw.

#include <QHash>
#include <QString>

#include <opencv2/core/types.hpp>

#include <vector>

namespace ml {

/// One annotated object of a field.
struct AnnotatedObject
{
    cv::Rect box; ///< as in the file (may overrun the image; see clippedTo())
    QString type; ///< "red blood cell", "ring", "trophozoite", "schizont", "gametocyte", ...
    bool infected = false;  ///< a parasite stage: an infected red cell
    bool difficult = false; ///< "difficult": ignored by the metrics
};

/// The annotations of one field image.
struct FieldAnnotation
{
    QString imageName;
    std::vector<AnnotatedObject> objects;

    /// Cells (healthy + infected, not difficult).
    int cellCount() const;
    int infectedCount() const;
    /// A copy with every box clipped to the image (boxes that vanish are removed).
    FieldAnnotation clippedTo(const cv::Size& imageSize) const;
    /// A copy without the objects whose (clipped) box comes within `margin` pixels of the
    /// image border: the ground truth to compare with when edge cells are excluded.
    FieldAnnotation withoutEdgeObjects(const cv::Size& imageSize, int margin = 2) const;
};

/// All annotations of a folder, by image file name.
struct FieldAnnotationSet
{
    QHash<QString, FieldAnnotation> byName; ///< key: image file name as in the JSON
    QString error;                          ///< empty on success

    bool ok() const { return error.isEmpty(); }
    /// The annotation of `fileName` (exact name first, then case-insensitive), or nullptr.
    const FieldAnnotation* find(const QString& fileName) const;
};

/// True for the IML parasite-stage types (ring, trophozoite, schizont, gametocyte; any case).
bool isParasiteStage(const QString& type);

/// Reads an IML annotations.json. Malformed objects are skipped; a file that cannot be read
/// or is not a JSON array gives an error.
FieldAnnotationSet loadFieldAnnotations(const QString& path);
/// Same for JSON bytes in memory.
FieldAnnotationSet parseFieldAnnotations(const QByteArray& json);

/// Intersection over union of two boxes (0 when either is empty).
double boxIou(const cv::Rect& a, const cv::Rect& b);

/// Greedy one-to-one matching: every pair with IoU >= minIou, highest IoU first, each box used
/// at most once. For the well-separated boxes of red cells this gives the same pairs as the
/// Hungarian method at a fraction of the cost. Returns, for each detection, the index of its
/// matched truth box or -1.
std::vector<int> matchBoxes(const std::vector<cv::Rect>& detections,
                            const std::vector<cv::Rect>& truth, double minIou = 0.5);

/// A proportion k/n with its Wilson score interval (z = 1.96 for 95 %). n = 0 gives p = 0 and
/// the interval [0, 1].
struct Proportion
{
    int k = 0;
    int n = 0;
    double p = 0.0;
    double low = 0.0;
    double high = 1.0;
};
Proportion wilsonInterval(int k, int n, double z = 1.959964);

/// Counts from comparing one or more fields with their annotations. Add fields with +=.
struct FieldEvaluation
{
    int truthCells = 0;        ///< annotated cells (healthy + infected)
    int detections = 0;        ///< detections counted (those matched to "difficult" excluded)
    int matched = 0;           ///< true positives at the IoU threshold
    int ignoredDetections = 0; ///< detections matched to a "difficult" box
    // Classification (only meaningful when flags were given):
    int infectedTruth = 0;    ///< annotated infected cells
    int infectedMatched = 0;  ///< ... that a detection matched
    int infectedFlagged = 0;  ///< ... matched by a detection flagged parasitized
    int healthyMatched = 0;   ///< annotated healthy cells matched by a detection
    int healthyFlagged = 0;   ///< ... whose detection is flagged parasitized
    int unmatchedFlagged = 0; ///< flagged detections that match no annotated cell

    double recall() const { return truthCells ? double(matched) / truthCells : 0.0; }
    double precision() const { return detections ? double(matched) / detections : 0.0; }
    /// Infected annotated cells found *and* flagged / all infected annotated cells.
    double parasiteSensitivity() const
    {
        return infectedTruth ? double(infectedFlagged) / infectedTruth : 0.0;
    }
    /// Flagged / matched healthy cells.
    double healthyFalsePositiveRate() const
    {
        return healthyMatched ? double(healthyFlagged) / healthyMatched : 0.0;
    }
    /// The counted detections that are no parasite: healthy cells, and those matching no
    /// annotated cell (debris, cut or merged cells), which a field's count includes too.
    int nonParasiteDetections() const { return detections - infectedMatched; }
    /// ... of them flagged parasitized. With infectedMatched and infectedFlagged, the
    /// classifier's sensitivity and specificity over a field's detections, as its apparent
    /// parasitemia (flagged / detections) counts them.
    int nonParasiteFlagged() const { return healthyFlagged + unmatchedFlagged; }
    /// The counted detections that match no annotated cell: debris, cut or merged cells
    /// (ErrorRates::notACell, which turns a corrected share of detections into one of cells).
    int notACellDetections() const { return detections - matched; }
    FieldEvaluation& operator+=(const FieldEvaluation& o);
};

/// Compares the detections of one field (boxes in image coordinates, `parasitized[i]` the
/// classifier's decision for detection i; empty when there was no classification) with its
/// annotation, whose boxes are first clipped to `imageSize`. Detections that match no cell
/// but a "difficult" box are left out of the counts.
FieldEvaluation evaluateField(const std::vector<cv::Rect>& detections,
                              const std::vector<bool>& parasitized, const FieldAnnotation& truth,
                              const cv::Size& imageSize, double minIou = 0.5);

} // namespace ml
