#include "trainingrun.h"

#include "batchnormstatistics.h"

#include "checkpoint.h"
#include "classifier_p.h"
#include "dataset.h"
#include "labelcorrections.h"
#include "modelslog.h"
#include "multisource.h"
#include "networks.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSet>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace ml {

namespace {

// Training allocates the same large activation buffers on every batch (a batch of 100
// through the first convolution alone is 52 MB). glibc serves blocks above its mmap
// threshold (32 MB at most) with fresh mappings that the kernel zero-fills and unmaps again
// on free: perf showed 29 % of the C++ trainer's samples in page-fault code
// (docs/BENCHMARKS.md). While any training runs, big blocks stay in the heap for reuse; the
// memory is handed back when the last one ends. MALARIALENS_NO_HEAP_REUSE=1 turns it off
// (for the benchmark's A/B runs).
class HeapReuseScope
{
public:
    HeapReuseScope()
    {
#ifdef __GLIBC__
        if (qEnvironmentVariableIntValue("MALARIALENS_NO_HEAP_REUSE") == 0 && s_active++ == 0) {
            m_applied = true;
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
#endif
    }
    ~HeapReuseScope()
    {
#ifdef __GLIBC__
        if (m_applied && --s_active == 0) {
            mallopt(M_MMAP_MAX, 65536); // glibc's defaults
            mallopt(M_TRIM_THRESHOLD, 128 * 1024);
            malloc_trim(0);
        }
#endif
    }
    HeapReuseScope(const HeapReuseScope&) = delete;
    HeapReuseScope& operator=(const HeapReuseScope&) = delete;

private:
    bool m_applied = false;
    static inline std::atomic<int> s_active{0};
};

struct Batch
{
    torch::Tensor input, labels;
};

// Training cells come augmented, then normalised (the cache holds them as preprocessImage()
// returns them); validation cells come as cached (normalised once).
Batch makeBatch(const std::vector<cv::Mat>& images, const std::vector<int>& labels,
                const std::vector<int>& indices, size_t begin, size_t end, bool augment,
                const TrainingConfig& config, std::mt19937& rng)
{
    std::vector<cv::Mat> batch;
    batch.reserve(end - begin);
    torch::Tensor target = torch::empty({int64_t(end - begin)}, torch::kLong);
    auto* t = target.data_ptr<int64_t>();
    for (size_t i = begin; i < end; ++i) {
        const int idx = indices[i];
        if (augment)
            batch.push_back(
                normalizeColour(applyAugment(images[idx], drawAugment(config.augmentConfig, rng)),
                                config.normalization));
        else
            batch.push_back(images[idx]);
        t[i - begin] = labels[idx];
    }
    return {toInputTensor(batch), target};
}

struct EvalOutput
{
    double loss = 0, accuracy = 0;
    std::vector<float> probabilities; ///< P(Parasitized) per index
};

EvalOutput scoreCells(CellNetImpl& net, const std::vector<cv::Mat>& images,
                      const std::vector<int>& labels, const std::vector<int>& indices,
                      const TrainingConfig& config)
{
    EvalOutput out;
    net.eval();
    torch::NoGradGuard noGrad;
    std::mt19937 unused;
    double lossSum = 0;
    int64_t correct = 0;
    const size_t step = 250;
    for (size_t b = 0; b < indices.size(); b += step) {
        const size_t e = std::min(indices.size(), b + step);
        const Batch batch = makeBatch(images, labels, indices, b, e, false, config, unused);
        const torch::Tensor logits = net.forward(batch.input);
        lossSum += torch::nn::functional::cross_entropy(
                       logits, batch.labels,
                       torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
        correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
        const torch::Tensor p = torch::softmax(logits, 1).select(1, kParasitizedClass).contiguous();
        out.probabilities.insert(out.probabilities.end(), p.data_ptr<float>(),
                                 p.data_ptr<float>() + p.numel());
    }
    if (!indices.empty()) {
        out.loss = lossSum / double(indices.size());
        out.accuracy = double(correct) / double(indices.size());
    }
    net.train();
    return out;
}

} // namespace

struct TrainingRun::Impl
{
    const Dataset& ds;
    TrainingConfig config;
    TrainingCallbacks cb;
    const std::atomic<bool>* cancel = nullptr;
    TrainingResult result;
    QElapsedTimer total;
    std::optional<HeapReuseScope> heapReuse;

