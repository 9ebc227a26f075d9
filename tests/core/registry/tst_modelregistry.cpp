// Model registry: add / list / rename / delete / export / import with validation, the
// remembered active model, atomic files (a failed add touches nothing: unwritable folder and
// a full disk simulated with RLIMIT_FSIZE, a writer process killed with SIGKILL mid-add), and
// the comparison table model.
#include "modelregistry.h"
#include "registrytablemodel.h"

#include <QAbstractItemModelTester>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFont>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <csignal>
#include <sys/resource.h>

using namespace ml;

namespace {

QJsonObject cardWith(const QString& arch, double cellAcc, double auc, const QString& date)
{
    return QJsonObject{
        {QStringLiteral("architecture"), arch},
        {QStringLiteral("date"), date},
        {QStringLiteral("split"), QJsonObject{{QStringLiteral("mode"), QStringLiteral("patient")}}},
        {QStringLiteral("training"),
         QJsonObject{{QStringLiteral("epochs_run"), 7}, {QStringLiteral("best_epoch"), 2}}},
        {QStringLiteral("validation"),
         QJsonObject{
             {QStringLiteral("cell_level"), QJsonObject{{QStringLiteral("accuracy"), cellAcc},
                                                        {QStringLiteral("sensitivity"), 0.91},
                                                        {QStringLiteral("specificity"), 0.93},
                                                        {QStringLiteral("auc"), auc},
                                                        {QStringLiteral("count"), 300}}},
             {QStringLiteral("patient_level"), QJsonObject{{QStringLiteral("accuracy"), 0.875}}},
             {QStringLiteral("worst_patient_accuracy"), 0.6},
             {QStringLiteral("worst_patient"), QStringLiteral("C99P60")},
             {QStringLiteral("max_healthy_patient_parasitized_share"), 0.042},
             {QStringLiteral("max_healthy_patient"), QStringLiteral("C7")}}}};
}

QByteArray fileBytes(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList allFiles(const QString& root)
{
    QStringList out;
    QDir d(root);
    for (const QFileInfo& fi :
         d.entryInfoList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden)) {
        out << fi.fileName();
        if (fi.isDir())
            for (const QString& sub : allFiles(fi.filePath()))
                out << fi.fileName() + QLatin1Char('/') + sub;
    }
    return out;
}

} // namespace

class TestModelRegistry : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void addListsEntryWithFilesAndMetrics();
    void renameKeepsFiles();
    void removeAndActive();
    void exportCopiesThreeFiles();
    void importValidates();
    void unwritableFolderFailsCleanly();
    void fullDiskFailsCleanly();
    void staleFoldersAreIgnoredAndCleaned();
    void killedWhileAddingLeavesNoHalfEntry();
    void tableModel();
    void tableModelFinalFitCard();
};

void TestModelRegistry::addListsEntryWithFilesAndMetrics()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.filePath(QStringLiteral("models")));
    QVERIFY(reg.entries().isEmpty());
    QCOMPARE(reg.activeId(), ModelRegistry::embeddedId());
    QString error;
    const QByteArray model(5000, 'm');
    const auto e = reg.addEntry(
        model, cardWith(QStringLiteral("se"), 0.95, 0.99, QStringLiteral("2026-11-29T10:00:00Z")),
        "epoch,train_loss\n1,0.5\n", QString(), &error);
    QVERIFY2(e.has_value(), qPrintable(error));
    QVERIFY(e->isUsable());
    QCOMPARE(fileBytes(e->modelPath), model);
    QCOMPARE(QJsonDocument::fromJson(fileBytes(e->cardPath))
                 .object()
                 .value(QStringLiteral("architecture"))
                 .toString(),
             QStringLiteral("se"));
    QCOMPARE(fileBytes(e->historyPath), QByteArray("epoch,train_loss\n1,0.5\n"));
    // The card beside the model follows the models library's convention: <base>.json.
    QCOMPARE(QFileInfo(e->cardPath).completeBaseName(), QFileInfo(e->modelPath).completeBaseName());
    QCOMPARE(e->metrics.cellAccuracy, 0.95);
    QCOMPARE(e->metrics.auc, 0.99);
    QCOMPARE(e->metrics.patientAccuracy, 0.875);
    QCOMPARE(e->metrics.worstPatient, QStringLiteral("C99P60"));
    QCOMPARE(e->metrics.epochsRun, 7);
    QVERIFY(e->name.startsWith(QLatin1String("se ")));
    const auto e2 = reg.addEntry(
        "x", cardWith(QStringLiteral("gap"), 0.9, 0.95, QStringLiteral("2026-11-29T11:00:00Z")), {},
        QStringLiteral("second"), &error);
    QVERIFY2(e2.has_value(), qPrintable(error));
    QVERIFY(!QFile::exists(e2->historyPath)); // no history given, none written
    const QList<RegistryEntry> list = ModelRegistry(reg.root()).entries();
    QCOMPARE(list.size(), 2);
    QCOMPARE(list.at(0).id, e2->id); // newest first
    QCOMPARE(list.at(0).name, QStringLiteral("second"));
    QVERIFY(e->id != e2->id);
    // Only finished entries and the index exist: no temporary files left by QSaveFile.
    for (const QString& f : allFiles(reg.root()))
        QVERIFY2(!f.contains(QLatin1String(".partial")) &&
                     !QFileInfo(f).fileName().contains(
                         QRegularExpression(QStringLiteral("\\.[A-Za-z0-9]{6}$"))),
                 qPrintable(f));
}

