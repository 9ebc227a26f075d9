// The Review page offscreen with the real embedded model, real cells and a real SQLite
// database: the queue is built in the background (classifying first), keys record
// decisions and undo, the heatmap appears and follows the opacity slider, a damaged
// database gives a message and a read-only page; the folder listing then carries the
// corrections ("corrected" in the browser's model) and the gallery's heatmap dialog works.
#include "browserpage.h"
#include "correctionstore.h"
#include "datasetsession.h"
#include "folderscanner.h"
#include "heatmapdialog.h"
#include "heatmapview.h"
#include "imageio.h"
#include "imagelistmodel.h"
#include "mainwindow.h"
#include "matconvert.h"
#include "modelsession.h"
#include "preprocess.h"
#include "reviewdata.h"
#include "reviewpage.h"
#include "reviewsession.h"
#include "thumbnailservice.h"

#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgproc.hpp>

using namespace ml;

class TestReviewPage : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void keysRecordDecisionsAndUndo();
    void damagedDatabaseMakesThePageReadOnly();
    void correctionsReachTheBrowserModel();
    void galleryHeatmapDialogShowsHeatmap();
    void detailShowsOriginalBesideWhatTheModelSees();
    void canvasScalesSmoothly();
    void mainWindowAppliesCorrections();

private:
    bool m_ready = false;
};

void TestReviewPage::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true); // settings and data never touch the user's
    m_ready = !reviewtest::nihCells().isEmpty() && Classifier::hasEmbeddedModel();
}

void TestReviewPage::keysRecordDecisionsAndUndo()
{
    if (!m_ready)
        QSKIP("needs MALARIALENS_SHARED_DATA/nih-cells and the embedded model");
    QTemporaryDir dir;
    QCOMPARE(reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 6).size(), 12);
    auto ds = std::make_shared<const Dataset>(scanFolder(dir.filePath(QStringLiteral("cells"))));
    ModelSession models;
    QVERIFY(models.useEmbedded());
    ReviewPage page(&models);
    page.setDatabasePath(dir.filePath(QStringLiteral("corrections.sqlite")));
    page.resize(1100, 700);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.setDataset(ds);
    page.setOrder(ReviewOrder::Uncertainty);
    QSignalSpy ready(&page, &ReviewPage::queueReady);
    page.buildQueue(); // classifies the folder first, in the background
    QTRY_COMPARE_WITH_TIMEOUT(ready.size(), 1, 120000);
    QCOMPARE(ready.first().first().toInt(), 12);
    ReviewSession* s = page.session();
    QCOMPARE(s->size(), 12);
    // Uncertainty order: margins from the threshold never decrease along the queue.
    for (int i = 1; i < s->size(); ++i)
        QVERIFY(std::abs(s->queue()[size_t(i)].probability - 0.5) >=
                std::abs(s->queue()[size_t(i - 1)].probability - 0.5) - 1e-6);

    // The big image with its heatmap.
    HeatmapView* view = page.heatmapView();
    QTRY_VERIFY_WITH_TIMEOUT(!view->isBusy() && !view->canvas()->composed().isNull(), 60000);
    view->opacitySlider()->setValue(0);
    const QImage plain = view->canvas()->composed();
    view->opacitySlider()->setValue(100);
    const QImage heat = view->canvas()->composed();
    QCOMPARE(plain.size(), heat.size());
    QVERIFY(plain != heat); // the slider changes what is drawn

    const int first = s->current()->index;
    page.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&page));
    page.setFocus();
    QTest::keyClick(&page, Qt::Key_U);
    QCOMPARE(s->position(), 1);
    QTest::keyClick(&page, Qt::Key_S); // skip
    QCOMPARE(s->position(), 2);
    const int third = s->current()->index;
    QTest::keyClick(&page, Qt::Key_P);
    QTest::keyClick(&page, Qt::Key_X); // unsure
    QCOMPARE(s->position(), 4);
    QCOMPARE(s->decided(), 3);
    QTest::keyClick(&page, Qt::Key_Z); // undo the unsure
    QCOMPARE(s->position(), 3);
    QCOMPARE(s->decided(), 2);

    // Typing a note does not trigger the single-letter keys; the note goes with the next
    // decision.
    QLineEdit* note = nullptr;
    for (QLineEdit* e : page.findChildren<QLineEdit*>())
        if (e->accessibleName() == QLatin1String("Note"))
            note = e;
    QVERIFY(note);
    note->setFocus();
    QTest::keyClicks(note, QStringLiteral("pale ups"));
    QTest::keyClick(note, Qt::Key_Backspace);
    QCOMPARE(s->position(), 3);
    QCOMPARE(s->decided(), 2);
    for (QPushButton* b : page.findChildren<QPushButton*>())
        if (b->text().startsWith(QStringLiteral("Parasitized")))
            QTest::mouseClick(b, Qt::LeftButton);
    QCOMPARE(s->position(), 4);
    QCOMPARE(note->text(), QString());

    CorrectionStore check;
    QVERIFY(check.open(page.databasePath()));
    const QList<Correction> rows = check.all();
    QCOMPARE(rows.size(), 5); // U, P, unsure, the row that undid it, P with a note
    QCOMPARE(rows.at(0).path, ds->absolutePath(first));
    QCOMPARE(rows.at(0).newLabel, QStringLiteral("Uninfected"));
    QCOMPARE(rows.at(1).path, ds->absolutePath(third));
    QCOMPARE(rows.at(1).newLabel, QStringLiteral("Parasitized"));
    QCOMPARE(rows.at(2).newLabel, unsureLabel());
    QVERIFY(rows.at(3).note.contains(QStringLiteral("undo")));
    QCOMPARE(rows.at(4).note, QStringLiteral("pale up"));
    QCOMPARE(rows.at(4).newLabel, QStringLiteral("Parasitized"));
    QVERIFY(!rows.at(0).reviewer.isEmpty());

    // Hide reviewed: a new queue leaves out the cells with a row in the trail (3 cells; the
    // last decision was on the cell whose "unsure" was undone).
    ready.clear();
    page.buildQueue();
    QTRY_COMPARE_WITH_TIMEOUT(ready.size(), 1, 60000);
    QCOMPARE(s->size(), 9);
}

