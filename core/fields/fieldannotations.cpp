#include "fieldannotations.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ml {

namespace {

// The IML file stores numbers as strings; accept real numbers too.
bool jsonInt(const QJsonValue& v, int* out)
{
    if (v.isDouble()) {
        *out = int(std::lround(v.toDouble()));
        return true;
    }
    if (v.isString()) {
        bool ok = false;
        const double d = v.toString().trimmed().toDouble(&ok);
        if (ok && std::isfinite(d)) {
            *out = int(std::lround(d));
            return true;
        }
    }
    return false;
}

} // namespace

int FieldAnnotation::cellCount() const
{
    return int(std::count_if(objects.begin(), objects.end(),
                             [](const AnnotatedObject& o) { return !o.difficult; }));
}

int FieldAnnotation::infectedCount() const
{
    return int(std::count_if(objects.begin(), objects.end(),
                             [](const AnnotatedObject& o) { return o.infected; }));
}

FieldAnnotation FieldAnnotation::clippedTo(const cv::Size& imageSize) const
{
    FieldAnnotation out;
    out.imageName = imageName;
    const cv::Rect image(cv::Point(0, 0), imageSize);
    for (const AnnotatedObject& o : objects) {
        AnnotatedObject c = o;
        c.box = o.box & image;
        if (!c.box.empty())
            out.objects.push_back(c);
    }
    return out;
}

FieldAnnotation FieldAnnotation::withoutEdgeObjects(const cv::Size& imageSize, int margin) const
{
    FieldAnnotation out = clippedTo(imageSize);
    out.objects.erase(std::remove_if(out.objects.begin(), out.objects.end(),
                                     [&](const AnnotatedObject& o) {
                                         return o.box.x <= margin || o.box.y <= margin ||
                                                o.box.br().x >= imageSize.width - margin ||
                                                o.box.br().y >= imageSize.height - margin;
                                     }),
                      out.objects.end());
    return out;
}

const FieldAnnotation* FieldAnnotationSet::find(const QString& fileName) const
{
    const QString name = QFileInfo(fileName).fileName();
    auto it = byName.constFind(name);
    if (it != byName.constEnd())
        return &it.value();
    for (auto i = byName.constBegin(); i != byName.constEnd(); ++i)
        if (i.key().compare(name, Qt::CaseInsensitive) == 0)
            return &i.value();
    return nullptr;
}

bool isParasiteStage(const QString& type)
{
    const QString t = type.trimmed().toLower();
    return t == QLatin1String("ring") || t == QLatin1String("trophozoite") ||
           t == QLatin1String("schizont") || t == QLatin1String("gametocyte");
}

FieldAnnotationSet parseFieldAnnotations(const QByteArray& json)
{
    FieldAnnotationSet set;
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError) {
        set.error = QStringLiteral("not valid JSON: %1").arg(err.errorString());
        return set;
    }
    if (!doc.isArray()) {
        set.error = QStringLiteral("expected a JSON array of images");
        return set;
    }
    for (const QJsonValue& iv : doc.array()) {
        const QJsonObject io = iv.toObject();
        const QString name = io.value(QStringLiteral("image_name")).toString();
        if (name.isEmpty())
            continue;
        FieldAnnotation& fa = set.byName[name];
        fa.imageName = name;
        for (const QJsonValue& ov : io.value(QStringLiteral("objects")).toArray()) {
            const QJsonObject oo = ov.toObject();
            const QJsonObject b = oo.value(QStringLiteral("bbox")).toObject();
            int x = 0, y = 0, w = 0, h = 0;
            if (!jsonInt(b.value(QStringLiteral("x")), &x) ||
                !jsonInt(b.value(QStringLiteral("y")), &y) ||
                !jsonInt(b.value(QStringLiteral("w")), &w) ||
                !jsonInt(b.value(QStringLiteral("h")), &h) || w <= 0 || h <= 0)
                continue;
            AnnotatedObject o;
            o.box = cv::Rect(x, y, w, h);
            o.type = oo.value(QStringLiteral("type")).toString().trimmed();
            o.infected = isParasiteStage(o.type);
            o.difficult = o.type.compare(QLatin1String("difficult"), Qt::CaseInsensitive) == 0;
            fa.objects.push_back(o);
        }
    }
    return set;
}

FieldAnnotationSet loadFieldAnnotations(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        FieldAnnotationSet set;
        set.error = QStringLiteral("%1: %2").arg(path, f.errorString());
        return set;
    }
    FieldAnnotationSet set = parseFieldAnnotations(f.readAll());
    if (!set.ok())
        set.error = QStringLiteral("%1: %2").arg(path, set.error);
    return set;
}

double boxIou(const cv::Rect& a, const cv::Rect& b)
{
    if (a.empty() || b.empty())
        return 0.0;
    const double inter = double((a & b).area());
    const double uni = double(a.area()) + double(b.area()) - inter;
    return uni > 0 ? inter / uni : 0.0;
}