void TestModelRegistry::renameKeepsFiles()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.path());
    QString error;
    const auto e = reg.addEntry("weights", cardWith(QStringLiteral("se"), 0.9, 0.9, QString()),
                                "h\n", QString(), &error);
    QVERIFY(e);
    const QByteArray card = fileBytes(e->cardPath);
    QVERIFY2(reg.rename(e->id, QStringLiteral("  clinic A, March  "), &error), qPrintable(error));
    QCOMPARE(reg.entry(e->id)->name, QStringLiteral("clinic A, March"));
    QCOMPARE(fileBytes(e->modelPath), QByteArray("weights"));
    QCOMPARE(fileBytes(e->cardPath), card);
    QVERIFY(!reg.rename(QStringLiteral("nope"), QStringLiteral("x"), &error));
    QVERIFY(error.contains(QLatin1String("nope")));
    QVERIFY(reg.rename(e->id, QString(), &error)); // back to the derived name
    QVERIFY(reg.entry(e->id)->name.startsWith(QLatin1String("se")));
}

void TestModelRegistry::removeAndActive()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.path());
    QString error;
    const auto a = reg.addEntry("a", cardWith(QStringLiteral("se"), 0.9, 0.9, QString()), {},
                                QString(), &error);
    const auto b = reg.addEntry("b", cardWith(QStringLiteral("gap"), 0.9, 0.9, QString()), {},
                                QString(), &error);
    QVERIFY(a && b);
    QVERIFY(reg.setActive(a->id, &error));
    QCOMPARE(ModelRegistry(dir.path()).activeId(), a->id);
    QVERIFY(!reg.setActive(QStringLiteral("missing"), &error));
    QCOMPARE(reg.activeId(), a->id);
    QVERIFY2(reg.remove(a->id, &error), qPrintable(error));
    QVERIFY(!QFileInfo::exists(a->folder));
    QCOMPARE(reg.activeId(), ModelRegistry::embeddedId()); // the deleted active falls back
    QCOMPARE(reg.entries().size(), 1);
    QVERIFY(!reg.remove(a->id, &error));
    QVERIFY(reg.setActive(ModelRegistry::embeddedId(), &error));
    // registry.json is valid JSON after every write.
    QJsonParseError pe;
    QJsonDocument::fromJson(fileBytes(dir.filePath(QStringLiteral("registry.json"))), &pe);
    QCOMPARE(pe.error, QJsonParseError::NoError);
}

void TestModelRegistry::exportCopiesThreeFiles()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.filePath(QStringLiteral("reg")));
    QString error;
    const auto e = reg.addEntry("model-bytes", cardWith(QStringLiteral("se"), 0.9, 0.9, QString()),
                                "csv\n", QStringLiteral("my model/1"), &error);
    QVERIFY(e);
    const QString out = dir.filePath(QStringLiteral("out"));
    QVERIFY(QDir().mkpath(out));
    const QString path = reg.exportEntry(e->id, out, false, &error);
    QVERIFY2(!path.isEmpty(), qPrintable(error));
    QCOMPARE(QFileInfo(path).fileName(), QStringLiteral("my_model_1.pt"));
    QCOMPARE(fileBytes(path), QByteArray("model-bytes"));
    QCOMPARE(fileBytes(out + QStringLiteral("/my_model_1.json")), fileBytes(e->cardPath));
    QCOMPARE(fileBytes(out + QStringLiteral("/my_model_1.history.csv")), QByteArray("csv\n"));
    // No silent overwrite.
    QVERIFY(reg.exportEntry(e->id, out, false, &error).isEmpty());
    QVERIFY2(error.contains(QLatin1String("already exists")), qPrintable(error));
    QVERIFY(!reg.exportEntry(e->id, out, true, &error).isEmpty());
    QVERIFY(
        reg.exportEntry(e->id, dir.filePath(QStringLiteral("nofolder")), false, &error).isEmpty());
    // An export imports back as an equal entry.
    const auto back = reg.importModel(path, {}, &error);
    QVERIFY2(back, qPrintable(error));
    QCOMPARE(fileBytes(back->modelPath), QByteArray("model-bytes"));
    QCOMPARE(back->card, e->card);
    QCOMPARE(fileBytes(back->historyPath), QByteArray("csv\n"));
}

