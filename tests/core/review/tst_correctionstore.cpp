// The corrections database: audit rows, CSV round trip, and its faults (damaged file,
// locked by another connection, two writers at once), plus corrections applied to a real
// folder by content hash (a renamed file keeps its label; the images are never modified).
#include "correctionstore.h"
#include "folderscanner.h"
#include "labelcorrections.h"
#include "reviewdata.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <thread>

using namespace ml;

namespace {

Correction row(const QString& path, const QString& sha, const QString& from, const QString& to,
               const QString& note = {})
{
    Correction c;
    c.path = path;
    c.sha256 = sha;
    c.bytes = 100;
    c.oldLabel = from;
    c.newLabel = to;
    c.reviewer = QStringLiteral("tester");
    c.note = note;
    return c;
}

// A second, raw connection to the same file (as another program would have).
struct RawConnection
{
    explicit RawConnection(const QString& path, const QString& name) : name(name)
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        db.open();
    }
    ~RawConnection()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
    }
    bool exec(const QString& sql)
    {
        QSqlQuery q(QSqlDatabase::database(name, false));
        const bool ok = q.exec(sql);
        if (!ok)
            qWarning() << sql << q.lastError().text();
        return ok;
    }
    QString name;
};

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestCorrectionStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void addAndReadBackInWalMode();
    void csvRoundTripKeepsQuotesCommasAndNewlines();
    void parseCsvRejects_data();
    void parseCsvRejects();
    void importTwiceAddsNothing();
    void corruptDatabaseGivesMessageAndIsLeftUntouched();
    void lockedDatabaseStaysReadableAndWritesFailCleanly();
    void exclusivelyLockedNonWalFileCannotOpen();
    void twoConnectionsWritingAtOnce();
    void renamedFileKeepsItsCorrection();
};

void TestCorrectionStore::addAndReadBackInWalMode()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("sub/corrections.sqlite"));
    CorrectionStore store;
    QVERIFY2(store.open(path), qPrintable(store.errorString()));
    QVERIFY(!store.isReadOnly());
    QCOMPARE(store.count(), 0);
    const auto id1 = store.add(row(QStringLiteral("/a.png"), QStringLiteral("aa"),
                                   QStringLiteral("Parasitized"), QStringLiteral("Uninfected")));
    const auto id2 = store.add(row(QStringLiteral("/a.png"), QStringLiteral("aa"),
                                   QStringLiteral("Uninfected"), QStringLiteral("Parasitized")));
    const auto id3 = store.add(row(QStringLiteral("/b.png"), QStringLiteral("bb"),
                                   QStringLiteral("Uninfected"), unsureLabel()));
    QVERIFY2(id1 && id2 && id3, qPrintable(store.errorString()));
    QVERIFY(*id1 < *id2 && *id2 < *id3);
    const QList<Correction> all = store.all();
    QCOMPARE(all.size(), 3);
    QCOMPARE(all.at(0).newLabel, QStringLiteral("Uninfected"));
    QCOMPARE(all.at(0).reviewer, QStringLiteral("tester"));
    QVERIFY(all.at(0).time.isValid());
    QVERIFY(qAbs(all.at(0).time.secsTo(QDateTime::currentDateTimeUtc())) < 60);
    const auto latest = store.latestByHash();
    QCOMPARE(latest.size(), 2);
    QCOMPARE(latest.value(QStringLiteral("aa")).newLabel, QStringLiteral("Parasitized"));
    QCOMPARE(latest.value(QStringLiteral("bb")).newLabel, unsureLabel());
    QCOMPARE(store.integrityCheck(), QStringLiteral("ok"));

    RawConnection raw(path, QStringLiteral("raw-wal"));
    QSqlQuery q(QSqlDatabase::database(raw.name));
    QVERIFY(q.exec(QStringLiteral("PRAGMA journal_mode")) && q.next());
    QCOMPARE(q.value(0).toString(), QStringLiteral("wal"));
    QVERIFY(q.exec(QStringLiteral("SELECT version FROM schema_version")) && q.next());
    QCOMPARE(q.value(0).toInt(), 1);
}

