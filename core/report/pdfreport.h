#pragma once
// The PDF report a clinic files: folder and patients, counts, parasitemia with its
// confidence interval, the model card summary, the evaluation when the folder is labelled,
// a gallery of the cells flagged parasitized, and the research-use notice.

#include "classificationresults.h"
#include "domaincheck.h"
#include "metrics.h"
#include "prevalence.h"

#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace ml {

/// What goes into a report. Built by buildReport() from a classification, or by hand.
struct ReportContent
{
    QString title;
    QDateTime created;
    QString folder;
    int images = 0; ///< images in the folder
    int classified = 0;
    int failed = 0;
    int predictedParasitized = 0;
    double parasitemia = 0, parasitemiaLow = 0, parasitemiaHigh = 1; ///< Wilson 95 %
    /// Corrected for the model's errors (ok false, with the reason, without error rates).
    PrevalenceEstimate corrected;
    InfectionDecision decision;          ///< the folder / slide decision
    std::optional<DomainVerdict> domain; ///< set by the caller that measured the cells
    int confirmedParasites = 0;          ///< cells a reviewer confirmed parasitized
    QString confirmedBy;                 ///< reviewer names, comma-separated
    QMap<QString, int> folderClasses;    ///< folder labels (empty when unlabeled)
    struct Patient
    {
        QString id;
        int cells = 0;
        int predictedParasitized = 0;
        double share = 0, low = 0, high = 1;
        PrevalenceEstimate corrected;
        InfectionDecision decision;
    };
    QList<Patient> patients;
    QString modelName;
    QString modelSha256;
    double threshold = 0.5;
    QJsonObject modelCard;
    std::optional<Evaluation> evaluation; ///< labelled folders only
    struct Flagged
    {
        QString path;
        QString patient;
        double probability = 0;
    };
    QList<Flagged> flagged; ///< highest probabilities first
};

/// Collects a report from classification results; `maxGallery` bounds the gallery. The
/// corrected parasitemia and the decisions use the card's error rates (errorRatesFromCard()).
ReportContent buildReport(const ClassificationResults& results, const QString& modelName,
                          const QString& modelSha256, const QJsonObject& modelCard,
                          int maxGallery = 48);

/// Writes `content` as an A4 PDF to `path` (atomically). False with `error` on failure.
/// Needs a QGuiApplication (fonts). Decodes the gallery images: call off the GUI thread.
bool writePdfReport(const ReportContent& content, const QString& path, QString* error = nullptr);

} // namespace ml