void TestModelRegistry::importValidates()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.filePath(QStringLiteral("reg")));
    const QString src = dir.filePath(QStringLiteral("garbage.pt"));
    {
        QFile f(src);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a model");
    }
    QString seenPath;
    const ModelValidator rejectGarbage = [&seenPath](const QString& p, QJsonObject*, QString* why) {
        seenPath = p;
        QFile f(p);
        f.open(QIODevice::ReadOnly);
        if (f.readAll().startsWith("not a model")) {
            *why = QStringLiteral("unknown format");
            return false;
        }
        return true;
    };
    QString error;
    QVERIFY(!reg.importModel(src, rejectGarbage, &error));
    QVERIFY2(error.contains(QLatin1String("unknown format")) &&
                 error.contains(QLatin1String("garbage.pt")),
             qPrintable(error));
    QVERIFY(seenPath.startsWith(reg.root())); // the copy inside the registry was validated
    QVERIFY(reg.entries().isEmpty());
    QVERIFY(allFiles(reg.root()).isEmpty()); // and removed
    // A card made by the loader is written when the file comes without one.
    const QString good = dir.filePath(QStringLiteral("good.pt"));
    {
        QFile f(good);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("torchscript bytes");
    }
    const ModelValidator makeCard = [](const QString&, QJsonObject* card, QString*) {
        *card = QJsonObject{{QStringLiteral("architecture"), QStringLiteral("torchscript")}};
        return true;
    };
    const auto e = reg.importModel(good, makeCard, &error);
    QVERIFY2(e, qPrintable(error));
    QCOMPARE(e->architecture, QStringLiteral("torchscript"));
    QVERIFY(QFile::exists(e->cardPath));
    QVERIFY(!reg.importModel(dir.filePath(QStringLiteral("missing.pt")), makeCard, &error));
    QVERIFY(error.contains(QLatin1String("missing.pt")));
}

void TestModelRegistry::unwritableFolderFailsCleanly()
{
    // Tests may run as root, which ignores permission bits: a regular file where the folder
    // should be is unwritable for everyone.
    QTemporaryDir dir;
    const QString blocker = dir.filePath(QStringLiteral("blocker"));
    {
        QFile f(blocker);
        QVERIFY(f.open(QIODevice::WriteOnly));
    }
    ModelRegistry reg(blocker + QStringLiteral("/models"));
    QString error;
    QVERIFY(!reg.addEntry("m", cardWith(QStringLiteral("se"), 0.9, 0.9, QString()), {}, QString(),
                          &error));
    QVERIFY2(error.contains(blocker), qPrintable(error));
    QVERIFY(reg.entries().isEmpty());
}

void TestModelRegistry::fullDiskFailsCleanly()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.path());
    QString error;
    const auto previous =
        reg.addEntry(QByteArray(3000, 'p'), cardWith(QStringLiteral("se"), 0.9, 0.9, QString()),
                     "h\n", QString(), &error);
    QVERIFY(previous);
    QVERIFY(reg.setActive(previous->id, &error));
    const QStringList before = allFiles(dir.path());
    const QByteArray previousModel = fileBytes(previous->modelPath);

    // RLIMIT_FSIZE makes every write past 64 KiB fail with EFBIG, as a full disk would.
    rlimit old{};
    QVERIFY(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 64 * 1024;
    QVERIFY(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const auto big =
        reg.addEntry(QByteArray(1024 * 1024, 'b'),
                     cardWith(QStringLiteral("se"), 0.9, 0.9, QString()), "h\n", QString(), &error);
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);

    QVERIFY(!big);
    QVERIFY2(error.contains(QLatin1String("cannot be written")), qPrintable(error));
    QCOMPARE(allFiles(dir.path()), before); // nothing new, nothing half-written
    QCOMPARE(fileBytes(previous->modelPath), previousModel);
    QCOMPARE(reg.activeId(), previous->id);
}

