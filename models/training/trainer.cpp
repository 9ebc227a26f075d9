#include "trainer.h"

#include "classifier_p.h"
#include "dataset.h"
#include "labelcorrections.h"
#include "modelslog.h"
#include "networks.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSet>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace ml {

namespace {

const char kCheckpointFormat[] = "malarialens-checkpoint-1";

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

QString firstLine(const char* what)
{
    QString s = QString::fromUtf8(what);
    const int nl = s.indexOf(QLatin1Char('\n'));
    return (nl >= 0 ? s.left(nl) : s).trimmed();
}

QString splitName(SplitMode m)
{
    return m == SplitMode::Patient ? QStringLiteral("patient") : QStringLiteral("random");
}

QJsonObject augmentJson(const TrainingConfig& c)
{
    if (!c.augment)
        return QJsonObject{{QStringLiteral("enabled"), false}};
    const AugmentConfig& a = c.augmentConfig;
    return QJsonObject{
        {QStringLiteral("enabled"), true},
        {QStringLiteral("horizontal_flip"), a.horizontalFlip},
        {QStringLiteral("vertical_flip"), a.verticalFlip},
        {QStringLiteral("brightness_delta"), round4(a.brightnessDelta)},
        {QStringLiteral("contrast_low"), round4(a.contrastLow)},
        {QStringLiteral("contrast_high"), round4(a.contrastHigh)},
        {QStringLiteral("hue_shift_degrees"), round4(a.hueShiftDegrees)},
        {QStringLiteral("saturation_jitter"), round4(a.saturationJitter)},
        {QStringLiteral("functions"), QStringLiteral("core/augment.h drawAugment + applyAugment")}};
}

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

// Keeps copies of every parameter and buffer (the best weights so far).
struct StateCopy
{
    std::vector<torch::Tensor> tensors;
    void take(const torch::nn::Module& m)
    {
        torch::NoGradGuard noGrad;
        tensors.clear();
        for (const auto& p : m.parameters(true))
            tensors.push_back(p.detach().clone());
        for (const auto& b : m.buffers(true))
            tensors.push_back(b.detach().clone());
    }
    void restore(torch::nn::Module& m) const
    {
        torch::NoGradGuard noGrad;
        size_t i = 0;
        for (auto& p : m.parameters(true))
            p.copy_(tensors.at(i++));
        for (auto& b : m.buffers(true))
            b.copy_(tensors.at(i++));
    }
};

struct Batch
{
    torch::Tensor input, labels;
};

Batch makeBatch(const std::vector<cv::Mat>& images, const std::vector<int>& labels,
                const std::vector<int>& indices, size_t begin, size_t end, bool augment,
                const AugmentConfig& augConfig, std::mt19937& rng)
{
    std::vector<cv::Mat> batch;
    batch.reserve(end - begin);
    torch::Tensor target = torch::empty({int64_t(end - begin)}, torch::kLong);
    auto* t = target.data_ptr<int64_t>();
    for (size_t i = begin; i < end; ++i) {
        const int idx = indices[i];
        if (augment)
            batch.push_back(applyAugment(images[idx], drawAugment(augConfig, rng)));
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

EvalOutput evaluate(CellNetImpl& net, const std::vector<cv::Mat>& images,
                    const std::vector<int>& labels, const std::vector<int>& indices)
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
        const Batch batch = makeBatch(images, labels, indices, b, e, false, {}, unused);
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

QJsonArray historyJson(const QList<EpochStats>& history)
{
    QJsonArray a;
    for (const EpochStats& s : history) {
        a.append(QJsonObject{{QStringLiteral("epoch"), s.epoch},
                             {QStringLiteral("train_loss"), s.trainLoss},
                             {QStringLiteral("train_accuracy"), s.trainAccuracy},
                             {QStringLiteral("val_loss"), s.valLoss},
                             {QStringLiteral("val_accuracy"), s.valAccuracy},
                             {QStringLiteral("seconds"), s.seconds},
                             {QStringLiteral("train_images_per_second"), s.trainImagesPerSecond},
                             {QStringLiteral("best"), s.best},
                             {QStringLiteral("learning_rate"), s.learningRate}});
    }
    return a;
}

QList<EpochStats> historyFromJson(const QJsonArray& a)
{
    QList<EpochStats> h;
    for (const QJsonValue& v : a) {
        const QJsonObject o = v.toObject();
        EpochStats s;
        s.epoch = o.value(QStringLiteral("epoch")).toInt();
        s.trainLoss = o.value(QStringLiteral("train_loss")).toDouble();
        s.trainAccuracy = o.value(QStringLiteral("train_accuracy")).toDouble();
        // JSON stores a final fit's NaN validation figures as null.
        s.valLoss = o.value(QStringLiteral("val_loss")).toDouble(qQNaN());
        s.valAccuracy = o.value(QStringLiteral("val_accuracy")).toDouble(qQNaN());
        s.seconds = o.value(QStringLiteral("seconds")).toDouble();
        s.trainImagesPerSecond = o.value(QStringLiteral("train_images_per_second")).toDouble();
        s.best = o.value(QStringLiteral("best")).toBool();
        s.learningRate = o.value(QStringLiteral("learning_rate")).toDouble(); // 0: not recorded
        h.append(s);
    }
    return h;
}

// The patients of a folder with their cells, in id order, divided into infected (any cell
// labelled Parasitized) and healthy: both splitters deal the two kinds separately so every
// side gets both. Id order makes the seeded shuffles that follow reproducible.
struct PatientGroups
{
    QMap<QString, std::vector<int>> cells;
    QStringList infected, healthy;
};

PatientGroups groupPatients(const Dataset& ds)
{
    PatientGroups g;
    for (int i = 0; i < int(ds.images.size()); ++i)
        g.cells[ds.images.at(i).patient].push_back(i);
    for (auto it = g.cells.cbegin(); it != g.cells.cend(); ++it) {
        const bool any = std::any_of(it.value().begin(), it.value().end(), [&](int i) {
            return ds.images.at(i).label == kParasitizedClass;
        });
        (any ? g.infected : g.healthy).append(it.key());
    }
    return g;
}

// What a checkpoint must match to be resumed. `leftOut`: the training cells left out
// (relative paths, sorted), so a resume with another list cannot mix two training sets.
QJsonObject runIdentity(const TrainingConfig& c, const Dataset& ds, const QStringList& leftOut)
{
    QJsonObject id{{QStringLiteral("arch"), architectureName(c.arch)},
                   {QStringLiteral("split"), splitName(c.split)},
                   {QStringLiteral("val_fraction"), c.valFraction},
                   {QStringLiteral("seed"), double(c.seed)},
                   {QStringLiteral("batch_size"), c.batchSize},
                   {QStringLiteral("images"), int(ds.images.size())}};
    // Only when set, so checkpoints written before these options existed still resume.
    if (c.folds > 1) {
        id.insert(QStringLiteral("folds"), c.folds);
        id.insert(QStringLiteral("fold"), c.fold);
    }
    if (!c.fixedRates.isEmpty()) {
        QJsonArray rates;
        for (double r : c.fixedRates)
            rates.append(r);
        id.insert(QStringLiteral("fixed_rates"), rates);
    }
    if (c.normalization != InputNormalization::None)
        id.insert(QStringLiteral("normalization"), inputNormalizationName(c.normalization));
    // A stain jitter other than the default one (train --hue-jitter / --saturation-jitter).
    const AugmentConfig standard = AugmentConfig::withStainJitter();
    if (c.augment && (c.augmentConfig.hueShiftDegrees != standard.hueShiftDegrees ||
                      c.augmentConfig.saturationJitter != standard.saturationJitter))
        id.insert(QStringLiteral("stain_jitter"),
                  QStringLiteral("hue=%1;saturation=%2")
                      .arg(double(c.augmentConfig.hueShiftDegrees))
                      .arg(double(c.augmentConfig.saturationJitter)));
    if (!leftOut.isEmpty())
        id.insert(
            QStringLiteral("left_out_sha256"),
            QString::fromLatin1(QCryptographicHash::hash(leftOut.join(QLatin1Char('\n')).toUtf8(),
                                                         QCryptographicHash::Sha256)
                                    .toHex()));
    return id;
}

struct LoopState
{
    int epochsDone = 0;
    int bestEpoch = 0;
    double bestValLoss = std::numeric_limits<double>::infinity();
    int sinceBest = 0;
    int sinceDecay = 0; ///< epochs without improvement since the last rate change
    double learningRate = 0;
    QList<EpochStats> history;
};

void setLearningRate(torch::optim::Adam& optimizer, double lr)
{
    for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

bool saveCheckpoint(const QString& path, CellNetImpl& net, const StateCopy& best,
                    torch::optim::Adam& optimizer, const LoopState& s, const std::mt19937& rng,
                    const QJsonObject& identity, QString* error)
{
    try {
        torch::serialize::OutputArchive root;
        root.write("format", c10::IValue(std::string(kCheckpointFormat)));
        torch::serialize::OutputArchive model, bestArchive, opt;
        net.save(model);
        root.write("model", model);
        for (size_t i = 0; i < best.tensors.size(); ++i)
            bestArchive.write(std::to_string(i), best.tensors[i]);
        root.write("best", bestArchive);
        optimizer.save(opt);
        root.write("optimizer", opt);
        std::ostringstream rngState;
        rngState << rng;
        const QJsonObject state{{QStringLiteral("identity"), identity},
                                {QStringLiteral("epochs_done"), s.epochsDone},
                                {QStringLiteral("best_epoch"), s.bestEpoch},
                                {QStringLiteral("best_val_loss"), s.bestValLoss},
                                {QStringLiteral("since_best"), s.sinceBest},
                                {QStringLiteral("since_decay"), s.sinceDecay},
                                {QStringLiteral("learning_rate"), s.learningRate},
                                {QStringLiteral("history"), historyJson(s.history)},
                                {QStringLiteral("rng"), QString::fromStdString(rngState.str())}};
        root.write("state",
                   c10::IValue(QJsonDocument(state).toJson(QJsonDocument::Compact).toStdString()));
        QByteArray bytes;
        root.save_to([&bytes](const void* data, size_t size) -> size_t {
            bytes.append(static_cast<const char*>(data), qsizetype(size));
            return size;
        });
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit()) {
            *error = QStringLiteral("%1: cannot be written: %2").arg(path, f.errorString());
            return false;
        }
        return true;
    } catch (const std::exception& e) {
        *error = QStringLiteral("%1: checkpoint failed: %2").arg(path, firstLine(e.what()));
        return false;
    }
}

bool loadCheckpoint(const QString& path, CellNetImpl& net, StateCopy& best,
                    torch::optim::Adam& optimizer, LoopState& s, std::mt19937& rng,
                    const QJsonObject& identity, QString* error)
{
    try {
        torch::serialize::InputArchive root;
        root.load_from(path.toStdString());
        c10::IValue format, stateValue;
        root.read("format", format);
        if (!format.isString() || format.toStringRef() != kCheckpointFormat) {
            *error = QStringLiteral("%1: not a MalariaLens checkpoint").arg(path);
            return false;
        }
        root.read("state", stateValue);
        const QJsonObject state =
            QJsonDocument::fromJson(QByteArray::fromStdString(stateValue.toStringRef())).object();
        if (state.value(QStringLiteral("identity")).toObject() != identity) {
            *error = QStringLiteral("%1: the checkpoint belongs to another run (architecture, "
                                    "split, seed, batch size, data, stain jitter or left-out cells "
                                    "differ)")
                         .arg(path);
            return false;
        }
        torch::serialize::InputArchive model, bestArchive, opt;
        root.read("model", model);
        net.load(model);
        toChannelsLast(net);
        root.read("best", bestArchive);
        best.take(net);
        for (size_t i = 0; i < best.tensors.size(); ++i)
            bestArchive.read(std::to_string(i), best.tensors[i]);
        root.read("optimizer", opt);
        optimizer.load(opt);
        s.epochsDone = state.value(QStringLiteral("epochs_done")).toInt();
        s.bestEpoch = state.value(QStringLiteral("best_epoch")).toInt();
        s.bestValLoss = state.value(QStringLiteral("best_val_loss")).toDouble();
        s.sinceBest = state.value(QStringLiteral("since_best")).toInt();
        s.sinceDecay = state.value(QStringLiteral("since_decay")).toInt();
        s.learningRate = state.value(QStringLiteral("learning_rate")).toDouble(s.learningRate);
        setLearningRate(optimizer, s.learningRate);
        s.history = historyFromJson(state.value(QStringLiteral("history")).toArray());
        std::istringstream rngState(state.value(QStringLiteral("rng")).toString().toStdString());
        rngState >> rng;
        return true;
    } catch (const std::exception& e) {
        *error = QStringLiteral("%1: cannot resume: %2").arg(path, firstLine(e.what()));
        return false;
    }
}

} // namespace

QString historyPathFor(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".history.csv"));
}