std::vector<int> matchBoxes(const std::vector<cv::Rect>& detections,
                            const std::vector<cv::Rect>& truth, double minIou)
{
    std::vector<std::tuple<double, int, int>> pairs;
    for (int d = 0; d < int(detections.size()); ++d)
        for (int t = 0; t < int(truth.size()); ++t) {
            // Cheap reject before the division: most pairs do not even overlap.
            if ((detections[size_t(d)] & truth[size_t(t)]).empty())
                continue;
            const double iou = boxIou(detections[size_t(d)], truth[size_t(t)]);
            if (iou >= minIou)
                pairs.emplace_back(iou, d, t);
        }
    // Highest IoU first; ties broken by index so the result is deterministic.
    std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
        if (std::get<0>(a) != std::get<0>(b))
            return std::get<0>(a) > std::get<0>(b);
        return std::tie(std::get<1>(a), std::get<2>(a)) < std::tie(std::get<1>(b), std::get<2>(b));
    });
    std::vector<int> match(detections.size(), -1);
    std::vector<bool> used(truth.size(), false);
    for (const auto& [iou, d, t] : pairs) {
        if (match[size_t(d)] >= 0 || used[size_t(t)])
            continue;
        match[size_t(d)] = t;
        used[size_t(t)] = true;
    }
    return match;
}

Proportion wilsonInterval(int k, int n, double z)
{
    Proportion r;
    r.k = k;
    r.n = n;
    if (n <= 0)
        return r;
    const double p = double(k) / n;
    const double z2 = z * z;
    const double denom = 1.0 + z2 / n;
    const double centre = (p + z2 / (2.0 * n)) / denom;
    const double half = z * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom;
    r.p = p;
    // At k = 0 and k = n the bounds are exactly 0 and 1; rounding must not exclude p.
    r.low = k == 0 ? 0.0 : std::clamp(centre - half, 0.0, p);
    r.high = k == n ? 1.0 : std::clamp(centre + half, p, 1.0);
    return r;
}

FieldEvaluation& FieldEvaluation::operator+=(const FieldEvaluation& o)
{
    truthCells += o.truthCells;
    detections += o.detections;
    matched += o.matched;
    ignoredDetections += o.ignoredDetections;
    infectedTruth += o.infectedTruth;
    infectedMatched += o.infectedMatched;
    infectedFlagged += o.infectedFlagged;
    healthyMatched += o.healthyMatched;
    healthyFlagged += o.healthyFlagged;
    unmatchedFlagged += o.unmatchedFlagged;
    return *this;
}

FieldEvaluation evaluateField(const std::vector<cv::Rect>& detections,
                              const std::vector<bool>& parasitized, const FieldAnnotation& truth,
                              const cv::Size& imageSize, double minIou)
{
    const FieldAnnotation clipped = truth.clippedTo(imageSize);
    std::vector<cv::Rect> cells, difficult;
    std::vector<bool> infected;
    for (const AnnotatedObject& o : clipped.objects) {
        if (o.difficult) {
            difficult.push_back(o.box);
        } else {
            cells.push_back(o.box);
            infected.push_back(o.infected);
        }
    }
    const bool classified = parasitized.size() == detections.size() && !detections.empty();

    FieldEvaluation e;
    e.truthCells = int(cells.size());
    e.infectedTruth = int(std::count(infected.begin(), infected.end(), true));
    const std::vector<int> match = matchBoxes(detections, cells, minIou);

    // Detections left over may still sit on a "difficult" object: neither right nor wrong.
    std::vector<cv::Rect> leftover;
    std::vector<int> leftoverIndex;
    for (size_t d = 0; d < detections.size(); ++d)
        if (match[d] < 0) {
            leftover.push_back(detections[d]);
            leftoverIndex.push_back(int(d));
        }
    const std::vector<int> diffMatch = matchBoxes(leftover, difficult, minIou);
    std::vector<bool> ignored(detections.size(), false);
    for (size_t i = 0; i < leftover.size(); ++i)
        if (diffMatch[i] >= 0)
            ignored[size_t(leftoverIndex[i])] = true;

    for (size_t d = 0; d < detections.size(); ++d) {
        if (ignored[d]) {
            ++e.ignoredDetections;
            continue;
        }
        ++e.detections;
        const bool flagged = classified && parasitized[d];
        if (match[d] < 0) {
            if (flagged)
                ++e.unmatchedFlagged;
            continue;
        }
        ++e.matched;
        if (infected[size_t(match[d])]) {
            ++e.infectedMatched;
            if (flagged)
                ++e.infectedFlagged;
        } else {
            ++e.healthyMatched;
            if (flagged)
                ++e.healthyFlagged;
        }
    }
    return e;
}

} // namespace ml
