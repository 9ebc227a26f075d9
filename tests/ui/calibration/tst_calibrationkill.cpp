// "Calibrate for this lab" killed with SIGKILL while it adapts (issue 18). The real wizard
// runs in a child process (this program again, with MALARIALENS_KILL_CHILD set): it finds the
// cells of real IML fields, a reviewer (played from the fields' box annotations) labels them
// with the keys into a real SQLite database, and adapting starts. At the first training batch
// the parent kills the child with SIGKILL. Then the database must open undamaged with every
// label the child reported, the user's field images must be unchanged byte for byte, no model
// may have reached the registry, and a new wizard on the same fields must restore the labels,
// say so, and be ready to adapt again without asking for one more label.
#include "calibrationfields.h"
#include "calibrationpages.h"
#include "calibrationwizard.h"
#include "celllabelsession.h"
#include "classifier.h"
#include "correctionstore.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>

using namespace ml;

namespace {

constexpr char kChildVar[] = "MALARIALENS_KILL_CHILD";
constexpr int kFields = 8;

/// SHA-256 of every file of `dir`, by name: the user's images before and after. Empty when
/// one of them cannot be read.
QMap<QString, QByteArray> fileHashes(const QString& dir)
{
    QMap<QString, QByteArray> out;
    for (const QFileInfo& fi : QDir(dir).entryInfoList(QDir::Files)) {
        const QByteArray hash = mltest::fileSha256(fi.absoluteFilePath());
        if (hash.isEmpty())
            return {};
        out.insert(fi.fileName(), hash);
    }
    return out;
}

/// Waits (processing events) until `done` holds or `ms` pass; true when it held.
template <typename F> bool waitUntil(F done, int ms)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > ms)
            return false;
        QTest::qWait(50);
    }
    return true;
}

/// Sets the wizard up on `fields` and `db` and runs its first two pages; the message of
/// cellsFound, empty when finding the cells failed or timed out.
QString findCells(CalibrationWizard& wizard, const QString& db, const QString& registry)
{
    wizard.setDatabasePath(db);
    wizard.setRegistryRoot(registry);
    wizard.setMinimumParasitized(4);
    wizard.setBudget(5000); // every cell may be asked: a few fields hold few parasites
    wizard.resize(1100, 800);
    wizard.show();
    wizard.fieldsPage()->labEdit()->setText(QStringLiteral("Kill lab"));
    wizard.fieldsPage()->reviewerEdit()->setText(QStringLiteral("tester"));
    QSignalSpy found(&wizard, &CalibrationWizard::cellsFound);
    wizard.next();
    if (!waitUntil([&] { return !found.isEmpty(); }, 600000) || !found.first().at(0).toBool())
        return {};
    return found.first().at(1).toString();
}

/// The child: labels until the page allows adapting, prints "LABELS <n>", starts adapting
/// with many epochs and prints "ADAPTING" at the first batch, then runs until killed.
int runChild(const QString& fields, const QString& db, const QString& registry)
{
    Classifier model;
    if (!model.loadEmbedded())
        return 3;
    const FieldAnnotationSet truth =
        loadFieldAnnotations(mltest::imlFieldsDir() + QStringLiteral("/annotations.json"));
    CalibrationWizard wizard(model, fields);
    wizard.setEpochs(200); // far longer than the parent waits
    if (findCells(wizard, db, registry).isEmpty())
        return 4;
    std::vector<CalibrationCell> cells = wizard.session()->cells();
    labelFromAnnotations(cells, truth);
    wizard.next();
    LabelCellsPage* page = wizard.labelPage();
    CellLabelSession* s = wizard.session();
    while (!page->isComplete() && s->currentCell() >= 0) {
        const int label = cells[size_t(s->currentCell())].label;
        QTest::keyClick(page, label == 0 ? Qt::Key_P : label == 1 ? Qt::Key_U : Qt::Key_S);
    }
    if (!page->isComplete() || s->pendingCount() != 0)
        return 5;
    std::printf("LABELS %d\n", s->counts().labelled);
    std::fflush(stdout);
    bool announced = false;
    QObject::connect(&wizard, &CalibrationWizard::batchDone, [&announced] {
        if (!announced) {
            std::printf("ADAPTING\n");
            std::fflush(stdout);
            announced = true;
        }
    });
    wizard.next(); // the Adapt page starts adapting
    return QApplication::exec();
}

} // namespace

