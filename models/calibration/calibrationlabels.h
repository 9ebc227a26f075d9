#pragma once
// Labels of single cells of a lab's field images, from the two sources besides box
// annotations: a per-cell CSV (the `segment --csv` columns plus a label) and the reviewer's
// corrections database, where the GUI's "Calibrate for this lab" flow writes them. Both are
// matched to the cells segmented now, so a re-run (or a re-segmentation with a slightly
// different box) finds the same cells. No torch in this header.
//
// A cell label in the corrections database is an ordinary row of the append-only audit trail
// (CorrectionStore), addressed so that it can never be mistaken for a whole image:
//
//   path    <absolute field path>#cell=x,y,w,h      (the detection box in the field)
//   sha256  SHA-256 of "<field file's SHA-256>#cell=x,y,w,h"  (survives a renamed field)
//   bytes   0                                       (never matched to a file by its size)
//   note    calibration lab '<lab>': cell of <field> at x,y wxh
//
// Undo appends a row that restores the previous label ("unlabeled" when there was none);
// the latest row per cell wins.

#include "labcalibration.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <opencv2/core/types.hpp>

#include <optional>
#include <vector>

namespace ml {

struct Correction;

/// One labelled cell of a field.
struct CellLabel
{
    QString field;     ///< file name of the field image (the match key)
    QString fieldPath; ///< absolute path when known
    cv::Rect box;      ///< detection box in the field
    /// "Parasitized", "Uninfected", unsureLabel(), notACellLabel() or "unlabeled" (an undone
    /// label). Only the two classes label a cell; unsure cells and detections that are no
    /// cell are left out of adapting and testing.
    QString label;
    QString reviewer;
    QDateTime time;
};

/// The label value of an undone cell label.
inline QString unlabeledCellLabel()
{
    return QStringLiteral("unlabeled");
}

/// The label of a detection that is no red cell (debris, a stain speck, a cut or merged cell):
/// CalibrationCell::notACell, left out of the lab threshold's false-positive estimate as the
/// annotations' unmatched detections are (chooseLabThreshold()).
inline QString notACellLabel()
{
    return QStringLiteral("not_a_cell");
}

/// CalibrationCell::label of a label: 0 "Parasitized", 1 "Uninfected", -1 anything else
/// (unsure, not a cell, unlabeled).
int cellLabelValue(const QString& label);

/// The corrections-database row of `label` (see the file comment). `fieldSha256` is the hex
/// SHA-256 of the field file; `oldLabel` the label the cell had before; `lab` the lab's name.
Correction cellLabelCorrection(const CellLabel& label, const QString& fieldSha256,
                               const QString& oldLabel, const QString& lab);

/// The cell label a corrections row holds; nullopt for a row about a whole image.
std::optional<CellLabel> cellLabelFromCorrection(const Correction& row);

/// The latest label per cell (field name + box) among `rows` (oldest first), cell rows only.
/// Undone cells ("unlabeled") are dropped.
QList<CellLabel> latestCellLabels(const QList<Correction>& rows);

/// Every cell label of the corrections database at `path` (opened read-only is enough).
/// nullopt and `error` when it cannot be read.
std::optional<QList<CellLabel>> cellLabelsFromDatabase(const QString& path, QString* error);

/// Parses a per-cell CSV: a header with at least field, x, y, w, h and label (any order; the
/// other `segment --csv` columns are ignored). label: Parasitized / Uninfected (or P / U,
/// 1 / 0, as `called`), unsure (X), not_a_cell (N), or empty (not labelled: the row is
/// skipped). nullopt and
/// `error` naming the line when the header or a row is malformed.
std::optional<QList<CellLabel>> cellLabelsFromCsv(const QByteArray& csv, QString* error);

/// Sets CalibrationCell::label from `labels`: a label belongs to the cell of the same field
/// whose box is the same or overlaps it most with IoU >= 0.5. Labels with no such cell are
/// not used; unsure labels set -1; notACellLabel() sets -1 and CalibrationCell::notACell.
/// Returns how many labels found their cell.
int applyCellLabels(std::vector<CalibrationCell>& cells, const QList<CellLabel>& labels);

/// The CSV cellLabelsFromCsv() reads back (`segment --csv` columns + label; the columns
/// a label does not know are left empty), e.g. to keep labels the database could not take.
QByteArray cellLabelsCsv(const QList<CellLabel>& labels);

} // namespace ml
