#pragma once
// Internal to the models library: what a Classifier holds. Includes torch.

#include "classifier.h"
#include "networks.h"
#include "preprocess.h"

#include <torch/script.h>

namespace ml {

struct LoadedModel
{
    enum class Kind { Native, TorchScript };
    Kind kind = Kind::Native;
    Architecture arch = Architecture::Se; ///< native only
    CellNet net;                          ///< native: in eval mode, never modified
    /// native: a faster inference-only copy of `net` (makeInferenceNetwork()), or null to run
    /// `net` itself. predict() uses it; `net` stays the trained module (saving, Grad-CAM).
    CellNet inference;
    std::shared_ptr<torch::jit::Module> script; ///< TorchScript: in eval mode
    bool outputsProbabilities = false;          ///< TorchScript whose card says so
    /// TorchScript whose graph holds quantised (int8) operators: run in slices on
    /// single-threaded workers (forwardInSlices()), see probabilities().
    bool quantized = false;
    /// An int8 model reached with Classifier::setPrecision(Int8): the fp32 model it was
    /// quantised from, so setPrecision(Fp32) returns to it without reloading. Else null.
    std::shared_ptr<const LoadedModel> fp32;
    QString source;
    QString sha256;
    qint64 parameters = 0;
    QJsonObject card; ///< set through setCard()
    /// From the card's input.normalization, read once here rather than on every batch.
    InputNormalization normalization = InputNormalization::None;

    /// Sets the card and what predict() reads from it.
    void setCard(const QJsonObject& c);

    /// N x 3 x 64 x 64 -> N x 2 probabilities. Caller holds an InferenceMode/NoGrad guard.
    torch::Tensor probabilities(const torch::Tensor& input) const;
};

/// Sets m.inference from m.net (native models; nothing for TorchScript).
void buildInferenceNetwork(LoadedModel& m);

/// Wraps a network (e.g. a copy of the one being trained) as a classifier. `net` must not
/// be modified afterwards; it is switched to eval mode.
Classifier makeClassifier(CellNet net, Architecture arch, const QString& source,
                          const QJsonObject& card = {});

} // namespace ml
