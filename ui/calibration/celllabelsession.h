#pragma once
// The reviewer's labels of one lab's cells during "Calibrate for this lab": the queue of cells
// to ask about (proposeCellsToLabel(), the same rule as the CLI's --budget), the labels with
// undo, and their safe keeping. Non-widget; the wizard's label page renders it.
//
// Every label is written to the corrections database (the append-only audit trail, one
// transaction per label, WAL, synchronous=FULL: a cancel, a crash or kill -9 loses none) as
// a cell label (calibrationlabels.h: field, box, reviewer, lab). When the database cannot
// take a write (another program holds a lock, a read-only file), the label is kept in memory
// in order with the others, the user is told so, and the pending rows are written again
// every few seconds and at every new label until the database takes them; none is dropped.
// Labels already in the database for these cells are restored when the cells are set, so a
// flow started again on the same folder continues where the last one stopped.

#include "calibrationlabels.h"
#include "correctionstore.h"
#include "labcalibration.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QString>

#include <vector>

class QTimer;

namespace ml {

/// Labels so far, per class and per side of the field split.
struct CellLabelCounts
{
    int labelled = 0; ///< cells with a decision (parasitized, uninfected, unsure, not a cell)
    int parasitized = 0, uninfected = 0, unsure = 0;
    int notACell = 0; ///< detections marked as no red cell (debris, cut or merged cells)
    int adaptParasitized = 0, adaptUninfected = 0;
    int testParasitized = 0, testUninfected = 0;
};

/// Lives in the GUI thread and owns its CorrectionStore connection.
class CellLabelSession : public QObject
{
    Q_OBJECT
public:
    explicit CellLabelSession(QObject* parent = nullptr);
    ~CellLabelSession() override;

    /// Opens the corrections database at `path` (created when missing). A write waits at most
    /// `busyTimeoutMs` for another program's lock before the label is kept pending (the GUI
    /// thread must not wait long). False when it cannot even be read: labels then stay in
    /// memory only, pending, and storeMessage() says so.
    bool openStore(const QString& path, int busyTimeoutMs = 250);
    QString databasePath() const { return m_path; }
    void setReviewer(const QString& name) { m_reviewer = name; }
    QString reviewer() const { return m_reviewer; }
    void setLab(const QString& lab) { m_lab = lab; }

    /// Starts a session on a lab's cells (analyseLabFields(), no labels): the queue holds
    /// first the cells already labelled in the database (restored), then at most `budget`
    /// more in proposeCellsToLabel() order. The position is the first unlabelled cell.
    /// Returns how many labels were restored.
    int setCells(std::vector<CalibrationCell> cells, double threshold, int budget);
    /// The cells with the labels so far (0 parasitized, 1 uninfected, -1 none, unsure or not
    /// a cell, which also sets CalibrationCell::notACell).
    const std::vector<CalibrationCell>& cells() const { return m_cells; }
    double threshold() const { return m_threshold; }
    /// Indices into cells(), in the order they are asked.
    const std::vector<int>& queue() const { return m_queue; }
    /// Index into queue(); == queue().size() when every proposed cell was seen.
    int position() const { return m_position; }
    /// The cell at position() (index into cells()), -1 when done.
    int currentCell() const;
    /// The decision recorded for cell `index`: "Parasitized", "Uninfected", unsureLabel(),
    /// notACellLabel() or "".
    QString labelOf(int index) const { return m_labels.value(index); }
    CellLabelCounts counts() const;

    /// Labels the current cell ("Parasitized", "Uninfected", unsureLabel() or notACellLabel())
    /// and moves on.
    /// The label counts at once; its database row is written now or kept pending (see the
    /// file comment). False only when there is no current cell.
    bool decide(const QString& label);
    /// Moves on without a label.
    void skip();
    /// Steps back; a label is reverted by appending a row that restores the previous one.
    bool undo();
    bool canUndo() const { return !m_history.empty(); }

    /// Labels not yet in the database (kept in memory, in order).
    int pendingCount() const { return int(m_pending.size()); }
    /// Writes the pending rows now; true when none is left.
    bool flushPending();
    /// The pending labels as a CSV that `calibrate --labels` reads (to keep them when the
    /// database stays locked until the window closes).
    QByteArray pendingCsv() const;
    /// The last message about the database (empty when every label is saved).
    QString storeMessage() const { return m_storeMessage; }

Q_SIGNALS:
    /// The position, a label or the counts changed.
    void changed();
    /// The database state changed: `problem` true while labels are pending.
    void storeStatusChanged(const QString& message, bool problem);

private:
    struct Step
    {
        int position = 0;
        int cell = -1;
        bool decision = false;
        QString oldLabel, newLabel;
    };
    void record(int cell, const QString& oldLabel, const QString& newLabel);
    void setLabel(int cell, const QString& label);
    QString fieldSha256(const QString& fieldPath);

    CorrectionStore m_store;
    QString m_path;
    QString m_reviewer, m_lab;
    std::vector<CalibrationCell> m_cells;
    double m_threshold = 0.5;
    std::vector<int> m_queue;
    int m_position = 0;
    QHash<int, QString> m_labels;
    std::vector<Step> m_history;
    QList<Correction> m_pending;
    QHash<QString, QString> m_fieldHashes;
    QString m_storeMessage;
    QTimer* m_retry;
};

} // namespace ml
