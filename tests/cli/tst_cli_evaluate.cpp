// malarialens-cli evaluate as a real process: refusals with clear messages, one-class
// folders without NaN, and the JSON keys on real cells.
#include "testimages.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace mltest;

class TestCliEvaluate : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void unlabeledFolderIsRefused();
    void oneClassFolderHasNoNan();
    void jsonOnRealCells();
    void validationSplitReproducesTheModelCard();
    void reportWritesPdf();

private:
    static QJsonObject run(const QStringList& args, int expectedExit, QByteArray* err = nullptr)
    {
        QProcess p;
        p.start(QStringLiteral(MALARIALENS_CLI), args);
        if (!p.waitForFinished(300000))
            return {};
        if (err)
            *err = p.readAllStandardError();
        if (p.exitCode() != expectedExit)
            qWarning() << "exit" << p.exitCode() << p.readAllStandardError();
        return p.exitCode() == expectedExit
                   ? QJsonDocument::fromJson(p.readAllStandardOutput()).object()
                   : QJsonObject{{QStringLiteral("unexpected_exit"), p.exitCode()}};
    }
    // Links every `every`-th NIH cell of `cls`, leaving out the cells of `skipPatients`
    // (file names start with the patient id, e.g. C117P78ThinF_...).
    static void linkCells(const QString& cls, const QString& target, int every,
                          const QStringList& skipPatients = {})
    {
        QDir src(sharedData() + QStringLiteral("/nih-cells/") + cls);
        const QStringList files = src.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        QDir().mkpath(target);
        const auto skipped = [&](const QString& name) {
            for (const QString& id : skipPatients) {
                if (name.startsWith(id) && name.size() > id.size() && !name.at(id.size()).isDigit())
                    return true;
            }
            return false;
        };
        for (int i = 0; i < files.size(); i += every) {
            if (!skipped(files.at(i)))
                QFile::link(src.filePath(files.at(i)), target + QLatin1Char('/') + files.at(i));
        }
    }
};

void TestCliEvaluate::unlabeledFolderIsRefused()
{
    QTemporaryDir dir;
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("a.png"))));
    QByteArray err;
    const QJsonObject o =
        run({QStringLiteral("evaluate"), dir.path(), QStringLiteral("--json")}, 1, &err);
    QVERIFY(!o.contains(QStringLiteral("unexpected_exit")));
    QVERIFY2(err.contains("no class subfolders"), err.constData());
}

void TestCliEvaluate::oneClassFolderHasNoNan()
{
    if (sharedData().isEmpty())
        QSKIP("../shared/data/nih-cells is missing");
    QTemporaryDir dir;
    linkCells(QStringLiteral("Uninfected"), dir.filePath(QStringLiteral("Uninfected")), 700);
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI),
            {QStringLiteral("evaluate"), dir.path(), QStringLiteral("--json")});
    QVERIFY(p.waitForFinished(300000));
    QCOMPARE(p.exitCode(), 0);
    const QByteArray out = p.readAllStandardOutput();
    QVERIFY(!out.toLower().contains("nan"));
    const QJsonObject o = QJsonDocument::fromJson(out).object();
    QVERIFY(o.value(QStringLiteral("auc")).isNull());
    QVERIFY(o.value(QStringLiteral("warnings"))
                .toArray()
                .at(0)
                .toString()
                .contains(QLatin1String("only one class")));
    QCOMPARE(o.value(QStringLiteral("cells")).toInt(), 10);
}

void TestCliEvaluate::jsonOnRealCells()
{
    if (sharedData().isEmpty())
        QSKIP("../shared/data/nih-cells is missing");
    QTemporaryDir dir;
    linkCells(QStringLiteral("Parasitized"), dir.filePath(QStringLiteral("Parasitized")), 250);
    linkCells(QStringLiteral("Uninfected"), dir.filePath(QStringLiteral("Uninfected")), 250);
    const QJsonObject o =
        run({QStringLiteral("evaluate"), dir.path(), QStringLiteral("--json")}, 0);
    QVERIFY(!o.contains(QStringLiteral("unexpected_exit")));
    for (const char* key : {"classes", "confusion_matrix", "accuracy", "sensitivity", "specificity",
                            "precision", "f1", "auc", "threshold", "ece", "patients"})
        QVERIFY2(o.contains(QLatin1String(key)), key);
    QCOMPARE(o.value(QStringLiteral("classes")).toArray().at(0).toString(),
             QStringLiteral("Parasitized"));
    const QJsonArray m = o.value(QStringLiteral("confusion_matrix")).toArray();
    const int tp = m.at(0).toArray().at(0).toInt(), fn = m.at(0).toArray().at(1).toInt();
    const int fp = m.at(1).toArray().at(0).toInt(), tn = m.at(1).toArray().at(1).toInt();
    QCOMPARE(tp + fn, 29); // 7048 files, every 250th
    QCOMPARE(fp + tn, 28); // 6967 files, every 250th
    QVERIFY(qAbs(o.value(QStringLiteral("accuracy")).toDouble() -
                 double(tp + tn) / (tp + fn + fp + tn)) < 1e-12);
    QVERIFY(o.value(QStringLiteral("accuracy")).toDouble() > 0.85);
    QVERIFY(o.value(QStringLiteral("auc")).toDouble() > 0.9);
    const QJsonArray patients = o.value(QStringLiteral("patients")).toArray();
    QVERIFY(patients.size() > 5);
    int cells = 0;
    for (const QJsonValue& v : patients)
        cells += v.toObject().value(QStringLiteral("cells")).toInt();
    QCOMPARE(cells, 57);
}

