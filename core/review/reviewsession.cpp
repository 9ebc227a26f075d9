#include "reviewsession.h"

#include <QDir>
#include <QFileInfo>

namespace ml {

QString defaultReviewerName()
{
    for (const char* var : {"USER", "USERNAME", "LOGNAME"}) {
        const QString name = qEnvironmentVariable(var);
        if (!name.isEmpty())
            return name;
    }
    const QString home = QDir::home().dirName(); // the account name on most systems
    return home.isEmpty() ? QStringLiteral("reviewer") : home;
}

ReviewSession::ReviewSession(QObject* parent) : QObject(parent), m_reviewer(defaultReviewerName())
{}

ReviewSession::~ReviewSession() = default;

bool ReviewSession::openStore(const QString& path)
{
    return m_store.open(path);
}

void ReviewSession::setQueue(std::shared_ptr<const Dataset> dataset, std::vector<ReviewItem> queue)
{
    m_dataset = std::move(dataset);
    m_queue = std::move(queue);
    m_position = 0;
    m_decided = 0;
    m_history.clear();
    m_labels.clear();
    m_error.clear();
    Q_EMIT currentChanged(m_position);
}

const ReviewItem* ReviewSession::current() const
{
    return m_position >= 0 && m_position < size() ? &m_queue[size_t(m_position)] : nullptr;
}

QString ReviewSession::effectiveLabel(int index) const
{
    const auto it = m_labels.constFind(index);
    if (it != m_labels.constEnd())
        return it.value();
    if (!m_dataset || index < 0 || index >= m_dataset->images.size())
        return {};
    return m_dataset->className(m_dataset->images.at(index).label);
}

bool ReviewSession::write(int index, const QString& oldLabel, const QString& newLabel,
                          const QString& note, qint64* rowId)
{
    Correction c;
    c.path = m_dataset->absolutePath(index);
    if (!m_recordByPath) {
        QString hashError;
        c.sha256 = sha256OfFile(c.path, &hashError);
        if (c.sha256.isEmpty()) {
            m_error = tr("%1 cannot be read (%2); the decision was not saved")
                          .arg(QFileInfo(c.path).fileName(), hashError);
            Q_EMIT storeFailed(m_error);
            return false;
        }
        c.bytes = QFileInfo(c.path).size();
    }
    c.oldLabel = oldLabel;
    c.newLabel = newLabel;
    c.reviewer = m_reviewer;
    c.note = note;
    const std::optional<qint64> id = m_store.add(c);
    if (!id) {
        m_error = tr("The decision was not saved: %1").arg(m_store.errorString());
        Q_EMIT storeFailed(m_error);
        return false;
    }
    if (rowId)
        *rowId = *id;
    m_labels.insert(index, newLabel);
    m_error.clear();
    Q_EMIT labelChanged(index, newLabel);
    return true;
}

bool ReviewSession::decide(const QString& label, const QString& note)
{
    const ReviewItem* item = current();
    if (!item) {
        m_error = tr("No cell to decide on");
        return false;
    }
    Step step;
    step.position = m_position;
    step.decision = true;
    step.oldLabel = effectiveLabel(item->index);
    step.newLabel = label;
    if (!write(item->index, step.oldLabel, label, note, &step.rowId))
        return false;
    m_history.push_back(step);
    ++m_decided;
    ++m_position;
    Q_EMIT currentChanged(m_position);
    return true;
}

void ReviewSession::skip()
{
    if (!current())
        return;
    Step step;
    step.position = m_position;
    m_history.push_back(step);
    ++m_position;
    Q_EMIT currentChanged(m_position);
}

bool ReviewSession::undo()
{
    if (m_history.empty())
        return false;
    const Step step = m_history.back();
    if (step.decision) {
        const int index = m_queue[size_t(step.position)].index;
        if (!write(index, step.newLabel, step.oldLabel,
                   QStringLiteral("undo of correction %1").arg(step.rowId), nullptr))
            return false;
        --m_decided;
    }
    m_history.pop_back();
    m_position = step.position;
    Q_EMIT currentChanged(m_position);
    return true;
}

void ReviewSession::goTo(int position)
{
    m_position = std::clamp(position, 0, size());
    Q_EMIT currentChanged(m_position);
}

} // namespace ml