void TestCorrectionStore::csvRoundTripKeepsQuotesCommasAndNewlines()
{
    QTemporaryDir dir;
    CorrectionStore a;
    QVERIFY(a.open(dir.filePath(QStringLiteral("a.sqlite"))));
    QVERIFY(a.add(row(QStringLiteral("/x/with, comma.png"), QStringLiteral("11"),
                      QStringLiteral("Parasitized"), QStringLiteral("Uninfected"),
                      QStringLiteral("says \"ring\" form,\nsecond line; µm"))));
    QVERIFY(a.add(row(QStringLiteral("/y.png"), QStringLiteral("22"), QStringLiteral("Uninfected"),
                      QStringLiteral("Parasitized"))));
    const QByteArray csv = a.toCsv();
    QVERIFY(csv.startsWith("id,path,sha256,bytes,old_label,new_label,time,reviewer,note\n"));
    QString error;
    const auto parsed = CorrectionStore::parseCsv(csv, &error);
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->size(), 2);
    const QList<Correction> original = a.all();
    for (int i = 0; i < 2; ++i) {
        QCOMPARE(parsed->at(i).path, original.at(i).path);
        QCOMPARE(parsed->at(i).sha256, original.at(i).sha256);
        QCOMPARE(parsed->at(i).bytes, original.at(i).bytes);
        QCOMPARE(parsed->at(i).oldLabel, original.at(i).oldLabel);
        QCOMPARE(parsed->at(i).newLabel, original.at(i).newLabel);
        QCOMPARE(parsed->at(i).time, original.at(i).time);
        QCOMPARE(parsed->at(i).note, original.at(i).note);
    }
    CorrectionStore b;
    QVERIFY(b.open(dir.filePath(QStringLiteral("b.sqlite"))));
    QCOMPARE(b.addAll(*parsed).value_or(-1), 2);
    // Same rows, same export apart from ids (both start at 1 here, so identical).
    QCOMPARE(b.toCsv(), csv);
}

void TestCorrectionStore::parseCsvRejects_data()
{
    QTest::addColumn<QByteArray>("csv");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << QByteArray() << QStringLiteral("empty");
    QTest::newRow("no new_label column")
        << QByteArray("path,sha256\n/a.png,aa\n") << QStringLiteral("new_label");
    QTest::newRow("unterminated quote")
        << QByteArray("path,new_label,note\n/a.png,Uninfected,\"open\n")
        << QStringLiteral("unterminated");
    QTest::newRow("bad time") << QByteArray("path,new_label,time\n/a.png,Uninfected,yesterday\n")
                              << QStringLiteral("time");
    QTest::newRow("empty label") << QByteArray("path,new_label\n/a.png,\n")
                                 << QStringLiteral("empty new_label");
}

void TestCorrectionStore::parseCsvRejects()
{
    QFETCH(QByteArray, csv);
    QFETCH(QString, message);
    QString error;
    QVERIFY(!CorrectionStore::parseCsv(csv, &error));
    QVERIFY2(error.contains(message), qPrintable(error));
}

void TestCorrectionStore::importTwiceAddsNothing()
{
    QTemporaryDir dir;
    CorrectionStore store;
    QVERIFY(store.open(dir.filePath(QStringLiteral("c.sqlite"))));
    const QByteArray csv = "path,new_label,sha256,time,reviewer\n"
                           "/a.png,Uninfected,aa,2026-01-02T03:04:05.006Z,ann\n"
                           "/b.png,Parasitized,bb,2026-01-02T03:04:06.000Z,ann\r\n";
    const auto rows = CorrectionStore::parseCsv(csv);
    QVERIFY(rows);
    QCOMPARE(store.addAll(*rows, 1).value_or(-1), 2);
    QCOMPARE(store.addAll(*rows, 1).value_or(-1), 0);
    QCOMPARE(store.count(), 2);
}

void TestCorrectionStore::corruptDatabaseGivesMessageAndIsLeftUntouched()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("corrupt.sqlite"));
    QByteArray junk(8192, '\0');
    for (int i = 0; i < junk.size(); ++i)
        junk[i] = char((i * 7919) % 251);
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(junk);
    }
    CorrectionStore store;
    QVERIFY(!store.open(path));
    QVERIFY(!store.isOpen());
    QVERIFY2(store.errorString().contains(QStringLiteral("not a database")),
             qPrintable(store.errorString()));
    QVERIFY2(store.errorString().contains(QStringLiteral("corrupt.sqlite")),
             qPrintable(store.errorString()));
    QVERIFY(!store.add(
        row(QStringLiteral("/a.png"), QStringLiteral("aa"), {}, QStringLiteral("Uninfected"))));
    QVERIFY(store.all().isEmpty());
    QCOMPARE(readAll(path), junk); // nothing was "repaired" over the user's file

    // Applying a damaged database to a folder: labels stay the folder's, the reason is given.
    Dataset ds;
    ds.root = dir.path();
    ds.classNames = {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};
    const CorrectionSummary s = applyCorrectionsFrom(ds, path);
    QVERIFY(!s.error.isEmpty());
}

