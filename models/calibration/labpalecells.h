#pragma once
// Whether a lab calibration turns on the pale-cell rule (core/fields/palecells.h), from the
// lab's own labelled cells, and what turning it on does to the scores the calibration decides
// with.
//
// Why per lab: pallor marks P. vivax and P. ovale infected cells, not P. falciparum ones, and
// a lab whose pale cells are healthy (ghosts, reticulocytes, a bright corner of the light)
// must not get them called. So the lab's labels decide: the rule is on only where enough of
// the labelled pale cells were parasitized.

#include <QJsonObject>

#include <vector>

namespace ml {

struct CalibrationCell;

/// Fewest labelled parasitized pale cells before the rule is turned on.
constexpr int kMinPaleParasitized = 3;
/// Smallest parasitized share of the labelled pale cells (parasitized, healthy and no cell)
/// before the rule is turned on. On the 158 IML fields the embedded model trained on it was
/// 0.53 (27 of 51); the lab's prevalence among all its cells is about 0.014, so at a third
/// the rule's calls are still 20 times as likely to be parasites as a random cell.
constexpr double kMinPaleParasitizedShare = 1.0 / 3.0;

/// Most pale cells the GUI asks its reviewer about (proposeCellsToLabel()'s fourth list):
/// enough to see whether a lab's pale cells are parasites (kMinPaleParasitized,
/// kMinPaleParasitizedShare; on the IML fields about half are), few enough to cost a
/// twentieth of a 400-cell session.
constexpr int kPaleCellsAsked = 20;

/// The labelled pale cells a calibration saw, and its decision.
struct PaleCellEvidence
{
    int parasitized = 0; ///< pale cells labelled parasitized
    int other = 0;       ///< pale cells labelled uninfected or no red cell
    bool enabled = false;
    /// {enabled, parasitized, other}
    QJsonObject toJson() const;
};

/// Counts the known pale cells (CalibrationCell::pale) among `which` (indices into `cells`,
/// repeats counted once; the calibration passes every known cell of the adapt fields) and
/// turns the rule on when kMinPaleParasitized and kMinPaleParasitizedShare are met.
PaleCellEvidence paleCellEvidence(const std::vector<CalibrationCell>& cells,
                                  const std::vector<int>& which);

/// `probabilities` (same order as `cells`) with every scored pale cell's raised to 1: the
/// calls of a model whose lab has the rule on, at any threshold. Unscored cells (< 0) stay.
std::vector<float> withPaleCellsCalled(const std::vector<CalibrationCell>& cells,
                                       std::vector<float> probabilities);

} // namespace ml
