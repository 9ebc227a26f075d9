// The reviewer's cell labels during "Calibrate for this lab", on cells the real pipeline found
// in real IML fields with the embedded model, written to a real SQLite database: every label
// is in the database at once, undo appends, a database locked by another connection
// (BEGIN EXCLUSIVE) keeps labels pending in memory with a message and writes them once it is
// free, and a new session on the same cells gets the labels back.
#include "calibrationfields.h"
#include "calibrationlabels.h"
#include "celllabelsession.h"
#include "classifier.h"
#include "correctionstore.h"
#include "fieldanalysis.h"

#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

class TestCellLabelSession : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void everyLabelIsInTheDatabaseAtOnce();
    void lockedDatabaseKeepsLabelsAndWritesThemLater();
    void aNewSessionGetsTheLabelsBack();
    void notACellIsStoredAndLeavesTheFalsePositives();

private:
    QTemporaryDir m_dir;
    LabCells m_lab;
};

void TestCellLabelSession::initTestCase()
{
    if (!QDir(mltest::imlFieldsDir()).exists())
        QSKIP("../shared/data/iml-fields is missing");
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    QVERIFY(m_dir.isValid());
    const FieldAnnotationSet truth =
        loadFieldAnnotations(mltest::imlFieldsDir() + QStringLiteral("/annotations.json"));
    const QString folder = m_dir.filePath(QStringLiteral("fields"));
    QCOMPARE(mltest::linkRichestFields(truth, 2, folder).size(), 2);
    Classifier model;
    QVERIFY(model.loadEmbedded());
    LabCalibrationOptions o;
    o.threads = 2;
    m_lab = analyseLabFields(fieldImagesInFolder(folder), model, o);
    QVERIFY2(m_lab.error.isEmpty(), qPrintable(m_lab.error));
    QVERIFY(m_lab.cells.size() > 50);
}

void TestCellLabelSession::everyLabelIsInTheDatabaseAtOnce()
{
    const QString db = m_dir.filePath(QStringLiteral("once.sqlite"));
    CellLabelSession s;
    QVERIFY(s.openStore(db));
    s.setReviewer(QStringLiteral("ana"));
    s.setLab(QStringLiteral("lab A"));
    QCOMPARE(s.setCells(m_lab.cells, m_lab.threshold, 20), 0);
    QCOMPARE(int(s.queue().size()), 20);
    // The queue is the rule's order (called parasitized, uncertain, random in turn).
    QCOMPARE(s.queue().front(), proposeCellsToLabel(m_lab.cells, 20, m_lab.threshold).front());
    const int first = s.currentCell();
    QVERIFY(s.decide(QStringLiteral("Parasitized")));
    QVERIFY(s.decide(QStringLiteral("Uninfected")));
    QVERIFY(s.decide(unsureLabel()));
    s.skip();
    QCOMPARE(s.counts().labelled, 3);
    QCOMPARE(s.counts().parasitized, 1);
    QCOMPARE(s.pendingCount(), 0);

    // Read by another connection, as another process would.
    CorrectionStore other;
    QVERIFY(other.open(db));
    const QList<Correction> rows = other.all();
    QCOMPARE(rows.size(), 3);
    QCOMPARE(rows.first().reviewer, QStringLiteral("ana"));
    QVERIFY(rows.first().note.contains(QStringLiteral("lab A")));
    const std::optional<CellLabel> l = cellLabelFromCorrection(rows.first());
    QVERIFY(l);
    QCOMPARE(l->field, m_lab.cells[size_t(first)].field);
    QCOMPARE(l->box, m_lab.cells[size_t(first)].box);
    QCOMPARE(l->label, QStringLiteral("Parasitized"));

    // Undo: back over the skip, then the unsure label is reverted by a new row.
    QVERIFY(s.undo());
    QVERIFY(s.undo());
    QCOMPARE(s.counts().labelled, 2);
    QCOMPARE(other.count(), 4);
    QCOMPARE(latestCellLabels(other.all()).size(), 2);
}

