#pragma once
// Reviewer label corrections: an append-only audit trail in one SQLite database per user
// (Qt SQL, QSQLITE driver), plus CSV import/export and the content hash that lets a renamed
// or moved image keep its corrected label. The user's image files are only ever read.

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

class QSqlQuery;

namespace ml {

/// Label value of a review decision that is not a class: the reviewer could not decide.
/// Recorded in the trail (the queue counts the cell as reviewed) but never changes a label.
inline QString unsureLabel()
{
    return QStringLiteral("unsure");
}

/// One reviewer decision about one image.
struct Correction
{
    qint64 id = 0;    ///< row id in the database (0 before it is stored)
    QString path;     ///< absolute path of the image when it was reviewed
    QString sha256;   ///< hex SHA-256 of the file bytes (the identity that survives a rename)
    qint64 bytes = 0; ///< file size (lets a folder find moved files without hashing them all)
    QString oldLabel; ///< label before the decision (folder label or an earlier correction)
    QString newLabel; ///< class name, or unsureLabel()
    QDateTime time;   ///< UTC, millisecond resolution
    QString reviewer;
    QString note;
};

/// Hex SHA-256 of a file's bytes (streamed, read-only). Empty and `error` set on failure.
QString sha256OfFile(const QString& path, QString* error = nullptr);

/// The corrections database of one user.
///
/// Each instance owns its own named QSqlDatabase connection and must be used only from the
/// thread that opened it (a QSqlDatabase rule); background jobs open their own instance on
/// the same file. The database runs in WAL mode with synchronous=FULL: every add() is one
/// transaction, so a crash or kill -9 never loses a committed row and several processes
/// may read and write the same file at once (writers wait up to busyTimeout()).
///
/// Faults are values: when the file cannot be opened for writing (locked by another program,
/// read-only file system, damaged file) open() still returns true if the rows can be read,
/// with isReadOnly() set and errorString() explaining why; it returns false only when not
/// even reading works. Nothing here throws or modifies a damaged file.
class CorrectionStore
{
public:
    CorrectionStore();
    ~CorrectionStore();
    CorrectionStore(const CorrectionStore&) = delete;
    CorrectionStore& operator=(const CorrectionStore&) = delete;

    /// The per-user database: QStandardPaths::AppDataLocation + "/corrections.sqlite".
    static QString defaultPath();

    /// How long a write waits for another connection's lock (default 3000 ms). Set before open().
    void setBusyTimeout(int milliseconds) { m_busyTimeoutMs = milliseconds; }
    int busyTimeout() const { return m_busyTimeoutMs; }

    /// Opens (creating when missing) the database at `path`. See the class comment.
    bool open(const QString& path);
    void close();
    bool isOpen() const { return m_open; }
    bool isReadOnly() const { return m_readOnly; }
    QString path() const { return m_path; }
    /// Why the store is read-only or the last operation failed (empty when all is well).
    QString errorString() const { return m_error; }

    /// Appends one decision in its own transaction; sets time to now when null. Returns the
    /// new row id, nullopt (and errorString()) when read-only, locked past the timeout or
    /// failing.
    std::optional<qint64> add(Correction correction);
    /// Appends rows in transactions of `batchSize` rows; rows already present (same hash,
    /// time, new label and reviewer) are skipped, so importing a file twice adds nothing.
    /// Returns how many rows were added, nullopt on failure (earlier batches stay committed).
    std::optional<int> addAll(const QList<Correction>& corrections, int batchSize = 500);

    /// Every row, oldest first. Empty (and errorString()) when the database cannot be read.
    QList<Correction> all() const;
    /// Number of rows, -1 when the database cannot be read.
    qint64 count() const;
    /// The latest decision per content hash (rows without a hash are left out).
    QHash<QString, Correction> latestByHash() const;

    /// Every row as CSV (header row; fields quoted as RFC 4180):
    /// id,path,sha256,bytes,old_label,new_label,time,reviewer,note
    QByteArray toCsv() const;
    /// Parses what toCsv() writes (ids are ignored; a missing time is now). nullopt with
    /// `error` naming the line when the header or a row is malformed.
    static std::optional<QList<Correction>> parseCsv(const QByteArray& csv,
                                                     QString* error = nullptr);

    /// Result of "PRAGMA integrity_check" ("ok" for a sound file).
    QString integrityCheck() const;

private:
    bool createSchema();
    bool exec(const QString& sql);
    /// True when open read-write; else sets m_error (when empty) and returns false.
    bool writable();
    /// Prepares `sql` and runs `body` on it inside one write transaction (BEGIN IMMEDIATE
    /// ... COMMIT). `body` returns false when a statement fails: everything is rolled back
    /// and m_error names the failure.
    bool writeTransaction(const QString& sql, const std::function<bool(QSqlQuery&)>& body);

    QString m_connection;
    QString m_path;
    mutable QString m_error; // also set by const readers
    bool m_open = false;
    bool m_readOnly = false;
    bool m_lockFailure = false; ///< the last failed statement met another connection's lock
    int m_busyTimeoutMs = 3000;
};

} // namespace ml