void TestReviewPage::damagedDatabaseMakesThePageReadOnly()
{
    if (!m_ready)
        QSKIP("needs MALARIALENS_SHARED_DATA/nih-cells and the embedded model");
    QTemporaryDir dir;
    QCOMPARE(reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 2).size(), 4);
    const QString db = dir.filePath(QStringLiteral("damaged.sqlite"));
    {
        QFile f(db);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(10000, '\x5a'));
    }
    ModelSession models;
    QVERIFY(models.useEmbedded());
    ReviewPage page(&models);
    page.setDatabasePath(db);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QVERIFY2(page.databaseMessage().contains(QStringLiteral("not a database")),
             qPrintable(page.databaseMessage()));
    page.setDataset(
        std::make_shared<const Dataset>(scanFolder(dir.filePath(QStringLiteral("cells")))));
    QSignalSpy ready(&page, &ReviewPage::queueReady);
    page.buildQueue();
    QTRY_COMPARE_WITH_TIMEOUT(ready.size(), 1, 120000);
    QCOMPARE(page.session()->size(), 4); // reviewing the queue still works, read-only
    const auto buttons = page.findChildren<QPushButton*>();
    for (QPushButton* b : buttons) {
        if (b->text().startsWith(QStringLiteral("Parasitized")))
            QVERIFY(!b->isEnabled());
    }
    page.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&page));
    page.setFocus();
    QTest::keyClick(&page, Qt::Key_P); // nothing is written, nothing crashes
    QCOMPARE(page.session()->decided(), 0);
    QCOMPARE(page.session()->position(), 0);
    QFile f(db);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), QByteArray(10000, '\x5a'));
}

void TestReviewPage::correctionsReachTheBrowserModel()
{
    if (reviewtest::nihCells().isEmpty())
        QSKIP("shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells)");
    QTemporaryDir dir;
    const QStringList files = reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 3);
    QCOMPARE(files.size(), 6);
    const QString db = dir.filePath(QStringLiteral("c.sqlite"));
    {
        CorrectionStore store;
        QVERIFY(store.open(db));
        Correction c;
        c.path = files.at(4); // Uninfected -> Parasitized
        c.sha256 = sha256OfFile(c.path);
        c.bytes = QFileInfo(c.path).size();
        c.oldLabel = QStringLiteral("Uninfected");
        c.newLabel = QStringLiteral("Parasitized");
        QVERIFY(store.add(c));
    }
    DatasetSession session;
    session.setCorrectionsDatabase(db);
    QSignalSpy changed(&session, &DatasetSession::datasetChanged);
    session.open(dir.filePath(QStringLiteral("cells")));
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 30000);
    const auto ds = session.dataset();
    QCOMPARE(ds->appliedCorrections.size(), 1);
    ThumbnailService thumbnails;
    ImageListModel model(&thumbnails);
    model.setDataset(ds);
    int corrected = 0;
    for (int row = 0; row < model.rowCount(); ++row) {
        const QModelIndex i = model.index(row);
        if (!i.data(ImageListModel::CorrectedRole).toBool())
            continue;
        ++corrected;
        QCOMPARE(i.data(ImageListModel::PathRole).toString(), files.at(4));
        QCOMPARE(i.data(ImageListModel::ClassNameRole).toString(), QStringLiteral("Parasitized"));
        QVERIFY(i.data(Qt::ToolTipRole).toString().contains(QStringLiteral("folder: Uninfected")));
    }
    QCOMPARE(corrected, 1);
    const QMap<QString, int> counts = ds->countPerClass();
    QCOMPARE(counts.value(QStringLiteral("Parasitized")), 4);
    QCOMPARE(counts.value(QStringLiteral("Uninfected")), 2);
}