    bool finalFit = false; ///< takeEveryCell(): no validation side
    std::vector<int> trainIdx, valIdx, holdoutIdx;
    QStringList leftOut;

    std::vector<cv::Mat> images;
    std::vector<int> labels;
    CellNet net{nullptr};
    std::unique_ptr<torch::optim::Adam> optimizer;
    std::vector<torch::Tensor> startWeights; ///< L2-SP's starting point (FineTune::L2SP only)
    std::mt19937 rng;
    StateCopy best;
    LoopState state;
    QJsonObject identity;
    bool stop = false;

    EpochStats current; ///< the epoch in progress
    QElapsedTimer epochTimer;

    Impl(const Dataset& d, const TrainingConfig& c, const TrainingCallbacks& callbacks,
         const std::atomic<bool>* cancelFlag)
        : ds(d), config(c), cb(callbacks), cancel(cancelFlag)
    {
        result.config = c;
        total.start();
    }

    void log(const QString& m) const
    {
        if (cb.log)
            cb.log(m);
        else
            qCInfo(lcModels).noquote() << m;
    }
    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
    bool fail(const QString& error)
    {
        result.ok = false;
        result.error = error;
        return false;
    }
    bool failCancelled()
    {
        result.cancelled = true;
        result.history = state.history;
        return fail(QStringLiteral("cancelled"));
    }
    // Runs a step; a libtorch or OpenCV exception becomes the run's error.
    template <typename Step> bool guarded(Step step)
    {
        try {
            return step();
        } catch (const std::exception& e) {
            return fail(QStringLiteral("training failed: %1").arg(firstLine(e.what())));
        }
    }

