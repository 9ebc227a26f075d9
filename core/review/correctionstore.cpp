#include "correctionstore.h"

#include "csvfield.h"

#include <QAtomicInteger>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QThread>
#include <QVariant>

#include <algorithm>

Q_LOGGING_CATEGORY(lcCorrections, "malarialens.corrections")

namespace ml {

namespace {

constexpr int kSchemaVersion = 1;

const QStringList& csvColumns()
{
    static const QStringList columns{
        QStringLiteral("id"),    QStringLiteral("path"),      QStringLiteral("sha256"),
        QStringLiteral("bytes"), QStringLiteral("old_label"), QStringLiteral("new_label"),
        QStringLiteral("time"),  QStringLiteral("reviewer"),  QStringLiteral("note")};
    return columns;
}

// A null QString binds as SQL NULL; the columns are NOT NULL text.
QString text(const QString& s)
{
    return s.isNull() ? QStringLiteral("") : s;
}

QString timeText(const QDateTime& t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

// SQLITE_BUSY (5) and SQLITE_LOCKED (6): another connection holds the lock.
bool isLockError(const QSqlError& e)
{
    const QString code = e.nativeErrorCode();
    return code == QLatin1String("5") || code == QLatin1String("6") ||
           e.text().contains(QLatin1String("locked"), Qt::CaseInsensitive);
}

QString describe(const QString& path, const QSqlError& e)
{
    if (isLockError(e))
        return QStringLiteral("the corrections database %1 is locked by another program (%2)")
            .arg(QDir::toNativeSeparators(path), e.text());
    return QStringLiteral("the corrections database %1 cannot be used: %2")
        .arg(QDir::toNativeSeparators(path), e.text());
}

// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
std::optional<QList<QStringList>> parseRecords(const QString& text, QString* error)
{
    QList<QStringList> records;
    QStringList record;
    QString field;
    bool quoted = false, fieldStarted = false;
    int line = 1;
    const int n = int(text.size());
    for (int i = 0; i < n; ++i) {
        const QChar c = text.at(i);
        if (quoted) {
            if (c == QLatin1Char('"')) {
                if (i + 1 < n && text.at(i + 1) == QLatin1Char('"')) {
                    field += QLatin1Char('"');
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                if (c == QLatin1Char('\n'))
                    ++line;
                field += c;
            }
            continue;
        }
        if (c == QLatin1Char('"')) {
            if (fieldStarted && !field.isEmpty()) {
                if (error)
                    *error = QStringLiteral("line %1: quote inside an unquoted field").arg(line);
                return std::nullopt;
            }
            quoted = true;
            fieldStarted = true;
        } else if (c == QLatin1Char(',')) {
            record << field;
            field.clear();
            fieldStarted = false;
        } else if (c == QLatin1Char('\r')) {
            // Part of a CRLF line end.
        } else if (c == QLatin1Char('\n')) {
            record << field;
            field.clear();
            fieldStarted = false;
            if (!(record.size() == 1 && record.first().isEmpty()))
                records << record;
            record.clear();
            ++line;
        } else {
            field += c;
            fieldStarted = true;
        }
    }
    if (quoted) {
        if (error)
            *error = QStringLiteral("line %1: unterminated quoted field").arg(line);
        return std::nullopt;
    }
    if (fieldStarted || !record.isEmpty()) {
        record << field;
        records << record;
    }
    return records;
}

/// The INSERT of one correction; `orIgnore` skips a row the unique index already holds.
QString insertStatement(bool orIgnore)
{
    return QStringLiteral("INSERT %1INTO corrections (path, sha256, bytes, old_label, new_label, "
                          "time, reviewer, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .arg(orIgnore ? QStringLiteral("OR IGNORE ") : QString());
}

/// Binds `c` to insertStatement()'s placeholders, with `time` as its decision time.
void bindCorrection(QSqlQuery& q, const Correction& c, const QDateTime& time)
{
    q.addBindValue(text(c.path));
    q.addBindValue(text(c.sha256));
    q.addBindValue(c.bytes);
    q.addBindValue(text(c.oldLabel));
    q.addBindValue(text(c.newLabel));
    q.addBindValue(timeText(time));
    q.addBindValue(text(c.reviewer));
    q.addBindValue(text(c.note));
}

Correction fromQuery(const QSqlQuery& q)
{
    Correction c;
    c.id = q.value(0).toLongLong();
    c.path = q.value(1).toString();
    c.sha256 = q.value(2).toString();
    c.bytes = q.value(3).toLongLong();
    c.oldLabel = q.value(4).toString();
    c.newLabel = q.value(5).toString();
    c.time = QDateTime::fromString(q.value(6).toString(), Qt::ISODateWithMs);
    c.reviewer = q.value(7).toString();
    c.note = q.value(8).toString();
    return c;
}

const char* kSelect = "SELECT id, path, sha256, bytes, old_label, new_label, time, reviewer, "
                      "note FROM corrections ";

} // namespace

QString sha256OfFile(const QString& path, QString* error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        if (error)
            *error = f.errorString();
        return {};
    }
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (!hash.addData(&f)) {
        if (error)
            *error = QStringLiteral("read error: %1").arg(f.errorString());
        return {};
    }
    return QString::fromLatin1(hash.result().toHex());
}

CorrectionStore::CorrectionStore()
{
    // A unique connection name per instance: QSqlDatabase connections are per thread and
    // named globally, and two stores (GUI + a background job) may be open at once.
    static QAtomicInteger<quint64> counter;
    m_connection = QStringLiteral("malarialens-corrections-%1").arg(counter.fetchAndAddRelaxed(1));
}

CorrectionStore::~CorrectionStore()
{
    close();
}

QString CorrectionStore::defaultPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
           QStringLiteral("/corrections.sqlite");
}

void CorrectionStore::close()
{
    if (QSqlDatabase::contains(m_connection)) {
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_connection);
    }
    m_open = false;
    m_readOnly = false;
}

bool CorrectionStore::exec(const QString& sql)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(sql)) {
        m_error = describe(m_path, q.lastError());
        m_lockFailure = isLockError(q.lastError());
        return false;
    }
    return true;
}

