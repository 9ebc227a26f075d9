// malarialens-cli corrections export|import and explain, run as child processes: CSV round
// trip, kill -9 in the middle of an import (every committed batch survives, the file stays
// sound, importing again completes it), two processes importing into one database at once.
#include "clirun.h"
#include "correctionstore.h"
#include "reviewdata.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

namespace {

using Run = mltest::CliRun;

// `dataHome`: the child's user data folder, where the corrections database lives.
Run runCli(const QStringList& args, int timeoutMs = 60000, const QString& dataHome = {})
{
    if (dataHome.isEmpty())
        return mltest::runCli(args, timeoutMs);
    return mltest::runCli(args, timeoutMs, {{QStringLiteral("XDG_DATA_HOME"), dataHome}});
}

// `n` distinct rows for `reviewer`, as CSV.
QByteArray makeCsv(int n, const QString& reviewer)
{
    QByteArray csv = "path,sha256,bytes,old_label,new_label,time,reviewer,note\n";
    for (int i = 0; i < n; ++i)
        csv += QStringLiteral("/cells/%1/cell_%2.png,%3,%4,Parasitized,Uninfected,"
                              "2026-01-01T00:00:00.000Z,%1,\"row %2, batch test\"\n")
                   .arg(reviewer)
                   .arg(i)
                   .arg(QStringLiteral("%1%2").arg(reviewer).arg(i, 8, 10, QLatin1Char('0')))
                   .arg(1000 + i)
                   .toUtf8();
    return csv;
}

bool writeFile(const QString& path, const QByteArray& data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

} // namespace

class TestCliReview : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void correctionsRoundTrip();
    void correctionsUsageErrors();
    void killDuringImportKeepsCommittedRows();
    void twoProcessesImportAtOnce();
    void evaluateAndTrainUseCorrections();
    void explainWritesHeatmap();
    void explainErrors();
};

void TestCliReview::correctionsRoundTrip()
{
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("c.sqlite"));
    const QString in = dir.filePath(QStringLiteral("in.csv"));
    QVERIFY(writeFile(in, makeCsv(25, QStringLiteral("ann"))));
    Run r = runCli({QStringLiteral("corrections"), QStringLiteral("import"), in,
                    QStringLiteral("--db"), db, QStringLiteral("--json")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(o.value(QStringLiteral("added")).toInt(), 25);
    r = runCli({QStringLiteral("corrections"), QStringLiteral("import"), in, QStringLiteral("--db"),
                db, QStringLiteral("--json")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(o.value(QStringLiteral("added")).toInt(), 0);
    QCOMPARE(o.value(QStringLiteral("skipped")).toInt(), 25);

    const QString out = dir.filePath(QStringLiteral("out.csv"));
    r = runCli(
        {QStringLiteral("corrections"), QStringLiteral("export"), out, QStringLiteral("--db"), db});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const auto rows = CorrectionStore::parseCsv(f.readAll());
    QVERIFY(rows);
    QCOMPARE(rows->size(), 25);
    QCOMPARE(rows->at(3).note, QStringLiteral("row 3, batch test"));
    QCOMPARE(rows->at(3).reviewer, QStringLiteral("ann"));
    QCOMPARE(rows->at(3).bytes, 1003);
}

void TestCliReview::correctionsUsageErrors()
{
    QTemporaryDir dir;
    QCOMPARE(
        runCli({QStringLiteral("corrections"), QStringLiteral("frobnicate"), QStringLiteral("x")})
            .exitCode,
        2);
    Run r = runCli({QStringLiteral("corrections"), QStringLiteral("export"),
                    dir.filePath(QStringLiteral("x.csv")), QStringLiteral("--db"),
                    dir.filePath(QStringLiteral("missing.sqlite"))});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("no corrections database"));
    const QString bad = dir.filePath(QStringLiteral("bad.csv"));
    QVERIFY(writeFile(bad, "path,label\n/a.png,Uninfected\n"));
    r = runCli({QStringLiteral("corrections"), QStringLiteral("import"), bad,
                QStringLiteral("--db"), dir.filePath(QStringLiteral("c.sqlite"))});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("new_label"), r.err.constData());
    // A damaged database: a clear message, exit 1, the file untouched.
    const QString corrupt = dir.filePath(QStringLiteral("corrupt.sqlite"));
    QVERIFY(writeFile(corrupt, QByteArray(4096, 'x')));
    r = runCli({QStringLiteral("corrections"), QStringLiteral("export"),
                dir.filePath(QStringLiteral("y.csv")), QStringLiteral("--db"), corrupt});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("not a database"), r.err.constData());
    QFile c(corrupt);
    QVERIFY(c.open(QIODevice::ReadOnly));
    QCOMPARE(c.readAll(), QByteArray(4096, 'x'));
}

