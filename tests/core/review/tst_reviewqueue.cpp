// Review queue ordering (hand-worked cases) and the reviewer's session: decisions go to the
// corrections database, undo appends a row that restores the label, a failed write leaves
// the position where it was.
#include "correctionstore.h"
#include "folderscanner.h"
#include "reviewdata.h"
#include "reviewqueue.h"
#include "reviewsession.h"

#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace ml;

namespace {

// Six images: labels P P P U U U (Parasitized = 0, Uninfected = 1).
Dataset sixImages()
{
    Dataset ds;
    ds.root = QStringLiteral("/data");
    ds.classNames = {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")};
    for (int i = 0; i < 6; ++i) {
        ImageEntry e;
        e.relativePath = QStringLiteral("img%1.png").arg(i);
        e.label = i < 3 ? 0 : 1;
        e.patient = QStringLiteral("P%1").arg(i);
        e.bytes = 10;
        ds.images.append(e);
    }
    return ds;
}

QList<int> indices(const std::vector<ReviewItem>& q)
{
    QList<int> out;
    for (const ReviewItem& r : q)
        out << r.index;
    return out;
}

} // namespace

class TestReviewQueue : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void ordering_data();
    void ordering();
    void unclassifiedAndExcludedAreLeftOut();
    void unlabeledFolderHasNoDisagreement();
    void sessionDecideUndoSkip();
    void sessionWriteFailureKeepsPosition();
};

void TestReviewQueue::ordering_data()
{
    QTest::addColumn<int>("order");
    QTest::addColumn<double>("threshold");
    QTest::addColumn<QList<int>>("expected");
    // Binary fractions, so the margins tie exactly (labels P P P | U U U):
    // probabilities: .9375 .5625 .125 | .4375 .875 .03125
    // |p - 0.5|:     .4375 .0625 .375 | .0625 .375 .46875
    QTest::newRow("uncertainty, ties in folder order")
        << int(ReviewOrder::Uncertainty) << 0.5 << QList<int>{1, 3, 2, 4, 0, 5};
    QTest::newRow("confidence") << int(ReviewOrder::Confidence) << 0.5
                                << QList<int>{5, 0, 2, 4, 1, 3};
    // Disagreements at 0.5: img2 (P, predicted U, margin .375), img4 (U, predicted P, .375)
    QTest::newRow("disagreement") << int(ReviewOrder::Disagreement) << 0.5 << QList<int>{2, 4};
    // At threshold 0.0625: every image but img5 is predicted P; disagreements are U images
    // 3, 4 (margins .375, .8125): most confident first.
    QTest::newRow("disagreement at 0.0625")
        << int(ReviewOrder::Disagreement) << 0.0625 << QList<int>{4, 3};
}

void TestReviewQueue::ordering()
{
    QFETCH(int, order);
    QFETCH(double, threshold);
    QFETCH(QList<int>, expected);
    const Dataset ds = sixImages();
    const std::vector<float> p{0.9375f, 0.5625f, 0.125f, 0.4375f, 0.875f, 0.03125f};
    const auto q = buildReviewQueue(ds, p, threshold, ReviewOrder(order));
    QCOMPARE(indices(q), expected);
    for (const ReviewItem& r : q) {
        QCOMPARE(r.probability, p[size_t(r.index)]);
        QCOMPARE(r.predicted, p[size_t(r.index)] >= threshold ? 0 : 1);
        QCOMPARE(r.labelAsModelClass, r.index < 3 ? 0 : 1);
    }
}

void TestReviewQueue::unclassifiedAndExcludedAreLeftOut()
{
    const Dataset ds = sixImages();
    const std::vector<float> p{0.95f, -1.f, 0.10f, 0.45f, -1.f, 0.02f};
    const auto q = buildReviewQueue(ds, p, 0.5, ReviewOrder::Uncertainty, QSet<int>{3});
    QCOMPARE(indices(q), (QList<int>{2, 0, 5}));
}

void TestReviewQueue::unlabeledFolderHasNoDisagreement()
{
    Dataset ds = sixImages();
    ds.classNames.clear();
    for (ImageEntry& e : ds.images)
        e.label = -1;
    const std::vector<float> p{0.95f, 0.55f, 0.10f, 0.45f, 0.90f, 0.02f};
    QVERIFY(buildReviewQueue(ds, p, 0.5, ReviewOrder::Disagreement).empty());
    QCOMPARE(buildReviewQueue(ds, p, 0.5, ReviewOrder::Uncertainty).size(), size_t(6));
}

