#include "datasetsplit.h"

#include "architecture.h"
#include "dataset.h"

#include <QMap>
#include <QSet>
#include <QStringList>

#include <algorithm>
#include <numeric>
#include <random>

namespace ml {

namespace {

// The patients of a folder with their cells, in id order, divided into infected (any cell
// labelled Parasitized) and healthy: both splitters deal the two kinds separately so every
// side gets both. Id order makes the seeded shuffles that follow reproducible.
struct PatientGroups
{
    QMap<QString, std::vector<int>> cells;
    QStringList infected, healthy;
};

PatientGroups groupPatients(const Dataset& ds)
{
    PatientGroups g;
    for (int i = 0; i < int(ds.images.size()); ++i)
        g.cells[ds.images.at(i).patient].push_back(i);
    for (auto it = g.cells.cbegin(); it != g.cells.cend(); ++it) {
        const bool any = std::any_of(it.value().begin(), it.value().end(), [&](int i) {
            return ds.images.at(i).label == kParasitizedClass;
        });
        (any ? g.infected : g.healthy).append(it.key());
    }
    return g;
}

} // namespace

void splitDataset(const Dataset& ds, SplitMode mode, double valFraction, quint32 seed,
                  std::vector<int>* train, std::vector<int>* val)
{
    train->clear();
    val->clear();
    std::mt19937 rng(seed);
    const int n = int(ds.images.size());
    if (mode == SplitMode::Random) {
        std::vector<int> all(n);
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        const int nVal = int(std::lround(valFraction * n));
        val->assign(all.begin(), all.begin() + nVal);
        train->assign(all.begin() + nVal, all.end());
    } else {
        // Whole patients, infected and healthy separately, until the cell fraction is reached.
        PatientGroups groups = groupPatients(ds);
        QSet<QString> valPatients;
        for (QStringList* group : {&groups.infected, &groups.healthy}) {
            std::shuffle(group->begin(), group->end(), rng);
            int groupCells = 0;
            for (const QString& p : *group)
                groupCells += int(groups.cells[p].size());
            int taken = 0;
            for (const QString& p : *group) {
                if (taken >= valFraction * groupCells)
                    break;
                valPatients.insert(p);
                taken += int(groups.cells[p].size());
            }
        }
        for (int i = 0; i < n; ++i)
            (valPatients.contains(ds.images.at(i).patient) ? val : train)->push_back(i);
    }
    std::sort(train->begin(), train->end());
    std::sort(val->begin(), val->end());
}

std::vector<int> patientFolds(const Dataset& ds, int k, quint32 seed)
{
    const PatientGroups patients = groupPatients(ds);
    if (k < 2 || patients.cells.size() < k)
        return {};
    auto cellsOf = [&patients](const QString& p) -> const std::vector<int>& {
        return patients.cells.find(p).value();
    };
    std::mt19937 rng(seed);
    std::vector<int> fold(size_t(ds.images.size()), 0);
    std::vector<int> foldCells(size_t(k), 0);
    for (QStringList g : {patients.infected, patients.healthy}) {
        std::shuffle(g.begin(), g.end(), rng);
        // Largest first, so the greedy fill ends with small patients that even the folds out.
        std::stable_sort(g.begin(), g.end(), [&](const QString& a, const QString& b) {
            return cellsOf(a).size() > cellsOf(b).size();
        });
        std::vector<int> groupCells(size_t(k), 0);
        for (const QString& p : g) {
            // The fold with the fewest cells of this group, then fewest overall.
            int f = 0;
            for (int j = 1; j < k; ++j) {
                if (std::make_pair(groupCells[size_t(j)], foldCells[size_t(j)]) <
                    std::make_pair(groupCells[size_t(f)], foldCells[size_t(f)]))
                    f = j;
            }
            for (int i : cellsOf(p))
                fold[size_t(i)] = f;
            groupCells[size_t(f)] += int(cellsOf(p).size());
            foldCells[size_t(f)] += int(cellsOf(p).size());
        }
    }
    return fold;
}

} // namespace ml
