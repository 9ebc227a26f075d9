#pragma once
// What every benchmark program shares: the median of repeated timings (machines here are
// shared and noisy, so benchmarks quote medians) and small command-line helpers.

#include <QStringList>

#include <algorithm>
#include <vector>

namespace ml::bench {

/// Median of `v` (mean of the two middle values for an even count); 0 when empty.
inline double median(std::vector<double> v)
{
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Removes "NAME VALUE" from `args` and returns VALUE as an int; `fallback` when absent or
/// not a number.
inline int takeIntOption(QStringList& args, const QString& name, int fallback)
{
    const int at = int(args.indexOf(name));
    if (at < 0 || at + 1 >= args.size())
        return fallback;
    bool ok = false;
    const int value = args.at(at + 1).toInt(&ok);
    args.remove(at, 2);
    return ok ? value : fallback;
}

} // namespace ml::bench
