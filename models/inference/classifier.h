#pragma once
// A loaded cell classifier: the network plus its model card. No torch in this header.
//
// Formats that load:
//  - native: written by Classifier::save() / the trainer (a libtorch archive holding the
//    architecture name and the weights of a base, gap or se network);
//  - TorchScript: saved from Python with torch.jit.save(torch.jit.script/trace(model)),
//    taking N x 3 x 64 x 64 float RGB in [0,1] and returning N x 2 logits (class 0 =
//    Parasitized). A card beside it with "output": "probabilities" skips the softmax;
//  - the embedded default model (Qt resource :/models/default.pt + default.json).
// The model card of a file model is read from the JSON file beside it (same name, suffix
// .json) when present.

#include "architecture.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <opencv2/core/mat.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace ml {

struct LoadedModel;

/// The arithmetic a classifier's network runs in.
///  - Fp32: float weights and activations (native models, most TorchScript models);
///  - Int8: a post-training statically quantised model (int8 convolutions, float head), made
///    from an fp32 se model by scripts/quantize.py and saved as TorchScript.
enum class Precision { Fp32, Int8 };
/// "fp32" / "int8".
QString precisionName(Precision p);
/// The precision named `name` ("fp32", "int8"; case-insensitive), nullopt for anything else.
std::optional<Precision> precisionFromName(const QString& name);

/// The model card beside a model file: <dir>/<base>.json (what load() reads and save() writes).
QString cardPathForModel(const QString& modelPath);

/// Copyable value holding a shared, immutable loaded model.
///
/// Loading never throws: a failed load returns false, errorString() names the file and the
/// reason, and the previously loaded model stays active. predict() is const and may be
/// called from several threads at once (the network is in eval mode and never modified);
/// it runs libtorch with the intra-op thread budget of the calling thread (setTorchThreads()).
/// Copies share the network, so handing a Classifier to a worker thread is cheap.
class Classifier
{
public:
    Classifier();
    ~Classifier();
    Classifier(const Classifier&);
    Classifier& operator=(const Classifier&);

    /// Loads a native or TorchScript model file (format detected from the content).
    bool load(const QString& path);
    /// Same for bytes in memory; `name` is used in messages and as source().
    bool loadData(const QByteArray& data, const QString& name, const QJsonObject& card = {});
    /// Loads the default model embedded in the application.
    bool loadEmbedded();
    /// A freshly initialised (untrained) network of `arch`, seeded with `seed`: the start of
    /// a training from scratch, and a model of known shape for tests.
    static Classifier createUntrained(Architecture arch, quint64 seed = 0);
    /// True when this build carries the embedded default model.
    static bool hasEmbeddedModel();

    /// Writes a native model to `path` atomically (QSaveFile), and its card (when not empty)
    /// beside it as <path without suffix>.json. Only native models can be saved.
    bool save(const QString& path, QString* error = nullptr) const;
    /// The native archive bytes (what save() writes); empty for TorchScript models.
    QByteArray serialize(QString* error = nullptr) const;

    bool isLoaded() const;
    /// Why the last load failed ("<file>: <reason>"); empty after a successful load.
    QString errorString() const;
    /// File path, ":/models/default.pt" or a name given by the trainer.
    QString source() const;
    /// "base", "gap", "se" or "torchscript".
    QString architecture() const;
    /// "native" or "torchscript".
    QString format() const;
    qint64 parameterCount() const;
    /// The model card (architecture, training data, validation metrics, ...). A minimal card
    /// (architecture, parameters, source) when the model came without one.
    QJsonObject card() const;
    /// The card's decision threshold (P(Parasitized) from which a cell is called
    /// parasitized; a lab-calibrated model carries its lab's), or 0.5 when the card has none
    /// or one outside (0, 1).
    double cardThreshold() const;
    /// SHA-256 (hex) of the bytes the model was loaded from; empty for a model that was
    /// never loaded from bytes (a freshly trained one: hash serialize() to identify it).
    QString weightsSha256() const;
    /// Replaces the card (the trainer fills it after validation).
    void setCard(const QJsonObject& card);

