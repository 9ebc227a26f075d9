#pragma once
// Validation figures of a classifier, at cell level and at patient level, as they go into
// the model card. Pure functions, no torch.
//
// Positive = Parasitized (label kParasitizedClass). A patient is *infected* when at least one
// of their cells is labelled Parasitized (uninfected cells also come from infected
// patients), *healthy* otherwise. At patient level a patient is called infected when the
// share of their cells called parasitized exceeds `patientThreshold`; the patient score for
// the AUC is that share.

#include <QJsonObject>
#include <QString>

#include <vector>

namespace ml {

/// One scored cell.
struct ScoredCell
{
    int label = -1;           ///< 0 = Parasitized, 1 = Uninfected
    float probability = 0.0f; ///< probability of Parasitized
    QString patient;
};

/// Binary metrics of one set of decisions.
struct BinaryMetrics
{
    int count = 0;
    int truePositive = 0, falsePositive = 0, trueNegative = 0, falseNegative = 0;
    double accuracy = 0, sensitivity = 0, specificity = 0, auc = 0;
    QJsonObject toJson() const;
};

/// Everything the model card reports about a validation set.
struct ValidationReport
{
    double threshold = 0.5;         ///< cell decision threshold on P(Parasitized)
    double patientThreshold = 0.05; ///< share of parasitized calls that makes a patient infected
    BinaryMetrics cells;
    BinaryMetrics patients;
    double logLoss = 0; ///< mean cross-entropy of the cells
    int healthyPatients = 0, infectedPatients = 0;
    double worstPatientAccuracy = 1.0; ///< lowest cell accuracy of any patient
    QString worstPatient;
    double maxHealthyParasitizedShare = 0.0; ///< largest share called parasitized, healthy patients
    QString maxHealthyPatient;
    QJsonObject perPatient; ///< patient -> {cells, infected, accuracy, called_parasitized_share}
    QJsonObject toJson(bool withPerPatient = true) const;
};

/// Area under the ROC curve of `scores` for `positive` labels (ties counted half).
/// 0.5 when one of the classes is missing.
double rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive);

/// Computes the report. Cells with a label other than 0/1 are ignored.
ValidationReport evaluateCells(const std::vector<ScoredCell>& cells, double threshold = 0.5,
                               double patientThreshold = 0.05);

} // namespace ml