int TrainingResult::leftOutCells() const
{
    return std::accumulate(excludedCells.cbegin(), excludedCells.cend(), 0);
}

QString outOfFoldPathFor(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".oof.csv"));
}

QString cardPathForModel(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".json"));
}

QJsonObject SplitSummary::toJson() const
{
    auto toObj = [](const QMap<QString, int>& m) {
        QJsonObject o;
        for (auto it = m.cbegin(); it != m.cend(); ++it)
            o.insert(it.key(), it.value());
        return o;
    };
    return QJsonObject{{QStringLiteral("train_cells"), toObj(trainCells)},
                       {QStringLiteral("val_cells"), toObj(valCells)},
                       {QStringLiteral("train_patients"), toObj(trainPatients)},
                       {QStringLiteral("val_patients"), toObj(valPatients)},
                       {QStringLiteral("train_patient_count"), trainPatientCount},
                       {QStringLiteral("val_patient_count"), valPatientCount},
                       {QStringLiteral("patients_on_both_sides"), sharedPatients}};
}

void splitDataset(const Dataset& ds, SplitMode mode, double valFraction, quint32 seed,
                  std::vector<int>* train, std::vector<int>* val)
{
    train->clear();
    val->clear();
    std::mt19937 rng(seed);
    const int n = int(ds.images.size());
    if (mode == SplitMode::Random) {
        std::vector<int> all(n);
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        const int nVal = int(std::lround(valFraction * n));
        val->assign(all.begin(), all.begin() + nVal);
        train->assign(all.begin() + nVal, all.end());
    } else {
        // Whole patients, infected and healthy separately, until the cell fraction is reached.
        PatientGroups groups = groupPatients(ds);
        QSet<QString> valPatients;
        for (QStringList* group : {&groups.infected, &groups.healthy}) {
            std::shuffle(group->begin(), group->end(), rng);
            int groupCells = 0;
            for (const QString& p : *group)
                groupCells += int(groups.cells[p].size());
            int taken = 0;
            for (const QString& p : *group) {
                if (taken >= valFraction * groupCells)
                    break;
                valPatients.insert(p);
                taken += int(groups.cells[p].size());
            }
        }
        for (int i = 0; i < n; ++i)
            (valPatients.contains(ds.images.at(i).patient) ? val : train)->push_back(i);
    }
    std::sort(train->begin(), train->end());
    std::sort(val->begin(), val->end());
}