bool CorrectionStore::createSchema()
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    // Reading first: an existing, current database needs no write at all, so opening works
    // while another process holds the write lock.
    {
        QSqlQuery q(db);
        if (q.exec(QStringLiteral("SELECT version FROM schema_version")) && q.next()) {
            const int version = q.value(0).toInt();
            if (version > kSchemaVersion) {
                m_error = QStringLiteral("the corrections database %1 was written by a newer "
                                         "MalariaLens (schema %2, this one knows %3)")
                              .arg(QDir::toNativeSeparators(m_path))
                              .arg(version)
                              .arg(kSchemaVersion);
                return false;
            }
            if (version == kSchemaVersion)
                return true;
        } else if (q.lastError().isValid() &&
                   !q.lastError().text().contains(QLatin1String("no such table"))) {
            m_error = describe(m_path, q.lastError());
            m_lockFailure = isLockError(q.lastError());
            return false;
        }
    }
    if (!exec(QStringLiteral("BEGIN IMMEDIATE")))
        return false;
    const QStringList statements{
        QStringLiteral("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS corrections ("
                       " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       " path TEXT NOT NULL, sha256 TEXT NOT NULL DEFAULT '',"
                       " bytes INTEGER NOT NULL DEFAULT 0,"
                       " old_label TEXT NOT NULL DEFAULT '', new_label TEXT NOT NULL,"
                       " time TEXT NOT NULL, reviewer TEXT NOT NULL DEFAULT '',"
                       " note TEXT NOT NULL DEFAULT '')"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS corrections_sha256 ON corrections(sha256)"),
        QStringLiteral("CREATE UNIQUE INDEX IF NOT EXISTS corrections_unique ON "
                       "corrections(sha256, path, time, new_label, reviewer)"),
        QStringLiteral("DELETE FROM schema_version"),
        QStringLiteral("INSERT INTO schema_version (version) VALUES (%1)").arg(kSchemaVersion),
    };
    for (const QString& sql : statements) {
        if (!exec(sql)) {
            exec(QStringLiteral("ROLLBACK"));
            return false;
        }
    }
    return exec(QStringLiteral("COMMIT"));
}

