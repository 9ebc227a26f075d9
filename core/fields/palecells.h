#pragma once
// Pale cells: detections paler and less red than the other cells of their field.
//
// Why: a P. vivax (or P. ovale) infected red cell is enlarged and pale, with fine stippling.
// The canonical cell input (core/cell/canonicalcell.h) takes out exactly those two cues: it
// scales every cell to one size and moves each cell's stain to the NIH cells' mean. On the 30
// held-out IML fields 9 of the 41 detected parasites are such cells (large pale gametocytes
// above all); the embedded model scores 4 of them under 0.5, one calibrated model (proxy seed
// 42) 6 under 0.1, while on the 158 fields it trained on it scores none of the 27 under 0.1.
// Measured against the field's own cells, the pallor does generalise (docs/MODEL.md,
// "Pale cells").
//
// The rule is a lab's, never a default: a lab calibration turns it on only when the lab's own
// labelled pale cells show it (models/calibration), and records it in the model card
// (`lab_calibration.pale_cells`), which segment and the Fields page then apply.

#include <QJsonObject>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include <optional>
#include <vector>

namespace ml {

/// A detection's colour against its field: the mean CIE L* and a* (OpenCV's 8-bit L*a*b*
/// scale, L* 0-255) over the middle three fifths of its box, minus the median of those means
/// over every detection of the field.
struct CellTone
{
    double lightness = 0; ///< above the field's median: paler
    double redness = 0;   ///< below the field's median: less red
};

/// The tones of `boxes` in `bgr` (8-bit BGR, one field), same order. Boxes are clipped to the
/// image; an empty one gets {0, 0}. Empty result for an empty image.
std::vector<CellTone> relativeCellTones(const cv::Mat& bgr, const std::vector<cv::Rect>& boxes);

/// When a detection counts as parasitized whatever the classifier says.
struct PaleCellRule
{
    /// Both bounds were set on the 158 IML fields the embedded model trained on (all their
    /// labelled detections): the loosest pair at which at least half the pale detections were
    /// parasitized (27 parasitized, 21 healthy cells of 15,742, 3 no cell); the 30 held-out
    /// fields were not used to choose them.
    double lightnessAbove = 25; ///< CellTone::lightness must exceed this
    double rednessBelow = -8;   ///< and CellTone::redness be under this

    bool isPale(const CellTone& t) const
    {
        return t.lightness > lightnessAbove && t.redness < rednessBelow;
    }
    /// {lightness_above, redness_below}
    QJsonObject toJson() const;
    /// The rule a model card's `lab_calibration.pale_cells` holds, or nullopt when it holds
    /// none (every model but a lab's that turned it on).
    static std::optional<PaleCellRule> fromCard(const QJsonObject& card);
};

} // namespace ml
