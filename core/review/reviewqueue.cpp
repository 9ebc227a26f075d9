#include "reviewqueue.h"

#include "classificationresults.h"

#include <algorithm>
#include <cmath>

namespace ml {

QString reviewOrderName(ReviewOrder order)
{
    switch (order) {
    case ReviewOrder::Uncertainty:
        return QStringLiteral("uncertainty");
    case ReviewOrder::Disagreement:
        return QStringLiteral("disagreement");
    case ReviewOrder::Confidence:
        return QStringLiteral("confidence");
    }
    return {};
}

std::vector<ReviewItem> buildReviewQueue(const Dataset& ds, const std::vector<float>& probability,
                                         double threshold, ReviewOrder order,
                                         const QSet<int>& exclude)
{
    const QStringList modelClasses = modelClassNames();
    std::vector<ReviewItem> items;
    const int n = std::min(int(ds.images.size()), int(probability.size()));
    items.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        const float p = probability[size_t(i)];
        if (p < 0 || exclude.contains(i))
            continue;
        ReviewItem item;
        item.index = i;
        item.probability = p;
        item.predicted = p >= threshold ? 0 : 1;
        const int label = ds.images.at(i).label;
        item.labelAsModelClass = label < 0 ? -1 : int(modelClasses.indexOf(ds.className(label)));
        if (order == ReviewOrder::Disagreement &&
            (item.labelAsModelClass < 0 || item.labelAsModelClass == item.predicted))
            continue;
        items.push_back(item);
    }
    // Distance from the threshold: how sure the model is.
    auto margin = [threshold](const ReviewItem& r) {
        return std::abs(double(r.probability) - threshold);
    };
    if (order == ReviewOrder::Uncertainty)
        std::stable_sort(items.begin(), items.end(), [&](const ReviewItem& a, const ReviewItem& b) {
            return margin(a) < margin(b);
        });
    else
        std::stable_sort(items.begin(), items.end(), [&](const ReviewItem& a, const ReviewItem& b) {
            return margin(a) > margin(b);
        });
    return items;
}

} // namespace ml