QJsonObject TrainingResult::modelCard() const
{
    const TrainingConfig& c = config;
    QJsonObject splitJson{{QStringLiteral("mode"), splitName(c.split)},
                          {QStringLiteral("val_fraction"), c.valFraction},
                          {QStringLiteral("seed"), double(c.seed)}};
    const bool finalFit = !c.fixedRates.isEmpty();
    if (finalFit) {
        // Nothing held out: validationMaskFromCard() then knows there is no split to rebuild.
        splitJson = QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")},
                                {QStringLiteral("seed"), double(c.seed)},
                                {QStringLiteral("folds"), c.folds}};
    } else if (c.folds > 1) {
        splitJson.insert(QStringLiteral("folds"), c.folds);
        splitJson.insert(QStringLiteral("fold"), c.fold);
    }
    QJsonArray fixedRates;
    for (double r : c.fixedRates)
        fixedRates.append(r);
    QJsonObject validationJson = validation.toJson(true);
    if (finalFit)
        validationJson.insert(
            QStringLiteral("source"),
            QStringLiteral("pooled out-of-fold predictions of the %1-fold cross-validation by "
                           "patient (this model trained on every patient)")
                .arg(c.folds));
    QJsonObject card{
        {QStringLiteral("name"),
         QStringLiteral("MalariaLens %1 cell classifier").arg(architectureName(c.arch))},
        {QStringLiteral("architecture"), architectureName(c.arch)},
        {QStringLiteral("parameters"), double(trainableParameterCount(c.arch))},
        {QStringLiteral("input"),
         QJsonObject{{QStringLiteral("width"), kModelInputSize},
                     {QStringLiteral("height"), kModelInputSize},
                     {QStringLiteral("channels"), 3},
                     {QStringLiteral("color"), QStringLiteral("RGB")},
                     {QStringLiteral("range"), QStringLiteral("[0,1]")},
                     {QStringLiteral("resize"), QStringLiteral("cv::INTER_AREA")},
                     {QStringLiteral("normalization"), inputNormalizationName(c.normalization)}}},
        {QStringLiteral("classes"),
         QJsonArray{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}},
        {QStringLiteral("positive_class"), QStringLiteral("Parasitized")},
        {QStringLiteral("threshold"), validation.threshold},
        {QStringLiteral("format"), QStringLiteral("native")},
        {QStringLiteral("training_data"), split.toJson()},
        {QStringLiteral("split"), splitJson},
        {QStringLiteral("training"),
         QJsonObject{
             {QStringLiteral("optimizer"), QStringLiteral("Adam")},
             {QStringLiteral("loss"), QStringLiteral("cross-entropy")},
             {QStringLiteral("learning_rate"), c.learningRate},
             {QStringLiteral("learning_rate_schedule"),
              finalFit ? QJsonValue(fixedRates)
              : c.lrPatience > 0
                  ? QJsonValue(QStringLiteral("x%1 after %2 epochs without a better val loss")
                                   .arg(c.lrFactor)
                                   .arg(c.lrPatience))
                  : QJsonValue(QStringLiteral("constant"))},
             {QStringLiteral("batch_size"), c.batchSize},
             {QStringLiteral("epochs_requested"), c.epochs},
             {QStringLiteral("epochs_run"), int(history.size())},
             {QStringLiteral("best_epoch"), bestEpoch},
             {QStringLiteral("early_stopping"),
              finalFit
                  ? QStringLiteral("none: a final fit on every patient for the epochs and "
                                   "learning rates of %1 up to its best epoch")
                        .arg(c.fixedRatesSource)
                  : QStringLiteral("val loss, patience %1, best weights restored").arg(c.patience)},
             {QStringLiteral("stopped_early"), stoppedEarly},
             {QStringLiteral("augmentation"), augmentJson(c)},
             {QStringLiteral("threads"), c.threads},
             {QStringLiteral("initialized_from"),
              c.initialModel.isLoaded()
                  ? QJsonValue(QJsonObject{
                        {QStringLiteral("source"), QFileInfo(c.initialModel.source()).fileName()},
                        {QStringLiteral("weights_sha256"), c.initialModel.weightsSha256()},
                        {QStringLiteral("card_training"),
                         c.initialModel.card().value(QStringLiteral("training"))},
                        {QStringLiteral("card_validation_cell_level"),
                         c.initialModel.card()
                             .value(QStringLiteral("validation"))
                             .toObject()
                             .value(QStringLiteral("cell_level"))}})
                  : QJsonValue(QStringLiteral("scratch"))},
             {QStringLiteral("seconds"), round4(seconds)},
             {QStringLiteral("failed_images"), failedImages}}},
        {QStringLiteral("validation"), validationJson},
        {QStringLiteral("libtorch_version"), QString::fromLatin1(torchVersion())},
        {QStringLiteral("date"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate)},
    };
    if (!crossValidation.isEmpty())
        card.insert(QStringLiteral("cross_validation"), crossValidation);
    if (!labelCorrections.isEmpty())
        card.insert(QStringLiteral("label_corrections"), labelCorrections);
    if (!excludedCells.isEmpty()) {
        QJsonObject perClass;
        for (auto it = excludedCells.cbegin(); it != excludedCells.cend(); ++it)
            perClass.insert(it.key(), it.value());
        QJsonObject training = card.value(QStringLiteral("training")).toObject();
        training.insert(QStringLiteral("excluded_from_training"),
                        QJsonObject{{QStringLiteral("cells"), leftOutCells()},
                                    {QStringLiteral("per_class"), perClass},
                                    {QStringLiteral("unsure_by_review"), unsureCells},
                                    {QStringLiteral("source"), c.exclusionSource}});
        card.insert(QStringLiteral("training"), training);
    }
    return card;
}