bool CorrectionStore::open(const QString& path)
{
    close();
    m_path = path;
    m_error.clear();
    QDir().mkpath(QFileInfo(path).absolutePath());

    auto connect = [&](bool readOnly) {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
        db.setDatabaseName(path);
        QString options = QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(m_busyTimeoutMs);
        if (readOnly)
            options += QStringLiteral(";QSQLITE_OPEN_READONLY");
        db.setConnectOptions(options);
        if (!db.open()) {
            m_error = describe(path, db.lastError());
            return false;
        }
        return true;
    };

    // Read-write: WAL (readers never block the writer and a kill keeps every committed
    // transaction), FULL sync (a commit is on disk before add() returns), schema.
    auto openReadWrite = [&] {
        if (!connect(false))
            return false;
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        const bool wal =
            q.exec(QStringLiteral("PRAGMA journal_mode=WAL")) && q.next() &&
            q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) == 0;
        const QSqlError walError = q.lastError();
        q.finish(); // an active statement would block the schema transaction's COMMIT
        if (!wal) {
            m_error = walError.isValid() ? describe(path, walError)
                                         : QStringLiteral("the corrections database %1 "
                                                          "cannot switch to WAL mode")
                                               .arg(QDir::toNativeSeparators(path));
            m_lockFailure = walError.isValid() && isLockError(walError);
            return false;
        }
        return exec(QStringLiteral("PRAGMA synchronous=FULL")) && createSchema();
    };
    // Two programs opening a new database at the same moment can get SQLITE_BUSY at once,
    // without the busy handler waiting (SQLite refuses to wait where waiting could deadlock,
    // e.g. both switching it to WAL): a lock failure is retried on a fresh connection until
    // the busy timeout has passed. A lock that is really held ran out the timeout already.
    QElapsedTimer waited;
    waited.start();
    for (int attempt = 1;; ++attempt) {
        m_lockFailure = false;
        if (openReadWrite()) {
            m_open = true;
            return true;
        }
        if (!m_lockFailure || waited.elapsed() >= m_busyTimeoutMs)
            break;
        close();
        m_path = path;
        QThread::msleep(std::min(10 * attempt, 100));
    }
    const QString writeError = m_error;
    close();
    m_path = path;

    // Read-only fallback: the rows can still be shown and applied.
    if (QFileInfo::exists(path) && connect(true)) {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        if (q.exec(QStringLiteral("SELECT count(*) FROM corrections")) && q.next()) {
            q.finish();
            m_open = true;
            m_readOnly = true;
            m_error = QStringLiteral("%1; corrections are read-only until it can be written")
                          .arg(writeError);
            qCWarning(lcCorrections) << m_error;
            return true;
        }
    }
    close();
    m_path = path;
    m_error = QStringLiteral("%1; corrections are not available (the file was left untouched)")
                  .arg(writeError);
    qCWarning(lcCorrections) << m_error;
    return false;
}

bool CorrectionStore::writable()
{
    if (m_open && !m_readOnly)
        return true;
    if (m_error.isEmpty())
        m_error = QStringLiteral("the corrections database is not open");
    return false;
}

bool CorrectionStore::writeTransaction(const QString& sql,
                                       const std::function<bool(QSqlQuery&)>& body)
{
    // BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout) instead
    // of failing half-way when another process writes at the same time.
    if (!exec(QStringLiteral("BEGIN IMMEDIATE")))
        return false;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(sql);
    if (!body(q)) {
        m_error = describe(m_path, q.lastError());
        exec(QStringLiteral("ROLLBACK"));
        return false;
    }
    q.finish(); // COMMIT fails while a statement of the transaction is still active
    if (!exec(QStringLiteral("COMMIT"))) {
        const QString e = m_error;
        exec(QStringLiteral("ROLLBACK"));
        m_error = e;
        return false;
    }
    return true;
}

std::optional<qint64> CorrectionStore::add(Correction c)
{
    if (!writable())
        return std::nullopt;
    if (!c.time.isValid())
        c.time = QDateTime::currentDateTimeUtc();
    qint64 id = -1;
    const bool written = writeTransaction(insertStatement(false), [&](QSqlQuery& q) {
        bindCorrection(q, c, c.time);
        if (!q.exec())
            return false;
        id = q.lastInsertId().toLongLong();
        return true;
    });
    if (!written)
        return std::nullopt;
    m_error.clear();
    return id;
}

std::optional<int> CorrectionStore::addAll(const QList<Correction>& corrections, int batchSize)
{
    if (!writable())
        return std::nullopt;
    const int step = std::max(1, batchSize);
    int added = 0;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (int start = 0; start < corrections.size(); start += step) {
        const int end = std::min(int(corrections.size()), start + step);
        const bool written = writeTransaction(insertStatement(true), [&](QSqlQuery& q) {
            for (int i = start; i < end; ++i) {
                const Correction& c = corrections.at(i);
                bindCorrection(q, c, c.time.isValid() ? c.time : now);
                if (!q.exec())
                    return false;
                added += q.numRowsAffected() > 0 ? 1 : 0;
            }
            return true;
        });
        if (!written)
            return std::nullopt;
    }
    m_error.clear();
    return added;
}