void TestCliReview::killDuringImportKeepsCommittedRows()
{
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("kill.sqlite"));
    const QString first = dir.filePath(QStringLiteral("first.csv"));
    const QString big = dir.filePath(QStringLiteral("big.csv"));
    QVERIFY(writeFile(first, makeCsv(40, QStringLiteral("early"))));
    constexpr int kBig = 60000, kBatch = 100;
    QVERIFY(writeFile(big, makeCsv(kBig, QStringLiteral("late"))));
    Run r = runCli({QStringLiteral("corrections"), QStringLiteral("import"), first,
                    QStringLiteral("--db"), db});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QByteArray before;
    {
        CorrectionStore s;
        QVERIFY(s.open(db));
        before = s.toCsv();
    }

    QProcess importer;
    importer.start(QStringLiteral(MALARIALENS_CLI),
                   {QStringLiteral("corrections"), QStringLiteral("import"), big,
                    QStringLiteral("--db"), db, QStringLiteral("--batch"),
                    QString::number(kBatch)});
    QVERIFY(importer.waitForStarted());
    // Kill once some batches are committed (the process is then between or inside batches).
    CorrectionStore watcher;
    QVERIFY(watcher.open(db));
    QElapsedTimer t;
    t.start();
    qint64 seen = 0;
    while (importer.state() == QProcess::Running && t.elapsed() < 60000) {
        seen = watcher.count();
        if (seen >= 40 + 3 * kBatch)
            break;
        QTest::qWait(2);
    }
    QCOMPARE(importer.state(), QProcess::Running);
    importer.kill(); // SIGKILL
    QVERIFY(importer.waitForFinished(10000));
    QCOMPARE(importer.exitStatus(), QProcess::CrashExit);
    watcher.close();

    CorrectionStore after;
    QVERIFY2(after.open(db), qPrintable(after.errorString()));
    QCOMPARE(after.integrityCheck(), QStringLiteral("ok"));
    const qint64 n = after.count();
    qInfo("killed after %lld rows were seen; %lld rows in the database", seen, n);
    QVERIFY(n >= seen);                        // nothing committed was lost
    QVERIFY(n < 40 + kBig);                    // the kill did land mid-import
    QCOMPARE((n - 40) % kBatch, 0);            // whole transactions only: no half batch
    QVERIFY(after.toCsv().startsWith(before)); // the earlier rows are intact, byte for byte
    after.close();

    // Importing again completes the file; nothing is doubled.
    r = runCli(
        {QStringLiteral("corrections"), QStringLiteral("import"), big, QStringLiteral("--db"), db},
        180000);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    CorrectionStore done;
    QVERIFY(done.open(db));
    QCOMPARE(done.count(), 40 + kBig);
}

void TestCliReview::twoProcessesImportAtOnce()
{
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("shared.sqlite"));
    const QString a = dir.filePath(QStringLiteral("a.csv"));
    const QString b = dir.filePath(QStringLiteral("b.csv"));
    QVERIFY(writeFile(a, makeCsv(3000, QStringLiteral("alice"))));
    QVERIFY(writeFile(b, makeCsv(3000, QStringLiteral("bob"))));
    QProcess pa, pb;
    const QStringList common{QStringLiteral("--db"), db, QStringLiteral("--batch"),
                             QStringLiteral("50")};
    pa.start(QStringLiteral(MALARIALENS_CLI),
             QStringList{QStringLiteral("corrections"), QStringLiteral("import"), a} + common);
    pb.start(QStringLiteral(MALARIALENS_CLI),
             QStringList{QStringLiteral("corrections"), QStringLiteral("import"), b} + common);
    QVERIFY(pa.waitForFinished(120000));
    QVERIFY(pb.waitForFinished(120000));
    QVERIFY2(pa.exitCode() == 0, pa.readAllStandardError().constData());
    QVERIFY2(pb.exitCode() == 0, pb.readAllStandardError().constData());
    CorrectionStore s;
    QVERIFY(s.open(db));
    QCOMPARE(s.integrityCheck(), QStringLiteral("ok"));
    QCOMPARE(s.count(), 6000);
    QCOMPARE(s.latestByHash().size(), 6000);
}