void TestCellLabelSession::lockedDatabaseKeepsLabelsAndWritesThemLater()
{
    const QString db = m_dir.filePath(QStringLiteral("locked.sqlite"));
    CellLabelSession s;
    QVERIFY(s.openStore(db));
    s.setCells(m_lab.cells, m_lab.threshold, 20);
    QVERIFY(s.decide(QStringLiteral("Uninfected")));
    QCOMPARE(s.pendingCount(), 0);
    {
        // Another connection takes the write lock and keeps it.
        QSqlDatabase locker =
            QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("locker"));
        locker.setDatabaseName(db);
        QVERIFY(locker.open());
        QSqlQuery q(locker);
        QVERIFY(q.exec(QStringLiteral("BEGIN EXCLUSIVE")));
        QSignalSpy status(&s, &CellLabelSession::storeStatusChanged);
        QVERIFY(s.decide(QStringLiteral("Parasitized")));
        QVERIFY(s.decide(QStringLiteral("Uninfected")));
        // The labels count, are pending, and the user is told.
        QCOMPARE(s.counts().labelled, 3);
        QCOMPARE(s.pendingCount(), 2);
        QVERIFY(!status.isEmpty());
        QVERIFY(status.last().at(1).toBool());
        QVERIFY2(s.storeMessage().contains(QStringLiteral("none is lost")),
                 qPrintable(s.storeMessage()));
        QVERIFY2(s.storeMessage().contains(QStringLiteral("locked")), qPrintable(s.storeMessage()));
        QVERIFY(!s.flushPending());
        // The pending labels can be kept as a CSV that calibrate --labels reads.
        QString error;
        const auto csv = cellLabelsFromCsv(s.pendingCsv(), &error);
        QVERIFY2(csv, qPrintable(error));
        QCOMPARE(csv->size(), 2);
        QVERIFY(q.exec(QStringLiteral("ROLLBACK")));
        q.finish();
        locker.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("locker"));
    // Written on the next try (the session retries on a timer; here at once), in order.
    QTRY_COMPARE_WITH_TIMEOUT(s.pendingCount(), 0, 20000);
    QVERIFY(s.storeMessage().isEmpty());
    CorrectionStore other;
    QVERIFY(other.open(db));
    const QList<Correction> rows = other.all();
    QCOMPARE(rows.size(), 3);
    QCOMPARE(rows[1].newLabel, QStringLiteral("Parasitized"));
    QCOMPARE(rows[2].newLabel, QStringLiteral("Uninfected"));
    QVERIFY(rows[1].time <= rows[2].time);
}

void TestCellLabelSession::aNewSessionGetsTheLabelsBack()
{
    const QString db = m_dir.filePath(QStringLiteral("restart.sqlite"));
    QList<int> labelled;
    {
        CellLabelSession s;
        QVERIFY(s.openStore(db));
        s.setCells(m_lab.cells, m_lab.threshold, 30);
        for (int i = 0; i < 5; ++i) {
            labelled << s.currentCell();
            QVERIFY(s.decide(i % 2 ? QStringLiteral("Parasitized") : QStringLiteral("Uninfected")));
        }
    } // the window closed (or the program was killed): only the database remains
    CellLabelSession again;
    QVERIFY(again.openStore(db));
    QCOMPARE(again.setCells(m_lab.cells, m_lab.threshold, 30), 5);
    QCOMPARE(again.counts().labelled, 5);
    QCOMPARE(again.counts().parasitized, 2);
    for (int i = 0; i < 5; ++i)
        QCOMPARE(again.cells()[size_t(labelled[i])].label, i % 2 ? 0 : 1);
    // The next cell asked is a new one.
    QVERIFY(!labelled.contains(again.currentCell()));
}

void TestCellLabelSession::notACellIsStoredAndLeavesTheFalsePositives()
{
    const QString db = m_dir.filePath(QStringLiteral("debris.sqlite"));
    CellLabelSession s;
    QVERIFY(s.openStore(db));
    s.setReviewer(QStringLiteral("ana"));
    QCOMPARE(s.setCells(m_lab.cells, m_lab.threshold, 20), 0);
    const int debris = s.currentCell();
    QVERIFY(s.decide(notACellLabel()));
    const CellLabelCounts n = s.counts();
    QCOMPARE(n.labelled, 1);
    QCOMPARE(n.notACell, 1);
    QCOMPARE(n.unsure, 0);
    QCOMPARE(n.parasitized + n.uninfected, 0);
    // Neither class: not adapted on, not tested on, and out of the threshold's healthy cells.
    QCOMPARE(s.cells()[size_t(debris)].label, -1);
    QVERIFY(s.cells()[size_t(debris)].notACell);

    // In the database as its own label, read back onto the same cell by a new session and by
    // the CLI's path (applyCellLabels()).
    CorrectionStore other;
    QVERIFY(other.open(db));
    const QList<CellLabel> stored = latestCellLabels(other.all());
    QCOMPARE(stored.size(), 1);
    QCOMPARE(stored.first().label, notACellLabel());
    std::vector<CalibrationCell> cells = m_lab.cells;
    QCOMPARE(applyCellLabels(cells, stored), 1);
    QVERIFY(cells[size_t(debris)].notACell);
    QCOMPARE(cells[size_t(debris)].label, -1);
    CellLabelSession again;
    QVERIFY(again.openStore(db));
    QCOMPARE(again.setCells(m_lab.cells, m_lab.threshold, 20), 1);
    QVERIFY(again.cells()[size_t(debris)].notACell);
    QCOMPARE(again.counts().notACell, 1);

    // Undone, the cell is a cell again.
    QVERIFY(s.undo());
    QVERIFY(!s.cells()[size_t(debris)].notACell);
    QCOMPARE(s.counts().notACell, 0);
}

QTEST_MAIN(TestCellLabelSession)
#include "tst_celllabelsession.moc"
