#include "batchnormstatistics.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include <vector>

namespace ml {

int recomputeBatchNormStatistics(CellNetImpl& net, const std::function<torch::Tensor(int)>& batch,
                                 int batches)
{
    std::vector<torch::nn::BatchNorm2dImpl*> layers;
    for (const auto& m : net.modules(/*include_self=*/false)) {
        if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get()))
            layers.push_back(bn);
    }
    if (layers.empty() || batches < 1)
        return 0;
    std::vector<c10::optional<double>> momentum;
    for (auto* bn : layers) {
        momentum.push_back(bn->options.momentum());
        bn->reset_running_stats();
        // No momentum: libtorch then averages cumulatively, 1 / num_batches_tracked.
        bn->options.momentum(c10::nullopt);
    }
    net.train();
    {
        torch::NoGradGuard noGrad;
        for (int i = 0; i < batches; ++i)
            net.forward(batch(i));
    }
    for (size_t k = 0; k < layers.size(); ++k)
        layers[k]->options.momentum(momentum[k]);
    return int(layers.size());
}

} // namespace ml
