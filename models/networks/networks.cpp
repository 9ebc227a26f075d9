#include "networks.h"

#include "preprocess.h"

#include <QSemaphore>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

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
    // The study's function (conv, BatchNorm, activation, pool; squeeze-and-excite; dense) in
    // a cheaper order that gives the same floats, forward and backward, because this pass and
    // its backward pass are the trainer's whole step (tst_networks compares outputs, gradients
    // and BatchNorm statistics with the study's order; a gradient differs only where two
    // inputs of a pool window round to one LeakyReLU output, and then by one element's share):
    //  - LeakyReLU is strictly increasing, so it commutes with the max-pool: it runs on the
    //    pooled quarter of the first layer's elements. SiLU is not monotonic and stays before
    //    its pool.
    //  - LeakyReLU runs in place: BatchNorm's and max-pool's backward passes read their inputs,
    //    not their outputs, and LeakyReLU's reads its own output. SiLU's reads its input.
    // Not done, measured: the excitation's gate times the squeeze instead of the mean of the
    // gated map (+4 % more) changes the rounding, and so every training run's result.
    x = maxpool(bn1(conv1(x)));
    torch::leaky_relu_(x, 0.1);
    x = maxpool(torch::silu(bn2(conv2(x))));
    x = bn3(conv3(x));
    torch::leaky_relu_(x, 0.1);
    x = bn4(conv4(x));
    torch::leaky_relu_(x, 0.1);
    // Squeeze-and-excite: channel weights from the globally pooled features.
    torch::Tensor s = x.mean({2, 3});
    s = torch::sigmoid(se2(torch::relu(se1(s))));
    x = x * s.unsqueeze(2).unsqueeze(3);
    x = x.mean({2, 3});
    x = dropout(torch::relu(fc1(x)));
    x = dropout(torch::relu(fc2(x)));
    return fc3(x);
}

namespace {

// BatchNorm (eval) folded into the convolution before it, computed in double so the folded
// weights carry no more rounding than the unfused model's two float steps.
void foldBatchNorm(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn,
                   torch::Tensor& weight, torch::Tensor& bias)
{
    const auto d = torch::kDouble;
    const torch::Tensor scale =
        bn->weight.to(d) / torch::sqrt(bn->running_var.to(d) + bn->options.eps());
    weight = (conv->weight.to(d) * scale.view({-1, 1, 1, 1}))
                 .to(torch::kFloat)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor convBias =
        conv->bias.defined() ? conv->bias.to(d) : torch::zeros_like(scale);
    bias = ((convBias - bn->running_mean.to(d)) * scale + bn->bias.to(d)).to(torch::kFloat);
}

torch::Tensor frozenCopy(const torch::Tensor& t)
{
    return t.detach().clone();
}

} // namespace

SeInferenceNetImpl::SeInferenceNetImpl(const SeNetImpl& trained, int64_t sliceSize)
    : m_sliceSize(sliceSize)
{
    torch::NoGradGuard noGrad;
    foldBatchNorm(trained.conv1, trained.bn1, m_w1, m_b1);
    foldBatchNorm(trained.conv2, trained.bn2, m_w2, m_b2);
    foldBatchNorm(trained.conv3, trained.bn3, m_w3, m_b3);
    foldBatchNorm(trained.conv4, trained.bn4, m_w4, m_b4);
    m_se1w = frozenCopy(trained.se1->weight);
    m_se1b = frozenCopy(trained.se1->bias);
    m_se2w = frozenCopy(trained.se2->weight);
    m_se2b = frozenCopy(trained.se2->bias);
    m_fc1w = frozenCopy(trained.fc1->weight);
    m_fc1b = frozenCopy(trained.fc1->bias);
    m_fc2w = frozenCopy(trained.fc2->weight);
    m_fc2b = frozenCopy(trained.fc2->bias);
    m_fc3w = frozenCopy(trained.fc3->weight);
    m_fc3b = frozenCopy(trained.fc3->bias);
    // Buffers, not parameters: nothing here is trainable, and module.to()/buffers() see them.
    int i = 0;
    for (torch::Tensor* t :
         {&m_w1, &m_b1, &m_w2, &m_b2, &m_w3, &m_b3, &m_w4, &m_b4, &m_se1w, &m_se1b, &m_se2w,
          &m_se2b, &m_fc1w, &m_fc1b, &m_fc2w, &m_fc2b, &m_fc3w, &m_fc3b})
        *t = register_buffer("t" + std::to_string(i++), *t);
    eval();
}

