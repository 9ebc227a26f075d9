#pragma once
// The checkpoint of a training run (internal to models/training, includes torch): what is
// saved after every epoch so that a killed run resumes bit for bit, and what a checkpoint
// must match to be resumed.

#include "networks.h"
#include "trainingconfig.h"
#include "trainingresult.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <torch/torch.h>

#include <limits>
#include <random>
#include <vector>

namespace ml {

struct Dataset;

/// Copies of every parameter and buffer of a network (the best weights so far).
struct StateCopy
{
    std::vector<torch::Tensor> tensors;
    void take(const torch::nn::Module& m);
    void restore(torch::nn::Module& m) const;
};

/// The bookkeeping of the epoch loop: what early stopping and rate decay count.
struct LoopState
{
    int epochsDone = 0;
    int bestEpoch = 0;
    double bestValLoss = std::numeric_limits<double>::infinity();
    int sinceBest = 0;
    int sinceDecay = 0; ///< epochs without improvement since the last rate change
    double learningRate = 0;
    QList<EpochStats> history;
};

/// Sets the rate of every parameter group.
void setLearningRate(torch::optim::Adam& optimizer, double lr);

/// What a checkpoint must match to be resumed: architecture, split, seed, batch size, data
/// size and the options that change the training set. `leftOut`: the training cells left
/// out (relative paths, sorted), so a resume with another list cannot mix two training sets.
QJsonObject runIdentity(const TrainingConfig& c, const Dataset& ds, const QStringList& leftOut);

/// Writes the checkpoint atomically (QSaveFile). False with `error` set on failure.
bool saveCheckpoint(const QString& path, CellNetImpl& net, const StateCopy& best,
                    torch::optim::Adam& optimizer, const LoopState& s, const std::mt19937& rng,
                    const QJsonObject& identity, QString* error);
/// Restores a run from its checkpoint; refuses one written for another `identity`.
bool loadCheckpoint(const QString& path, CellNetImpl& net, StateCopy& best,
                    torch::optim::Adam& optimizer, LoopState& s, std::mt19937& rng,
                    const QJsonObject& identity, QString* error);

/// "patient" or "random".
QString splitName(SplitMode m);
/// The first line of an exception's message.
QString firstLine(const char* what);

} // namespace ml