QList<Correction> CorrectionStore::all() const
{
    QList<Correction> rows;
    if (!m_open)
        return rows;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    if (!q.exec(QLatin1String(kSelect) + QStringLiteral("ORDER BY id"))) {
        m_error = describe(m_path, q.lastError());
        return rows;
    }
    while (q.next())
        rows << fromQuery(q);
    return rows;
}

qint64 CorrectionStore::count() const
{
    if (!m_open)
        return -1;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT count(*) FROM corrections")) || !q.next()) {
        m_error = describe(m_path, q.lastError());
        return -1;
    }
    return q.value(0).toLongLong();
}

QHash<QString, Correction> CorrectionStore::latestByHash() const
{
    QHash<QString, Correction> latest;
    for (const Correction& c : all()) {
        if (!c.sha256.isEmpty())
            latest.insert(c.sha256, c); // rows come oldest first: the last one wins
    }
    return latest;
}

QByteArray CorrectionStore::toCsv() const
{
    QString out = csvColumns().join(QLatin1Char(',')) + QLatin1Char('\n');
    for (const Correction& c : all()) {
        const QStringList fields{QString::number(c.id),    c.path,     c.sha256,
                                 QString::number(c.bytes), c.oldLabel, c.newLabel,
                                 timeText(c.time),         c.reviewer, c.note};
        QStringList quoted;
        for (const QString& f : fields)
            quoted << csvField(f);
        out += quoted.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out.toUtf8();
}

std::optional<QList<Correction>> CorrectionStore::parseCsv(const QByteArray& csv, QString* error)
{
    QString text = QString::fromUtf8(csv);
    if (text.startsWith(QChar(0xFEFF))) // a byte order mark from a spreadsheet
        text.remove(0, 1);
    const std::optional<QList<QStringList>> records = parseRecords(text, error);
    if (!records)
        return std::nullopt;
    if (records->isEmpty()) {
        if (error)
            *error = QStringLiteral("empty file (expected a header row)");
        return std::nullopt;
    }
    // Columns by name, so a spreadsheet may reorder them or drop id/bytes/note.
    QHash<QString, int> column;
    const QStringList header = records->first();
    for (int i = 0; i < header.size(); ++i)
        column.insert(header.at(i).trimmed().toLower(), i);
    for (const char* required : {"path", "new_label"}) {
        if (!column.contains(QLatin1String(required))) {
            if (error)
                *error = QStringLiteral("line 1: the header has no \"%1\" column (expected %2)")
                             .arg(QLatin1String(required), csvColumns().join(QLatin1Char(',')));
            return std::nullopt;
        }
    }
    auto field = [&](const QStringList& r, const char* name) {
        const int i = column.value(QLatin1String(name), -1);
        return i >= 0 && i < r.size() ? r.at(i) : QString();
    };
    QList<Correction> rows;
    for (int k = 1; k < records->size(); ++k) {
        const QStringList& r = records->at(k);
        Correction c;
        c.path = field(r, "path");
        c.sha256 = field(r, "sha256").trimmed().toLower();
        c.bytes = field(r, "bytes").toLongLong();
        c.oldLabel = field(r, "old_label");
        c.newLabel = field(r, "new_label").trimmed();
        const QString t = field(r, "time").trimmed();
        if (!t.isEmpty()) {
            c.time = QDateTime::fromString(t, Qt::ISODateWithMs);
            if (!c.time.isValid()) {
                if (error)
                    *error = QStringLiteral("record %1: invalid time \"%2\" (ISO 8601 expected)")
                                 .arg(k + 1)
                                 .arg(t);
                return std::nullopt;
            }
        }
        c.reviewer = field(r, "reviewer");
        c.note = field(r, "note");
        if (c.path.isEmpty() && c.sha256.isEmpty()) {
            if (error)
                *error = QStringLiteral("record %1: neither path nor sha256").arg(k + 1);
            return std::nullopt;
        }
        if (c.newLabel.isEmpty()) {
            if (error)
                *error = QStringLiteral("record %1: empty new_label").arg(k + 1);
            return std::nullopt;
        }
        rows << c;
    }
    return rows;
}

QString CorrectionStore::integrityCheck() const
{
    if (!m_open)
        return m_error;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("PRAGMA integrity_check")) || !q.next())
        return q.lastError().text();
    return q.value(0).toString();
}

} // namespace ml
