#pragma once
// The state of a reviewer working through a queue of cells: position, decisions written to
// the corrections database, undo. Non-widget; the Review page renders it.

#include "correctionstore.h"
#include "dataset.h"
#include "reviewqueue.h"

#include <QHash>
#include <QObject>

#include <memory>
#include <vector>

namespace ml {

/// Lives in the GUI thread and owns its CorrectionStore connection. Each decision is one
/// quick SQLite transaction plus the hash of one small image file (a few milliseconds), so
/// it runs in the calling thread; building the queue is done elsewhere (off the GUI thread).
class ReviewSession : public QObject
{
    Q_OBJECT
public:
    explicit ReviewSession(QObject* parent = nullptr);
    ~ReviewSession() override;

    /// Opens the corrections database (see CorrectionStore::open()). False when it cannot be
    /// read at all; true and isReadOnly() when only writing fails. storeMessage() says why.
    bool openStore(const QString& path);
    const CorrectionStore& store() const { return m_store; }
    bool isReadOnly() const { return !m_store.isOpen() || m_store.isReadOnly(); }
    QString storeMessage() const { return m_store.errorString(); }

    void setReviewer(const QString& name) { m_reviewer = name; }
    QString reviewer() const { return m_reviewer; }

    /// Records decisions by the item's path alone, without a content hash or size: for cells
    /// that are not image files of their own (a cell inside a field image, whose path is a key
    /// such as "<field>#cell=x,y,w,h"). Off by default: an image file is recorded with its
    /// SHA-256 and size, so its decision follows a renamed or moved copy.
    void setRecordByPath(bool on) { m_recordByPath = on; }
    bool recordsByPath() const { return m_recordByPath; }

    /// Starts a queue over `dataset` (position 0, empty undo history).
    void setQueue(std::shared_ptr<const Dataset> dataset, std::vector<ReviewItem> queue);
    std::shared_ptr<const Dataset> dataset() const { return m_dataset; }
    const std::vector<ReviewItem>& queue() const { return m_queue; }
    int size() const { return int(m_queue.size()); }
    /// Index into queue(); == size() when the queue is done.
    int position() const { return m_position; }
    /// The item at position(), nullptr when done or empty.
    const ReviewItem* current() const;
    /// Decisions recorded in this queue (undone ones not counted).
    int decided() const { return m_decided; }

    /// The label now in effect for dataset image `index`: the folder's (or the correction
    /// applied at load), or this session's latest decision. Class name, unsureLabel() or
    /// "unlabeled".
    QString effectiveLabel(int index) const;

    /// Records `label` (a class name or unsureLabel()) for the current cell and moves on.
    /// False when there is no current cell or the write failed (errorString(); the position
    /// stays, nothing is half-written).
    bool decide(const QString& label, const QString& note = {});
    /// Moves on without a decision.
    void skip();
    /// Goes back one step: a decision is reverted by appending a row that restores the
    /// previous label (the trail stays append-only), a skip just steps back.
    bool undo();
    bool canUndo() const { return !m_history.empty(); }
    /// Jumps to a queue position (clamped).
    void goTo(int position);
    QString errorString() const { return m_error; }

Q_SIGNALS:
    void currentChanged(int position);
    /// A decision (or its undo) was stored: dataset `index` now has `label`.
    void labelChanged(int index, const QString& label);
    /// A write failed (locked or damaged database); the message is for the user.
    void storeFailed(const QString& message);

private:
    struct Step
    {
        int position = 0;
        bool decision = false;
        QString oldLabel, newLabel;
        qint64 rowId = 0;
    };
    bool write(int index, const QString& oldLabel, const QString& newLabel, const QString& note,
               qint64* rowId);

    CorrectionStore m_store;
    QString m_reviewer;
    bool m_recordByPath = false;
    std::shared_ptr<const Dataset> m_dataset;
    std::vector<ReviewItem> m_queue;
    int m_position = 0;
    int m_decided = 0;
    std::vector<Step> m_history;
    QHash<int, QString> m_labels; // this session's decisions
    QString m_error;
};

/// The reviewer name by default: the OS user name (USER / USERNAME / LOGNAME), else the
/// home folder's name, else "reviewer".
QString defaultReviewerName();

} // namespace ml