    bool splitIndices();
    void excludeDoubtful();
    bool decode();
    void summariseSplit();
    bool buildNetwork();
    /// The optimiser's parameters: all of them, or (FineTune::FreezeEarly) the ones it leaves
    /// learnable after freezing the first two blocks.
    std::vector<torch::Tensor> learnableParameters();
    /// FineTune::L2SP of a loaded initial model: copies the starting weights into
    /// startWeights, the point startPenalty() pulls back to.
    void keepStartWeights();
    /// L2-SP's penalty: l2spWeight / 2 * squared distance of the weights to startWeights.
    torch::Tensor startPenalty();
    bool resume();
    bool trainBatches(const std::vector<int>& order);
    void recomputeBatchNorm(const std::vector<int>& order);
    QString divergedMessage(double loss) const;
};

TrainingRun::TrainingRun(const Dataset& dataset, const TrainingConfig& config,
                         const TrainingCallbacks& callbacks, const std::atomic<bool>* cancel)
    : d(std::make_unique<Impl>(dataset, config, callbacks, cancel))
{}

TrainingRun::~TrainingRun() = default;

const TrainingResult& TrainingRun::result() const
{
    return d->result;
}

TrainingResult TrainingRun::takeResult()
{
    return std::move(d->result);
}

bool TrainingRun::prepareAndValidate()
{
    const Dataset& ds = d->ds;
    const TrainingConfig& config = d->config;
    // Refuse early and clearly: nothing is decoded for a run that cannot work.
    if (!ds.isLabelled() || ds.classNames.size() != kModelClassCount)
        return d->fail(QStringLiteral("training needs a folder with exactly 2 class subfolders "
                                      "(e.g. Parasitized, Uninfected); found %1")
                           .arg(ds.classNames.isEmpty() ? QStringLiteral("none")
                                                        : ds.classNames.join(QLatin1String(", "))));
    const QMap<QString, int> perClass = ds.countPerClass();
    for (auto it = perClass.cbegin(); it != perClass.cend(); ++it) {
        if (it.value() == 0)
            return d->fail(QStringLiteral("class '%1' has no images").arg(it.key()));
    }
    if (config.batchSize < 1 || config.epochs < 1 || config.valFraction <= 0.0 ||
        config.valFraction >= 1.0)
        return d->fail(QStringLiteral("invalid settings: batch size and epochs must be >= 1, "
                                      "validation fraction in (0, 1)"));
    if (ds.images.size() < config.batchSize)
        return d->fail(QStringLiteral("%1 images are fewer than one batch (%2)")
                           .arg(ds.images.size())
                           .arg(config.batchSize));
    if (!config.holdoutSource.isEmpty() && !sourceNames(ds).contains(config.holdoutSource))
        return d->fail(QStringLiteral("no image comes from the held-out source '%1' (sources: %2)")
                           .arg(config.holdoutSource, sourceNames(ds).join(QLatin1String(", "))));
    if (!config.holdoutSource.isEmpty() && sourceNames(ds).size() < 2)
        return d->fail(QStringLiteral("holding out source '%1' leaves nothing to train on")
                           .arg(config.holdoutSource));
    return d->guarded([this] {
        d->heapReuse.emplace();
        setTorchThreads(d->config.threads);
        torch::manual_seed(d->config.seed);
        return true;
    });
}

bool TrainingRun::Impl::splitIndices()
{
    // A held-out source is on neither side: the split is that of the other sources alone.
    const Dataset* eligible = &ds;
    Dataset others;
    std::vector<int> toFull;
    if (!config.holdoutSource.isEmpty()) {
        others = ds;
        others.images.clear();
        for (int i = 0; i < int(ds.images.size()); ++i) {
            if (ds.images.at(i).source == config.holdoutSource) {
                holdoutIdx.push_back(i);
            } else {
                others.images.append(ds.images.at(i));
                toFull.push_back(i);
            }
        }
        eligible = &others;
    }
    auto full = [&toFull](int i) { return toFull.empty() ? i : toFull[size_t(i)]; };
    if (finalFit) {
        for (int i = 0; i < int(eligible->images.size()); ++i)
            trainIdx.push_back(full(i));
    } else if (config.folds > 1) {
        if (config.split != SplitMode::Patient || config.fold < 0 || config.fold >= config.folds)
            return fail(QStringLiteral("k-fold cross-validation needs a patient split and "
                                       "a fold in 0..k-1"));
        const std::vector<int> fold = patientFolds(*eligible, config.folds, config.seed);
        if (fold.empty())
            return fail(QStringLiteral("%1 folds need at least %1 patients").arg(config.folds));
        for (int i = 0; i < int(fold.size()); ++i)
            (fold[size_t(i)] == config.fold ? valIdx : trainIdx).push_back(full(i));
    } else if (!config.validationPatients.isEmpty()) {
        for (int i = 0; i < int(eligible->images.size()); ++i)
            (config.validationPatients.contains(eligible->images.at(i).patient) ? valIdx : trainIdx)
                .push_back(full(i));
        if (valIdx.empty() || trainIdx.empty())
            return fail(QStringLiteral("the %1 validation patients given leave %2 validation "
                                       "and %3 training cells in this folder")
                            .arg(config.validationPatients.size())
                            .arg(valIdx.size())
                            .arg(trainIdx.size()));
    } else {
        std::vector<int> train, val;
        splitDataset(*eligible, config.split, config.valFraction, config.seed, &train, &val);
        for (int i : train)
            trainIdx.push_back(full(i));
        for (int i : val)
            valIdx.push_back(full(i));
    }
    return true;
}

// Doubtful labels: listed cells and cells a reviewer marked unsure leave the training side
// only, after the split, so the validation cells stay those of the split.
void TrainingRun::Impl::excludeDoubtful()
{
    trainIdx.erase(std::remove_if(trainIdx.begin(), trainIdx.end(),
                                  [&](int i) {
                                      const ImageEntry& e = ds.images.at(i);
                                      if (!e.unsure &&
                                          !config.excludedFromTraining.contains(e.relativePath))
                                          return false;
                                      leftOut << e.relativePath;
                                      result.excludedCells[ds.className(e.label)] += 1;
                                      result.unsureCells += e.unsure ? 1 : 0;
                                      return true;
                                  }),
                   trainIdx.end());
    if (!result.excludedCells.isEmpty())
        log(QStringLiteral("%1 training cells left out (%2 marked unsure by a reviewer%3)")
                .arg(result.leftOutCells())
                .arg(result.unsureCells)
                .arg(config.exclusionSource.isEmpty()
                         ? QString()
                         : QStringLiteral(", the rest listed in %1").arg(config.exclusionSource)));
}

bool TrainingRun::split()
{
    if (!d->splitIndices())
        return false;
    d->excludeDoubtful();
    if (d->trainIdx.empty() || (d->valIdx.empty() && !d->finalFit))
        return d->fail(QStringLiteral("the split left no images on one side (too few patients?)"));
    return true;
}

bool TrainingRun::takeEveryCell()
{
    d->finalFit = true;
    return split();
}

// Decode once, in parallel, in chunks so progress can be reported. Training cells are kept
// as preprocessImage() returns them when they are augmented (augmentation comes before the
// input normalisation), every other cell normalised once.
bool TrainingRun::Impl::decode()
{
    const int n = int(ds.images.size());
    images.assign(size_t(n), cv::Mat());
    labels.assign(size_t(n), 0);
    std::vector<char> usable(size_t(n), 0);
    std::vector<char> raw(size_t(n), 0);
    if (config.augment) {
        for (int i : trainIdx)
            raw[size_t(i)] = 1;
    }
    QThreadPool pool;
    pool.setMaxThreadCount(qMax(1, config.decodeThreads));
    std::vector<int> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    const int chunk = 500;
    for (int b = 0; b < n; b += chunk) {
        if (cancelled())
            return failCancelled();
        const std::vector<int> part(all.begin() + b, all.begin() + std::min(n, b + chunk));
        QtConcurrent::blockingMap(&pool, part, [&](int i) {
            PreprocessedImage p = loadPreprocessed(ds.absolutePath(i));
            if (p.ok()) {
                images[size_t(i)] =
                    raw[size_t(i)] ? p.rgb : normalizeColour(p.rgb, config.normalization);
                usable[size_t(i)] = 1;
            }
            labels[size_t(i)] = ds.images.at(i).label;
        });
        if (cb.loadProgress)
            cb.loadProgress(std::min(n, b + chunk), n);
    }
    auto dropUnusable = [&](std::vector<int>& v) {
        v.erase(std::remove_if(v.begin(), v.end(), [&](int i) { return !usable[size_t(i)]; }),
                v.end());
    };
    result.failedImages = int(std::count(usable.begin(), usable.end(), 0));
    dropUnusable(trainIdx);
    dropUnusable(valIdx);
    dropUnusable(holdoutIdx);
    if (result.failedImages > 0)
        log(QStringLiteral("%1 images could not be decoded and are left out")
                .arg(result.failedImages));
    return true;
}

// The split summary of the card, and its log line.
void TrainingRun::Impl::summariseSplit()
{
    if (!ds.appliedCorrections.isEmpty())
        result.labelCorrections = correctionsUsedJson(ds);
    QSet<QString> trainPatients, valPatients;
    QMap<QString, QSet<QString>> trainPatientsPerClass, valPatientsPerClass;
    for (int i : trainIdx) {
        const ImageEntry& e = ds.images.at(i);
        result.split.trainCells[ds.className(e.label)] += 1;
        trainPatients.insert(e.patient);
        trainPatientsPerClass[ds.className(e.label)].insert(e.patient);
    }
    for (int i : valIdx) {
        const ImageEntry& e = ds.images.at(i);
        result.split.valCells[ds.className(e.label)] += 1;
        valPatients.insert(e.patient);
        valPatientsPerClass[ds.className(e.label)].insert(e.patient);
    }
    for (auto it = trainPatientsPerClass.cbegin(); it != trainPatientsPerClass.cend(); ++it)
        result.split.trainPatients[it.key()] = int(it.value().size());
    for (auto it = valPatientsPerClass.cbegin(); it != valPatientsPerClass.cend(); ++it)
        result.split.valPatients[it.key()] = int(it.value().size());
    result.split.trainPatientCount = int(trainPatients.size());
    result.split.valPatientCount = int(valPatients.size());
    result.split.sharedPatients = int(QSet<QString>(trainPatients).intersect(valPatients).size());
    const int epochs = finalFit ? int(config.fixedRates.size()) : config.epochs;
    log(QStringLiteral("split %1 (seed %2): train %3 cells / %4 patients, validation %5 cells / "
                       "%6 patients, %7 patients on both sides")
            .arg(finalFit ? QStringLiteral("none (final fit on every patient, %1 epoch%2 at "
                                           "the rates of %3)")
                                .arg(epochs)
                                .arg(epochs == 1 ? QString() : QStringLiteral("s"))
                                .arg(config.fixedRatesSource)
                 : config.folds > 1 ? QStringLiteral("by patient, fold %1 of %2")
                                          .arg(config.fold + 1)
                                          .arg(config.folds)
                                    : splitName(config.split))
            .arg(config.seed)
            .arg(trainIdx.size())
            .arg(trainPatients.size())
            .arg(valIdx.size())
            .arg(valPatients.size())
            .arg(result.split.sharedPatients));
    if (!holdoutIdx.empty())
        log(QStringLiteral("source %1 held out: %2 cells, tested after training")
                .arg(config.holdoutSource)
                .arg(holdoutIdx.size()));
}

void TrainingRun::Impl::keepStartWeights()
{
    if (!config.initialModel.isLoaded() || config.fineTune != TrainingConfig::FineTune::L2SP)
        return;
    // The starting point the penalty pulls back to: a copy, never trained.
    for (const torch::Tensor& p : net->parameters())
        startWeights.push_back(p.detach().clone());
    log(QStringLiteral("fine-tuning with L2-SP (weight %1) towards the starting weights")
            .arg(config.l2spWeight));
}

std::vector<torch::Tensor> TrainingRun::Impl::learnableParameters()
{
    if (!config.initialModel.isLoaded() || config.fineTune != TrainingConfig::FineTune::FreezeEarly)
        return net->parameters();
    std::vector<torch::Tensor> learnable;
    int frozen = 0;
    for (auto& named : net->named_parameters()) {
        const std::string& name = named.key();
        const bool early = name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 ||
                           name.rfind("conv2.", 0) == 0 || name.rfind("bn2.", 0) == 0;
        if (early) {
            named.value().set_requires_grad(false);
            ++frozen;
        } else {
            learnable.push_back(named.value());
        }
    }
    log(QStringLiteral("fine-tuning with the first two blocks frozen (%1 weight tensors)")
            .arg(frozen));
    return learnable;
}

torch::Tensor TrainingRun::Impl::startPenalty()
{
    std::vector<torch::Tensor> params = net->parameters();
    torch::Tensor sum = torch::zeros({}, params.front().options());
    for (size_t i = 0; i < params.size() && i < startWeights.size(); ++i)
        sum = sum + (params[i] - startWeights[i]).pow(2).sum();
    return sum * (config.l2spWeight / 2.0);
}

bool TrainingRun::Impl::buildNetwork()
{
    net = makeNetwork(config.arch);
    if (config.initialModel.isLoaded()) {
        const auto& init = config.initialModel.loadedModel();
        if (init->kind != LoadedModel::Kind::Native || init->arch != config.arch)
            return fail(QStringLiteral("%1: cannot fine-tune from a %2 model into a %3 network")
                            .arg(init->source, config.initialModel.architecture(),
                                 architectureName(config.arch)));
        copyState(*init->net, *net);
        log(QStringLiteral("starting from the weights of %1").arg(init->source));
    }
    net->train();
    keepStartWeights();
    optimizer = std::make_unique<torch::optim::Adam>(
        learnableParameters(), torch::optim::AdamOptions(config.learningRate));
    rng.seed(config.seed);
    best.take(*net);
    state.learningRate = config.learningRate;
    leftOut.sort();
    identity = runIdentity(config, ds, leftOut);
    return true;
}

bool TrainingRun::Impl::resume()
{
    if (!config.resume || config.checkpointPath.isEmpty() || !QFile::exists(config.checkpointPath))
        return true;
    QString why;
    if (!loadCheckpoint(config.checkpointPath, *net, best, *optimizer, state, rng, identity, &why))
        return fail(why);
    log(QStringLiteral("resumed from %1 after epoch %2")
            .arg(config.checkpointPath)
            .arg(state.epochsDone));
    if (cb.historyRestored && !state.history.isEmpty())
        cb.historyRestored(state.history, state.bestEpoch);
    return true;
}

bool TrainingRun::start()
{
    return d->guarded([this] {
        if (!d->decode())
            return false;
        d->summariseSplit();
        if (!d->buildNetwork() || !d->resume())
            return false;
        d->stop = !d->finalFit && d->state.sinceBest >= d->config.patience;
        return true;
    });
}

bool TrainingRun::wantsEpoch(int plannedEpochs) const
{
    return !d->stop && d->state.epochsDone < plannedEpochs;
}

int TrainingRun::nextEpoch() const
{
    return d->state.epochsDone + 1;
}

double TrainingRun::learningRate() const
{
    return d->state.learningRate;
}

QString TrainingRun::Impl::divergedMessage(double loss) const
{
    const QString where =
        state.epochsDone > 0 && !config.checkpointPath.isEmpty() &&
                QFile::exists(config.checkpointPath)
            ? QStringLiteral("the last good checkpoint is kept at %1 (after epoch %2, best "
                             "epoch %3)")
                  .arg(config.checkpointPath)
                  .arg(state.epochsDone)
                  .arg(state.bestEpoch)
            : QStringLiteral("no epoch had finished, so no checkpoint was written");
    return QStringLiteral("training diverged at epoch %1 (loss %2): %3; try a lower learning "
                          "rate (now %4)")
        .arg(state.epochsDone + 1)
        .arg(std::isnan(loss) ? QStringLiteral("NaN") : QStringLiteral("infinite"))
        .arg(where)
        .arg(state.learningRate);
}

bool TrainingRun::Impl::trainBatches(const std::vector<int>& order)
{
    const int epoch = state.epochsDone + 1;
    const int batches = int((order.size() + config.batchSize - 1) / config.batchSize);
    double lossSum = 0;
    int64_t correct = 0, seen = 0;
    for (int b = 0; b < batches; ++b) {
        if (cancelled())
            return failCancelled();
        const size_t begin = size_t(b) * config.batchSize;
        const size_t end = std::min(order.size(), begin + config.batchSize);
        const Batch batch =
            makeBatch(images, labels, order, begin, end, config.augment, config, rng);
        // Gradients set to none rather than filled with zeros: backward() then writes them
        // instead of adding to a zeroed tensor, one pass over every gradient less per step
        // (Adam skips a parameter without one; every trained one gets one here).
        net->zero_grad(/*set_to_none=*/true);
        const torch::Tensor logits = net->forward(batch.input);
        const torch::Tensor crossEntropy =
            torch::nn::functional::cross_entropy(logits, batch.labels);
        // The curves show the cross-entropy alone, comparable with and without L2-SP.
        const torch::Tensor loss =
            startWeights.empty() ? crossEntropy : crossEntropy + startPenalty();
        const double l = crossEntropy.item<double>();
        // A NaN or infinite loss never recovers: stop before it reaches the weights.
        if (!std::isfinite(l) || (!startWeights.empty() && !std::isfinite(loss.item<double>()))) {
            result.diverged = true;
            result.history = state.history;
            result.bestEpoch = state.bestEpoch;
            return fail(divergedMessage(l));
        }
        loss.backward();
        optimizer->step();
        lossSum += l * double(end - begin);
        correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
        seen += int64_t(end - begin);
        if (cb.batchDone)
            cb.batchDone(epoch, b + 1, batches, l);
    }
    current.trainLoss = lossSum / double(seen);
    current.trainAccuracy = double(correct) / double(seen);
    return true;
}

void TrainingRun::Impl::recomputeBatchNorm(const std::vector<int>& order)
{
    if (config.batchNormCells <= 0 || order.empty())
        return;
    // The first cells of this epoch's (shuffled, possibly class-balanced) draw, augmented as
    // in training: the network learnt to read features normalised by the statistics of
    // augmented batches. Statistics of clean cells were measured to be wrong for it (the
    // validation accuracy fell to the parasitized share at every epoch): clean cells spread
    // less than augmented ones, so their own statistics over-scale the features. Their own
    // generator, so that the training draws stay the same with and without this step.
    const size_t cells = std::min(order.size(), size_t(config.batchNormCells));
    const int step = std::max(1, config.batchSize);
    const int batches = int((cells + size_t(step) - 1) / size_t(step));
    std::mt19937 drawRng(config.seed + quint32(state.epochsDone) * 7919u);
    recomputeBatchNormStatistics(
        *net,
        [&](int b) {
            const size_t begin = size_t(b) * size_t(step);
            const size_t end = std::min(cells, begin + size_t(step));
            return makeBatch(images, labels, order, begin, end, config.augment, config, drawRng)
                .input;
        },
        batches);
}

bool TrainingRun::epoch(double rate, int plannedEpochs)
{
    return d->guarded([this, rate, plannedEpochs] {
        d->epochTimer.start();
        d->current = EpochStats{};
        d->current.epoch = d->state.epochsDone + 1;
        d->current.epochsPlanned = plannedEpochs;
        d->state.learningRate = rate;
        setLearningRate(*d->optimizer, rate);
        d->current.learningRate = rate;
        std::vector<int> order;
        if (d->config.balanceClasses) {
            order = classBalancedOrder(d->trainIdx, d->labels, d->rng);
        } else {
            order = d->trainIdx;
            std::shuffle(order.begin(), order.end(), d->rng);
        }
        if (!d->trainBatches(order))
            return false;
        d->recomputeBatchNorm(order);
        const double trainSeconds = d->epochTimer.elapsed() / 1000.0;
        d->current.trainImagesPerSecond =
            trainSeconds > 0 ? double(order.size()) / trainSeconds : 0.0;
        return true;
    });
}

bool TrainingRun::evaluate()
{
    return d->guarded([this] {
        evaluateStep();
        return true;
    });
}

void TrainingRun::evaluateStep()
{
    Impl& r = *d;
    const EvalOutput v = scoreCells(*r.net, r.images, r.labels, r.valIdx, r.config);
    EpochStats& s = r.current;
    s.valLoss = v.loss;
    s.valAccuracy = v.accuracy;
    LoopState& state = r.state;
    if (v.loss < state.bestValLoss) {
        state.bestValLoss = v.loss;
        state.bestEpoch = s.epoch;
        state.sinceBest = 0;
        state.sinceDecay = 0;
        r.best.take(*r.net);
        s.best = true;
        return;
    }
    state.sinceBest += 1;
    state.sinceDecay += 1;
    r.stop = state.sinceBest >= r.config.patience;
    if (!r.stop && r.config.lrPatience > 0 && state.sinceDecay >= r.config.lrPatience) {
        state.learningRate *= r.config.lrFactor;
        state.sinceDecay = 0;
        setLearningRate(*r.optimizer, state.learningRate);
        r.log(QStringLiteral("learning rate lowered to %1").arg(state.learningRate));
    }
}

bool TrainingRun::keepAsBest(bool last)
{
    return d->guarded([this, last] {
        keepAsBestStep(last);
        return true;
    });
}

void TrainingRun::keepAsBestStep(bool last)
{
    // A run without a validation side has nothing to compare: its figures are the folds'.
    d->current.valLoss = qQNaN();
    d->current.valAccuracy = qQNaN();
    d->current.best = last;
    if (last) {
        d->state.bestEpoch = d->current.epoch;
        d->best.take(*d->net);
    }
}

void TrainingRun::recordEpoch()
{
    d->current.seconds = d->epochTimer.elapsed() / 1000.0;
    d->state.epochsDone = d->current.epoch;
    d->state.history.append(d->current);
}

void TrainingRun::checkpoint()
{
    if (d->config.checkpointPath.isEmpty())
        return;
    QString why;
    if (!saveCheckpoint(d->config.checkpointPath, *d->net, d->best, *d->optimizer, d->state, d->rng,
                        d->identity, &why))
        d->log(QStringLiteral("warning: %1")
                   .arg(why)); // training goes on; the model is saved at the end
}

void TrainingRun::reportEpoch()
{
    if (d->cb.epochDone)
        d->cb.epochDone(d->current);
}

TrainingResult TrainingRun::card(bool withValidation)
{
    d->guarded([this, withValidation] {
        Impl& r = *d;
        TrainingResult& result = r.result;
        result.stoppedEarly = r.stop;
        result.history = r.state.history;
        result.bestEpoch = r.state.bestEpoch;
        // Publish the best weights: evaluate them on the validation split for the card.
        r.best.restore(*r.net);
        const EvalOutput v = withValidation
                                 ? scoreCells(*r.net, r.images, r.labels, r.valIdx, r.config)
                                 : EvalOutput{};
        std::vector<ScoredCell> scored;
        scored.reserve(r.valIdx.size());
        QMap<QString, std::vector<ScoredCell>> bySource;
        QStringList order;
        for (size_t k = 0; k < r.valIdx.size(); ++k) {
            const ImageEntry& e = r.ds.images.at(r.valIdx[k]);
            scored.push_back({e.label, v.probabilities[k], e.patient});
            if (!e.source.isEmpty()) {
                if (!bySource.contains(e.source))
                    order << e.source;
                bySource[e.source].push_back(scored.back());
            }
        }
        if (withValidation) { // crossValidate() gives a final fit the pooled out-of-fold figures
            result.validation = evaluateCells(scored);
            for (const QString& source : std::as_const(order))
                result.validationBySource.append(SourceFigures::of(source, bySource.value(source)));
        }
        if (!r.holdoutIdx.empty()) {
            const EvalOutput h = scoreCells(*r.net, r.images, r.labels, r.holdoutIdx, r.config);
            std::vector<ScoredCell> held;
            for (size_t k = 0; k < r.holdoutIdx.size(); ++k) {
                const ImageEntry& e = r.ds.images.at(r.holdoutIdx[k]);
                held.push_back({e.label, h.probabilities[k], e.patient});
            }
            result.holdout = SourceFigures::of(r.config.holdoutSource, held);
            r.log(QStringLiteral("held-out source %1: %2 cells, sensitivity %3, specificity %4, "
                                 "balanced accuracy %5, AUC %6")
                      .arg(result.holdout.source)
                      .arg(result.holdout.cells)
                      .arg(result.holdout.sensitivity, 0, 'f', 4)
                      .arg(result.holdout.specificity, 0, 'f', 4)
                      .arg(result.holdout.balancedAccuracy, 0, 'f', 4)
                      .arg(result.holdout.auc, 0, 'f', 4));
        }
        result.validationCells = std::move(scored);
        result.validationIndices = r.valIdx;
        result.seconds = r.total.elapsed() / 1000.0;
        result.classifier = makeClassifier(r.net, r.config.arch, QStringLiteral("trained"));
        result.classifier.setCard(result.modelCard());
        result.ok = true;
        return true;
    });
    return takeResult();
}

TrainingResult trainClassifier(const Dataset& dataset, const TrainingConfig& config,
                               const TrainingCallbacks& callbacks, const std::atomic<bool>* cancel)
{
    if (!config.fixedRates.isEmpty())
        return fitEveryCell(dataset, config, callbacks, cancel);
    TrainingRun run(dataset, config, callbacks, cancel);
    if (!run.prepareAndValidate() || !run.split() || !run.start())
        return run.takeResult();
    while (run.wantsEpoch(config.epochs)) {
        if (!run.epoch(run.learningRate(), config.epochs))
            return run.takeResult();
        if (!run.evaluate())
            return run.takeResult();
        run.recordEpoch();
        run.checkpoint();
        run.reportEpoch();
    }
    return run.card(true);
}

TrainingResult fitEveryCell(const Dataset& dataset, const TrainingConfig& config,
                            const TrainingCallbacks& callbacks, const std::atomic<bool>* cancel)
{
    TrainingRun run(dataset, config, callbacks, cancel);
    if (config.fixedRates.isEmpty()) {
        TrainingResult r = run.takeResult();
        r.error = QStringLiteral("a fit on every cell needs its learning rate per epoch");
        return r;
    }
    const int epochs = int(config.fixedRates.size());
    if (!run.prepareAndValidate() || !run.takeEveryCell() || !run.start())
        return run.takeResult();
    while (run.wantsEpoch(epochs)) {
        const int epoch = run.nextEpoch();
        if (!run.epoch(config.fixedRates.at(epoch - 1), epochs))
            return run.takeResult();
        if (!run.keepAsBest(epoch == epochs))
            return run.takeResult();
        run.recordEpoch();
        run.checkpoint();
        run.reportEpoch();
    }
    return run.card(false);
}

} // namespace ml