QString EpochStats::logLine() const
{
    // The same line with or without a validation side: a final fit shows its rate instead.
    const QString validation =
        std::isnan(valLoss)
            ? QCoreApplication::translate("ml::EpochStats", "rate %1").arg(learningRate, 0, 'g', 3)
            : QCoreApplication::translate("ml::EpochStats", "val_loss %1  val_acc %2")
                  .arg(valLoss, 0, 'f', 4)
                  .arg(valAccuracy, 0, 'f', 4);
    return QCoreApplication::translate("ml::EpochStats",
                                       "epoch %1/%2  loss %3  acc %4  %5  %6 s  %7 img/s%8")
        .arg(epoch)
        .arg(epochsPlanned)
        .arg(trainLoss, 0, 'f', 4)
        .arg(trainAccuracy, 0, 'f', 4)
        .arg(validation)
        .arg(seconds, 0, 'f', 1)
        .arg(trainImagesPerSecond, 0, 'f', 0)
        .arg(best && !std::isnan(valLoss) ? QStringLiteral("  *best") : QString());
}

QByteArray TrainingResult::historyCsv() const
{
    QByteArray csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,train_images_"
                     "per_second,best\n";
    for (const EpochStats& s : history) {
        csv += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                   .arg(s.epoch)
                   .arg(s.trainLoss, 0, 'f', 6)
                   .arg(s.trainAccuracy, 0, 'f', 6)
                   .arg(s.valLoss, 0, 'f', 6)
                   .arg(s.valAccuracy, 0, 'f', 6)
                   .arg(s.seconds, 0, 'f', 2)
                   .arg(s.trainImagesPerSecond, 0, 'f', 1)
                   .arg(s.best ? 1 : 0)
                   .toUtf8();
    }
    return csv;
}

