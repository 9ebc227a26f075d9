#include "gradcam.h"

#include "classifier_p.h"
#include "modelslog.h"
#include "networks.h"
#include "preprocess.h"

#include <QJsonObject>

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace ml {

namespace {

// The networks' forward() split at the last convolution: features() gives its activation
// map, head() the logits from it. The same operations as models/networks.cpp (tst_gradcam
// checks head(features(x)) == forward(x) for every architecture, so a change there that is
// not mirrored here fails a test rather than silently explaining another network).
torch::Tensor leaky(const torch::Tensor& x)
{
    return torch::leaky_relu(x, 0.1);
}

torch::Tensor pool(const torch::Tensor& x)
{
    return torch::max_pool2d(x, {2, 2});
}

struct SplitNet
{
    std::function<torch::Tensor(const torch::Tensor&)> features, head;
    QString layer;
};

std::optional<SplitNet> splitNetwork(CellNetImpl* net)
{
    if (auto* b = dynamic_cast<BaseNetImpl*>(net)) {
        return SplitNet{
            [b](const torch::Tensor& x) {
                torch::Tensor y = pool(torch::relu(b->conv1(x)));
                y = pool(torch::relu(b->conv2(y)));
                return torch::relu(b->conv3(y));
            },
            [b](const torch::Tensor& a) { return b->fc2(torch::relu(b->fc1(a.flatten(1)))); },
            QStringLiteral("conv3")};
    }
    if (auto* g = dynamic_cast<GapNetImpl*>(net)) {
        return SplitNet{[g](const torch::Tensor& x) {
                            torch::Tensor y = pool(leaky(g->conv1(x)));
                            y = pool(torch::silu(g->conv2(y)));
                            return leaky(g->conv3(y));
                        },
                        [g](const torch::Tensor& a) {
                            return g->fc2(g->dropout(torch::relu(g->fc1(a.mean({2, 3})))));
                        },
                        QStringLiteral("conv3")};
    }
    if (auto* s = dynamic_cast<SeNetImpl*>(net)) {
        return SplitNet{[s](const torch::Tensor& x) {
                            torch::Tensor y = pool(leaky(s->bn1(s->conv1(x))));
                            y = pool(torch::silu(s->bn2(s->conv2(y))));
                            y = leaky(s->bn3(s->conv3(y)));
                            return leaky(s->bn4(s->conv4(y)));
                        },
                        [s](const torch::Tensor& a) {
                            torch::Tensor w = a.mean({2, 3});
                            w = torch::sigmoid(s->se2(torch::relu(s->se1(w))));
                            torch::Tensor y = (a * w.unsqueeze(2).unsqueeze(3)).mean({2, 3});
                            y = s->dropout(torch::relu(s->fc1(y)));
                            y = s->dropout(torch::relu(s->fc2(y)));
                            return s->fc3(y);
                        },
                        QStringLiteral("conv4")};
    }
    return std::nullopt;
}

QString firstLine(const char* what)
{
    return QString::fromUtf8(what).section(QLatin1Char('\n'), 0, 0);
}

int targetFor(const ExplainOptions& o, float probability)
{
    if (o.targetClass == 0 || o.targetClass == 1)
        return o.targetClass;
    return probability >= o.threshold ? 0 : 1;
}

// Scales to [0,1] by the maximum; an all-zero map (no evidence) stays zero.
cv::Mat normalised(cv::Mat m)
{
    double maxValue = 0;
    cv::minMaxLoc(m, nullptr, &maxValue);
    if (maxValue > 0)
        m /= maxValue;
    return m;
}

Explanation gradCam(const Classifier& classifier, const cv::Mat& rgb, Explanation e)
{
    const LoadedModel& model = *classifier.loadedModel();
    const std::optional<SplitNet> split = splitNetwork(model.net.get());
    if (!split) {
        e.error = QStringLiteral("Grad-CAM does not know the layers of this network");
        return e;
    }
    // What predict() feeds the network: colour-normalised when the model's card says so.
    const InputNormalization norm =
        inputNormalizationFromName(model.card.value(QStringLiteral("input"))
                                       .toObject()
                                       .value(QStringLiteral("normalization"))
                                       .toString());
    const torch::Tensor input =
        toInputTensor({norm == InputNormalization::None ? rgb : normalizeColour(rgb, norm)});
    torch::Tensor activation;
    {
        torch::NoGradGuard noGrad; // no graph through the convolutions before the last one
        activation = split->features(input);
    }
    // A leaf that needs a gradient: the gradient is taken with respect to the activations
    // only, so the shared weights are never touched (no .grad accumulates on them).
    activation = activation.detach().clone().requires_grad_(true);
    const torch::Tensor logits = split->head(activation);
    // Self-check: the split pass must give predict()'s probability, or this code has gone
    // out of step with models/networks.cpp and would explain another network.
    const float splitP = torch::softmax(logits.detach(), 1)[0][0].item<float>();
    if (model.outputsProbabilities || std::abs(splitP - e.probability) > 2e-3f) {
        e.error = QStringLiteral("Grad-CAM's copy of the %1 network disagrees with the model "
                                 "(%2 vs %3); use occlusion")
                      .arg(architectureName(model.arch))
                      .arg(double(splitP))
                      .arg(double(e.probability));
        return e;
    }
    const torch::Tensor score = logits.select(1, e.targetClass).sum();
    const torch::Tensor grad = torch::autograd::grad({score}, {activation})[0];
    torch::Tensor cam;
    {
        torch::NoGradGuard noGrad;
        const torch::Tensor weights = grad.mean({2, 3}, /*keepdim=*/true); // N x C x 1 x 1
        cam = torch::relu((weights * activation).sum(1, /*keepdim=*/true));
        cam = torch::upsample_bilinear2d(cam, {kModelInputSize, kModelInputSize},
                                         /*align_corners=*/false);
        cam = cam.squeeze().contiguous().to(torch::kFloat);
    }
    cv::Mat heat(kModelInputSize, kModelInputSize, CV_32FC1);
    std::copy_n(cam.data_ptr<float>(), kModelInputSize * kModelInputSize, heat.ptr<float>());
    e.heatmap = normalised(heat);
    e.layer = split->layer;
    e.method = ExplainMethod::GradCam;
    return e;
}

Explanation occlusion(const Classifier& classifier, const cv::Mat& rgb, const ExplainOptions& o,
                      Explanation e)
{
    const int patch = std::clamp(o.occlusionPatch, 2, kModelInputSize);
    const int stride = std::clamp(o.occlusionStride, 1, patch);
    // Occluded with the cell's mean colour: a patch of plain "average" carries no structure
    // but no out-of-distribution colour either.
    const cv::Scalar mean = cv::mean(rgb);
    std::vector<cv::Mat> images;
    std::vector<cv::Rect> rects;
    for (int y = 0; y + patch <= kModelInputSize; y += stride) {
        for (int x = 0; x + patch <= kModelInputSize; x += stride) {
            cv::Mat m = rgb.clone();
            m(cv::Rect(x, y, patch, patch)).setTo(mean);
            images.push_back(m);
            rects.emplace_back(x, y, patch, patch);
        }
    }
    cv::Mat sum = cv::Mat::zeros(kModelInputSize, kModelInputSize, CV_32FC1);
    cv::Mat count = cv::Mat::zeros(kModelInputSize, kModelInputSize, CV_32FC1);
    const float base = e.targetClass == 0 ? e.probability : 1.f - e.probability;
    constexpr size_t kBatch = 64;
    for (size_t start = 0; start < images.size(); start += kBatch) {
        const std::vector<cv::Mat> batch(images.begin() + long(start),
                                         images.begin() +
                                             long(std::min(images.size(), start + kBatch)));
        QString error;
        const std::optional<std::vector<float>> p = classifier.predict(batch, &error);
        if (!p) {
            e.error = error;
            return e;
        }
        for (size_t k = 0; k < p->size(); ++k) {
            const float occluded = e.targetClass == 0 ? (*p)[k] : 1.f - (*p)[k];
            // Only a drop is evidence for the class; a rise means the patch spoke against it.
            const float drop = std::max(0.f, base - occluded);
            cv::Mat s = sum(rects[start + k]), c = count(rects[start + k]);
            s += drop;
            c += 1.f;
        }
    }
    cv::Mat heat;
    cv::divide(sum, cv::max(count, 1.f), heat);
    e.heatmap = normalised(heat);
    e.layer = QStringLiteral("input");
    e.method = ExplainMethod::Occlusion;
    return e;
}

} // namespace

QString explainMethodName(ExplainMethod method)
{
    switch (method) {
    case ExplainMethod::Auto:
        return QStringLiteral("auto");
    case ExplainMethod::GradCam:
        return QStringLiteral("grad-cam");
    case ExplainMethod::Occlusion:
        return QStringLiteral("occlusion");
    }
    return {};
}

ExplainMethod explainMethodFromName(const QString& name, bool* ok)
{
    for (ExplainMethod m :
         {ExplainMethod::Auto, ExplainMethod::GradCam, ExplainMethod::Occlusion}) {
        if (name.compare(explainMethodName(m), Qt::CaseInsensitive) == 0) {
            if (ok)
                *ok = true;
            return m;
        }
    }
    if (ok)
        *ok = false;
    return ExplainMethod::Auto;
}

Explanation explainCell(const Classifier& classifier, const cv::Mat& rgb,
                        const ExplainOptions& options)
{
    Explanation e;
    if (!classifier.isLoaded()) {
        e.error = QStringLiteral("no model is loaded");
        return e;
    }
    if (rgb.type() != CV_32FC3 || rgb.rows != kModelInputSize || rgb.cols != kModelInputSize) {
        e.error = QStringLiteral("the cell must be a preprocessed 64x64 RGB image");
        return e;
    }
    try {
        QString error;
        const std::optional<std::vector<float>> p = classifier.predict({rgb}, &error);
        if (!p || p->empty()) {
            e.error = error;
            return e;
        }
        e.probability = p->front();
        e.targetClass = targetFor(options, e.probability);
        const bool native = classifier.loadedModel()->kind == LoadedModel::Kind::Native;
        ExplainMethod method = options.method;
        if (method == ExplainMethod::Auto)
            method = native ? ExplainMethod::GradCam : ExplainMethod::Occlusion;
        if (method == ExplainMethod::GradCam && !native) {
            e.error = QStringLiteral("Grad-CAM needs the layers of a native model; this is a "
                                     "TorchScript model (use occlusion)");
            return e;
        }
        if (method == ExplainMethod::GradCam) {
            Explanation g = gradCam(classifier, rgb, e);
            // Auto: a model whose forward pass Grad-CAM cannot reproduce is still explained,
            // by occlusion, which only calls predict().
            if (g.ok() || options.method == ExplainMethod::GradCam)
                return g;
            qCInfo(lcModels) << g.error << "- falling back to occlusion";
        }
        return occlusion(classifier, rgb, options, e);
    } catch (const std::exception& ex) {
        e.heatmap.release();
        e.error = QStringLiteral("explanation failed: %1").arg(firstLine(ex.what()));
        qCWarning(lcModels) << e.error;
        return e;
    }
}

Explanation explainFile(const Classifier& classifier, const QString& path,
                        const ExplainOptions& options)
{
    const PreprocessedImage image = loadPreprocessed(path);
    if (!image.ok()) {
        Explanation e;
        e.error = QStringLiteral("%1: %2").arg(path, image.error);
        return e;
    }
    return explainCell(classifier, image.rgb, options);
}

} // namespace ml