void TestReviewPage::galleryHeatmapDialogShowsHeatmap()
{
    if (!m_ready)
        QSKIP("needs MALARIALENS_SHARED_DATA/nih-cells and the embedded model");
    QTemporaryDir dir;
    const QStringList files = reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 1, 4);
    Classifier model;
    QVERIFY(model.loadEmbedded());
    HeatmapDialog dialog(files.first(), model, 0.5);
    dialog.show();
    QTRY_VERIFY_WITH_TIMEOUT(
        !dialog.view()->isBusy() && !dialog.view()->canvas()->composed().isNull(), 60000);
    const auto labels = dialog.findChildren<QLabel*>();
    bool caption = false;
    for (QLabel* l : labels)
        caption = caption || l->text().contains(QStringLiteral("Grad-CAM on conv4"));
    QVERIFY(caption);
    // For looking at it: MALARIALENS_GRAB_DIR=/tmp/x saves what the dialog shows.
    if (qEnvironmentVariableIsSet("MALARIALENS_GRAB_DIR"))
        dialog.grab().save(qEnvironmentVariable("MALARIALENS_GRAB_DIR") +
                           QStringLiteral("/heatmapdialog.png"));
}

void TestReviewPage::detailShowsOriginalBesideWhatTheModelSees()
{
    // The detail shows the original cell at its own resolution, without the heatmap, beside the
    // model's actual input (after its normalisation) with the heatmap over it.
    if (!m_ready)
        QSKIP("needs MALARIALENS_SHARED_DATA/nih-cells and the embedded model");
    QTemporaryDir dir;
    const QStringList files = reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 1, 7);
    Classifier model;
    QVERIFY(model.loadEmbedded());
    HeatmapView view;
    view.resize(900, 520);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &HeatmapView::cellShown);
    view.showCell(files.first(), model, 0.5);
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 60000);
    QCOMPARE(shown.first().at(1).toString(), QString());
    const DecodedImage original = decodeImage(files.first());
    QVERIFY(original.ok());
    // Original: full resolution, no heatmap, whatever the opacity.
    const QImage o = view.originalCanvas()->composed();
    QCOMPARE(o.size(), QSize(original.bgr.cols, original.bgr.rows));
    QVERIFY(o.width() > kModelInputSize);
    view.opacitySlider()->setValue(100);
    QCOMPARE(view.originalCanvas()->composed(), o);
    // What the model sees: the model's input exactly (Classifier::modelInput()).
    cv::Mat expectedBgr;
    cv::cvtColor(model.modelInput(preprocessImage(original.bgr)), expectedBgr, cv::COLOR_RGB2BGR);
    const QImage expected = matToQImage(expectedBgr).convertToFormat(QImage::Format_RGB32);
    QCOMPARE(view.modelInputImage().size(), QSize(kModelInputSize, kModelInputSize));
    QCOMPARE(view.modelInputImage(), expected);
    view.opacitySlider()->setValue(0);
    QCOMPARE(view.canvas()->composed().convertToFormat(QImage::Format_RGB32), expected);
    view.opacitySlider()->setValue(60);
    QVERIFY(view.canvas()->composed() != expected); // the heatmap is over the model's input
    // Side by side, labelled, both panes about the same size.
    const QRect left(view.originalCanvas()->mapTo(&view, QPoint()), view.originalCanvas()->size());
    const QRect right(view.canvas()->mapTo(&view, QPoint()), view.canvas()->size());
    QVERIFY(left.right() < right.left());
    QVERIFY(std::abs(left.width() - right.width()) <= 2);
    QVERIFY(!view.originalCanvas()->imageRect().isEmpty());
    bool originalTitle = false, seenTitle = false;
    for (QLabel* l : view.findChildren<QLabel*>()) {
        originalTitle = originalTitle || l->text().contains(QLatin1String("Original"));
        seenTitle = seenTitle || l->text().contains(QLatin1String("What the model sees"));
    }
    QVERIFY(originalTitle && seenTitle);
    if (qEnvironmentVariableIsSet("MALARIALENS_GRAB_DIR")) {
        view.opacitySlider()->setValue(45);
        view.grab().save(qEnvironmentVariable("MALARIALENS_GRAB_DIR") +
                         QStringLiteral("/heatmapview.png"));
    }
}

