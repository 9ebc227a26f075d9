// malarialens-cli calibrate, run as a real process on the shared IML fields with their boxes:
// a lab's own fields split by field, the cells a reviewer would label, a fine-tuned model with
// its lab calibration, and the user's files untouched.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

namespace {

const QString kFields = QStringLiteral(MALARIALENS_SHARED_DATA "/iml-fields");

struct Run
{
    int exitCode = -1;
    QByteArray out, err;
};

Run runCli(const QStringList& args, int timeoutMs)
{
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI), args);
    Run r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QByteArray sha256(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

} // namespace

class TestCliCalibrate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void calibratesOnTheLabsOwnFields();
    void tooFewParasitesIsRefused();
    void labelsCsvNotYetIsAUsageError();

private:
    QTemporaryDir m_dir;
};

void TestCliCalibrate::initTestCase()
{
    if (!QDir(kFields).exists())
        QSKIP("../shared/data/iml-fields is missing");
    QVERIFY(m_dir.isValid());
}

void TestCliCalibrate::calibratesOnTheLabsOwnFields()
{
    const QString images = kFields + QStringLiteral("/images");
    const QString probe =
        QDir(images).entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name).value(0);
    QVERIFY(!probe.isEmpty());
    const QByteArray before = sha256(QDir(images).filePath(probe));
    const QString out = m_dir.filePath(QStringLiteral("lab.pt"));
    const Run r =
        runCli({QStringLiteral("calibrate"), images, QStringLiteral("--annotations"),
                kFields + QStringLiteral("/annotations.json"), QStringLiteral("--budget"),
                QStringLiteral("400"), QStringLiteral("--epochs"), QStringLiteral("1"),
                QStringLiteral("--lab"), QStringLiteral("IML test"), QStringLiteral("--threads"),
                QStringLiteral("2"), QStringLiteral("--out"), out, QStringLiteral("--json")},
               900000);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    for (const QString side : {QStringLiteral("before"), QStringLiteral("after")}) {
        const QJsonObject f = j.value(side).toObject();
        for (const QString key : {QStringLiteral("sensitivity"), QStringLiteral("specificity"),
                                  QStringLiteral("balanced_accuracy")}) {
            QVERIFY2(f.value(key).isDouble(), qPrintable(side + QLatin1Char('.') + key));
            QVERIFY(f.value(key).toDouble() >= 0.0 && f.value(key).toDouble() <= 1.0);
        }
        QVERIFY(f.contains(QStringLiteral("parasitemia_corrected")));
    }
    // The after figures are measured with the lab's own rates: a corrected figure exists.
    QVERIFY(j.value(QStringLiteral("after"))
                .toObject()
                .value(QStringLiteral("parasitemia_corrected"))
                .isDouble());
    const int used = j.value(QStringLiteral("cells_used")).toInt();
    QVERIFY(used > 0 && used <= 400);
    QVERIFY(j.value(QStringLiteral("parasitized_used")).toInt() >= 30);
    // Fields stay whole on one side.
    QSet<QString> adapt, test;
    for (const QJsonValue v : j.value(QStringLiteral("fields_adapt")).toArray())
        adapt.insert(v.toString());
    for (const QJsonValue v : j.value(QStringLiteral("fields_test")).toArray())
        test.insert(v.toString());
    QVERIFY(!adapt.isEmpty() && !test.isEmpty());
    QVERIFY(!adapt.intersects(test));
    // The model and its card, with the lab's own sensitivity and specificity.
    QVERIFY(QFile::exists(out));
    QFile card(m_dir.filePath(QStringLiteral("lab.json")));
    QVERIFY(card.open(QIODevice::ReadOnly));
    const QJsonObject lab = QJsonDocument::fromJson(card.readAll())
                                .object()
                                .value(QStringLiteral("lab_calibration"))
                                .toObject();
    QCOMPARE(lab.value(QStringLiteral("lab")).toString(), QStringLiteral("IML test"));
    QVERIFY(lab.value(QStringLiteral("negatives")).toInt() > 100);
    QVERIFY(lab.value(QStringLiteral("specificity")).isDouble());
    // The calibrated model loads and its card drives the correction.
    const Run info = runCli(
        {QStringLiteral("model-info"), QStringLiteral("--model"), out, QStringLiteral("--json")},
        120000);
    QVERIFY2(info.exitCode == 0, info.err.constData());
    // User files are only read.
    QCOMPARE(sha256(QDir(images).filePath(probe)), before);
}

void TestCliCalibrate::tooFewParasitesIsRefused()
{
    // Ten fields of a lab hold too few parasitized cells (about one a field) for the 30 that
    // adapting needs: a message, no model. The fields are linked, not copied.
    const QDir images(kFields + QStringLiteral("/images"));
    const QString few = m_dir.filePath(QStringLiteral("few-fields"));
    QVERIFY(QDir().mkpath(few));
    for (const QString& f :
         images.entryList({QStringLiteral("*.JPG")}, QDir::Files, QDir::Name).mid(0, 10))
        QVERIFY(QFile::link(images.filePath(f), QDir(few).filePath(f)));
    const QString out = m_dir.filePath(QStringLiteral("few.pt"));
    const Run r = runCli({QStringLiteral("calibrate"), few, QStringLiteral("--annotations"),
                          kFields + QStringLiteral("/annotations.json"), QStringLiteral("--budget"),
                          QStringLiteral("400"), QStringLiteral("--threads"), QStringLiteral("2"),
                          QStringLiteral("--out"), out},
                         300000);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("at least 30"), r.err.constData());
    QVERIFY(!QFile::exists(out));
}

void TestCliCalibrate::labelsCsvNotYetIsAUsageError()
{
    const Run r = runCli({QStringLiteral("calibrate"), kFields + QStringLiteral("/images"),
                          QStringLiteral("--labels"), QStringLiteral("cells.csv"),
                          QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x.pt"))},
                         60000);
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains("not yet"));
}

QTEST_GUILESS_MAIN(TestCliCalibrate)
#include "tst_cli_calibrate.moc"