namespace {

// Threads that run the slices of SeInferenceNetImpl::forward(), each with one intra-op
// thread. Private to this file: only slice tasks run here and they never wait for other
// tasks, so callers on any thread can share it without deadlock; it also caps the slice
// threads of simultaneous callers at the core count.
QThreadPool& slicePool()
{
    static QThreadPool* pool = [] {
        auto* p = new QThreadPool; // never destroyed: may be used until exit
        p->setMaxThreadCount(std::max(2, QThread::idealThreadCount()));
        return p;
    }();
    return *pool;
}

} // namespace

torch::Tensor forwardInSlices(const torch::Tensor& x, int64_t sliceSize,
                              const std::function<torch::Tensor(const torch::Tensor&)>& slice)
{
    const int64_t threads = at::get_num_threads();
    if (sliceSize < 1 || x.size(0) <= sliceSize)
        return slice(x);
    const std::vector<torch::Tensor> slices = x.split(sliceSize);
    const int64_t n = int64_t(slices.size());
    std::vector<torch::Tensor> outputs(slices.size());
    if (threads <= 1) {
        for (int64_t i = 0; i < n; ++i)
            outputs[size_t(i)] = slice(slices[size_t(i)]);
        return torch::cat(outputs);
    }
    // The caller's intra-op budget becomes that many slice threads, each running whole
    // slices with single-threaded operators, instead of OpenMP splitting each of the ~20
    // operators of every slice. Measured on this 2-core machine: libgomp's team threads
    // spin-wait at every operator's barrier and between parallel regions, and when the
    // cores are shared (a decoding thread, other programs) that spinning took up to 8x the
    // CPU per image. Threads that block instead of spinning, no per-operator barrier, and
    // slices handed out from a shared counter (a thread that loses its core for a moment
    // simply takes fewer) keep the work per image at its single-thread cost.
    std::atomic<int64_t> next{0};
    const int64_t tasks = std::min(threads, n);
    std::vector<std::exception_ptr> errors(size_t(tasks), nullptr);
    QSemaphore done;
    for (int64_t k = 0; k < tasks; ++k) {
        slicePool().start([&, k] {
            try {
                if (at::get_num_threads() != 1)
                    at::set_num_threads(1);
                // Thread-local modes do not follow into pool threads; slices are inference
                // only, whatever the caller's mode.
                c10::InferenceMode guard;
                for (int64_t i = next++; i < n; i = next++)
                    outputs[size_t(i)] = slice(slices[size_t(i)]);
            } catch (...) {
                errors[size_t(k)] = std::current_exception();
                next = n; // the others stop after their current slice
            }
            done.release();
        });
    }
    done.acquire(int(tasks));
    for (const std::exception_ptr& e : errors) {
        if (e)
            std::rethrow_exception(e);
    }
    return torch::cat(outputs);
}

torch::Tensor SeInferenceNetImpl::forward(torch::Tensor x)
{
    return forwardInSlices(x, m_sliceSize,
                           [this](const torch::Tensor& s) { return forwardSlice(s); });
}

torch::Tensor SeInferenceNetImpl::forwardSlice(const torch::Tensor& input)
{
    // Same function as SeNetImpl::forward() in eval mode; see the header for each change.
    torch::Tensor x = maxpool(torch::conv2d(input, m_w1, m_b1, 1, 1));
    torch::leaky_relu_(x, 0.1);
    x = torch::conv2d(x, m_w2, m_b2, 1, 1);
    // silu is not monotonic: it has to run before the pool.
    torch::silu_(x);
    x = maxpool(x);
    x = torch::conv2d(x, m_w3, m_b3, 1, 1);
    torch::leaky_relu_(x, 0.1);
    x = torch::conv2d(x, m_w4, m_b4, 1, 1);
    torch::leaky_relu_(x, 0.1);
    const torch::Tensor squeezed = x.mean({2, 3});
    const torch::Tensor gate = torch::sigmoid(
        torch::linear(torch::relu(torch::linear(squeezed, m_se1w, m_se1b)), m_se2w, m_se2b));
    torch::Tensor f = gate * squeezed;
    f = torch::relu(torch::linear(f, m_fc1w, m_fc1b));
    f = torch::relu(torch::linear(f, m_fc2w, m_fc2b));
    return torch::linear(f, m_fc3w, m_fc3b);
}

CellNet makeInferenceNetwork(const CellNetImpl& net, Architecture arch)
{
    if (arch != Architecture::Se)
        return nullptr;
    const auto* se = dynamic_cast<const SeNetImpl*>(&net);
    if (!se)
        return nullptr;
    return std::make_shared<SeInferenceNetImpl>(*se);
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
