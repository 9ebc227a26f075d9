// `malarialens-cli train` across labs on real data: NIH cells and the crops `segment
// --annotations --export-crops` writes from real IML fields, as two --source folders;
// --holdout-source tests on the left-out lab and the card, --json and model-info report it;
// an absurd learning rate stops the run with a clear message and a non-zero exit.
#include "trainingdata.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestCliTrainSources : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void holdoutSourceInCardJsonAndModelInfo();
    void unknownHoldoutSourceIsRefused();
    void nanLossExitsNonZero();

private:
    struct Run
    {
        int exitCode = -1;
        QByteArray out, err;
    };
    Run cli(const QStringList& args, int timeoutMs = 300000);
    QTemporaryDir m_dir;
    QString m_nih, m_iml;
    int m_imlCells = 0;
};

TestCliTrainSources::Run TestCliTrainSources::cli(const QStringList& args, int timeoutMs)
{
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI), args);
    Run r;
    if (!p.waitForFinished(timeoutMs))
        return r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

void TestCliTrainSources::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString fields = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!testing::hasNihCells() || !QFile::exists(fields + QStringLiteral("/annotations.json")))
        return;
    QString error;
    m_nih = m_dir.filePath(QStringLiteral("nih"));
    QVERIFY2(testing::linkNihSubset(m_nih, 80, &error), qPrintable(error));
    const QString some = m_dir.filePath(QStringLiteral("fields"));
    QDir().mkpath(some);
    const QStringList images = QDir(fields + QStringLiteral("/images"))
                                   .entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name)
                                   .mid(4, 3);
    for (const QString& f : images)
        QVERIFY(QFile::link(fields + QStringLiteral("/images/") + f, some + QLatin1Char('/') + f));
    m_iml = m_dir.filePath(QStringLiteral("iml"));
    const Run seg =
        cli({QStringLiteral("segment"), some, QStringLiteral("--annotations"),
             fields + QStringLiteral("/annotations.json"), QStringLiteral("--export-crops"), m_iml,
             QStringLiteral("--no-classify"), QStringLiteral("--threads"), QStringLiteral("2")});
    QVERIFY2(seg.exitCode == 0, seg.err.constData());
    for (const char* cls : {"Parasitized", "Uninfected"})
        m_imlCells +=
            int(QDir(m_iml + QLatin1Char('/') + QLatin1String(cls)).entryList(QDir::Files).size());
    QVERIFY(m_imlCells > 0);
}

void TestCliTrainSources::holdoutSourceInCardJsonAndModelInfo()
{
    if (m_iml.isEmpty())
        QSKIP("shared data missing (../shared/data/nih-cells, iml-fields): not checked");
    const QString out = m_dir.filePath(QStringLiteral("loo/model.pt"));
    QDir().mkpath(QFileInfo(out).path());
    const Run r =
        cli({QStringLiteral("train"), QStringLiteral("--source"), QStringLiteral("nih=") + m_nih,
             QStringLiteral("--source"), QStringLiteral("iml=") + m_iml,
             QStringLiteral("--holdout-source"), QStringLiteral("iml"),
             QStringLiteral("--balance-classes"), QStringLiteral("--arch"), QStringLiteral("gap"),
             QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--batch-size"),
             QStringLiteral("40"), QStringLiteral("--threads"), QStringLiteral("2"),
             QStringLiteral("--json"), QStringLiteral("--out"), out});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    // The epoch lines come first, then the JSON summary.
    const QJsonObject summary =
        QJsonDocument::fromJson(r.out.mid(r.out.indexOf("\n{") + 1)).object();
    const QJsonObject holdout = summary.value(QStringLiteral("holdout")).toObject();
    QCOMPARE(holdout.value(QStringLiteral("source")).toString(), QStringLiteral("iml"));
    QCOMPARE(holdout.value(QStringLiteral("cells")).toInt(), m_imlCells);
    for (const char* key : {"sensitivity", "specificity", "balanced_accuracy", "auc"})
        QVERIFY2(holdout.contains(QLatin1String(key)), key);
    // Only the NIH source is on the validation side.
    const QJsonArray perSource = summary.value(QStringLiteral("validation_by_source")).toArray();
    QCOMPARE(perSource.size(), 1);
    QCOMPARE(perSource.first().toObject().value(QStringLiteral("source")).toString(),
             QStringLiteral("nih"));

    QFile cardFile(m_dir.filePath(QStringLiteral("loo/model.json")));
    QVERIFY(cardFile.open(QIODevice::ReadOnly));
    const QJsonObject card = QJsonDocument::fromJson(cardFile.readAll()).object();
    QCOMPARE(card.value(QStringLiteral("holdout")).toObject(), holdout);
    QCOMPARE(card.value(QStringLiteral("sources")).toArray(),
             QJsonArray({QStringLiteral("nih"), QStringLiteral("iml")}));
    QVERIFY(card.value(QStringLiteral("training"))
                .toObject()
                .value(QStringLiteral("class_balanced_sampling"))
                .isString());

    const Run info = cli({QStringLiteral("model-info"), QStringLiteral("--model"), out});
    QVERIFY2(info.exitCode == 0, info.err.constData());
    QVERIFY2(info.out.contains("held-out source (never trained on) iml: " +
                               QByteArray::number(m_imlCells) + " cells"),
             info.out.constData());
    QVERIFY2(info.out.contains("validation, source nih:"), info.out.constData());
}

void TestCliTrainSources::unknownHoldoutSourceIsRefused()
{
    if (m_iml.isEmpty())
        QSKIP("shared data missing (../shared/data/nih-cells, iml-fields): not checked");
    const Run r = cli({QStringLiteral("train"), m_nih, QStringLiteral("--source"),
                       QStringLiteral("iml=") + m_iml, QStringLiteral("--holdout-source"),
                       QStringLiteral("lab3"), QStringLiteral("--out"),
                       m_dir.filePath(QStringLiteral("x.pt"))});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("--holdout-source lab3 is not one of the sources (nih, iml)"),
             r.err.constData());
    QVERIFY(!QFile::exists(m_dir.filePath(QStringLiteral("x.pt"))));
}

void TestCliTrainSources::nanLossExitsNonZero()
{
    if (m_iml.isEmpty())
        QSKIP("shared data missing (../shared/data/nih-cells, iml-fields): not checked");
    const QString out = m_dir.filePath(QStringLiteral("nan/model.pt"));
    QDir().mkpath(QFileInfo(out).path());
    const Run r =
        cli({QStringLiteral("train"), m_nih, QStringLiteral("--learning-rate"),
             QStringLiteral("1e6"), QStringLiteral("--arch"), QStringLiteral("base"),
             QStringLiteral("--epochs"), QStringLiteral("10"), QStringLiteral("--patience"),
             QStringLiteral("10"), QStringLiteral("--batch-size"), QStringLiteral("20"),
             QStringLiteral("--threads"), QStringLiteral("2"), QStringLiteral("--out"), out});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("train: training diverged at epoch "), r.err.constData());
    QVERIFY(!QFile::exists(out)); // no model from a diverged run
    if (r.err.contains("the last good checkpoint is kept at"))
        QVERIFY(QFile::exists(out + QStringLiteral(".checkpoint")));
}

QTEST_GUILESS_MAIN(TestCliTrainSources)
#include "tst_cli_trainsources.moc"