void TestModelRegistry::staleFoldersAreIgnoredAndCleaned()
{
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("20260101-000000-se-abcd.partial"))));
    QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("20260101-000000-se-beef.deleting"))));
    QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral(".checkpoints"))));
    QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("damaged"))));
    ModelRegistry reg(dir.path());
    const QList<RegistryEntry> list = reg.entries();
    QCOMPARE(list.size(), 1); // only "damaged", listed with its problem
    QCOMPARE(list.first().id, QStringLiteral("damaged"));
    QVERIFY(!list.first().isUsable());
    QVERIFY(list.first().problem.contains(QLatin1String("missing")));
    reg.cleanStale();
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("20260101-000000-se-abcd.partial"))));
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("20260101-000000-se-beef.deleting"))));
    QVERIFY(QFileInfo::exists(dir.filePath(QStringLiteral(".checkpoints"))));
}

namespace {

constexpr char kWriterVar[] = "MLTEST_REGISTRY_WRITER";

// 8 MiB that a torn write would not reproduce: each 4-byte word holds its own index.
QByteArray killTestPayload()
{
    QByteArray bytes(8 << 20, Qt::Uninitialized);
    auto* words = reinterpret_cast<quint32*>(bytes.data());
    for (int i = 0; i < bytes.size() / 4; ++i)
        words[i] = quint32(i) * 2654435761u;
    return bytes;
}

// The child: adds entries to `root` until it is killed, every other one with a display name
// (so registry.json is rewritten too), and says "ADDED" after each.
int runRegistryWriter(const QString& root)
{
    const QByteArray payload = killTestPayload();
    ModelRegistry reg(root);
    for (int i = 0;; ++i) {
        QString error;
        const QString name = i % 2 ? QStringLiteral("model %1").arg(i) : QString();
        if (!reg.addEntry(payload, cardWith(QStringLiteral("se"), 0.9, 0.95, QString()),
                          QByteArray("epoch,loss\n1,0.5\n"), name, &error)) {
            fprintf(stderr, "add failed: %s\n", qPrintable(error));
            return 1;
        }
        fprintf(stdout, "ADDED\n");
        fflush(stdout);
    }
}

} // namespace

void TestModelRegistry::killedWhileAddingLeavesNoHalfEntry()
{
    // A writer process is killed (SIGKILL: no handler, no clean-up) at five moments of its
    // adds. Whatever it was writing, every entry listed afterwards is whole, registry.json
    // still reads, and cleanStale() removes what the kill left half-done.
    const QByteArray payload = killTestPayload();
    for (int round = 0; round < 5; ++round) {
        QTemporaryDir dir;
        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QLatin1String(kWriterVar), dir.path());
        child.setProcessEnvironment(env);
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QCoreApplication::applicationFilePath(), {});
        QVERIFY(child.waitForStarted());
        QByteArray out;
        QElapsedTimer waited;
        waited.start();
        while (out.count("ADDED") < 2 && child.state() == QProcess::Running &&
               waited.elapsed() < 60000) {
            child.waitForReadyRead(100);
            out += child.readAllStandardOutput();
        }
        QVERIFY2(out.count("ADDED") >= 2, out.constData());
        QThread::msleep(static_cast<unsigned long>(round * 7)); // a different moment each round
        child.kill();
        QVERIFY(child.waitForFinished());
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);
        out += child.readAllStandardOutput();

        ModelRegistry reg(dir.path());
        const QList<RegistryEntry> list = reg.entries();
        const int added = int(out.count("ADDED"));
        // The last add may have been published before its "ADDED" was written.
        QVERIFY2(list.size() == added || list.size() == added + 1,
                 qPrintable(QStringLiteral("%1 entries, %2 reported").arg(list.size()).arg(added)));
        for (const RegistryEntry& e : list) {
            QVERIFY2(e.isUsable(), qPrintable(e.id + QLatin1String(": ") + e.problem));
            QVERIFY2(fileBytes(e.modelPath) == payload, qPrintable(e.id));
            QCOMPARE(e.card.value(QStringLiteral("architecture")).toString(), QStringLiteral("se"));
        }
        QCOMPARE(reg.activeId(), ModelRegistry::embeddedId()); // the index still reads
        const QStringList partial =
            QDir(dir.path()).entryList({QStringLiteral("*.partial")}, QDir::Dirs);
        qInfo("round %d: killed after %d adds, %s", round, added,
              partial.isEmpty() ? "between two adds" : "in the middle of an add");
        reg.cleanStale();
        for (const QString& f : QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot))
            QVERIFY2(!f.endsWith(QLatin1String(".partial")), qPrintable(f));
        QCOMPARE(reg.entries().size(), list.size());
    }
}