void TestCorrectionStore::lockedDatabaseStaysReadableAndWritesFailCleanly()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("locked.sqlite"));
    {
        CorrectionStore first;
        QVERIFY(first.open(path));
        QVERIFY(first.add(
            row(QStringLiteral("/a.png"), QStringLiteral("aa"), {}, QStringLiteral("Uninfected"))));
    }
    RawConnection locker(path, QStringLiteral("locker"));
    QVERIFY(locker.exec(QStringLiteral("BEGIN EXCLUSIVE")));
    QVERIFY(locker.exec(QStringLiteral("INSERT INTO corrections (path, new_label, time) VALUES "
                                       "('/uncommitted.png', 'Parasitized', 'x')")));

    CorrectionStore store;
    store.setBusyTimeout(300);
    QVERIFY2(store.open(path), qPrintable(store.errorString()));
    QCOMPARE(store.all().size(), 1); // the committed row, not the other's uncommitted one
    QElapsedTimer t;
    t.start();
    QVERIFY(!store.add(
        row(QStringLiteral("/b.png"), QStringLiteral("bb"), {}, QStringLiteral("Parasitized"))));
    QVERIFY2(store.errorString().contains(QStringLiteral("locked")),
             qPrintable(store.errorString()));
    QVERIFY(t.elapsed() >= 250);     // it waited for the lock ...
    QVERIFY(t.elapsed() < 10000);    // ... but not forever
    QCOMPARE(store.all().size(), 1); // still readable

    QVERIFY(locker.exec(QStringLiteral("ROLLBACK")));
    QVERIFY2(store.add(row(QStringLiteral("/b.png"), QStringLiteral("bb"), {},
                           QStringLiteral("Parasitized"))),
             qPrintable(store.errorString()));
    QCOMPARE(store.count(), 2);
    QCOMPARE(store.integrityCheck(), QStringLiteral("ok"));
}

void TestCorrectionStore::exclusivelyLockedNonWalFileCannotOpen()
{
    // Another program created the file in rollback-journal mode and holds an exclusive lock:
    // not even reading works. open() must say so and return, not hang or crash.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("exclusive.sqlite"));
    RawConnection other(path, QStringLiteral("other"));
    QVERIFY(other.exec(QStringLiteral("PRAGMA locking_mode=EXCLUSIVE")));
    QVERIFY(other.exec(QStringLiteral("CREATE TABLE t (x)")));
    QVERIFY(other.exec(QStringLiteral("INSERT INTO t VALUES (1)")));
    CorrectionStore store;
    store.setBusyTimeout(200);
    QVERIFY(!store.open(path));
    QVERIFY2(store.errorString().contains(QStringLiteral("locked")),
             qPrintable(store.errorString()));
    QVERIFY(!store.add(
        row(QStringLiteral("/a.png"), QStringLiteral("aa"), {}, QStringLiteral("Uninfected"))));
}

void TestCorrectionStore::twoConnectionsWritingAtOnce()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("shared.sqlite"));
    {
        CorrectionStore init;
        QVERIFY(init.open(path));
    }
    constexpr int perWriter = 150;
    std::atomic<int> failures{0};
    auto writer = [&](int w) {
        CorrectionStore s; // its own connection, in its own thread
        s.setBusyTimeout(20000);
        if (!s.open(path)) {
            failures += perWriter;
            return;
        }
        for (int i = 0; i < perWriter; ++i) {
            if (!s.add(row(QStringLiteral("/w%1/%2.png").arg(w).arg(i),
                           QStringLiteral("h%1-%2").arg(w).arg(i), QStringLiteral("Parasitized"),
                           QStringLiteral("Uninfected"))))
                ++failures;
        }
    };
    std::thread a(writer, 1), b(writer, 2);
    a.join();
    b.join();
    QCOMPARE(failures.load(), 0);
    CorrectionStore check;
    QVERIFY(check.open(path));
    QCOMPARE(check.count(), 2 * perWriter);
    QCOMPARE(check.latestByHash().size(), 2 * perWriter);
    QCOMPARE(check.integrityCheck(), QStringLiteral("ok"));
}

