#include "domaincheck.h"

#include "canonicalcell.h"

#include <QJsonArray>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace ml {

namespace {

constexpr float kUncertainLow = 0.2f, kUncertainHigh = 0.8f;
constexpr int kMinCells = 10;

double percentile(std::vector<double> v, double q)
{
    if (v.empty())
        return 0;
    const size_t k = std::min(v.size() - 1, size_t(std::lround(q * double(v.size() - 1))));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
}

StatRange rangeOf(const std::vector<double>& v)
{
    return {percentile(v, 0.02), percentile(v, 0.5), percentile(v, 0.98)};
}

double uncertainShare(const std::vector<float>& p)
{
    if (p.empty())
        return 0;
    const auto n = std::count_if(p.begin(), p.end(),
                                 [](float v) { return v >= kUncertainLow && v <= kUncertainHigh; });
    return double(n) / double(p.size());
}

template <typename F> std::vector<double> column(const std::vector<CellAppearance>& cells, F f)
{
    std::vector<double> v;
    v.reserve(cells.size());
    for (const CellAppearance& c : cells)
        if (c.cellFound)
            v.push_back(double(f(c)));
    return v;
}

// The folder's medians, in the order of kStats.
struct Medians
{
    double lightness, a, b, diameter, sharpness, surround;
};

bool inside(double v, const StatRange& r, double slack)
{
    const double pad = slack * std::max(1e-6, r.high - r.low);
    return v >= r.low - pad && v <= r.high + pad;
}

bool sourceContains(const SourceDomain& s, const Medians& m)
{
    // 25 % of the range as slack: a median of many cells is steadier than one cell.
    constexpr double slack = 0.25;
    return inside(m.lightness, s.lightness, slack) && inside(m.a, s.a, slack) &&
           inside(m.b, s.b, slack) && inside(m.diameter, s.diameter, slack) &&
           inside(m.sharpness, s.sharpness, slack);
}

// Distance of the folder's medians to a source, in units of the source's ranges.
double distanceTo(const SourceDomain& s, const Medians& m)
{
    auto d = [](double v, const StatRange& r) {
        return (v - r.median) / std::max(1e-6, (r.high - r.low) / 2.0);
    };
    const double parts[] = {
        d(m.lightness, s.lightness), d(m.a, s.a), d(m.b, s.b),
        d(std::log(std::max(1.0, m.diameter)), StatRange{std::log(std::max(1.0, s.diameter.low)),
                                                         std::log(std::max(1.0, s.diameter.median)),
                                                         std::log(std::max(1.0, s.diameter.high))}),
        d(m.sharpness, s.sharpness)};
    double sum = 0;
    for (double p : parts)
        sum += p * p;
    return std::sqrt(sum);
}

// Plain-words reasons: each statistic against the union of the sources' ranges.
QStringList colourSizeReasons(const QList<SourceDomain>& sources, const Medians& m)
{
    auto lowest = [&](auto get) {
        double v = 1e30;
        for (const SourceDomain& s : sources)
            v = std::min(v, get(s).low);
        return v;
    };
    auto highest = [&](auto get) {
        double v = -1e30;
        for (const SourceDomain& s : sources)
            v = std::max(v, get(s).high);
        return v;
    };
    QStringList reasons;
    const auto check = [&](double value, auto get, const QString& below, const QString& above,
                           int decimals) {
        const double lo = lowest(get), hi = highest(get);
        const QString range = QStringLiteral(" (median %1; training labs %2 to %3)")
                                  .arg(value, 0, 'f', decimals)
                                  .arg(lo, 0, 'f', decimals)
                                  .arg(hi, 0, 'f', decimals);
        if (value < lo)
            reasons << below + range;
        else if (value > hi)
            reasons << above + range;
    };
    check(
        m.b, [](const SourceDomain& s) { return s.b; },
        QStringLiteral("stain bluer than any training lab (b*)"),
        QStringLiteral("stain yellower than any training lab (b*)"), 1);
    check(
        m.a, [](const SourceDomain& s) { return s.a; },
        QStringLiteral("stain less red (greener) than any training lab (a*)"),
        QStringLiteral("stain redder than any training lab (a*)"), 1);
    check(
        m.lightness, [](const SourceDomain& s) { return s.lightness; },
        QStringLiteral("cells darker than any training lab (L*)"),
        QStringLiteral("cells paler than any training lab (L*)"), 1);
    check(
        m.sharpness, [](const SourceDomain& s) { return s.sharpness; },
        QStringLiteral("cells blurrier than any training lab"),
        QStringLiteral("cells sharper or noisier than any training lab"), 3);
    double nearestSize = 0, bestRatio = 1e30;
    for (const SourceDomain& s : sources) {
        const double r =
            std::abs(std::log(std::max(1.0, m.diameter) / std::max(1.0, s.diameter.median)));
        if (r < bestRatio) {
            bestRatio = r;
            nearestSize = s.diameter.median;
        }
    }
    const double ratio = std::max(1.0, m.diameter) / std::max(1.0, nearestSize);
    if (ratio >= 1.5 || ratio <= 1.0 / 1.5) {
        reasons << (ratio > 1 ? QStringLiteral("cells %1x the training size (%2 px across; "
                                               "nearest training lab %3 px)")
                              : QStringLiteral("cells %1x smaller than the training size (%2 px "
                                               "across; nearest training lab %3 px)"))
                       .arg(ratio > 1 ? ratio : 1.0 / ratio, 0, 'f', 1)
                       .arg(m.diameter, 0, 'f', 0)
                       .arg(nearestSize, 0, 'f', 0);
    }
    return reasons;
}

} // namespace