TrainingResult trainClassifier(const Dataset& ds, const TrainingConfig& config,
                               const TrainingCallbacks& cb, const std::atomic<bool>* cancel)
{
    TrainingResult result;
    result.config = config;
    auto log = [&cb](const QString& m) {
        if (cb.log)
            cb.log(m);
        else
            qCInfo(lcModels).noquote() << m;
    };
    auto cancelled = [cancel] { return cancel && cancel->load(std::memory_order_relaxed); };
    QElapsedTimer total;
    total.start();

    // Refuse early and clearly: nothing is decoded for a run that cannot work.
    if (!ds.isLabelled() || ds.classNames.size() != kModelClassCount) {
        result.error = QStringLiteral("training needs a folder with exactly 2 class subfolders "
                                      "(e.g. Parasitized, Uninfected); found %1")
                           .arg(ds.classNames.isEmpty() ? QStringLiteral("none")
                                                        : ds.classNames.join(QLatin1String(", ")));
        return result;
    }
    const QMap<QString, int> perClass = ds.countPerClass();
    for (auto it = perClass.cbegin(); it != perClass.cend(); ++it) {
        if (it.value() == 0) {
            result.error = QStringLiteral("class '%1' has no images").arg(it.key());
            return result;
        }
    }
    if (config.batchSize < 1 || config.epochs < 1 || config.valFraction <= 0.0 ||
        config.valFraction >= 1.0) {
        result.error = QStringLiteral("invalid settings: batch size and epochs must be >= 1, "
                                      "validation fraction in (0, 1)");
        return result;
    }
    if (ds.images.size() < config.batchSize) {
        result.error = QStringLiteral("%1 images are fewer than one batch (%2)")
                           .arg(ds.images.size())
                           .arg(config.batchSize);
        return result;
    }

    try {
        const HeapReuseScope heapReuse;
        setTorchThreads(config.threads);
        torch::manual_seed(config.seed);

        std::vector<int> trainIdx, valIdx;
        const bool finalFit = !config.fixedRates.isEmpty();
        const int epochs = finalFit ? int(config.fixedRates.size()) : config.epochs;
        if (finalFit) {
            trainIdx.resize(ds.images.size());
            std::iota(trainIdx.begin(), trainIdx.end(), 0);
        } else if (config.folds > 1) {
            if (config.split != SplitMode::Patient || config.fold < 0 ||
                config.fold >= config.folds) {
                result.error = QStringLiteral("k-fold cross-validation needs a patient split and "
                                              "a fold in 0..k-1");
                return result;
            }
            const std::vector<int> fold = patientFolds(ds, config.folds, config.seed);
            if (fold.empty()) {
                result.error =
                    QStringLiteral("%1 folds need at least %1 patients").arg(config.folds);
                return result;
            }
            for (int i = 0; i < int(fold.size()); ++i)
                (fold[size_t(i)] == config.fold ? valIdx : trainIdx).push_back(i);
        } else {
            splitDataset(ds, config.split, config.valFraction, config.seed, &trainIdx, &valIdx);
        }
        // Doubtful labels: listed cells and cells a reviewer marked unsure leave the training
        // side only, after the split, so the validation cells stay those of the split.
        QStringList leftOut;
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
                             : QStringLiteral(", the rest listed in %1")
                                   .arg(config.exclusionSource)));
        if (trainIdx.empty() || (valIdx.empty() && !finalFit)) {
            result.error =
                QStringLiteral("the split left no images on one side (too few patients?)");
            return result;
        }

        // Decode once, in parallel, in chunks so progress can be reported.
        const int n = int(ds.images.size());
        std::vector<cv::Mat> images(n);
        std::vector<int> labels(n);
        std::vector<char> usable(n, 0);
        {
            QThreadPool pool;
            pool.setMaxThreadCount(qMax(1, config.decodeThreads));
            std::vector<int> all(n);
            std::iota(all.begin(), all.end(), 0);
            const int chunk = 500;
            for (int b = 0; b < n; b += chunk) {
                if (cancelled()) {
                    result.cancelled = true;
                    result.error = QStringLiteral("cancelled");
                    return result;
                }
                const std::vector<int> part(all.begin() + b, all.begin() + std::min(n, b + chunk));
                QtConcurrent::blockingMap(&pool, part, [&](int i) {
                    PreprocessedImage p = loadPreprocessed(ds.absolutePath(i));
                    if (p.ok()) {
                        images[i] = normalizeColour(p.rgb, config.normalization);
                        usable[i] = 1;
                    }
                    labels[i] = ds.images.at(i).label;
                });
                if (cb.loadProgress)
                    cb.loadProgress(std::min(n, b + chunk), n);
            }
        }
        auto dropUnusable = [&](std::vector<int>& v) {
            v.erase(std::remove_if(v.begin(), v.end(), [&](int i) { return !usable[i]; }), v.end());
        };
        result.failedImages = int(std::count(usable.begin(), usable.end(), 0));
        dropUnusable(trainIdx);
        dropUnusable(valIdx);
        if (result.failedImages > 0)
            log(QStringLiteral("%1 images could not be decoded and are left out")
                    .arg(result.failedImages));

        // Split summary for the card.
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
        result.split.sharedPatients =
            int(QSet<QString>(trainPatients).intersect(valPatients).size());
        log(QStringLiteral(
                "split %1 (seed %2): train %3 cells / %4 patients, validation %5 cells / "
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

        CellNet net = makeNetwork(config.arch);
        if (config.initialModel.isLoaded()) {
            const auto& init = config.initialModel.loadedModel();
            if (init->kind != LoadedModel::Kind::Native || init->arch != config.arch) {
                result.error =
                    QStringLiteral("%1: cannot fine-tune from a %2 model into a %3 network")
                        .arg(init->source, config.initialModel.architecture(),
                             architectureName(config.arch));
                return result;
            }
            copyState(*init->net, *net);
            log(QStringLiteral("starting from the weights of %1").arg(init->source));
        }
        net->train();
        torch::optim::Adam optimizer(net->parameters(),
                                     torch::optim::AdamOptions(config.learningRate));
        std::mt19937 rng(config.seed);
        StateCopy best;
        best.take(*net);
        LoopState state;
        state.learningRate = config.learningRate;
        leftOut.sort();
        const QJsonObject identity = runIdentity(config, ds, leftOut);
        if (config.resume && !config.checkpointPath.isEmpty() &&
            QFile::exists(config.checkpointPath)) {
            QString why;
            if (!loadCheckpoint(config.checkpointPath, *net, best, optimizer, state, rng, identity,
                                &why)) {
                result.error = why;
                return result;
            }
            log(QStringLiteral("resumed from %1 after epoch %2")
                    .arg(config.checkpointPath)
                    .arg(state.epochsDone));
            if (cb.historyRestored && !state.history.isEmpty())
                cb.historyRestored(state.history, state.bestEpoch);
        }

        const int batches = int((trainIdx.size() + config.batchSize - 1) / config.batchSize);
        bool stop = !finalFit && state.sinceBest >= config.patience;
        for (int epoch = state.epochsDone + 1; epoch <= epochs && !stop; ++epoch) {
            QElapsedTimer timer;
            timer.start();
            if (finalFit) {
                state.learningRate = config.fixedRates.at(epoch - 1);
                setLearningRate(optimizer, state.learningRate);
            }
            std::vector<int> order = trainIdx;
            std::shuffle(order.begin(), order.end(), rng);
            double lossSum = 0;
            int64_t correct = 0, seen = 0;
            for (int b = 0; b < batches; ++b) {
                if (cancelled()) {
                    result.cancelled = true;
                    result.error = QStringLiteral("cancelled");
                    result.history = state.history;
                    return result;
                }
                const size_t begin = size_t(b) * config.batchSize;
                const size_t end = std::min(order.size(), begin + config.batchSize);
                const Batch batch = makeBatch(images, labels, order, begin, end, config.augment,
                                              config.augmentConfig, rng);
                optimizer.zero_grad();
                const torch::Tensor logits = net->forward(batch.input);
                const torch::Tensor loss =
                    torch::nn::functional::cross_entropy(logits, batch.labels);
                loss.backward();
                optimizer.step();
                const double l = loss.item<double>();
                lossSum += l * double(end - begin);
                correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
                seen += int64_t(end - begin);
                if (cb.batchDone)
                    cb.batchDone(epoch, b + 1, batches, l);
            }
            const double trainSeconds = timer.elapsed() / 1000.0;
            // A final fit has nothing to validate on: its figures are the folds'.
            const EvalOutput v = finalFit ? EvalOutput{} : evaluate(*net, images, labels, valIdx);
            EpochStats s;
            s.epoch = epoch;
            s.trainLoss = lossSum / double(seen);
            s.trainAccuracy = double(correct) / double(seen);
            s.valLoss = finalFit ? qQNaN() : v.loss;
            s.valAccuracy = finalFit ? qQNaN() : v.accuracy;
            s.seconds = timer.elapsed() / 1000.0;
            s.trainImagesPerSecond = trainSeconds > 0 ? double(seen) / trainSeconds : 0.0;
            s.learningRate = state.learningRate;
            s.epochsPlanned = epochs;
            if (finalFit) {
                s.best = epoch == epochs;
                if (s.best) {
                    state.bestEpoch = epoch;
                    best.take(*net);
                }
            } else if (v.loss < state.bestValLoss) {
                state.bestValLoss = v.loss;
                state.bestEpoch = epoch;
                state.sinceBest = 0;
                state.sinceDecay = 0;
                best.take(*net);
                s.best = true;
            } else {
                state.sinceBest += 1;
                state.sinceDecay += 1;
                stop = state.sinceBest >= config.patience;
                if (!stop && config.lrPatience > 0 && state.sinceDecay >= config.lrPatience) {
                    state.learningRate *= config.lrFactor;
                    state.sinceDecay = 0;
                    setLearningRate(optimizer, state.learningRate);
                    log(QStringLiteral("learning rate lowered to %1").arg(state.learningRate));
                }
            }
            state.epochsDone = epoch;
            state.history.append(s);
            if (!config.checkpointPath.isEmpty()) {
                QString why;
                if (!saveCheckpoint(config.checkpointPath, *net, best, optimizer, state, rng,
                                    identity, &why))
                    log(QStringLiteral("warning: %1")
                            .arg(why)); // training goes on; the model is saved at the end
            }
            if (cb.epochDone)
                cb.epochDone(s);
        }
        result.stoppedEarly = stop;
        result.history = state.history;
        result.bestEpoch = state.bestEpoch;

        // Publish the best weights: evaluate them on the validation split for the card.
        best.restore(*net);
        const EvalOutput v = finalFit ? EvalOutput{} : evaluate(*net, images, labels, valIdx);
        std::vector<ScoredCell> scored;
        scored.reserve(valIdx.size());
        for (size_t k = 0; k < valIdx.size(); ++k) {
            const ImageEntry& e = ds.images.at(valIdx[k]);
            scored.push_back({e.label, v.probabilities[k], e.patient});
        }
        if (!finalFit) // crossValidate() gives a final fit the pooled out-of-fold figures
            result.validation = evaluateCells(scored);
        result.validationCells = std::move(scored);
        result.validationIndices = valIdx;
        result.seconds = total.elapsed() / 1000.0;
        result.classifier = makeClassifier(net, config.arch, QStringLiteral("trained"));
        result.classifier.setCard(result.modelCard());
        result.ok = true;
    } catch (const std::exception& e) {
        result.error = QStringLiteral("training failed: %1").arg(firstLine(e.what()));
        result.ok = false;
    }
    return result;
}