void TestCorrectionStore::renamedFileKeepsItsCorrection()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    QTemporaryDir dir;
    const QString folder = dir.filePath(QStringLiteral("cells"));
    const QStringList files = reviewtest::copyNihCells(folder, 4);
    QCOMPARE(files.size(), 8);
    const QString target = files.at(1);     // Parasitized
    const QString unsureFile = files.at(5); // Uninfected
    const QByteArray targetBytes = readAll(target);

    CorrectionStore store;
    QVERIFY(store.open(dir.filePath(QStringLiteral("db.sqlite"))));
    Correction c = row(target, sha256OfFile(target), QStringLiteral("Parasitized"),
                       QStringLiteral("Uninfected"));
    c.bytes = QFileInfo(target).size();
    const auto id = store.add(c);
    QVERIFY(id);
    Correction u =
        row(unsureFile, sha256OfFile(unsureFile), QStringLiteral("Uninfected"), unsureLabel());
    u.bytes = QFileInfo(unsureFile).size();
    QVERIFY(store.add(u));
    // A hand-written row without hash matches by path.
    QVERIFY(store.add(
        row(files.at(6), QString(), QStringLiteral("Uninfected"), QStringLiteral("Parasitized"))));
    const qint64 byPathId = store.all().last().id;

    // Rename the corrected file: its content hash still finds the correction.
    const QString renamed = QFileInfo(target).absolutePath() + QStringLiteral("/renamed_cell.png");
    QVERIFY(QFile::rename(target, renamed));
    Dataset ds = scanFolder(folder);
    QCOMPARE(ds.images.size(), 8);
    const CorrectionSummary s = applyCorrectionsFrom(ds, store.path());
    QVERIFY2(s.error.isEmpty(), qPrintable(s.error));
    QCOMPARE(s.changed, 2);
    QCOMPARE(s.unsure, 1);
    // Only files that could be corrected ones are read: the renamed file and the unsure one
    // (same sizes as corrected files), not the whole folder.
    QVERIFY2(s.hashed >= 2 && s.hashed < ds.images.size(), qPrintable(QString::number(s.hashed)));
    int corrected = 0;
    for (const ImageEntry& e : ds.images) {
        if (!e.corrected)
            continue;
        ++corrected;
        if (e.relativePath.endsWith(QStringLiteral("renamed_cell.png"))) {
            QCOMPARE(ds.className(e.label), QStringLiteral("Uninfected"));
            QCOMPARE(ds.className(e.folderLabel), QStringLiteral("Parasitized"));
        } else {
            QCOMPARE(ds.absolutePath(int(&e - ds.images.data())), files.at(6));
            QCOMPARE(ds.className(e.label), QStringLiteral("Parasitized"));
        }
    }
    QCOMPARE(corrected, 2);
    // The unsure cell keeps its label and is flagged (training leaves it out), no other is.
    for (int i = 0; i < int(ds.images.size()); ++i) {
        QCOMPARE(ds.images.at(i).unsure, ds.absolutePath(i) == unsureFile);
        if (ds.images.at(i).unsure)
            QVERIFY(!ds.images.at(i).corrected);
    }
    QCOMPARE(ds.appliedCorrections, (QList<qint64>{*id, byPathId}));
    const QJsonObject used = correctionsUsedJson(ds);
    QCOMPARE(used.value(QStringLiteral("count")).toInt(), 2);

    // Applying again (after more reviewing) starts from the folder's labels.
    QVERIFY(store.add(row(renamed, sha256OfFile(renamed), QStringLiteral("Uninfected"),
                          QStringLiteral("Parasitized"))));
    const CorrectionSummary again = applyCorrections(ds, store.all());
    QCOMPARE(again.changed, 1);
    QCOMPARE(again.confirmed, 1);
    QCOMPARE(readAll(renamed), targetBytes); // the image itself never changes
}

QTEST_GUILESS_MAIN(TestCorrectionStore)
#include "tst_correctionstore.moc"