void TestCliEvaluate::validationSplitReproducesTheModelCard()
{
    if (sharedData().isEmpty())
        QSKIP("../shared/data/nih-cells is missing");
    // The embedded model's card was computed by the trainer (models/evaluation); evaluate
    // rebuilds the held-out patients from the card and scores them with core/metrics: two
    // implementations that must agree.
    QProcess info;
    info.start(QStringLiteral(MALARIALENS_CLI),
               {QStringLiteral("model-info"), QStringLiteral("--json")});
    QVERIFY(info.waitForFinished(60000));
    QCOMPARE(info.exitCode(), 0);
    QJsonObject card = QJsonDocument::fromJson(info.readAllStandardOutput()).object();
    if (card.contains(QStringLiteral("card")))
        card = card.value(QStringLiteral("card")).toObject();
    const QJsonObject cellLevel = card.value(QStringLiteral("validation"))
                                      .toObject()
                                      .value(QStringLiteral("cell_level"))
                                      .toObject();
    QVERIFY2(!cellLevel.isEmpty(), "the embedded model card has no validation.cell_level");
    const QJsonObject o =
        run({QStringLiteral("evaluate"), sharedData() + QStringLiteral("/nih-cells"),
             QStringLiteral("--validation-split"), QStringLiteral("--json")},
            0);
    QVERIFY(!o.contains(QStringLiteral("unexpected_exit")));
    QVERIFY(o.value(QStringLiteral("validation_split_only")).toBool());
    // A model trained on several labs (the default since 2026-12-01) holds out patients of
    // each; in the NIH folder evaluate finds the NIH ones, which the card's per-lab "nih"
    // entry describes.
    QJsonObject expected = cellLevel;
    QStringList keys = {QStringLiteral("accuracy"), QStringLiteral("auc"),
                        QStringLiteral("sensitivity"), QStringLiteral("specificity")};
    for (const QJsonValue& v : card.value(QStringLiteral("validation_by_source")).toArray()) {
        if (v.toObject().value(QStringLiteral("source")).toString() == QLatin1String("nih")) {
            expected = v.toObject();
            expected.insert(QStringLiteral("count"), expected.value(QStringLiteral("cells")));
            keys.removeOne(QStringLiteral("accuracy")); // per-lab entries give sens/spec/AUC
        }
    }
    QCOMPARE(o.value(QStringLiteral("cells")).toInt(),
             expected.value(QStringLiteral("count")).toInt());
    for (const QString& key : std::as_const(keys))
        QVERIFY2(qAbs(o.value(key).toDouble() - expected.value(key).toDouble()) < 0.002,
                 qPrintable(key));
    // Another folder, without any of the held-out patients, is refused with the reason.
    QStringList heldOut;
    for (const QJsonValue& v : card.value(QStringLiteral("split"))
                                   .toObject()
                                   .value(QStringLiteral("val_patients"))
                                   .toArray())
        heldOut << v.toString();
    QTemporaryDir dir;
    linkCells(QStringLiteral("Parasitized"), dir.filePath(QStringLiteral("Parasitized")), 500,
              heldOut);
    linkCells(QStringLiteral("Uninfected"), dir.filePath(QStringLiteral("Uninfected")), 500,
              heldOut);
    QByteArray err;
    run({QStringLiteral("evaluate"), dir.path(), QStringLiteral("--validation-split")}, 1, &err);
    QVERIFY2(err.contains(heldOut.isEmpty() ? "not the model's training folder" : "none of the"),
             err.constData());
}

void TestCliEvaluate::reportWritesPdf()
{
    if (sharedData().isEmpty())
        QSKIP("../shared/data/nih-cells is missing");
    QTemporaryDir dir;
    linkCells(QStringLiteral("Parasitized"), dir.filePath(QStringLiteral("cells/Parasitized")),
              500);
    linkCells(QStringLiteral("Uninfected"), dir.filePath(QStringLiteral("cells/Uninfected")), 500);
    const QString pdf = dir.filePath(QStringLiteral("report.pdf"));
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI),
            {QStringLiteral("report"), dir.filePath(QStringLiteral("cells")),
             QStringLiteral("--pdf"), pdf});
    QVERIFY(p.waitForFinished(300000));
    QCOMPARE(p.exitCode(), 0);
    QVERIFY(p.readAllStandardOutput().contains("parasitemia"));
    QFile f(pdf);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.read(5) == "%PDF-");
    QVERIFY(f.size() > 10000);
}

QTEST_GUILESS_MAIN(TestCliEvaluate)
#include "tst_cli_evaluate.moc"