CellAppearance measureCell(const cv::Mat& rgb, const cv::Size& originalSize)
{
    CellAppearance c;
    if (rgb.empty() || rgb.type() != CV_32FC3)
        return c;
    try {
        const CanonicalCell canonical = canonicalizeCell(rgb);
        if (canonical.rgb.empty())
            return c;
        c.cellFound = canonical.cellFound;
        // Diameter of a disc of the cell's area, in the original image's pixels.
        c.diameter = float(2.0 * std::sqrt(canonical.cellFraction * double(rgb.total()) / M_PI) *
                           double(std::max(1, originalSize.width)) / double(rgb.cols));
        const cv::Vec3f s = canonical.surroundColour;
        c.surround = (s[0] + s[1] + s[2]) / 3.0f;

        // Colour and sharpness on the raw cell pixels (the canonical search's mask).
        const cv::Mat& cellMask = canonical.inputMask;
        cv::Mat lab;
        cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
        std::vector<cv::Mat> ch;
        cv::split(lab, ch);
        auto median = [&](const cv::Mat& m) {
            std::vector<double> v;
            v.reserve(size_t(cv::countNonZero(cellMask)));
            for (int y = 0; y < m.rows; ++y)
                for (int x = 0; x < m.cols; ++x)
                    if (cellMask.at<uchar>(y, x))
                        v.push_back(m.at<float>(y, x));
            return float(percentile(std::move(v), 0.5));
        };
        c.lightness = median(ch[0]);
        c.a = median(ch[1]);
        c.b = median(ch[2]);
        cv::Mat grey, lap;
        cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
        cv::Laplacian(grey, lap, CV_32F);
        cv::Mat inner;
        cv::erode(cellMask, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
        if (cv::countNonZero(inner) < 16)
            inner = cellMask;
        cv::Scalar mean, sd;
        cv::meanStdDev(lap, mean, sd, inner);
        c.sharpness = float(sd[0]);
    } catch (const cv::Exception&) {
        return CellAppearance{};
    }
    return c;
}

QJsonObject StatRange::toJson() const
{
    return QJsonObject{{QStringLiteral("p02"), low},
                       {QStringLiteral("median"), median},
                       {QStringLiteral("p98"), high}};
}

StatRange StatRange::fromJson(const QJsonObject& o)
{
    return {o.value(QStringLiteral("p02")).toDouble(), o.value(QStringLiteral("median")).toDouble(),
            o.value(QStringLiteral("p98")).toDouble()};
}

QJsonObject SourceDomain::toJson() const
{
    return QJsonObject{{QStringLiteral("cells"), cells},
                       {QStringLiteral("lab_lightness"), lightness.toJson()},
                       {QStringLiteral("lab_a"), a.toJson()},
                       {QStringLiteral("lab_b"), b.toJson()},
                       {QStringLiteral("cell_diameter_px"), diameter.toJson()},
                       {QStringLiteral("sharpness"), sharpness.toJson()},
                       {QStringLiteral("surround"), surround.toJson()},
                       {QStringLiteral("uncertain_share"), uncertainShare}};
}

SourceDomain SourceDomain::fromJson(const QString& name, const QJsonObject& o)
{
    SourceDomain s;
    s.name = name;
    s.cells = o.value(QStringLiteral("cells")).toInt();
    s.lightness = StatRange::fromJson(o.value(QStringLiteral("lab_lightness")).toObject());
    s.a = StatRange::fromJson(o.value(QStringLiteral("lab_a")).toObject());
    s.b = StatRange::fromJson(o.value(QStringLiteral("lab_b")).toObject());
    s.diameter = StatRange::fromJson(o.value(QStringLiteral("cell_diameter_px")).toObject());
    s.sharpness = StatRange::fromJson(o.value(QStringLiteral("sharpness")).toObject());
    s.surround = StatRange::fromJson(o.value(QStringLiteral("surround")).toObject());
    s.uncertainShare = o.value(QStringLiteral("uncertain_share")).toDouble();
    return s;
}

SourceDomain summariseSource(const QString& name, const std::vector<CellAppearance>& cells,
                             const std::vector<float>& probabilities)
{
    SourceDomain s;
    s.name = name;
    s.cells = int(std::count_if(cells.begin(), cells.end(),
                                [](const CellAppearance& c) { return c.cellFound; }));
    s.lightness = rangeOf(column(cells, [](const CellAppearance& c) { return c.lightness; }));
    s.a = rangeOf(column(cells, [](const CellAppearance& c) { return c.a; }));
    s.b = rangeOf(column(cells, [](const CellAppearance& c) { return c.b; }));
    s.diameter = rangeOf(column(cells, [](const CellAppearance& c) { return c.diameter; }));
    s.sharpness = rangeOf(column(cells, [](const CellAppearance& c) { return c.sharpness; }));
    s.surround = rangeOf(column(cells, [](const CellAppearance& c) { return c.surround; }));
    s.uncertainShare = uncertainShare(probabilities);
    return s;
}

QJsonObject DomainProfile::toJson() const
{
    QJsonObject src;
    for (const SourceDomain& s : sources)
        src.insert(s.name, s.toJson());
    return QJsonObject{{QStringLiteral("version"), 1}, {QStringLiteral("sources"), src}};
}

DomainProfile DomainProfile::fromCard(const QJsonObject& card)
{
    DomainProfile p;
    const QJsonObject src =
        card.value(QStringLiteral("domain")).toObject().value(QStringLiteral("sources")).toObject();
    for (auto it = src.begin(); it != src.end(); ++it)
        p.sources << SourceDomain::fromJson(it.key(), it.value().toObject());
    return p;
}

QJsonObject DomainVerdict::toJson() const
{
    return QJsonObject{{QStringLiteral("in_domain"), inDomain},
                       {QStringLiteral("checked"), checked},
                       {QStringLiteral("reasons"), QJsonArray::fromStringList(reasons)},
                       {QStringLiteral("nearest_source"), nearestSource}};
}

QString DomainVerdict::summary() const
{
    if (!checked)
        return QStringLiteral("Domain not checked: the model's card records no training domain.");
    if (inDomain)
        return QStringLiteral("Cells like the model's training cells (nearest: %1).")
            .arg(nearestSource);
    return QStringLiteral("Out of the model's domain: %1. Figures below may be wrong; "
                          "calibrate the model for this lab before trusting them.")
        .arg(reasons.join(QStringLiteral("; ")));
}

DomainVerdict checkDomain(const DomainProfile& profile, const std::vector<CellAppearance>& cells,
                          const std::vector<float>& probabilities)
{
    DomainVerdict v;
    if (profile.isEmpty())
        return v;
    v.checked = true;
    const int found = int(std::count_if(cells.begin(), cells.end(),
                                        [](const CellAppearance& c) { return c.cellFound; }));
    if (found < kMinCells) {
        v.reasons << QStringLiteral("only %1 cells could be measured: too few to tell whether "
                                    "they are like the training cells")
                         .arg(found);
        v.inDomain = false;
        return v;
    }
    const Medians m{
        percentile(column(cells, [](const CellAppearance& c) { return c.lightness; }), 0.5),
        percentile(column(cells, [](const CellAppearance& c) { return c.a; }), 0.5),
        percentile(column(cells, [](const CellAppearance& c) { return c.b; }), 0.5),
        percentile(column(cells, [](const CellAppearance& c) { return c.diameter; }), 0.5),
        percentile(column(cells, [](const CellAppearance& c) { return c.sharpness; }), 0.5),
        percentile(column(cells, [](const CellAppearance& c) { return c.surround; }), 0.5)};

    const SourceDomain* nearest = nullptr;
    double best = 1e30;
    bool contained = false;
    for (const SourceDomain& s : profile.sources) {
        const double d = distanceTo(s, m);
        if (d < best) {
            best = d;
            nearest = &s;
        }
        contained = contained || sourceContains(s, m);
    }
    v.nearestSource = nearest ? nearest->name : QString();
    if (!contained) {
        v.reasons << colourSizeReasons(profile.sources, m);
        if (v.reasons.isEmpty())
            v.reasons << QStringLiteral("stain, size and sharpness together unlike any one "
                                        "training lab (nearest: %1)")
                             .arg(v.nearestSource);
    }
    // The model's own outputs: many undecided cells mean it does not know these cells.
    if (!probabilities.empty()) {
        double trained = 0;
        for (const SourceDomain& s : profile.sources)
            trained = std::max(trained, s.uncertainShare);
        const double u = uncertainShare(probabilities);
        if (u > std::max(0.15, 3.0 * trained))
            v.reasons << QStringLiteral("%1 % of cells between 0.2 and 0.8 (training labs: at "
                                        "most %2 %)")
                             .arg(u * 100.0, 0, 'f', 0)
                             .arg(trained * 100.0, 0, 'f', 0);
    }
    v.inDomain = v.reasons.isEmpty();
    return v;
}

} // namespace ml