std::vector<int> patientFolds(const Dataset& ds, int k, quint32 seed)
{
    const PatientGroups patients = groupPatients(ds);
    if (k < 2 || patients.cells.size() < k)
        return {};
    auto cellsOf = [&patients](const QString& p) -> const std::vector<int>& {
        return patients.cells.find(p).value();
    };
    std::mt19937 rng(seed);
    std::vector<int> fold(size_t(ds.images.size()), 0);
    std::vector<int> foldCells(size_t(k), 0);
    for (QStringList g : {patients.infected, patients.healthy}) {
        std::shuffle(g.begin(), g.end(), rng);
        // Largest first, so the greedy fill ends with small patients that even the folds out.
        std::stable_sort(g.begin(), g.end(), [&](const QString& a, const QString& b) {
            return cellsOf(a).size() > cellsOf(b).size();
        });
        std::vector<int> groupCells(size_t(k), 0);
        for (const QString& p : g) {
            // The fold with the fewest cells of this group, then fewest overall.
            int f = 0;
            for (int j = 1; j < k; ++j) {
                if (std::make_pair(groupCells[size_t(j)], foldCells[size_t(j)]) <
                    std::make_pair(groupCells[size_t(f)], foldCells[size_t(f)]))
                    f = j;
            }
            for (int i : cellsOf(p))
                fold[size_t(i)] = f;
            groupCells[size_t(f)] += int(cellsOf(p).size());
            foldCells[size_t(f)] += int(cellsOf(p).size());
        }
    }
    return fold;
}

