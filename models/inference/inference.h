#pragma once
// Batch classification of a folder: decode -> preprocess -> batched forward, with decoding
// of the next batch running in parallel to the network. No torch in this header.
//
// classifyDataset() is the synchronous core used by malarialens-cli classify, the tests and
// the benchmark; InferenceEngine (inferenceengine.h) runs it on a worker thread for the GUI.

#include "classifier.h"
#include "domaincheck.h"

#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>

namespace ml {

struct Dataset;

/// Result of one image.
struct CellResult
{
    int index = -1;           ///< into Dataset::images
    float probability = 0.0f; ///< P(Parasitized); 0 when `error` is set
    int predicted = -1;       ///< model class index (0 Parasitized, 1 Uninfected); -1 on error
    QString error;            ///< why the image could not be classified (decoding), else empty
    /// How the cell looked (domain check); cellFound false when not measured.
    CellAppearance appearance;
    bool ok() const { return error.isEmpty(); }
};

/// Settings of a classification run. Passed by value to the worker.
struct ClassifyOptions
{
    int batchSize = 256;
    int threads = 2;       ///< libtorch intra-op threads, set in the thread that runs the network
    int decodeThreads = 1; ///< threads decoding the next batch while the network runs
    /// true: `threads` workers each decode a share of every batch and run the network on it
    /// with one intra-op thread (decodeThreads unused); no thread waits for another within a
    /// batch, so both cores of a 2-core PC stay busy (docs/BENCHMARKS.md, "Classify in
    /// workers"). false: decodeThreads decode the next batch while the network runs on this
    /// batch with `threads` intra-op threads.
    bool workers = true;
    double threshold = 0.5; ///< P(Parasitized) >= threshold -> Parasitized
    /// Measure how the cells look (CellAppearance), on at most this many evenly spread cells,
    /// for the domain check. 0: none. Done by the decoding threads.
    int appearanceSample = 0;
    /// Called from the running thread after every batch with that batch's results
    /// (in dataset order) and the count done so far. May be empty.
    std::function<void(const QList<CellResult>& batch, int done, int total)> onBatch;
    /// Set from any thread to stop between batches. May be null.
    const std::atomic<bool>* cancel = nullptr;
};

/// Outcome of classifyDataset().
struct ClassifyReport
{
    QList<CellResult> results; ///< one per processed image, in dataset order
    QStringList classNames;    ///< the model's classes: Parasitized, Uninfected
    int images = 0;            ///< images in the dataset
    int failed = 0;            ///< images that could not be decoded
    double seconds = 0;        ///< wall time, decode + network
    bool cancelled = false;
    QString error; ///< non-empty when the run could not be done (no model, inference failure)
    double threshold = 0.5;

    bool ok() const { return error.isEmpty(); }
    int processed() const { return int(results.size()); }
    /// Classified (not failed) images per second of wall time.
    double imagesPerSecond() const;
    /// Predicted count per class name (every class present).
    QMap<QString, int> predictedPerClass() const;
    /// Share of correctly classified images among the labelled, decoded ones; -1 when the
    /// dataset is unlabelled or its class names are not the model's.
    double accuracy(const Dataset& dataset) const;
    /// The domain verdict of the measured cells against the model's card (unchecked when none
    /// were measured or the card records no domain).
    DomainVerdict domain(const Classifier& classifier) const;
    /// JSON summary: images, failed, seconds, images_per_second, predicted, accuracy (when
    /// labelled), per_patient (with the apparent and corrected parasitemia, the decision and
    /// the cells to confirm), parasitemia_apparent, parasitemia_corrected,
    /// parasitemia_corrected_ci95, decision, domain, threshold, cancelled, and model (source,
    /// architecture, precision that ran: "fp32"/"int8", weights_sha256, and precision_note
    /// when another precision was asked for and is not available).
    QJsonObject toJson(const Dataset& dataset, const Classifier& classifier) const;
    /// CSV: file,patient,true_label,predicted,probability_parasitized,error.
    QByteArray toCsv(const Dataset& dataset) const;
};

/// Classifies every image of `dataset` with `classifier` in the calling thread (which gets
/// options.threads libtorch threads). Images that fail to decode get a per-row error and
/// never stop the batch. Never throws.
ClassifyReport classifyDataset(const Dataset& dataset, const Classifier& classifier,
                               const ClassifyOptions& options = {});

} // namespace ml

Q_DECLARE_METATYPE(ml::CellResult)
Q_DECLARE_METATYPE(ml::ClassifyReport)
