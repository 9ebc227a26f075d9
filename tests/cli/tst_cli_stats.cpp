// malarialens-cli stats, run as a real process.
#include "testimages.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestCliStats : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void versionAndHelp();
    void statsJsonOnMadeFolder();
    void missingFolderFails();
    void nihCellsJson();
};

void TestCliStats::versionAndHelp()
{
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI), {QStringLiteral("--version")});
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 0);
    QVERIFY(p.readAllStandardOutput().startsWith("malarialens-cli "));
    p.start(QStringLiteral(MALARIALENS_CLI), {QStringLiteral("--help")});
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 0);
    QVERIFY(p.readAllStandardOutput().contains("stats"));
    p.start(QStringLiteral(MALARIALENS_CLI), {QStringLiteral("no-such-command")});
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 2);
}

void TestCliStats::statsJsonOnMadeFolder()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("Parasitized")));
    QVERIFY(d.mkdir(QStringLiteral("Uninfected")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C5P1thinF_1.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C6P2thinF_1.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Uninfected/C9_1.png"))));
    QVERIFY(writeTruncatedPng(d.filePath(QStringLiteral("Uninfected/C9_bad.png"))));
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI),
            {QStringLiteral("stats"), dir.path(), QStringLiteral("--json")});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
    QJsonParseError err;
    const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput(), &err).object();
    QCOMPARE(err.error, QJsonParseError::NoError);
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 3);
    QCOMPARE(
        o.value(QStringLiteral("classes")).toObject().value(QStringLiteral("Parasitized")).toInt(),
        2);
    QCOMPARE(
        o.value(QStringLiteral("classes")).toObject().value(QStringLiteral("Uninfected")).toInt(),
        1);
    QCOMPARE(o.value(QStringLiteral("patients")).toInt(), 3);
    const QJsonArray skipped = o.value(QStringLiteral("skipped")).toArray();
    QCOMPARE(skipped.size(), 1);
    QCOMPARE(skipped.at(0).toObject().value(QStringLiteral("path")).toString(),
             QStringLiteral("Uninfected/C9_bad.png"));
    QVERIFY(skipped.at(0)
                .toObject()
                .value(QStringLiteral("reason"))
                .toString()
                .contains(QLatin1String("truncated")));
}

void TestCliStats::missingFolderFails()
{
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI),
            {QStringLiteral("stats"), QStringLiteral("/nonexistent/x"), QStringLiteral("--json")});
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 1);
    QVERIFY(p.readAllStandardError().contains("not found"));
}

void TestCliStats::nihCellsJson()
{
    const QString data = sharedData();
    if (data.isEmpty())
        QSKIP("../shared/data/nih-cells is missing: real-data stats not checked");
    QProcess p;
    p.start(
        QStringLiteral(MALARIALENS_CLI),
        {QStringLiteral("stats"), data + QStringLiteral("/nih-cells"), QStringLiteral("--json")});
    QVERIFY(p.waitForFinished(180000));
    QCOMPARE(p.exitCode(), 0);
    const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 14015);
    QCOMPARE(o.value(QStringLiteral("patients")).toInt(), 100);
    QCOMPARE(
        o.value(QStringLiteral("classes")).toObject().value(QStringLiteral("Parasitized")).toInt(),
        7048);
    QCOMPARE(o.value(QStringLiteral("skipped")).toArray().size(), 0);
    QCOMPARE(o.value(QStringLiteral("channels")).toObject().value(QStringLiteral("3")).toInt(),
             14015);
}

QTEST_GUILESS_MAIN(TestCliStats)
#include "tst_cli_stats.moc"