QString foldCheckpointPath(const QString& checkpointPath, int fold)
{
    return checkpointPath + QStringLiteral(".fold%1").arg(fold);
}

QJsonObject CrossValidationResult::toJson() const
{
    // The figures a reader compares across folds: cell-level and patient-level quality and
    // the two per-patient worst cases the model card reports.
    struct Figure
    {
        const char* name;
        std::function<double(const ValidationReport&)> get;
    };
    const std::vector<Figure> figures{
        {"accuracy", [](const ValidationReport& r) { return r.cells.accuracy; }},
        {"auc", [](const ValidationReport& r) { return r.cells.auc; }},
        {"sensitivity", [](const ValidationReport& r) { return r.cells.sensitivity; }},
        {"specificity", [](const ValidationReport& r) { return r.cells.specificity; }},
        {"patient_accuracy", [](const ValidationReport& r) { return r.patients.accuracy; }},
        {"worst_patient_accuracy",
         [](const ValidationReport& r) { return r.worstPatientAccuracy; }},
        {"max_healthy_patient_parasitized_share",
         [](const ValidationReport& r) { return r.maxHealthyParasitizedShare; }},
        {"log_loss", [](const ValidationReport& r) { return r.logLoss; }},
    };
    QJsonArray perFold;
    for (int i = 0; i < folds.size(); ++i) {
        const TrainingResult& f = folds.at(i);
        QJsonObject o{{QStringLiteral("fold"), i},
                      {QStringLiteral("cells"), f.validation.cells.count},
                      {QStringLiteral("patients"),
                       f.validation.healthyPatients + f.validation.infectedPatients},
                      {QStringLiteral("best_epoch"), f.bestEpoch},
                      {QStringLiteral("epochs_run"), int(f.history.size())},
                      {QStringLiteral("worst_patient"), f.validation.worstPatient},
                      {QStringLiteral("max_healthy_patient"), f.validation.maxHealthyPatient}};
        for (const Figure& fig : figures)
            o.insert(QLatin1String(fig.name), round4(fig.get(f.validation)));
        perFold.append(o);
    }
    QJsonObject mean, sd;
    for (const Figure& fig : figures) {
        double sum = 0, sq = 0;
        for (const TrainingResult& f : folds) {
            const double v = fig.get(f.validation);
            sum += v;
            sq += v * v;
        }
        const double n = double(std::max<qsizetype>(1, folds.size()));
        const double m = sum / n;
        mean.insert(QLatin1String(fig.name), round4(m));
        sd.insert(
            QLatin1String(fig.name),
            round4(folds.size() > 1 ? std::sqrt(std::max(0.0, (sq - n * m * m) / (n - 1))) : 0.0));
    }
    return QJsonObject{{QStringLiteral("folds"), int(folds.size())},
                       {QStringLiteral("split"), QStringLiteral("patient")},
                       {QStringLiteral("per_fold"), perFold},
                       {QStringLiteral("mean"), mean},
                       {QStringLiteral("sd"), sd},
                       {QStringLiteral("pooled_out_of_fold"), pooled.toJson(false)}};
}

