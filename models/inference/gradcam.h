#pragma once
// Why a cell was called what it was: a heatmap over the cell of where the evidence lies.
// Grad-CAM on the last convolution layer for the native networks (base, gap, se); occlusion
// sensitivity for models whose layers are out of reach (TorchScript). No torch here.

#include "classifier.h"

#include <QString>

#include <opencv2/core/mat.hpp>

namespace ml {

enum class ExplainMethod {
    Auto,      ///< Grad-CAM when the model's layers are known, otherwise occlusion
    GradCam,   ///< native models only
    Occlusion, ///< any model (runs the model once per occluded patch)
};

/// "auto", "grad-cam", "occlusion" (and back; unknown names give Auto and *ok = false).
QString explainMethodName(ExplainMethod method);
ExplainMethod explainMethodFromName(const QString& name, bool* ok = nullptr);

struct ExplainOptions
{
    ExplainMethod method = ExplainMethod::Auto;
    /// Class whose evidence is shown: 0 Parasitized, 1 Uninfected, -1 the predicted one
    /// (P(Parasitized) >= threshold).
    int targetClass = -1;
    double threshold = 0.5;
    int occlusionPatch = 12; ///< square patch edge in input pixels (of 64)
    int occlusionStride = 4;
};

/// A heatmap of one cell.
struct Explanation
{
    /// kModelInputSize² CV_32FC1 in [0,1] (1 = the strongest evidence); it covers the whole
    /// image, so resize it to the image's size to overlay it. Empty on failure.
    cv::Mat heatmap;
    float probability = -1;                     ///< P(Parasitized) of the cell
    int targetClass = -1;                       ///< the class explained
    ExplainMethod method = ExplainMethod::Auto; ///< the method that ran
    QString layer; ///< Grad-CAM: the layer ("conv3", "conv4"); occlusion: "input"
    QString error; ///< why no heatmap could be made
    bool ok() const { return error.isEmpty() && !heatmap.empty(); }
};

/// Explains `rgb` (preprocessImage() output: 64x64 CV_32FC3 RGB [0,1]). Thread-safe like
/// Classifier::predict() (the network is only read; gradients are taken with respect to
/// the activations, never the weights). Uses the calling thread's libtorch thread budget.
/// Never throws.
Explanation explainCell(const Classifier& classifier, const cv::Mat& rgb,
                        const ExplainOptions& options = {});

/// Decodes and preprocesses `path` (read only), then explainCell().
Explanation explainFile(const Classifier& classifier, const QString& path,
                        const ExplainOptions& options = {});

} // namespace ml
