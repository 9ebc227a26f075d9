// `kill -9` of `malarialens-cli train` in the middle of an epoch, then `--resume`: the run goes
// on from the last checkpoint, finishes, and every file it leaves is complete (the model
// loads, the card is valid JSON with validation figures, the history has every epoch).
#include "classifier.h"
#include "trainingdata.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestCliTrainKill : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void killDuringEpochThenResume();
};

void TestCliTrainKill::killDuringEpochThenResume()
{
    if (!testing::hasNihCells())
        QSKIP(
            "shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): kill -9 test skipped");
    QTemporaryDir dir;
    QString error;
    const QString cells = dir.filePath(QStringLiteral("cells"));
    QVERIFY2(testing::linkNihSubset(cells, 150, &error), qPrintable(error));
    const QString out = dir.filePath(QStringLiteral("out/model.pt"));
    QDir().mkpath(QFileInfo(out).path());
    const QString checkpoint = out + QStringLiteral(".checkpoint");
    const QStringList args{QStringLiteral("train"),        cells,
                           QStringLiteral("--arch"),       QStringLiteral("gap"),
                           QStringLiteral("--epochs"),     QStringLiteral("4"),
                           QStringLiteral("--batch-size"), QStringLiteral("20"),
                           QStringLiteral("--threads"),    QStringLiteral("1"),
                           QStringLiteral("--seed"),       QStringLiteral("3"),
                           QStringLiteral("--out"),        out};

    QProcess first;
    first.setProcessChannelMode(QProcess::MergedChannels);
    first.start(QStringLiteral(MALARIALENS_CLI), args);
    QVERIFY2(first.waitForStarted(), qPrintable(first.errorString()));
    // Kill as soon as the first checkpoint exists: the process is then inside epoch 2.
    QElapsedTimer t;
    t.start();
    while (!QFile::exists(checkpoint) && first.state() == QProcess::Running && t.elapsed() < 120000)
        QTest::qWait(5);
    QVERIFY2(QFile::exists(checkpoint), first.readAll().constData());
    QCOMPARE(first.state(), QProcess::Running);
    first.kill(); // SIGKILL: no handler, no cleanup
    QVERIFY(first.waitForFinished(10000));
    QCOMPARE(first.exitStatus(), QProcess::CrashExit);
    const QByteArray firstOutput = first.readAll();
    QVERIFY2(!firstOutput.contains("epoch 4/4"), firstOutput.constData());
    QVERIFY(!QFile::exists(out)); // no model yet, and certainly no half one

    QProcess second;
    second.setProcessChannelMode(QProcess::MergedChannels);
    second.start(QStringLiteral(MALARIALENS_CLI), args + QStringList{QStringLiteral("--resume")});
    QVERIFY(second.waitForFinished(180000));
    const QByteArray output = second.readAll();
    QVERIFY2(second.exitStatus() == QProcess::NormalExit && second.exitCode() == 0,
             output.constData());
    QVERIFY2(output.contains("resumed from"), output.constData());
    QVERIFY2(!output.contains("epoch 1/4"), output.constData()); // epoch 1 came from the checkpoint
    QVERIFY2(output.contains("epoch 4/4"), output.constData());

    Classifier model;
    QVERIFY2(model.load(out), qPrintable(model.errorString()));
    QCOMPARE(model.architecture(), QStringLiteral("gap"));
    QFile card(dir.filePath(QStringLiteral("out/model.json")));
    QVERIFY(card.open(QIODevice::ReadOnly));
    QJsonParseError pe;
    const QJsonObject c = QJsonDocument::fromJson(card.readAll(), &pe).object();
    QCOMPARE(pe.error, QJsonParseError::NoError);
    QVERIFY(
        c.value(QStringLiteral("validation")).toObject().contains(QStringLiteral("cell_level")));
    QCOMPARE(
        c.value(QStringLiteral("training")).toObject().value(QStringLiteral("epochs_run")).toInt(),
        4);
    QFile history(dir.filePath(QStringLiteral("out/model.history.csv")));
    QVERIFY(history.open(QIODevice::ReadOnly));
    QCOMPARE(history.readAll().trimmed().split('\n').size(), 5); // header + 4 epochs
    QVERIFY(!QFile::exists(checkpoint)); // done: the checkpoint is no longer needed
    // What the kill may leave behind is an orphaned QSaveFile temporary, never a damaged file
    // under a real name; report it so it is visible.
    const QStringList files = QDir(QFileInfo(out).path()).entryList(QDir::Files);
    for (const QString& f : files) {
        if (f != QLatin1String("model.pt") && f != QLatin1String("model.json") &&
            f != QLatin1String("model.history.csv"))
            qInfo("left over by the killed process (temporary of an atomic write): %s",
                  qPrintable(f));
    }
}

QTEST_GUILESS_MAIN(TestCliTrainKill)
#include "tst_cli_trainkill.moc"
