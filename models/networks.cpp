#include "networks.h"

#include "preprocess.h"

#include <stdexcept>

namespace ml {

namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, bool same)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(same ? 1 : 0));
}

torch::Tensor leaky(const torch::Tensor& x)
{
    return torch::leaky_relu(x, 0.1);
}

torch::Tensor maxpool(const torch::Tensor& x)
{
    return torch::max_pool2d(x, {2, 2});
}

// Keras' defaults (glorot_uniform, zeros), so training behaves like the study's.
void kerasInit(torch::nn::Module& module)
{
    torch::NoGradGuard noGrad;
    for (auto& item : module.named_parameters(true)) {
        const std::string& name = item.key();
        torch::Tensor& p = item.value();
        const bool isBias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
        if (p.dim() >= 2)
            torch::nn::init::xavier_uniform_(p);
        else if (isBias)
            p.zero_();
        // BatchNorm weights stay 1 (a 1-D parameter that is not a bias).
    }
}

} // namespace

BaseNetImpl::BaseNetImpl()
{
    conv1 = register_module("conv1", conv3x3(3, 32, false));
    conv2 = register_module("conv2", conv3x3(32, 64, false));
    conv3 = register_module("conv3", conv3x3(64, 64, false));
    // 64 -> 62 -> 31 -> 29 -> 14 -> 12: 12 * 12 * 64 = 9216 features.
    fc1 = register_module("fc1", torch::nn::Linear(12 * 12 * 64, 64));
    fc2 = register_module("fc2", torch::nn::Linear(64, 2));
    kerasInit(*this);
}

torch::Tensor BaseNetImpl::forward(torch::Tensor x)
{
    x = maxpool(torch::relu(conv1(x)));
    x = maxpool(torch::relu(conv2(x)));
    x = torch::relu(conv3(x));
    x = x.flatten(1);
    x = torch::relu(fc1(x));
    return fc2(x);
}

GapNetImpl::GapNetImpl()
{
    conv1 = register_module("conv1", conv3x3(3, 32, true));
    conv2 = register_module("conv2", conv3x3(32, 64, true));
    conv3 = register_module("conv3", conv3x3(64, 128, true));
    fc1 = register_module("fc1", torch::nn::Linear(128, 128));
    fc2 = register_module("fc2", torch::nn::Linear(128, 2));
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    kerasInit(*this);
}

torch::Tensor GapNetImpl::forward(torch::Tensor x)
{
    x = maxpool(leaky(conv1(x)));
    x = maxpool(torch::silu(conv2(x)));
    x = leaky(conv3(x));
    x = x.mean({2, 3});
    x = dropout(torch::relu(fc1(x)));
    return fc2(x);
}

SeNetImpl::SeNetImpl()
{
    conv1 = register_module("conv1", conv3x3(3, 32, true));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(32));
    conv2 = register_module("conv2", conv3x3(32, 64, true));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(64));
    conv3 = register_module("conv3", conv3x3(64, 128, true));
    bn3 = register_module("bn3", torch::nn::BatchNorm2d(128));
    conv4 = register_module("conv4", conv3x3(128, 128, true));
    bn4 = register_module("bn4", torch::nn::BatchNorm2d(128));
    se1 = register_module("se1", torch::nn::Linear(128, 128 / 8));
    se2 = register_module("se2", torch::nn::Linear(128 / 8, 128));
    fc1 = register_module("fc1", torch::nn::Linear(128, 128));
    fc2 = register_module("fc2", torch::nn::Linear(128, 64));
    fc3 = register_module("fc3", torch::nn::Linear(64, 2));
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    kerasInit(*this);
}

torch::Tensor SeNetImpl::forward(torch::Tensor x)
{
    x = maxpool(leaky(bn1(conv1(x))));
    x = maxpool(torch::silu(bn2(conv2(x))));
    x = leaky(bn3(conv3(x)));
    x = leaky(bn4(conv4(x)));
    // Squeeze-and-excite: channel weights from the globally pooled features.
    torch::Tensor s = x.mean({2, 3});
    s = torch::sigmoid(se2(torch::relu(se1(s))));
    x = x * s.unsqueeze(2).unsqueeze(3);
    x = x.mean({2, 3});
    x = dropout(torch::relu(fc1(x)));
    x = dropout(torch::relu(fc2(x)));
    return fc3(x);
}

CellNet makeNetwork(Architecture arch)
{
    switch (arch) {
    case Architecture::Base: {
        // flatten() follows the logical C, H, W order whatever the memory format, so the
        // dense layer sees the same features as in a planar (or PyTorch/Keras) network.
        auto net = std::make_shared<BaseNetImpl>();
        toChannelsLast(*net);
        return net;
    }
    case Architecture::Gap: {
        auto net = std::make_shared<GapNetImpl>();
        toChannelsLast(*net);
        return net;
    }
    case Architecture::Se: {
        auto net = std::make_shared<SeNetImpl>();
        toChannelsLast(*net);
        return net;
    }
    }
    return nullptr;
}

qint64 countTrainableParameters(const torch::nn::Module& module)
{
    qint64 n = 0;
    for (const auto& p : module.parameters(true)) {
        if (p.requires_grad())
            n += p.numel();
    }
    return n;
}

void copyState(const torch::nn::Module& from, torch::nn::Module& to)
{
    torch::NoGradGuard noGrad;
    const auto srcParams = from.named_parameters(true);
    for (auto& item : to.named_parameters(true))
        item.value().copy_(srcParams[item.key()]);
    const auto srcBuffers = from.named_buffers(true);
    for (auto& item : to.named_buffers(true))
        item.value().copy_(srcBuffers[item.key()]);
}

void toChannelsLast(torch::nn::Module& module)
{
    torch::NoGradGuard noGrad;
    for (auto& p : module.parameters(true)) {
        if (p.dim() == 4)
            p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
}

torch::Tensor toInputTensor(const std::vector<cv::Mat>& images)
{
    torch::Tensor nhwc =
        torch::empty({int64_t(images.size()), kModelInputSize, kModelInputSize, 3});
    if (!packNhwc(images, nhwc.data_ptr<float>()))
        throw std::invalid_argument("images must be 64x64 CV_32FC3 (see preprocessImage())");
    // A view: NCHW sizes, NHWC memory (= channels-last), no copy.
    return nhwc.permute({0, 3, 1, 2});
}

qint64 trainableParameterCount(Architecture arch)
{
    const CellNet net = makeNetwork(arch);
    return net ? countTrainableParameters(*net) : 0;
}

} // namespace ml
