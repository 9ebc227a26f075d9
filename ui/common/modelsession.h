#pragma once

#include "classificationresults.h"
#include "classifier.h"
#include "domaincheck.h"

#include <QObject>

#include <memory>

namespace ml {

class InferenceEngine;
struct ClassifyReport;
struct CellResult;

/// The active classifier and the classification of the open folder. Non-widget state the
/// classify and evaluation pages render. Runs inference on InferenceEngine's worker thread
/// and streams the results in as they come. Lives in the GUI thread.
class ModelSession : public QObject
{
    Q_OBJECT
public:
    explicit ModelSession(QObject* parent = nullptr);
    ~ModelSession() override;

    /// Activates the default model embedded in the application.
    bool useEmbedded(QString* error = nullptr);
    /// Loads a model file (native or TorchScript). On failure the previous model stays
    /// active and `error` names the file and the reason.
    bool loadFile(const QString& path, QString* error = nullptr);

    /// The precision asked for (fp32 by default). Every model loaded afterwards runs in it
    /// when it can (Classifier::setPrecision(): int8 needs the model's int8 companion); when
    /// it cannot, the model runs fp32 and precisionNote() says why.
    Precision requestedPrecision() const { return m_precision; }
    /// Asks for `precision` and applies it to the active model now (modelChanged() follows
    /// when what runs changes). Not while a classification runs: false then.
    bool setPrecision(Precision precision);
    /// Why the active model runs in another precision than the one asked for; empty when it
    /// runs what was asked.
    QString precisionNote() const { return m_classifier.precisionNote(); }

    const Classifier& classifier() const { return m_classifier; }
    bool hasModel() const { return m_classifier.isLoaded(); }
    /// Short name for the UI: "embedded default (se)" or the file name.
    QString modelName() const;

    /// Decision threshold on P(Parasitized): the model card's, unless changed.
    double threshold() const { return m_threshold; }
    /// Moves the threshold for the current results (and later classifications).
    void setThreshold(double threshold);
    /// Stores the current threshold in the model's card: the JSON card beside a model file,
    /// or a card override in the user's data folder for the embedded model.
    bool saveThreshold(QString* error = nullptr);

    /// Starts classifying every image of `dataset`; false when busy or no model.
    bool classify(std::shared_ptr<const Dataset> dataset);
    void cancel();
    bool isRunning() const;
    /// The results of the last (or running) classification; null before the first one.
    std::shared_ptr<const ClassificationResults> results() const { return m_results; }
    /// Drops the results (a new folder was opened).
    void clearResults();
    /// The domain verdict of the last finished classification (unchecked before one, or when
    /// the model's card records no domain).
    const DomainVerdict& domain() const { return m_domain; }

Q_SIGNALS:
    void modelChanged();
    void thresholdChanged(double threshold);
    void classificationStarted(int total);
    void progress(int done, int total);
    /// Results for images [first, last] arrived.
    void resultsUpdated(int first, int last);
    void classificationFinished(bool cancelled, const QString& error, double seconds,
                                double imagesPerSecond);
    void resultsCleared();

private:
    void onBatch(const QList<ml::CellResult>& batch);
    void onFinished(const ml::ClassifyReport& report);
    void adoptThresholdFromCard();
    QString overridePath() const;

    void adopt(const Classifier& loaded);

    Classifier m_classifier;
    Precision m_precision = Precision::Fp32;
    QString m_modelPath; // empty for the embedded model
    double m_threshold = 0.5;
    InferenceEngine* m_engine;
    std::shared_ptr<ClassificationResults> m_results;
    DomainVerdict m_domain;
};

} // namespace ml
