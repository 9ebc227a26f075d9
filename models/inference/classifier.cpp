#include "classifier.h"

#include "classifier_p.h"
#include "modelslog.h"
#include "preprocess.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <sstream>

// Q_INIT_RESOURCE must be used outside any namespace. Calling it references the resource
// initialiser, so the linker keeps the embedded model although it lives in a static library.
static bool initEmbeddedModelResource()
{
#ifdef MALARIALENS_EMBEDDED_MODEL
    Q_INIT_RESOURCE(models);
    return true;
#else
    return false;
#endif
}

namespace ml {

namespace {

const char kFormatKey[] = "malarialens_format";
const char kFormatValue[] = "malarialens-native-1";
const char kArchKey[] = "malarialens_arch";
const char kModelKey[] = "model";
const QString kEmbeddedModel = QStringLiteral(":/models/default.pt");
const QString kEmbeddedCard = QStringLiteral(":/models/default.json");
const QString kEmbeddedInt8 = QStringLiteral(":/models/default.int8.pt");
const QString kInt8Suffix = QStringLiteral(".int8.pt");

// True when a TorchScript module (any method of it or of its submodules) calls quantised
// operators: what precision() reports, whatever the card says.
bool hasQuantizedOperators(const torch::jit::Module& module)
{
    for (const torch::jit::Module& m : module.modules()) {
        for (const torch::jit::Method& method : m.get_methods()) {
            if (method.graph()->toString().find("quantized::") != std::string::npos)
                return true;
        }
    }
    return false;
}

QString firstLine(const char* what)
{
    // c10::Error messages carry a multi-line backtrace; the first line is the reason, except
    // for TorchScript errors whose first line is generic and the cause is a RuntimeError line.
    QString s = QString::fromUtf8(what);
    const int rt = s.lastIndexOf(QLatin1String("RuntimeError: "));
    if (rt >= 0)
        s = s.mid(rt + 14);
    const int nl = s.indexOf(QLatin1Char('\n'));
    if (nl >= 0)
        s.truncate(nl);
    return s.trimmed();
}

QString shapeString(const torch::IntArrayRef& sizes)
{
    QStringList parts;
    for (int64_t s : sizes)
        parts << QString::number(s);
    return QLatin1Char('[') + parts.join(QLatin1String(", ")) + QLatin1Char(']');
}

struct LoadAttempt
{
    std::shared_ptr<LoadedModel> model;
    QString error; ///< reason only, without the file name
};

// Checks a model against the contract every model must meet: one 1x3x64x64 input, one
// N x 2 output. Returns the reason it does not, or an empty string.
QString validateInterface(const LoadedModel& model)
{
    try {
        c10::InferenceMode guard;
        // A black image and a mid-grey one: a model whose weights hold NaN or infinities, or
        // that overflows on ordinary input, shows it on either.
        const torch::Tensor probe =
            torch::cat({torch::zeros({1, 3, kModelInputSize, kModelInputSize}),
                        torch::full({1, 3, kModelInputSize, kModelInputSize}, 0.5f)});
        torch::Tensor out;
        if (model.kind == LoadedModel::Kind::Native) {
            out = model.net->forward(probe);
        } else {
            const c10::IValue result = model.script->forward({probe});
            if (!result.isTensor()) {
                return QStringLiteral("its forward() returns %1, expected one tensor of 2 "
                                      "class scores per image")
                    .arg(QString::fromStdString(result.tagKind()));
            }
            out = result.toTensor();
        }
        if (out.dim() != 2 || out.size(0) != 2 || out.size(1) != kModelClassCount) {
            return QStringLiteral("for input [2, 3, %1, %1] it returns shape %2, expected [2, %3] "
                                  "(%3 outputs: Parasitized, Uninfected)")
                .arg(kModelInputSize)
                .arg(shapeString(out.sizes()))
                .arg(kModelClassCount);
        }
        if (!out.is_floating_point())
            return QStringLiteral("it returns a non-floating-point tensor");
        if (!torch::isfinite(out).all().item<bool>())
            return QStringLiteral("it returns NaN or infinite scores for ordinary input (its "
                                  "weights are broken): refusing it rather than calling every "
                                  "cell Uninfected");
    } catch (const c10::Error& e) {
        return QStringLiteral("it does not accept a 64x64x3 input: %1").arg(firstLine(e.what()));
    } catch (const std::exception& e) {
        return QStringLiteral("it does not accept a 64x64x3 input: %1").arg(firstLine(e.what()));
    }
    return {};
}

LoadAttempt loadNative(torch::serialize::InputArchive& archive)
{
    LoadAttempt r;
    c10::IValue archValue;
    archive.read(kArchKey, archValue);
    const QString archName =
        archValue.isString() ? QString::fromStdString(archValue.toStringRef()) : QString();
    const auto arch = parseArchitecture(archName);
    if (!arch) {
        r.error = QStringLiteral("unknown architecture '%1' (expected one of %2)")
                      .arg(archName, architectureNames().join(QLatin1String(", ")));
        return r;
    }
    CellNet net = makeNetwork(*arch);
    // InputArchive::read() replaces tensors without comparing shapes: remember the
    // architecture's shapes and check them after loading.
    std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
    for (const auto& item : net->named_parameters(true))
        expected.emplace_back(item.key(), item.value().sizes().vec());
    for (const auto& item : net->named_buffers(true))
        expected.emplace_back(item.key(), item.value().sizes().vec());
    torch::serialize::InputArchive weights;
    if (!archive.try_read(kModelKey, weights)) {
        r.error = QStringLiteral("it holds no weights");
        return r;
    }
    try {
        net->load(weights);
    } catch (const c10::Error& e) {
        r.error = QStringLiteral("its weights do not fit the %1 architecture: %2")
                      .arg(archName, firstLine(e.what()));
        return r;
    }
    const auto params = net->named_parameters(true);
    const auto buffers = net->named_buffers(true);
    for (const auto& [name, sizes] : expected) {
        const torch::Tensor* t = params.find(name);
        if (!t)
            t = buffers.find(name);
        if (!t || t->sizes().vec() != sizes) {
            r.error = QStringLiteral("its weights do not fit the %1 architecture: %2 has shape "
                                     "%3, expected %4")
                          .arg(archName, QString::fromStdString(name),
                               t ? shapeString(t->sizes()) : QStringLiteral("(missing)"),
                               shapeString(sizes));
            return r;
        }
    }
    // Loading replaced the tensors with planar ones: back to the fast layout.
    toChannelsLast(*net);
    net->eval();
    r.model = std::make_shared<LoadedModel>();
    r.model->kind = LoadedModel::Kind::Native;
    r.model->arch = *arch;
    r.model->net = net;
    r.model->parameters = countTrainableParameters(*net);
    buildInferenceNetwork(*r.model);
    return r;
}

LoadAttempt loadTorchScript(const QByteArray& data)
{
    LoadAttempt r;
    try {
        std::istringstream stream(std::string(data.constData(), size_t(data.size())));
        auto module = std::make_shared<torch::jit::Module>(torch::jit::load(stream));
        module->eval();
        r.model = std::make_shared<LoadedModel>();
        r.model->kind = LoadedModel::Kind::TorchScript;
        r.model->script = module;
        r.model->quantized = hasQuantizedOperators(*module);
        qint64 n = 0;
        for (const auto& p : module->parameters(true))
            n += p.numel();
        r.model->parameters = n;
    } catch (const c10::Error& e) {
        r.error = QStringLiteral("not a loadable TorchScript model: %1").arg(firstLine(e.what()));
    } catch (const std::exception& e) {
        r.error = QStringLiteral("not a loadable TorchScript model: %1").arg(firstLine(e.what()));
    }
    return r;
}

LoadAttempt loadBytes(const QByteArray& data)
{
    LoadAttempt r;
    if (data.isEmpty()) {
        r.error = QStringLiteral("the file is empty");
        return r;
    }
    // Both native archives and TorchScript files are ZIP archives: anything else is not a
    // model at all, which deserves a plainer message than the zip reader's.
    if (!data.startsWith(QByteArray("PK\x03\x04", 4))) {
        r.error = QStringLiteral("not a model file (no PyTorch/TorchScript archive header; note "
                                 "that Python's torch.save() pickles cannot be loaded, use "
                                 "torch.jit.save())");
        return r;
    }
    torch::serialize::InputArchive archive;
    try {
        archive.load_from(data.constData(), size_t(data.size()));
    } catch (const c10::Error& e) {
        r.error =
            QStringLiteral("the archive is corrupt or truncated: %1").arg(firstLine(e.what()));
        return r;
    } catch (const std::exception& e) {
        r.error =
            QStringLiteral("the archive is corrupt or truncated: %1").arg(firstLine(e.what()));
        return r;
    }
    try {
        c10::IValue format;
        if (archive.try_read(kFormatKey, format)) {
            if (!format.isString() || format.toStringRef() != kFormatValue) {
                r.error = QStringLiteral("unsupported MalariaLens model format '%1'")
                              .arg(format.isString() ? QString::fromStdString(format.toStringRef())
                                                     : QStringLiteral("?"));
                return r;
            }
            r = loadNative(archive);
        } else {
            r = loadTorchScript(data);
            // Python's torch.save() also writes a ZIP archive, but a pickle without code.
            if (!r.model && r.error.contains(QLatin1String("constants.pkl")))
                r.error = QStringLiteral("a PyTorch pickle (torch.save), not a TorchScript model: "
                                         "save it with torch.jit.save(torch.jit.script(model))");
        }
    } catch (const c10::Error& e) {
        r.model.reset();
        r.error = QStringLiteral("the archive could not be read: %1").arg(firstLine(e.what()));
    } catch (const std::exception& e) {
        r.model.reset();
        r.error = QStringLiteral("the archive could not be read: %1").arg(firstLine(e.what()));
    }
    return r;
}

QJsonObject minimalCard(const LoadedModel& m)
{
    QJsonObject card;
    card.insert(QStringLiteral("architecture"), m.kind == LoadedModel::Kind::Native
                                                    ? architectureName(m.arch)
                                                    : QStringLiteral("torchscript"));
    card.insert(QStringLiteral("parameters"), double(m.parameters));
    card.insert(QStringLiteral("input"), QStringLiteral("64x64x3 RGB [0,1]"));
    card.insert(QStringLiteral("classes"),
                QJsonArray{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")});
    card.insert(QStringLiteral("source"), m.source);
    card.insert(QStringLiteral("weights_sha256"), m.sha256);
    return card;
}

} // namespace

void buildInferenceNetwork(LoadedModel& m)
{
    m.inference = m.kind == LoadedModel::Kind::Native && m.net
                      ? makeInferenceNetwork(*m.net, m.arch)
                      : nullptr;
}

void LoadedModel::setCard(const QJsonObject& c)
{
    card = c;
    normalization = inputNormalizationFromName(card.value(QStringLiteral("input"))
                                                   .toObject()
                                                   .value(QStringLiteral("normalization"))
                                                   .toString());
}

torch::Tensor LoadedModel::probabilities(const torch::Tensor& input) const
{
    torch::Tensor out;
    if (kind == Kind::Native)
        out = inference ? inference->forward(input) : net->forward(input);
    else if (quantized) {
        // A quantised TorchScript model runs small int8 operators in 16-cell slices
        // (forwardInSlices) on ONE thread, whatever the caller's budget: measured on this
        // 2-core machine (docs/BENCHMARKS.md, issue 19), int8 with one libtorch thread beat
        // int8 with two in every interleaved round (1.8-4.6x end to end; with OpenMP per
        // operator the first session measured 3-4x). The budget's other core decodes.
        const int budget = at::get_num_threads();
        if (budget != 1)
            at::set_num_threads(1);
        try {
            out = forwardInSlices(input, kInferenceSliceSize, [this](const torch::Tensor& slice) {
                return script->forward({slice}).toTensor();
            });
        } catch (...) {
            if (budget != 1)
                at::set_num_threads(budget);
            throw;
        }
        if (budget != 1)
            at::set_num_threads(budget);
    } else
        out = script->forward({input}).toTensor();
    out = out.to(torch::kFloat);
    return outputsProbabilities ? out : torch::softmax(out, 1);
}

Classifier makeClassifier(CellNet net, Architecture arch, const QString& source,
                          const QJsonObject& card)
{
    net->eval();
    auto m = std::make_shared<LoadedModel>();
    m->kind = LoadedModel::Kind::Native;
    m->arch = arch;
    m->net = std::move(net);
    m->source = source;
    m->parameters = countTrainableParameters(*m->net);
    buildInferenceNetwork(*m);
    m->setCard(card.isEmpty() ? minimalCard(*m) : card);
    return Classifier(std::shared_ptr<const LoadedModel>(std::move(m)));
}

Classifier::Classifier() = default;
Classifier::~Classifier() = default;
Classifier::Classifier(const Classifier&) = default;
Classifier& Classifier::operator=(const Classifier&) = default;
Classifier::Classifier(std::shared_ptr<const LoadedModel> model) : m_model(std::move(model)) {}

bool Classifier::load(const QString& path)
{
    QFile file(path);
    if (!file.exists()) {
        m_error = QStringLiteral("%1: no such file").arg(path);
        return false;
    }
    if (QFileInfo(path).isDir()) {
        m_error = QStringLiteral("%1: is a folder, not a model file").arg(path);
        return false;
    }
    if (!file.open(QIODevice::ReadOnly)) {
        m_error = QStringLiteral("%1: cannot be read: %2").arg(path, file.errorString());
        return false;
    }
    const QByteArray data = file.readAll();
    file.close();
    QJsonObject card;
    QFile cardFile(cardPathForModel(path));
    if (cardFile.exists() && cardFile.open(QIODevice::ReadOnly)) {
        QJsonParseError err{};
        const QJsonDocument doc = QJsonDocument::fromJson(cardFile.readAll(), &err);
        if (doc.isObject())
            card = doc.object();
        else
            qCWarning(lcModels) << "ignoring model card" << cardFile.fileName() << ":"
                                << err.errorString();
    }
    return loadData(data, path, card);
}

bool Classifier::loadData(const QByteArray& data, const QString& name, const QJsonObject& card)
{
    LoadAttempt attempt = loadBytes(data);
    if (attempt.model) {
        attempt.model->source = name;
        attempt.model->outputsProbabilities =
            attempt.model->kind == LoadedModel::Kind::TorchScript &&
            card.value(QStringLiteral("output")).toString() == QLatin1String("probabilities");
        const QString reason = validateInterface(*attempt.model);
        if (!reason.isEmpty()) {
            attempt.model.reset();
            attempt.error = reason;
        }
    }
    if (!attempt.model) {
        m_error = QStringLiteral("%1: %2").arg(name, attempt.error);
        qCWarning(lcModels).noquote() << "model not loaded:" << m_error;
        return false; // the previous model stays active
    }
    attempt.model->sha256 =
        QString::fromLatin1(QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex());
    attempt.model->setCard(card.isEmpty() ? minimalCard(*attempt.model) : card);
    const QString cardSha = attempt.model->card.value(QStringLiteral("weights_sha256")).toString();
    if (!cardSha.isEmpty() && cardSha != attempt.model->sha256)
        qCWarning(lcModels).noquote() << name
                                      << ": the model card's weights_sha256 does not match "
                                         "the weights; its metrics may belong to another model";
    m_model = std::move(attempt.model);
    m_error.clear();
    m_precisionNote.clear();
    return true;
}

Classifier Classifier::createUntrained(Architecture arch, quint64 seed)
{
    torch::manual_seed(seed);
    return makeClassifier(makeNetwork(arch), arch,
                          QStringLiteral("untrained %1").arg(architectureName(arch)));
}

bool Classifier::hasEmbeddedModel()
{
    static const bool has = initEmbeddedModelResource() && QFile::exists(kEmbeddedModel);
    return has;
}

bool Classifier::loadEmbedded()
{
    if (!hasEmbeddedModel()) {
        m_error =
            QStringLiteral("%1: this build has no embedded default model").arg(kEmbeddedModel);
        return false;
    }
    QFile file(kEmbeddedModel);
    if (!file.open(QIODevice::ReadOnly)) {
        m_error = QStringLiteral("%1: cannot be read: %2").arg(kEmbeddedModel, file.errorString());
        return false;
    }
    QJsonObject card;
    QFile cardFile(kEmbeddedCard);
    if (cardFile.open(QIODevice::ReadOnly))
        card = QJsonDocument::fromJson(cardFile.readAll()).object();
    return loadData(file.readAll(), kEmbeddedModel, card);
}

QByteArray Classifier::serialize(QString* error) const
{
    if (!m_model || m_model->kind != LoadedModel::Kind::Native) {
        if (error)
            *error = m_model ? QStringLiteral("only native models can be saved")
                             : QStringLiteral("no model loaded");
        return {};
    }
    try {
        torch::serialize::OutputArchive root;
        root.write(kFormatKey, c10::IValue(std::string(kFormatValue)));
        root.write(kArchKey, c10::IValue(architectureName(m_model->arch).toStdString()));
        torch::serialize::OutputArchive weights;
        m_model->net->save(weights);
        root.write(kModelKey, weights);
        QByteArray bytes;
        root.save_to([&bytes](const void* data, size_t size) -> size_t {
            bytes.append(static_cast<const char*>(data), qsizetype(size));
            return size;
        });
        return bytes;
    } catch (const std::exception& e) {
        if (error)
            *error = QStringLiteral("could not serialise the model: %1").arg(firstLine(e.what()));
        return {};
    }
}

bool Classifier::save(const QString& path, QString* error) const
{
    QString why;
    const QByteArray bytes = serialize(&why);
    if (bytes.isEmpty()) {
        if (error)
            *error = QStringLiteral("%1: %2").arg(path, why);
        return false;
    }
    auto writeAtomically = [error](const QString& target, const QByteArray& content) {
        // QSaveFile writes a temporary file and renames it over the target on commit(): a
        // crash or a full disk never leaves a half-written model behind.
        QSaveFile f(target);
        if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size() || !f.commit()) {
            if (error)
                *error = QStringLiteral("%1: cannot be written: %2").arg(target, f.errorString());
            return false;
        }
        return true;
    };
    if (!writeAtomically(path, bytes))
        return false;
    if (!m_model->card.isEmpty()) {
        QJsonObject card = m_model->card;
        card.insert(QStringLiteral("weights_sha256"),
                    QString::fromLatin1(
                        QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex()));
        if (!writeAtomically(cardPathForModel(path),
                             QJsonDocument(card).toJson(QJsonDocument::Indented)))
            return false;
    }
    return true;
}

bool Classifier::isLoaded() const
{
    return bool(m_model);
}

QString Classifier::errorString() const
{
    return m_error;
}

QString Classifier::source() const
{
    return m_model ? m_model->source : QString();
}

QString Classifier::architecture() const
{
    if (!m_model)
        return {};
    return m_model->kind == LoadedModel::Kind::Native ? architectureName(m_model->arch)
                                                      : QStringLiteral("torchscript");
}

QString Classifier::format() const
{
    if (!m_model)
        return {};
    return m_model->kind == LoadedModel::Kind::Native ? QStringLiteral("native")
                                                      : QStringLiteral("torchscript");
}

qint64 Classifier::parameterCount() const
{
    return m_model ? m_model->parameters : 0;
}

QJsonObject Classifier::card() const
{
    return m_model ? m_model->card : QJsonObject();
}

double Classifier::cardThreshold() const
{
    const double t = card().value(QStringLiteral("threshold")).toDouble(0.5);
    return t > 0.0 && t < 1.0 ? t : 0.5;
}

QString Classifier::weightsSha256() const
{
    return m_model ? m_model->sha256 : QString();
}

void Classifier::setCard(const QJsonObject& card)
{
    if (!m_model)
        return;
    // Copy-on-write: other copies keep the card they were given.
    auto copy = std::make_shared<LoadedModel>(*m_model);
    copy->setCard(card);
    m_model = std::move(copy);
}

void Classifier::setOptimizedInference(bool on)
{
    if (!m_model || m_model->kind != LoadedModel::Kind::Native || on == bool(m_model->inference))
        return;
    // Copy-on-write like setCard(): other copies keep their path.
    auto copy = std::make_shared<LoadedModel>(*m_model);
    if (on)
        buildInferenceNetwork(*copy);
    else
        copy->inference = nullptr;
    m_model = std::move(copy);
}

bool Classifier::hasOptimizedInference() const
{
    return m_model && m_model->inference;
}

QString cardPathForModel(const QString& modelPath)
{
    const QFileInfo fi(modelPath);
    return fi.dir().filePath(fi.completeBaseName() + QStringLiteral(".json"));
}

QString precisionName(Precision p)
{
    return p == Precision::Int8 ? QStringLiteral("int8") : QStringLiteral("fp32");
}

std::optional<Precision> precisionFromName(const QString& name)
{
    const QString n = name.trimmed().toLower();
    if (n == QLatin1String("fp32"))
        return Precision::Fp32;
    if (n == QLatin1String("int8"))
        return Precision::Int8;
    return std::nullopt;
}

Precision Classifier::precision() const
{
    return m_model && m_model->quantized ? Precision::Int8 : Precision::Fp32;
}

QString Classifier::int8CompanionPath() const
{
    if (!m_model)
        return {};
    const QString& src = m_model->source;
    if (src == kEmbeddedModel || src == kEmbeddedInt8)
        return kEmbeddedInt8;
    // Only a model read from a file has a place beside it (a trained or untrained network
    // in memory carries a descriptive name as its source).
    const QFileInfo fi(src);
    if (!fi.isFile())
        return {};
    if (src.endsWith(kInt8Suffix))
        return src;
    return fi.dir().filePath(fi.completeBaseName() + kInt8Suffix);
}

bool Classifier::loadCompanion(const QString& path, Precision wanted, const QString& expectedSha,
                               QString* why)
{
    Classifier other;
    if (!other.load(path)) {
        *why = other.errorString();
        return false;
    }
    if (other.precision() != wanted) {
        *why = QStringLiteral("%1 is not an %2 model").arg(path, precisionName(wanted));
        return false;
    }
    const QJsonObject q = other.card().value(QStringLiteral("quantization")).toObject();
    // Which sha256 ties the pair: an int8 file records the fp32 weights it was made from.
    const QString recorded = wanted == Precision::Int8
                                 ? q.value(QStringLiteral("source_weights_sha256")).toString()
                                 : other.weightsSha256();
    if (recorded != expectedSha) {
        *why =
            QStringLiteral("%1 was made from other weights (sha256 %2..., this model's %3...): "
                           "it must be made again from this model with scripts/quantize.py")
                .arg(path, recorded.isEmpty() ? QStringLiteral("not recorded") : recorded.left(12),
                     expectedSha.left(12));
        return false;
    }
    auto model = std::make_shared<LoadedModel>(*other.m_model);
    if (wanted == Precision::Int8) {
        // One model in two precisions: the int8 one keeps the fp32 card (its threshold, error
        // rates, domain and lab calibration: quantize.py checked that the decisions agree on
        // the held-out cells) and adds what ran and how it was made.
        QJsonObject card = m_model->card;
        // ... except its rates on whole fields, where int8 decides measurably differently
        // (IML detections: 15 % more called, docs/MODEL.md): when the int8 card has its own,
        // measured in int8, field counts are corrected with those.
        const QJsonValue fieldRates = other.card().value(QStringLiteral("validation_on_fields"));
        if (fieldRates.isArray())
            card.insert(QStringLiteral("validation_on_fields"), fieldRates);
        card.insert(QStringLiteral("precision"), QStringLiteral("int8"));
        card.insert(QStringLiteral("quantization"), q);
        card.insert(QStringLiteral("weights_sha256"), other.weightsSha256());
        model->setCard(card);
        model->fp32 = m_model;
    }
    m_model = std::move(model);
    return true;
}

bool Classifier::setPrecision(Precision wanted)
{
    m_precisionNote.clear();
    if (!m_model) {
        m_precisionNote = QStringLiteral("no model loaded");
        return false;
    }
    if (precision() == wanted)
        return true;
    if (wanted == Precision::Fp32 && m_model->fp32) {
        m_model = m_model->fp32;
        return true;
    }
    const QString asked = precisionName(wanted);
    const QString running = precisionName(precision());
    QString path, expectedSha, why;
    if (wanted == Precision::Int8) {
        path = int8CompanionPath();
        expectedSha = m_model->sha256;
        if (path.isEmpty())
            why = QStringLiteral("%1 was not loaded from a file, so it has no int8 companion")
                      .arg(m_model->source);
        else if (!QFile::exists(path))
            why = QStringLiteral("%1 has no int8 companion %2 (scripts/quantize.py makes one from "
                                 "an se model)")
                      .arg(m_model->source, path);
    } else {
        const QJsonObject q = m_model->card.value(QStringLiteral("quantization")).toObject();
        const QString name = q.value(QStringLiteral("source_model")).toString();
        expectedSha = q.value(QStringLiteral("source_weights_sha256")).toString();
        path = m_model->source == kEmbeddedInt8 ? kEmbeddedModel
                                                : QFileInfo(m_model->source).dir().filePath(name);
        if (name.isEmpty() || !QFile::exists(path))
            why = QStringLiteral("the fp32 model %1 was made from is not beside it")
                      .arg(name.isEmpty() ? QStringLiteral("(not recorded)") : name);
    }
    if (why.isEmpty() && loadCompanion(path, wanted, expectedSha, &why))
        return true;
    m_precisionNote =
        QStringLiteral("%1 was asked for, but %2: running %3").arg(asked, why, running);
    qCWarning(lcModels).noquote() << m_precisionNote;
    return false;
}

QString Classifier::precisionNote() const
{
    return m_precisionNote;
}

cv::Mat Classifier::modelInput(const cv::Mat& rgb) const
{
    if (!m_model)
        return rgb;
    return normalizeColour(rgb, m_model->normalization);
}

std::optional<std::vector<float>> Classifier::predict(const std::vector<cv::Mat>& images,
                                                      QString* error) const
{
    return run(images, true, error);
}

std::optional<std::vector<float>> Classifier::predictModelInputs(const std::vector<cv::Mat>& inputs,
                                                                 QString* error) const
{
    return run(inputs, false, error);
}

std::optional<std::vector<float>> Classifier::run(const std::vector<cv::Mat>& images,
                                                  bool normalize, QString* error) const
{
    if (!m_model) {
        if (error)
            *error = QStringLiteral("no model loaded");
        return std::nullopt;
    }
    if (images.empty())
        return std::vector<float>();
    try {
        for (const cv::Mat& m : images) {
            if (m.type() != CV_32FC3 || m.cols != kModelInputSize || m.rows != kModelInputSize) {
                if (error)
                    *error = QStringLiteral("images must be %1x%1 CV_32FC3 (see preprocessImage())")
                                 .arg(kModelInputSize);
                return std::nullopt;
            }
        }
        // A model trained on colour-normalised cells (its card says which normalisation) must
        // see them normalised here too, whoever did the preprocessing.
        const InputNormalization norm =
            normalize ? m_model->normalization : InputNormalization::None;
        std::vector<cv::Mat> normalized;
        if (norm != InputNormalization::None) {
            normalized.reserve(images.size());
            for (const cv::Mat& m : images)
                normalized.push_back(normalizeColour(m, norm));
        }
        c10::InferenceMode guard;
        const torch::Tensor input =
            toInputTensor(norm != InputNormalization::None ? normalized : images);
        const torch::Tensor p =
            m_model->probabilities(input).select(1, kParasitizedClass).contiguous();
        const float* data = p.data_ptr<float>();
        return std::vector<float>(data, data + p.numel());
    } catch (const std::exception& e) {
        if (error)
            *error = QStringLiteral("%1: inference failed: %2")
                         .arg(m_model->source, firstLine(e.what()));
        return std::nullopt;
    }
}

} // namespace ml