CrossValidationResult crossValidate(const Dataset& ds, const TrainingConfig& config, int k,
                                    const TrainingCallbacks& callbacks,
                                    const std::atomic<bool>* cancel,
                                    const std::function<void(int, int)>& foldStarted, bool finalFit)
{
    CrossValidationResult cv;
    if (k < 2) {
        cv.error = QStringLiteral("cross-validation needs at least 2 folds");
        return cv;
    }
    if (config.split != SplitMode::Patient) {
        cv.error = QStringLiteral("cross-validation is by patient only (a random split would "
                                  "put one patient's cells on both sides)");
        return cv;
    }
    std::vector<ScoredCell> all;
    for (int i = 0; i < k; ++i) {
        if (foldStarted)
            foldStarted(i, k);
        TrainingConfig c = config;
        c.folds = k;
        c.fold = i;
        if (!config.checkpointPath.isEmpty())
            c.checkpointPath = foldCheckpointPath(config.checkpointPath, i);
        TrainingResult r = trainClassifier(ds, c, callbacks, cancel);
        if (!r.ok) {
            cv.cancelled = r.cancelled;
            cv.error = r.cancelled
                           ? r.error
                           : QStringLiteral("fold %1 of %2: %3").arg(i + 1).arg(k).arg(r.error);
            return cv;
        }
        all.insert(all.end(), r.validationCells.begin(), r.validationCells.end());
        cv.folds.append(std::move(r));
    }
    cv.pooled = evaluateCells(all);
    const QJsonObject summary = cv.toJson();
    for (TrainingResult& r : cv.folds) {
        r.crossValidation = summary;
        r.classifier.setCard(r.modelCard());
    }
    if (finalFit) {
        // The fold with the median best epoch (the lower middle for an even k) sets the final
        // fit's length and its learning rate per epoch, so the decays its plateaus triggered
        // happen at the same points without a validation side to detect them.
        std::vector<int> order(static_cast<size_t>(k));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&cv](int a, int b) {
            return cv.folds.at(a).bestEpoch < cv.folds.at(b).bestEpoch;
        });
        const int median = order[size_t((k - 1) / 2)];
        const TrainingResult& m = cv.folds.at(median);
        TrainingConfig c = config;
        c.folds = k;
        c.fold = 0;
        c.fixedRatesSource = QStringLiteral("fold %1 of %2").arg(median + 1).arg(k);
        for (int e = 0; e < m.bestEpoch && e < m.history.size(); ++e) {
            const double rate = m.history.at(e).learningRate;
            // 0: a history resumed from a checkpoint that predates per-epoch rates.
            c.fixedRates.append(rate > 0 ? rate : config.learningRate);
        }
        if (c.fixedRates.isEmpty())
            c.fixedRates.append(config.learningRate);
        if (!config.checkpointPath.isEmpty())
            c.checkpointPath = foldCheckpointPath(config.checkpointPath, k);
        if (foldStarted)
            foldStarted(k, k);
        cv.final = trainClassifier(ds, c, callbacks, cancel);
        if (!cv.final.ok) {
            cv.cancelled = cv.final.cancelled;
            cv.error = cv.final.cancelled
                           ? cv.final.error
                           : QStringLiteral("final fit on every patient: %1").arg(cv.final.error);
            return cv;
        }
        cv.final.validation = cv.pooled;
        cv.final.crossValidation = summary;
        cv.final.classifier.setCard(cv.final.modelCard());
    }
    cv.ok = true;
    return cv;
}

} // namespace ml
