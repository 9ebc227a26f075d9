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

/// Builds a freshly initialised network of `arch` (training mode).
CellNet makeNetwork(Architecture arch);

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
