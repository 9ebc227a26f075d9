#include "labpalecells.h"

#include "labcalibration.h"

#include <set>

namespace ml {

QJsonObject PaleCellEvidence::toJson() const
{
    return QJsonObject{{QStringLiteral("enabled"), enabled},
                       {QStringLiteral("parasitized"), parasitized},
                       {QStringLiteral("other"), other}};
}

PaleCellEvidence paleCellEvidence(const std::vector<CalibrationCell>& cells,
                                  const std::vector<int>& which)
{
    PaleCellEvidence e;
    for (int i : std::set<int>(which.begin(), which.end())) {
        if (i < 0 || size_t(i) >= cells.size() || !cells[size_t(i)].pale)
            continue;
        const CalibrationCell& c = cells[size_t(i)];
        if (c.label == 0)
            ++e.parasitized;
        else if (c.label == 1 || c.notACell)
            ++e.other;
    }
    e.enabled = e.parasitized >= kMinPaleParasitized &&
                e.parasitized >= kMinPaleParasitizedShare * (e.parasitized + e.other);
    return e;
}

std::vector<float> withPaleCellsCalled(const std::vector<CalibrationCell>& cells,
                                       std::vector<float> probabilities)
{
    for (size_t i = 0; i < cells.size() && i < probabilities.size(); ++i)
        if (cells[i].pale && probabilities[i] >= 0)
            probabilities[i] = 1.0f;
    return probabilities;
}

} // namespace ml