class TestCalibrationKill : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void killedWhileAdaptingLosesNoLabel();
};

void TestCalibrationKill::killedWhileAdaptingLosesNoLabel()
{
    if (!QDir(mltest::imlFieldsDir()).exists())
        QSKIP("../shared/data/iml-fields is missing");
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const FieldAnnotationSet truth =
        loadFieldAnnotations(mltest::imlFieldsDir() + QStringLiteral("/annotations.json"));
    QVERIFY(truth.ok());
    const QString fields = dir.filePath(QStringLiteral("lab-fields"));
    QCOMPARE(mltest::linkRichestFields(truth, kFields, fields).size(), kFields);
    const QMap<QString, QByteArray> imagesBefore = fileHashes(fields);
    QCOMPARE(imagesBefore.size(), kFields);
    const QString db = dir.filePath(QStringLiteral("corrections.sqlite"));
    const QString registry = dir.filePath(QStringLiteral("registry"));

    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QLatin1String(kChildVar), QStringList{fields, db, registry}.join(QLatin1Char('\n')));
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), {});
    QVERIFY(child.waitForStarted());
    QByteArray out;
    const bool adapting = waitUntil(
        [&] {
            out += child.readAllStandardOutput();
            return out.contains("ADAPTING\n") || child.state() == QProcess::NotRunning;
        },
        900000);
    QVERIFY2(adapting && out.contains("ADAPTING\n"),
             qPrintable(QStringLiteral("child output '%1', exit code %2")
                            .arg(QString::fromLatin1(out))
                            .arg(child.exitCode())));
    QCOMPARE(child.state(), QProcess::Running); // mid-adaptation, with 200 epochs to go
    child.kill();                               // SIGKILL: no handler, no clean-up
    QVERIFY(child.waitForFinished());
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);
    const int at = out.indexOf("LABELS ");
    QVERIFY(at >= 0);
    const int labelled = out.mid(at + 7, out.indexOf('\n', at) - at - 7).toInt();
    QVERIFY2(labelled > 0, out.constData());
    qInfo("child killed at its first training batch after %d labels", labelled);

    // The database opens and holds every label the child had given.
    CorrectionStore store;
    QVERIFY2(store.open(db), qPrintable(store.errorString()));
    QCOMPARE(int(latestCellLabels(store.all()).size()), labelled);
    store.close();
    // The user's images are untouched; no half-adapted model reached the registry.
    QCOMPARE(fileHashes(fields), imagesBefore);
    QVERIFY(QDir(registry).entryList(QDir::AllEntries | QDir::NoDotAndDotDot).isEmpty());

    // A new wizard on the same fields restores the labels, says so, and can adapt at once.
    Classifier model;
    QVERIFY(model.loadEmbedded());
    CalibrationWizard wizard(model, fields);
    wizard.setEpochs(1);
    const QString message = findCells(wizard, db, registry);
    QVERIFY2(
        message.contains(QStringLiteral("%1 cells you labelled before are restored").arg(labelled)),
        qPrintable(message));
    QCOMPARE(wizard.session()->counts().labelled, labelled);
    wizard.next();
    QCOMPARE(wizard.currentId(), int(CalibrationWizard::LabelPageId));
    QVERIFY2(wizard.labelPage()->isComplete(),
             qPrintable(wizard.labelPage()->budgetLabel()->text()));
}

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    const QString child = qEnvironmentVariable(kChildVar);
    if (!child.isEmpty()) {
        const QStringList parts = child.split(QLatin1Char('\n'));
        return parts.size() == 3 ? runChild(parts.at(0), parts.at(1), parts.at(2)) : 2;
    }
    TestCalibrationKill test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_calibrationkill.moc"
