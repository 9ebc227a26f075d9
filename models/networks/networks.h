#pragma once
// The study's CNNs as libtorch C++ modules. Internal to the models library: include only
// from models/*.cpp (and tests that need tensors), never from public headers.
//
// Input: N x 3 x 64 x 64 float RGB in [0,1]. Output: N x 2 logits (0 = Parasitized).
// Layer choices follow the Keras originals so the parameter counts match exactly:
// Keras "valid" = no padding, "same" = padding 1 for 3x3 kernels; Dense = Linear with bias;
// Glorot-uniform weights and zero biases (Keras' defaults).

#include "architecture.h"

#include <torch/torch.h>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <vector>

namespace ml {

/// Common interface of the three networks so the classifier and trainer hold any of them.
struct CellNetImpl : torch::nn::Module
{
    virtual torch::Tensor forward(torch::Tensor x) = 0;
};
using CellNet = std::shared_ptr<CellNetImpl>;

/// base: conv 32 (valid, relu) -> maxpool -> conv 64 -> maxpool -> conv 64 -> flatten ->
/// dense 64 (relu) -> dense 2. 646,338 parameters.
struct BaseNetImpl : CellNetImpl
{
    BaseNetImpl();
    torch::Tensor forward(torch::Tensor x) override;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

/// gap: conv 32 (same, LeakyReLU 0.1) -> maxpool -> conv 64 (swish) -> maxpool ->
/// conv 128 (LeakyReLU) -> global average pool -> dense 128 (relu) -> dropout 0.5 -> dense 2.
/// 110,018 parameters.
struct GapNetImpl : CellNetImpl
{
    GapNetImpl();
    torch::Tensor forward(torch::Tensor x) override;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    torch::nn::Dropout dropout{nullptr};
};

/// se: gap with BatchNorm after each conv, a fourth conv 128 (LeakyReLU), a
/// squeeze-and-excite block (ratio 8: 128 -> 16 -> 128, sigmoid gate) before the global
/// average pool, then dense 128 -> dropout -> dense 64 -> dropout -> dense 2.
/// 270,674 trainable parameters (+ 768 BatchNorm running statistics).
struct SeNetImpl : CellNetImpl
{
    SeNetImpl();
    torch::Tensor forward(torch::Tensor x) override;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr};
    torch::nn::Linear se1{nullptr}, se2{nullptr};
    torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
    torch::nn::Dropout dropout{nullptr};
};

/// Images per slice of SeInferenceNetImpl::forward() (see there; measured in
/// docs/BENCHMARKS.md "Inference").
inline constexpr int64_t kInferenceSliceSize = 16;

/// Inference-only form of a trained se network, built by makeInferenceNetwork(). Computes
/// the same function as SeNetImpl in eval mode (outputs equal up to float rounding, tested
/// on real cells in tst_fusedinference) with less memory traffic:
///  - each BatchNorm folded into the convolution before it (w' = w * g / sqrt(var + eps),
///    b' = (b - mean) * g / sqrt(var + eps) + beta): one pass over the activations less;
///  - activations applied in place, and block 1 pools *before* its LeakyReLU (exact: a
///    monotonic function commutes with max), a quarter of the elements;
///  - squeeze-and-excite then global average pool as gate * mean(x) (= mean(x * gate)),
///    reusing the squeeze's mean instead of scaling the whole feature map;
///  - dropout left out (identity in eval);
///  - large batches run in slices of kInferenceSliceSize so the activations of one slice
///    stay in the CPU cache instead of streaming ~130 MB per layer through memory;
///  - the calling thread's intra-op budget (at::get_num_threads()) becomes that many
///    threads of a private pool, each running whole slices single-threaded, instead of
///    OpenMP threads splitting every operator (whose spin-waiting collapsed throughput when
///    the 2 cores are shared with decoding). The caller blocks until its slices are done.
/// Holds copies of the weights (buffers, no parameters): never trained, never saved.
struct SeInferenceNetImpl : CellNetImpl
{
    /// Copies and folds the weights of `trained` (which is not modified). `sliceSize` < 1
    /// runs every batch whole.
    explicit SeInferenceNetImpl(const SeNetImpl& trained, int64_t sliceSize = kInferenceSliceSize);
    torch::Tensor forward(torch::Tensor x) override;

private:
    torch::Tensor forwardSlice(const torch::Tensor& x);
    int64_t m_sliceSize;
    torch::Tensor m_w1, m_b1, m_w2, m_b2, m_w3, m_b3, m_w4, m_b4;
    torch::Tensor m_se1w, m_se1b, m_se2w, m_se2b;
    torch::Tensor m_fc1w, m_fc1b, m_fc2w, m_fc2b, m_fc3w, m_fc3b;
};

/// Runs `slice` over `x` (N x ...) in pieces of `sliceSize` images along dimension 0 and
/// concatenates the outputs; `x` whole when sliceSize < 1 or N <= sliceSize. The calling
/// thread's intra-op budget (at::get_num_threads()) becomes that many threads of a private
/// pool, each running whole slices with one intra-op thread and under InferenceMode; the
/// caller blocks until all are done. An exception of `slice` is rethrown here. For inference
/// only: SeInferenceNetImpl and quantised TorchScript models (Classifier) run through it.
torch::Tensor forwardInSlices(const torch::Tensor& x, int64_t sliceSize,
                              const std::function<torch::Tensor(const torch::Tensor&)>& slice);

/// Builds a freshly initialised network of `arch` (training mode).
CellNet makeNetwork(Architecture arch);

/// An inference-only copy of the trained `net` of architecture `arch` that computes the same
/// outputs faster (SeInferenceNetImpl for se), or nullptr when there is none for `arch` (run
/// `net` itself then). `net` is not modified and stays what training, saving and Grad-CAM
/// use. Call under a NoGrad/Inference guard or not: the copy holds no gradients either way.
CellNet makeInferenceNetwork(const CellNetImpl& net, Architecture arch);

/// Number of elements of every parameter that requires a gradient.
qint64 countTrainableParameters(const torch::nn::Module& module);

/// Stores every 4-D parameter (conv weights) in channels-last memory format. With
/// channels-last input (toInputTensor()) oneDNN runs the convolutions without reordering:
/// measured here 3.6x faster training and 1.5x faster inference than planar NCHW.
void toChannelsLast(torch::nn::Module& module);

/// N x 3 x size x size float tensor (channels-last memory) holding `images`
/// (preprocessImage() output). Throws std::invalid_argument for a wrong image shape.
torch::Tensor toInputTensor(const std::vector<cv::Mat>& images);

/// Copies every parameter and buffer of `from` into `to` (same architecture). Used to keep
/// and restore the best weights and to publish a frozen copy of a network being trained.
void copyState(const torch::nn::Module& from, torch::nn::Module& to);

} // namespace ml
