#include "celllabelsession.h"

#include "reviewsession.h"

#include <QDateTime>
#include <QFileInfo>
#include <QTimer>

#include <algorithm>
#include <set>

namespace ml {

CellLabelSession::CellLabelSession(QObject* parent)
    : QObject(parent), m_reviewer(defaultReviewerName()), m_retry(new QTimer(this))
{
    // Pending labels are retried on a timer: a lock held by another program is usually let
    // go within seconds, and the reviewer should not have to do anything for them.
    m_retry->setInterval(2000);
    connect(m_retry, &QTimer::timeout, this, [this] { flushPending(); });
}

CellLabelSession::~CellLabelSession() = default;

bool CellLabelSession::openStore(const QString& path, int busyTimeoutMs)
{
    m_path = path;
    m_store.setBusyTimeout(busyTimeoutMs);
    const bool ok = m_store.open(path);
    if (!ok || m_store.isReadOnly()) {
        m_storeMessage = tr("The corrections database %1 cannot be written (%2). Your labels "
                            "are kept in this window and saved as soon as it can be written.")
                             .arg(path, m_store.errorString());
        Q_EMIT storeStatusChanged(m_storeMessage, true);
    }
    return ok;
}

int CellLabelSession::setCells(std::vector<CalibrationCell> cells, double threshold, int budget)
{
    m_cells = std::move(cells);
    m_threshold = threshold;
    m_labels.clear();
    m_history.clear();
    m_queue.clear();
    m_position = 0;
    for (CalibrationCell& c : m_cells)
        c.label = -1;
    // Labels given earlier to these very cells (a flow that was cancelled, crashed or killed)
    // come back from the database: the same matching as `calibrate --db`.
    int restored = 0;
    if (m_store.isOpen()) {
        QList<CellLabel> saved = latestCellLabels(m_store.all());
        std::vector<CalibrationCell> probe = m_cells;
        for (const CellLabel& l : saved) {
            for (CalibrationCell& c : probe)
                c.label = -2;
            if (applyCellLabels(probe, {l}) == 0)
                continue;
            const auto it = std::find_if(probe.begin(), probe.end(),
                                         [](const CalibrationCell& c) { return c.label != -2; });
            const int index = int(it - probe.begin());
            if (!m_labels.contains(index))
                m_queue.push_back(index);
            setLabel(index, l.label);
        }
        restored = int(m_queue.size());
    }
    const std::set<int> seen(m_queue.begin(), m_queue.end());
    for (int i : proposeCellsToLabel(m_cells, budget + restored, threshold)) {
        if (int(m_queue.size()) >= budget + restored)
            break;
        if (!seen.count(i))
            m_queue.push_back(i);
    }
    m_position = restored;
    Q_EMIT changed();
    return restored;
}

int CellLabelSession::currentCell() const
{
    return m_position >= 0 && m_position < int(m_queue.size()) ? m_queue[size_t(m_position)] : -1;
}

CellLabelCounts CellLabelSession::counts() const
{
    CellLabelCounts n;
    for (auto it = m_labels.constBegin(); it != m_labels.constEnd(); ++it) {
        if (it.value().isEmpty())
            continue;
        ++n.labelled;
        const bool adapt = m_cells[size_t(it.key())].adapt;
        switch (cellLabelValue(it.value())) {
        case 0:
            ++n.parasitized;
            ++(adapt ? n.adaptParasitized : n.testParasitized);
            break;
        case 1:
            ++n.uninfected;
            ++(adapt ? n.adaptUninfected : n.testUninfected);
            break;
        default:
            ++(it.value() == notACellLabel() ? n.notACell : n.unsure);
        }
    }
    return n;
}

void CellLabelSession::setLabel(int cell, const QString& label)
{
    if (label.isEmpty() || label == unlabeledCellLabel())
        m_labels.remove(cell);
    else
        m_labels.insert(cell, label);
    m_cells[size_t(cell)].label = cellLabelValue(label);
    m_cells[size_t(cell)].notACell = label == notACellLabel();
}

bool CellLabelSession::decide(const QString& label)
{
    const int cell = currentCell();
    if (cell < 0)
        return false;
    const QString old = m_labels.value(cell);
    m_history.push_back({m_position, cell, true, old, label});
    setLabel(cell, label);
    record(cell, old, label);
    ++m_position;
    Q_EMIT changed();
    return true;
}

void CellLabelSession::skip()
{
    if (currentCell() < 0)
        return;
    m_history.push_back({m_position, currentCell(), false, {}, {}});
    ++m_position;
    Q_EMIT changed();
}

bool CellLabelSession::undo()
{
    if (m_history.empty())
        return false;
    const Step s = m_history.back();
    m_history.pop_back();
    m_position = s.position;
    if (s.decision) {
        setLabel(s.cell, s.oldLabel);
        record(s.cell, s.newLabel, s.oldLabel.isEmpty() ? unlabeledCellLabel() : s.oldLabel);
    }
    Q_EMIT changed();
    return true;
}

QString CellLabelSession::fieldSha256(const QString& fieldPath)
{
    auto it = m_fieldHashes.constFind(fieldPath);
    if (it == m_fieldHashes.constEnd())
        it = m_fieldHashes.insert(fieldPath, sha256OfFile(fieldPath));
    return it.value();
}

void CellLabelSession::record(int cell, const QString& oldLabel, const QString& newLabel)
{
    const CalibrationCell& c = m_cells[size_t(cell)];
    CellLabel l;
    l.field = c.field;
    l.fieldPath = c.fieldPath;
    l.box = c.box;
    l.label = newLabel;
    l.reviewer = m_reviewer;
    // The time is taken now, not when a pending row is finally written: the trail keeps the
    // order in which the reviewer decided.
    l.time = QDateTime::currentDateTimeUtc();
    m_pending << cellLabelCorrection(l, fieldSha256(c.fieldPath), oldLabel, m_lab);
    flushPending();
}

bool CellLabelSession::flushPending()
{
    const bool hadProblem = !m_storeMessage.isEmpty();
    // A database that was locked or unreadable when it was opened is opened again: the
    // store stays read-only until then.
    if (!m_pending.isEmpty() && !m_path.isEmpty() && (!m_store.isOpen() || m_store.isReadOnly())) {
        m_store.close();
        m_store.open(m_path);
    }
    while (!m_pending.isEmpty()) {
        if (!m_store.isOpen() || !m_store.add(m_pending.first())) {
            m_storeMessage =
                tr("The corrections database cannot take your labels now: %1. %2 label(s) are "
                   "kept in this window and saved automatically as soon as it is free; none is "
                   "lost. Keep this window open until this message goes away.")
                    .arg(m_store.isOpen() ? m_store.errorString() : tr("it could not be opened"))
                    .arg(m_pending.size());
            if (!m_retry->isActive())
                m_retry->start();
            Q_EMIT storeStatusChanged(m_storeMessage, true);
            return false;
        }
        m_pending.removeFirst();
    }
    m_retry->stop();
    if (hadProblem) {
        m_storeMessage.clear();
        Q_EMIT storeStatusChanged(tr("Every label is saved in the corrections database."), false);
    }
    return true;
}

QByteArray CellLabelSession::pendingCsv() const
{
    QList<CellLabel> labels;
    for (const Correction& c : m_pending)
        if (const std::optional<CellLabel> l = cellLabelFromCorrection(c))
            labels << *l;
    return cellLabelsCsv(labels);
}

} // namespace ml