    /// The precision predict() runs in: Int8 for a TorchScript model whose graph holds
    /// quantised operators, else Fp32. Read from the network itself, not from the card.
    Precision precision() const;
    /// Where this model's int8 companion is looked for: <file without suffix>.int8.pt beside a
    /// model file (its card <...>.int8.json beside it), :/models/default.int8.pt for the
    /// embedded model; empty for a model that did not come from a file (trainer, tests).
    QString int8CompanionPath() const;
    /// Makes predict() run in `wanted`. Int8 of an fp32 model loads its companion
    /// (int8CompanionPath()), which must have been quantised from these very weights: its
    /// card's quantization.source_weights_sha256 equals weightsSha256(). Fp32 of an int8 model
    /// loads the fp32 file it was made from (quantization.source_model beside it).
    /// In int8 the card stays the fp32 model's (threshold, error rates, domain, lab
    /// calibration), plus precision and quantization, except validation_on_fields when the
    /// int8 card measured its own (int8 decides field detections measurably differently).
    /// An int8 model runs its 16-cell slices on one intra-op thread whatever the calling
    /// thread's budget (faster than two on 2 cores, docs/BENCHMARKS.md).
    /// Returns true when predict() now runs in `wanted` (also when it already did). Otherwise
    /// the model is unchanged, false is returned and precisionNote() says, in a sentence for
    /// the user, what was asked, why it is not available and what runs instead; callers must
    /// show it (never a silent fallback). Thread: not for a Classifier other threads use.
    bool setPrecision(Precision wanted);
    /// Why the model runs in a precision other than the one last asked for with
    /// setPrecision() ("int8 was asked for but ...: running fp32"); empty when it runs what
    /// was asked (or nothing was asked). Cleared by every load.
    QString precisionNote() const;

    /// Probability of Parasitized (softmax output 0) for each image; images are
    /// kModelInputSize² CV_32FC3 RGB in [0,1] as preprocessImage() returns. nullopt (and
    /// `error`) when no model is loaded, an image has the wrong shape, or libtorch fails.
    std::optional<std::vector<float>> predict(const std::vector<cv::Mat>& images,
                                              QString* error = nullptr) const;
    /// predict() of images that are already modelInput() of a preprocessImage() output: the
    /// model's input normalisation is not applied again. For batch pipelines that normalise
    /// in their decoding threads (classifyDataset()) so the network thread only runs the
    /// network; the probabilities are exactly predict()'s.
    std::optional<std::vector<float>> predictModelInputs(const std::vector<cv::Mat>& inputs,
                                                         QString* error = nullptr) const;

    /// What the network actually receives for `rgb` (a preprocessImage() output): the image
    /// after this model's input normalisation from its card (for a canonical-input model: the
    /// canonical cell, surround painted, rescaled, stain normalised). CV_32FC3 RGB in [0,1],
    /// for display ("what the model sees"). Returns `rgb` itself when no model is loaded or
    /// the model takes its input as is. Pure, thread-safe.
    cv::Mat modelInput(const cv::Mat& rgb) const;

    /// predict() of a native se model runs an inference-only copy of the network with
    /// BatchNorm folded into the convolutions (see SeInferenceNetImpl in networks.h): same
    /// probabilities within float rounding (< 1e-4, tested), faster (docs/BENCHMARKS.md).
    /// setOptimizedInference(false) runs the trained network as is instead: the reference that path
    /// is tested and benchmarked against. Affects this copy only (copy-on-write); on by default.
    void setOptimizedInference(bool on);
    /// True when predict() runs the optimised copy (native se models unless switched off).
    bool hasOptimizedInference() const;

    /// Internal: the loaded model (models library only).
    const std::shared_ptr<const LoadedModel>& loadedModel() const { return m_model; }
    /// Internal: wraps a model built by the models library.
    explicit Classifier(std::shared_ptr<const LoadedModel> model);

private:
    std::optional<std::vector<float>> run(const std::vector<cv::Mat>& images, bool normalize,
                                          QString* error) const;
    bool loadCompanion(const QString& path, Precision wanted, const QString& expectedSha,
                       QString* why);

    std::shared_ptr<const LoadedModel> m_model;
    QString m_error;
    QString m_precisionNote;
};

} // namespace ml
