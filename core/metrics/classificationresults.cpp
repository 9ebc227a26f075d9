#include "classificationresults.h"

#include "csvfield.h"

#include <QTextStream>

namespace ml {

ClassificationResults::ClassificationResults(std::shared_ptr<const Dataset> dataset,
                                             double threshold)
    : m_dataset(std::move(dataset)), m_threshold(threshold)
{
    const size_t n = m_dataset ? size_t(m_dataset->images.size()) : 0;
    m_probability.assign(n, -1.0f);
    m_state.assign(n, State::Pending);
    m_errors.resize(n);
}

void ClassificationResults::set(int index, float probability, const QString& error)
{
    const size_t i = size_t(index);
    if (m_state[i] == State::Done)
        --m_classified;
    else if (m_state[i] == State::Failed)
        --m_failed;
    if (error.isEmpty()) {
        m_state[i] = State::Done;
        m_probability[i] = probability;
        m_errors[i].clear();
        ++m_classified;
    } else {
        m_state[i] = State::Failed;
        m_probability[i] = -1.0f;
        m_errors[i] = error;
        ++m_failed;
    }
}

QString ClassificationResults::error(int index) const
{
    return m_errors[size_t(index)];
}

float ClassificationResults::probability(int index) const
{
    return m_state[size_t(index)] == State::Done ? m_probability[size_t(index)] : -1.0f;
}

int ClassificationResults::predicted(int index) const
{
    if (m_state[size_t(index)] != State::Done)
        return -1;
    return m_probability[size_t(index)] >= m_threshold ? 0 : 1;
}

int ClassificationResults::correct(int index) const
{
    const int p = predicted(index);
    if (p < 0 || !m_dataset || !m_dataset->isLabelled())
        return -1;
    // Folder labels are compared by class name, so a folder whose classes are named as
    // the model's but in another order is still scored right.
    const QString truth = m_dataset->className(m_dataset->images.at(index).label);
    if (!modelClassNames().contains(truth))
        return -1;
    return truth == modelClassNames().at(p) ? 1 : 0;
}

double ClassificationResults::accuracy() const
{
    int right = 0, known = 0;
    for (int i = 0; i < size(); ++i) {
        const int c = correct(i);
        if (c < 0)
            continue;
        ++known;
        right += c;
    }
    return known ? double(right) / known : -1.0;
}

double ClassificationResults::predictedInfectedShare() const
{
    int positive = 0;
    for (int i = 0; i < size(); ++i)
        positive += predicted(i) == 0;
    return m_classified ? double(positive) / m_classified : 0.0;
}

QByteArray ClassificationResults::toCsv() const
{
    QByteArray out;
    QTextStream s(&out);
    const auto quote = csvField;
    s << "file,patient,true_label,predicted,probability_parasitized,correct,error\n";
    for (int i = 0; i < size(); ++i) {
        const ImageEntry& e = m_dataset->images.at(i);
        const int p = predicted(i);
        const int c = correct(i);
        s << quote(e.relativePath) << ',' << quote(e.patient) << ','
          << (m_dataset->isLabelled() ? quote(m_dataset->className(e.label)) : QString()) << ','
          << (p >= 0 ? modelClassNames().at(p) : QString()) << ','
          << (isDone(i) && !hasError(i) ? QString::number(double(probability(i)), 'f', 6)
                                        : QString())
          << ',' << (c < 0 ? QString() : QString::number(c)) << ',' << quote(error(i)) << '\n';
    }
    s.flush();
    return out;
}

} // namespace ml