void TestCliReview::evaluateAndTrainUseCorrections()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    QTemporaryDir dir;
    const QString cells = dir.filePath(QStringLiteral("cells"));
    const QStringList files = reviewtest::copyNihCells(cells, 20, 100);
    QCOMPARE(files.size(), 40);
    // The user's database, where the GUI and the CLI find it.
    const QString dataHome = dir.filePath(QStringLiteral("data"));
    const QString db = dataHome + QStringLiteral("/MalariaLens/malarialens/corrections.sqlite");
    {
        CorrectionStore store;
        QVERIFY2(store.open(db), qPrintable(store.errorString()));
        Correction c;
        c.path = files.at(2); // Parasitized -> Uninfected
        c.sha256 = sha256OfFile(c.path);
        c.bytes = QFileInfo(c.path).size();
        c.oldLabel = QStringLiteral("Parasitized");
        c.newLabel = QStringLiteral("Uninfected");
        c.reviewer = QStringLiteral("ann");
        QVERIFY(store.add(c));
    }
    Run r = runCli({QStringLiteral("evaluate"), cells, QStringLiteral("--json"),
                    QStringLiteral("--threads"), QStringLiteral("2")},
                   120000, dataHome);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(o.value(QStringLiteral("corrected_labels")).toInt(), 1);
    r = runCli({QStringLiteral("evaluate"), cells, QStringLiteral("--json"),
                QStringLiteral("--no-corrections")},
               120000, dataHome);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QCOMPARE(
        QJsonDocument::fromJson(r.out).object().value(QStringLiteral("corrected_labels")).toInt(),
        0);

    const QString out = dir.filePath(QStringLiteral("model/m.pt"));
    QDir().mkpath(QFileInfo(out).path());
    r = runCli({QStringLiteral("train"), cells, QStringLiteral("--arch"), QStringLiteral("gap"),
                QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--batch-size"),
                QStringLiteral("20"), QStringLiteral("--threads"), QStringLiteral("1"),
                // 40 cells of a few patients: a patient split could leave one side empty.
                QStringLiteral("--split"), QStringLiteral("random"), QStringLiteral("--out"), out},
               240000, dataHome);
    QVERIFY2(r.exitCode == 0, (r.out + r.err).constData());
    QFile card(dir.filePath(QStringLiteral("model/m.json")));
    QVERIFY(card.open(QIODevice::ReadOnly));
    const QJsonObject used = QJsonDocument::fromJson(card.readAll())
                                 .object()
                                 .value(QStringLiteral("label_corrections"))
                                 .toObject();
    QCOMPARE(used.value(QStringLiteral("count")).toInt(), 1);
    const QJsonObject image = used.value(QStringLiteral("images")).toArray().first().toObject();
    QCOMPARE(image.value(QStringLiteral("folder_label")).toString(), QStringLiteral("Parasitized"));
    QCOMPARE(image.value(QStringLiteral("label")).toString(), QStringLiteral("Uninfected"));
    QVERIFY(files.at(2).endsWith(image.value(QStringLiteral("file")).toString()));
    QCOMPARE(used.value(QStringLiteral("correction_ids")).toArray().size(), 1);

    // --no-corrections: the folder's own labels, and the card says no correction was used.
    r = runCli({QStringLiteral("train"), cells, QStringLiteral("--arch"), QStringLiteral("gap"),
                QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--batch-size"),
                QStringLiteral("20"), QStringLiteral("--threads"), QStringLiteral("1"),
                QStringLiteral("--split"), QStringLiteral("random"),
                QStringLiteral("--no-corrections"), QStringLiteral("--out"), out},
               240000, dataHome);
    QVERIFY2(r.exitCode == 0, (r.out + r.err).constData());
    QFile plainCard(dir.filePath(QStringLiteral("model/m.json")));
    QVERIFY(plainCard.open(QIODevice::ReadOnly));
    QVERIFY(!QJsonDocument::fromJson(plainCard.readAll())
                 .object()
                 .contains(QLatin1String("label_corrections")));
}

void TestCliReview::explainWritesHeatmap()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    QTemporaryDir dir;
    const QStringList cells = reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 1, 4);
    QCOMPARE(cells.size(), 2);
    QFile original(cells.first());
    QVERIFY(original.open(QIODevice::ReadOnly));
    const QByteArray bytes = original.readAll();
    for (const QString& method : {QStringLiteral("auto"), QStringLiteral("occlusion")}) {
        const QString out = dir.filePath(QStringLiteral("heat-%1.png").arg(method));
        const Run r = runCli({QStringLiteral("explain"), cells.first(), QStringLiteral("--out"),
                              out, QStringLiteral("--method"), method, QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("method")).toString(),
                 method == QLatin1String("auto") ? QStringLiteral("grad-cam") : method);
        const double p = o.value(QStringLiteral("probability_parasitized")).toDouble(-1);
        QVERIFY(p >= 0 && p <= 1);
        const QImage img(out);
        QVERIFY(!img.isNull());
        QCOMPARE(std::max(img.width(), img.height()), 256);
    }
    QFile again(cells.first());
    QVERIFY(again.open(QIODevice::ReadOnly));
    QCOMPARE(again.readAll(), bytes); // the image is only read
}

void TestCliReview::explainErrors()
{
    QTemporaryDir dir;
    Run r = runCli({QStringLiteral("explain"), dir.filePath(QStringLiteral("none.png")),
                    QStringLiteral("--out"), dir.filePath(QStringLiteral("h.png"))});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("none.png"), r.err.constData());
    QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("h.png"))));
    r = runCli({QStringLiteral("explain"), QStringLiteral("x.png"), QStringLiteral("--method"),
                QStringLiteral("magic")});
    QCOMPARE(r.exitCode, 2);
}

QTEST_GUILESS_MAIN(TestCliReview)
#include "tst_cli_review.moc"