void TestReviewQueue::sessionDecideUndoSkip()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    QTemporaryDir dir;
    QCOMPARE(reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 2).size(), 4);
    auto ds = std::make_shared<const Dataset>(scanFolder(dir.filePath(QStringLiteral("cells"))));
    const std::vector<float> p{0.875f, 0.625f, 0.375f, 0.125f};
    ReviewSession session;
    session.setReviewer(QStringLiteral("ann"));
    QVERIFY(session.openStore(dir.filePath(QStringLiteral("db.sqlite"))));
    QSignalSpy changed(&session, &ReviewSession::labelChanged);
    session.setQueue(ds, buildReviewQueue(*ds, p, 0.5, ReviewOrder::Uncertainty));
    QCOMPARE(session.size(), 4);
    QCOMPARE(session.current()->index, 1); // .625 and .375 tie: folder order
    QVERIFY(session.decide(QStringLiteral("Uninfected"), QStringLiteral("no parasite")));
    QCOMPARE(session.position(), 1);
    QCOMPARE(session.effectiveLabel(1), QStringLiteral("Uninfected"));
    session.skip();
    QCOMPARE(session.position(), 2);
    QVERIFY(session.decide(unsureLabel()));
    QCOMPARE(session.decided(), 2);

    QList<Correction> rows = session.store().all();
    QCOMPARE(rows.size(), 2);
    QCOMPARE(rows.at(0).path, ds->absolutePath(1));
    QCOMPARE(rows.at(0).oldLabel, QStringLiteral("Parasitized"));
    QCOMPARE(rows.at(0).newLabel, QStringLiteral("Uninfected"));
    QCOMPARE(rows.at(0).reviewer, QStringLiteral("ann"));
    QCOMPARE(rows.at(0).note, QStringLiteral("no parasite"));
    QCOMPARE(rows.at(0).sha256, sha256OfFile(ds->absolutePath(1)));
    QCOMPARE(rows.at(0).bytes, ds->images.at(1).bytes);

    // Undo: the unsure decision, then the skip, then the correction (a restoring row).
    QVERIFY(session.undo());
    QCOMPARE(session.position(), 2);
    QVERIFY(session.undo());
    QCOMPARE(session.position(), 1);
    QVERIFY(session.undo());
    QCOMPARE(session.position(), 0);
    QVERIFY(!session.canUndo());
    QCOMPARE(session.decided(), 0);
    QCOMPARE(session.effectiveLabel(1), QStringLiteral("Parasitized"));
    rows = session.store().all();
    QCOMPARE(rows.size(), 4); // append-only trail: 2 decisions + 2 undos
    QCOMPARE(rows.at(3).newLabel, QStringLiteral("Parasitized"));
    QVERIFY(rows.at(3).note.contains(QStringLiteral("undo")));
    QCOMPARE(changed.size(), 4);
}

void TestReviewQueue::sessionWriteFailureKeepsPosition()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    QTemporaryDir dir;
    QCOMPARE(reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 1).size(), 2);
    auto ds = std::make_shared<const Dataset>(scanFolder(dir.filePath(QStringLiteral("cells"))));
    const QString db = dir.filePath(QStringLiteral("db.sqlite"));
    ReviewSession session;
    QVERIFY(session.openStore(db));
    session.setQueue(ds, buildReviewQueue(*ds, {0.3f, 0.7f}, 0.5, ReviewOrder::Confidence));
    {
        QSqlDatabase other =
            QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("locker"));
        other.setDatabaseName(db);
        QVERIFY(other.open());
        QSqlQuery q(other);
        QVERIFY(q.exec(QStringLiteral("BEGIN EXCLUSIVE")));
        QSignalSpy failed(&session, &ReviewSession::storeFailed);
        QVERIFY(!session.decide(QStringLiteral("Uninfected")));
        QCOMPARE(failed.size(), 1);
        QVERIFY(session.errorString().contains(QStringLiteral("locked")));
        QCOMPARE(session.position(), 0);
        QCOMPARE(session.decided(), 0);
        QVERIFY(q.exec(QStringLiteral("ROLLBACK")));
        other.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("locker"));
    QVERIFY(session.decide(QStringLiteral("Uninfected")));
    QCOMPARE(session.store().count(), 1);
}

QTEST_GUILESS_MAIN(TestReviewQueue)
#include "tst_reviewqueue.moc"
