#include "checkpoint.h"

#include "dataset.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <sstream>

namespace ml {

namespace {

const char kCheckpointFormat[] = "malarialens-checkpoint-1";

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

} // namespace

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

void StateCopy::take(const torch::nn::Module& m)
{
    torch::NoGradGuard noGrad;
    tensors.clear();
    for (const auto& p : m.parameters(true))
        tensors.push_back(p.detach().clone());
    for (const auto& b : m.buffers(true))
        tensors.push_back(b.detach().clone());
}

void StateCopy::restore(torch::nn::Module& m) const
{
    torch::NoGradGuard noGrad;
    size_t i = 0;
    for (auto& p : m.parameters(true))
        p.copy_(tensors.at(i++));
    for (auto& b : m.buffers(true))
        b.copy_(tensors.at(i++));
}

void setLearningRate(torch::optim::Adam& optimizer, double lr)
{
    for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

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
    if (!c.validationPatients.isEmpty()) {
        QStringList given(c.validationPatients.begin(), c.validationPatients.end());
        given.sort();
        id.insert(QStringLiteral("val_patients"), QJsonArray::fromStringList(given));
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
    if (c.augment && c.augmentConfig.crossLabEnabled())
        id.insert(QStringLiteral("augment_cross_lab"), true);
    if (c.balanceClasses)
        id.insert(QStringLiteral("class_balanced"), true);
    if (c.batchNormCells > 0)
        id.insert(QStringLiteral("batchnorm_cells"), c.batchNormCells);
    if (!c.holdoutSource.isEmpty())
        id.insert(QStringLiteral("holdout_source"), c.holdoutSource);
    if (!leftOut.isEmpty())
        id.insert(
            QStringLiteral("left_out_sha256"),
            QString::fromLatin1(QCryptographicHash::hash(leftOut.join(QLatin1Char('\n')).toUtf8(),
                                                         QCryptographicHash::Sha256)
                                    .toHex()));
    return id;
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

} // namespace ml