void TestModelRegistry::tableModelFinalFitCard()
{
    // A model trained on every patient after a 3-fold cross-validation, whose healthy
    // patients had no cell called parasitized (so no patient is named).
    QJsonObject card =
        cardWith(QStringLiteral("se"), 0.95, 0.99, QStringLiteral("2026-11-29T11:00:00Z"));
    card.insert(QStringLiteral("split"),
                QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")},
                            {QStringLiteral("folds"), 3}});
    QJsonObject v = card.value(QStringLiteral("validation")).toObject();
    v.insert(QStringLiteral("max_healthy_patient_parasitized_share"), 0.0);
    v.insert(QStringLiteral("max_healthy_patient"), QString());
    card.insert(QStringLiteral("validation"), v);
    QTemporaryDir dir;
    ModelRegistry reg(dir.path());
    QString error;
    QVERIFY2(reg.addEntry("f", card, {}, QStringLiteral("F"), &error), qPrintable(error));
    RegistryTableModel model;
    model.setEntries(reg.entries(), false, {});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.index(0, RegistryTableModel::Split).data().toString(),
             QStringLiteral("3-fold, pooled"));
    QCOMPARE(model.index(0, RegistryTableModel::MaxHealthyShare).data().toString(),
             QStringLiteral("0.0 %"));
}

void TestModelRegistry::tableModel()
{
    QTemporaryDir dir;
    ModelRegistry reg(dir.path());
    QString error;
    const auto a = reg.addEntry(
        "a", cardWith(QStringLiteral("se"), 0.953, 0.991, QStringLiteral("2026-11-29T10:00:00Z")),
        {}, QStringLiteral("A"), &error);
    const auto b = reg.addEntry(
        "b", cardWith(QStringLiteral("gap"), 0.9, 0.95, QStringLiteral("2026-11-29T09:00:00Z")), {},
        QStringLiteral("B"), &error);
    QVERIFY(a && b);
    RegistryTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setEntries(reg.entries(), true, cardWith(QStringLiteral("se"), 0.96, 0.99, QString()));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.idAt(0), ModelRegistry::embeddedId());
    QCOMPARE(model.idAt(1), a->id);
    QCOMPARE(model.index(1, RegistryTableModel::CellAccuracy).data().toString(),
             QStringLiteral("95.3 %"));
    QCOMPARE(model.index(1, RegistryTableModel::Auc).data().toString(), QStringLiteral("0.9910"));
    QCOMPARE(model.index(1, RegistryTableModel::CellAccuracy).data(Qt::UserRole).toDouble(), 0.953);
    QCOMPARE(model.index(2, RegistryTableModel::Architecture).data().toString(),
             QStringLiteral("gap"));
    QVERIFY(model.index(1, RegistryTableModel::WorstPatient)
                .data()
                .toString()
                .contains(QLatin1String("C99P60")));
    QCOMPARE(model.index(1, RegistryTableModel::MaxHealthyShare).data().toString(),
             QStringLiteral("4.2 % (C7)"));
    QCOMPARE(model.index(1, RegistryTableModel::MaxHealthyShare).data(Qt::UserRole).toDouble(),
             0.042);
    model.setActiveId(b->id);
    QVERIFY(model.index(2, RegistryTableModel::Name)
                .data()
                .toString()
                .startsWith(QStringLiteral("● ")));
    QVERIFY(model.index(2, 0).data(Qt::FontRole).value<QFont>().bold());
    QVERIFY(!model.index(1, RegistryTableModel::Name)
                 .data()
                 .toString()
                 .startsWith(QStringLiteral("● ")));
    model.setEntries({}, false, {});
    QCOMPARE(model.rowCount(), 0);
}

int main(int argc, char** argv)
{
    QGuiApplication app(argc, argv); // QFont in the table model's tests
    const QString writer = qEnvironmentVariable(kWriterVar);
    if (!writer.isEmpty())
        return runRegistryWriter(writer);
    TestModelRegistry test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_modelregistry.moc"
