#include "modelsession.h"

#include "inference.h"
#include "inferenceengine.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>
#include <QStandardPaths>
#include <QThread>

namespace ml {

ModelSession::ModelSession(QObject* parent) : QObject(parent), m_engine(new InferenceEngine(this))
{
    qRegisterMetaType<QList<ml::CellResult>>();
    qRegisterMetaType<ml::ClassifyReport>();
    connect(m_engine, &InferenceEngine::resultsReady, this, &ModelSession::onBatch);
    connect(m_engine, &InferenceEngine::finished, this, &ModelSession::onFinished);
    connect(m_engine, &InferenceEngine::progress, this, &ModelSession::progress);
}

ModelSession::~ModelSession()
{
    m_engine->cancel();
}

QString ModelSession::overridePath() const
{
    // Card overrides for models whose card cannot be rewritten (the embedded one), keyed by
    // the weights' hash so a different model never inherits them.
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
           QStringLiteral("/card-overrides/%1.json").arg(m_classifier.weightsSha256());
}

void ModelSession::adoptThresholdFromCard()
{
    double t = m_classifier.cardThreshold();
    if (m_modelPath.isEmpty()) {
        QFile f(overridePath());
        if (f.open(QIODevice::ReadOnly))
            t = QJsonDocument::fromJson(f.readAll())
                    .object()
                    .value(QStringLiteral("threshold"))
                    .toDouble(t);
    }
    m_threshold = t > 0.0 && t < 1.0 ? t : 0.5;
    if (m_results)
        m_results->setThreshold(m_threshold);
    Q_EMIT thresholdChanged(m_threshold);
}

bool ModelSession::useEmbedded(QString* error)
{
    Classifier c;
    if (!c.loadEmbedded()) {
        if (error)
            *error = c.errorString();
        return false;
    }
    m_modelPath.clear();
    adopt(c);
    return true;
}

void ModelSession::adopt(const Classifier& loaded)
{
    m_classifier = loaded;
    // A fallback to fp32 leaves its note on the classifier (precisionNote()): the pages that
    // name the model show it.
    if (m_precision != Precision::Fp32)
        m_classifier.setPrecision(m_precision);
    adoptThresholdFromCard();
    Q_EMIT modelChanged();
}

bool ModelSession::setPrecision(Precision precision)
{
    if (m_engine->isRunning())
        return false;
    m_precision = precision;
    if (!m_classifier.isLoaded())
        return true;
    const Precision before = m_classifier.precision();
    const QString noteBefore = m_classifier.precisionNote();
    m_classifier.setPrecision(precision);
    if (m_classifier.precision() != before || m_classifier.precisionNote() != noteBefore)
        Q_EMIT modelChanged();
    return true;
}

bool ModelSession::loadFile(const QString& path, QString* error)
{
    Classifier c;
    if (!c.load(path)) {
        if (error)
            *error = c.errorString();
        return false;
    }
    m_modelPath = QFileInfo(path).absoluteFilePath();
    adopt(c);
    return true;
}

QString ModelSession::modelName() const
{
    if (!m_classifier.isLoaded())
        return tr("no model");
    // The precision is named only when it is not the usual fp32.
    const QString kind = m_classifier.precision() == Precision::Int8
                             ? tr("%1, int8").arg(m_classifier.architecture())
                             : m_classifier.architecture();
    if (m_modelPath.isEmpty())
        return tr("embedded default (%1)").arg(kind);
    return tr("%1 (%2)").arg(QFileInfo(m_modelPath).fileName(), kind);
}

void ModelSession::setThreshold(double threshold)
{
    threshold = std::clamp(threshold, 0.001, 0.999);
    if (threshold == m_threshold)
        return;
    m_threshold = threshold;
    if (m_results)
        m_results->setThreshold(threshold);
    Q_EMIT thresholdChanged(threshold);
}

bool ModelSession::saveThreshold(QString* error)
{
    QJsonObject card = m_classifier.card();
    card.insert(QStringLiteral("threshold"), m_threshold);
    const QString target = m_modelPath.isEmpty()
                               ? overridePath()
                               : QFileInfo(m_modelPath).path() + QLatin1Char('/') +
                                     QFileInfo(m_modelPath).completeBaseName() +
                                     QStringLiteral(".json");
    QDir().mkpath(QFileInfo(target).path());
    QSaveFile f(target);
    const QJsonObject body =
        m_modelPath.isEmpty() ? QJsonObject{{QStringLiteral("threshold"), m_threshold}} : card;
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(body).toJson()) < 0 || !f.commit()) {
        if (error)
            *error = tr("Cannot save the threshold to %1: %2").arg(target, f.errorString());
        return false;
    }
    m_classifier.setCard(card);
    return true;
}

bool ModelSession::classify(std::shared_ptr<const Dataset> dataset)
{
    if (!dataset || !m_classifier.isLoaded() || m_engine->isRunning())
        return false;
    m_results = std::make_shared<ClassificationResults>(dataset, m_threshold);
    ClassifyOptions opts;
    // As many workers (each decodes its cells and runs the network on them) as cores: the
    // threads busy are the same as the network thread plus decoding thread of the pipeline
    // before (2 on 2 cores), and the GUI thread, idle but for the results, still gets its share.
    opts.threads = std::max(1, QThread::idealThreadCount());
    opts.threshold = m_threshold;
    // Cells measured for the domain check (the workers do it as they decode).
    opts.appearanceSample = 2000;
    m_domain = DomainVerdict{};
    if (!m_engine->start(*dataset, m_classifier, opts))
        return false;
    Q_EMIT classificationStarted(int(dataset->images.size()));
    return true;
}

void ModelSession::cancel()
{
    m_engine->cancel();
}

bool ModelSession::isRunning() const
{
    return m_engine->isRunning();
}

void ModelSession::clearResults()
{
    cancel();
    m_results.reset();
    m_domain = DomainVerdict{};
    Q_EMIT resultsCleared();
}

void ModelSession::onBatch(const QList<CellResult>& batch)
{
    if (!m_results || batch.isEmpty())
        return;
    int first = m_results->size(), last = -1;
    for (const CellResult& r : batch) {
        if (r.index < 0 || r.index >= m_results->size())
            continue;
        m_results->set(r.index, r.probability, r.error);
        first = std::min(first, r.index);
        last = std::max(last, r.index);
    }
    if (last >= first)
        Q_EMIT resultsUpdated(first, last);
}

void ModelSession::onFinished(const ClassifyReport& report)
{
    m_domain = report.domain(m_classifier);
    Q_EMIT classificationFinished(report.cancelled, report.error, report.seconds,
                                  report.imagesPerSecond());
}

} // namespace ml
