#pragma once
// The model's domain, and a check of new cells against it, before any figure is trusted.
//
// A model is only right on cells like the ones it was trained on. Its card records, per
// training source (lab), how those cells looked: stain colour in L*a*b*, cell size in the
// original image's pixels, sharpness, surround, and how spread the model's own outputs were.
// A folder or field whose cells fall outside every source gets a verdict with the reasons in
// plain words ("stain bluer than any training lab", "cells 2.1x the training size",
// "80 % of cells between 0.2 and 0.8"). Pure OpenCV/Qt Core, thread-safe.

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <opencv2/core/mat.hpp>

#include <vector>

namespace ml {

/// How one cell looks, measured on the raw image (before any normalisation).
struct CellAppearance
{
    float lightness = 0; ///< median L* of the cell's pixels (0-100)
    float a = 0;         ///< median a* (green - / red +)
    float b = 0;         ///< median b* (blue - / yellow +)
    float diameter = 0;  ///< cell diameter in the original image's pixels (from its area)
    float sharpness = 0; ///< std of the Laplacian inside the cell, at 64 x 64
    float surround = 0;  ///< mean brightness of the surround (0 black - 1 white)
    bool cellFound = false;
};

/// Measures a cell. `rgb` is the 64 x 64 CV_32FC3 RGB [0,1] input (preprocessImage()),
/// `originalSize` the decoded image's size before that resize (gives the cell's real size).
CellAppearance measureCell(const cv::Mat& rgb, const cv::Size& originalSize);

/// A robust range of one statistic over a source's cells.
struct StatRange
{
    double low = 0; ///< 2nd percentile
    double median = 0;
    double high = 0; ///< 98th percentile
    QJsonObject toJson() const;
    static StatRange fromJson(const QJsonObject& o);
};

/// One training source (lab) as its cells looked to the model.
struct SourceDomain
{
    QString name;
    int cells = 0;
    StatRange lightness, a, b, diameter, sharpness, surround;
    double uncertainShare = 0; ///< share of the model's outputs in [0.2, 0.8]
    QJsonObject toJson() const;
    static SourceDomain fromJson(const QString& name, const QJsonObject& o);
};

/// Summarises a source's cells and the model's probabilities on them (same order; the
/// probabilities may be empty when the model has not run yet).
SourceDomain summariseSource(const QString& name, const std::vector<CellAppearance>& cells,
                             const std::vector<float>& probabilities);

/// The domain a card records (card.domain.sources).
struct DomainProfile
{
    QList<SourceDomain> sources;
    bool isEmpty() const { return sources.isEmpty(); }
    /// {"sources": {name: {...}}, "version": 1}
    QJsonObject toJson() const;
    static DomainProfile fromCard(const QJsonObject& card);
};

/// The verdict on a folder, slide or field.
struct DomainVerdict
{
    bool checked = false; ///< false: the model's card records no domain (an old model)
    bool inDomain = true;
    QString nearestSource; ///< the training source the cells resemble most
    QStringList reasons;   ///< plain words, one per finding
    /// {"in_domain": bool, "checked": bool, "reasons": [...], "nearest_source": "..."}
    QJsonObject toJson() const;
    /// One line for a banner or a report: "Out of the model's domain: stain bluer than ...".
    QString summary() const;
};

/// Checks cells (and the model's probabilities on them, same order, may be empty) against
/// `profile`. Fewer than 10 cells: checked, in domain only if nothing else is wrong, with a
/// reason saying the sample is too small to tell. Unchecked when the profile is empty.
DomainVerdict checkDomain(const DomainProfile& profile, const std::vector<CellAppearance>& cells,
                          const std::vector<float>& probabilities);

} // namespace ml