void TestReviewPage::canvasScalesSmoothly()
{
    // A 2 x 2 checkerboard shown large: smooth scaling gives intermediate greys between the
    // squares; nearest-neighbour scaling (blocky) gives only black and white.
    QImage checker(2, 2, QImage::Format_RGB32);
    checker.setPixel(0, 0, qRgb(0, 0, 0));
    checker.setPixel(1, 1, qRgb(0, 0, 0));
    checker.setPixel(1, 0, qRgb(255, 255, 255));
    checker.setPixel(0, 1, qRgb(255, 255, 255));
    HeatmapCanvas canvas;
    canvas.resize(200, 200);
    canvas.setCell(checker);
    const QImage shot = canvas.grab().toImage();
    const QRect r = canvas.imageRect();
    QCOMPARE(r.size(), QSize(200, 200));
    QSet<int> levels;
    for (int x = r.left(); x <= r.right(); x += 5)
        levels.insert(qGray(shot.pixel(x, r.center().y() / 2)));
    QVERIFY2(levels.size() > 5, qPrintable(QString::number(levels.size())));
}

void TestReviewPage::mainWindowAppliesCorrections()
{
    if (!m_ready)
        QSKIP("needs MALARIALENS_SHARED_DATA/nih-cells and the embedded model");
    QTemporaryDir dir;
    const QStringList files = reviewtest::copyNihCells(dir.filePath(QStringLiteral("cells")), 4, 8);
    QCOMPARE(files.size(), 8);
    // The user's database (test-mode data folder): one correction before the app starts.
    const QString db = CorrectionStore::defaultPath();
    QFile::remove(db);
    auto correct = [&](const QString& path, const QString& from, const QString& to) {
        CorrectionStore store;
        QVERIFY(store.open(db));
        Correction c;
        c.path = path;
        c.sha256 = sha256OfFile(path);
        c.bytes = QFileInfo(path).size();
        c.oldLabel = from;
        c.newLabel = to;
        QVERIFY(store.add(c));
    };
    correct(files.at(0), QStringLiteral("Parasitized"), QStringLiteral("Uninfected"));

    MainWindow window;
    QCOMPARE(window.tabs()->tabText(window.tabs()->count() - 1), QStringLiteral("Revie&w"));
    QCOMPARE(window.reviewPage()->databasePath(), db);
    QSignalSpy changed(window.session(), &DatasetSession::datasetChanged);
    window.openFolder(dir.filePath(QStringLiteral("cells")));
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 30000);
    auto correctedRows = [&] {
        QStringList rows;
        ImageListModel* m = window.browserPage()->model();
        for (int r = 0; r < m->rowCount(); ++r)
            if (m->index(r).data(ImageListModel::CorrectedRole).toBool())
                rows << m->index(r).data(ImageListModel::PathRole).toString();
        return rows;
    };
    QCOMPARE(correctedRows(), QStringList{files.at(0)});

    // A second correction, then "Apply corrections to the folder": the folder is re-read.
    correct(files.at(5), QStringLiteral("Uninfected"), QStringLiteral("Parasitized"));
    Q_EMIT window.reviewPage()->applyCorrectionsRequested();
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 2, 30000);
    QStringList rows = correctedRows();
    rows.sort();
    QStringList expected{files.at(0), files.at(5)};
    expected.sort();
    QCOMPARE(rows, expected);
    QCOMPARE(window.session()->dataset()->appliedCorrections.size(), 2);
    for (const char* suffix : {"", "-wal", "-shm"})
        QFile::remove(db + QLatin1String(suffix));
}

QTEST_MAIN(TestReviewPage)
#include "tst_reviewpage.moc"
