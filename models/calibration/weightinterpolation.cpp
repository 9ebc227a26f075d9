#include "weightinterpolation.h"

#include "classifier_p.h"
#include "networks.h"

#include <torch/torch.h>

namespace ml {

namespace {

// out = share * a + (1 - share) * b for floating tensors; integer ones keep b's value.
void mix(torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b, double share)
{
    if (!out.is_floating_point()) {
        out.copy_(b);
        return;
    }
    out.copy_(a * share + b * (1.0 - share));
}

} // namespace

Classifier interpolateWeights(const Classifier& start, const Classifier& adapted, double startShare,
                              QString* error)
{
    const auto fail = [error](const QString& why) {
        if (error)
            *error = why;
        return Classifier();
    };
    const auto& a = start.loadedModel();
    const auto& b = adapted.loadedModel();
    if (!a || !b || a->kind != LoadedModel::Kind::Native || b->kind != LoadedModel::Kind::Native)
        return fail(QStringLiteral("only two native models can be interpolated"));
    if (a->arch != b->arch)
        return fail(QStringLiteral("the models' architectures differ (%1, %2)")
                        .arg(start.architecture(), adapted.architecture()));
    try {
        CellNet net = makeNetwork(b->arch);
        torch::NoGradGuard noGrad;
        const auto aParams = a->net->named_parameters(true);
        const auto bParams = b->net->named_parameters(true);
        for (auto& item : net->named_parameters(true))
            mix(item.value(), aParams[item.key()], bParams[item.key()], startShare);
        const auto aBuffers = a->net->named_buffers(true);
        const auto bBuffers = b->net->named_buffers(true);
        for (auto& item : net->named_buffers(true))
            mix(item.value(), aBuffers[item.key()], bBuffers[item.key()], startShare);
        toChannelsLast(*net);
        return makeClassifier(net, b->arch, adapted.source(), adapted.card());
    } catch (const std::exception& e) {
        return fail(QStringLiteral("could not interpolate the weights: %1").arg(e.what()));
    }
}

} // namespace ml
