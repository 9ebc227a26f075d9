#pragma once
// Per-image classification results of one folder, filled batch by batch while the
// classifier runs, read by the results table, the thumbnail badges, the patient summary,
// the evaluation and the CSV export. Pure data: no torch here.

#include "dataset.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <memory>
#include <vector>

namespace ml {

/// Results for every image of one Dataset (same indices).
class ClassificationResults
{
public:
    ClassificationResults() = default;
    /// Empty results sized for `dataset` (nothing classified yet).
    explicit ClassificationResults(std::shared_ptr<const Dataset> dataset, double threshold = 0.5);

    const std::shared_ptr<const Dataset>& dataset() const { return m_dataset; }
    int size() const { return int(m_probability.size()); }

    /// Records one image: P(Parasitized) or an error (decoding failed).
    void set(int index, float probability, const QString& error = {});
    bool isDone(int index) const { return m_state[size_t(index)] != State::Pending; }
    bool hasError(int index) const { return m_state[size_t(index)] == State::Failed; }
    QString error(int index) const;
    /// P(Parasitized) of a classified image (-1 when not classified or failed).
    float probability(int index) const;
    /// Predicted label at the threshold: 0 Parasitized, 1 Uninfected, -1 when none.
    int predicted(int index) const;
    /// Whether the prediction matches the folder label: 1 right, 0 wrong, -1 unknown.
    int correct(int index) const;

    double threshold() const { return m_threshold; }
    void setThreshold(double threshold) { m_threshold = threshold; }

    int classified() const { return m_classified; }
    int failed() const { return m_failed; }
    /// Labelled images whose prediction is right / all labelled classified images.
    double accuracy() const;
    /// Predicted Parasitized share of the classified images.
    double predictedInfectedShare() const;

    /// CSV with a header row and stable column names:
    /// file,patient,true_label,predicted,probability_parasitized,correct,error
    QByteArray toCsv() const;

private:
    enum class State : unsigned char { Pending, Done, Failed };
    std::shared_ptr<const Dataset> m_dataset;
    std::vector<float> m_probability;
    std::vector<State> m_state;
    std::vector<QString> m_errors; // sparse use: empty strings for the others
    double m_threshold = 0.5;
    int m_classified = 0;
    int m_failed = 0;
};

/// Class names a binary model predicts, in its output order.
inline QStringList modelClassNames()
{
    return {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};
}

} // namespace ml
