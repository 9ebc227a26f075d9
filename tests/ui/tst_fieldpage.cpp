// The Fields page: background analysis of a drawn field, counts, edge exclusion, hover/click,
// cancel, folder summary. Runs offscreen.
#include "fieldanalysis.h"
#include "fieldimages.h"
#include "fieldpage.h"
#include "fieldview.h"
#include "probabilitylegend.h"

#include <QCheckBox>
#include <QDir>
#include <QJsonObject>
#include <QLabel>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>

using namespace ml;
using namespace mltest;

namespace {

// 12 interior discs + 2 cut by the border, as in tst_cli_segment.
QString writeField(const QDir& dir, const QString& name)
{
    const int r = 30;
    std::vector<Disc> discs = discGrid(4, 3, r);
    discs.push_back({cv::Point(20, 320), r});
    discs.push_back({cv::Point(300, 420 - 20), r});
    const QString path = dir.filePath(name);
    cv::imwrite(path.toStdString(), drawField(560, 420, discs));
    return path;
}

// A slide of two such fields, a.png and b.png, in `dir`; returns its path.
QString writeSlideOfTwo(const QDir& dir)
{
    writeField(dir, QStringLiteral("a.png"));
    writeField(dir, QStringLiteral("b.png"));
    return dir.path();
}

// A file named like an image that no decoder reads; empty when it cannot be written.
QString writeBadFile(const QDir& dir)
{
    const QString path = dir.filePath(QStringLiteral("bad.jpg"));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write("garbage") != 7)
        return {};
    return path;
}

} // namespace

class TestFieldPage : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void openFieldCountsCells();
    void hoverAndClickShowTheCell();
    void badFileShowsError();
    void countedBoxInParasitizedColour();
    void folderSummary();
    void newModelRecountsFieldAndSlide();
    void secondFolderReplacesFirst();
    void destroyWhileRunning();
    void screenshotOnRealField();
    void modelLabelNotDrawnOverLegend_data();
    void modelLabelNotDrawnOverLegend();
    void unsplitClumpsAreShownAndCounted();
    void crowdedImlFieldCountsClumps();
};

void TestFieldPage::openFieldCountsCells()
{
    QTemporaryDir dir;
    const QString path = writeField(QDir(dir.path()), QStringLiteral("f.png"));
    FieldPage page;
    page.resize(1200, 800);
    page.show();
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(path);
    QVERIFY(page.isBusy() || done.count() == 1); // the work is not done on this thread
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
    QCOMPARE(done.first().first().toString(), path);
    QCOMPARE(int(page.currentResult().cells.size()), 14);
    // Edge cells are excluded by default; the checkbox brings them back.
    QCOMPARE(page.currentCounts().cells, 12);
    auto* exclude = page.findChild<QCheckBox*>();
    QVERIFY(exclude);
    exclude->setChecked(false);
    QCOMPARE(page.currentCounts().cells, 14);
    QCOMPARE(page.currentCounts().edgeCells, 2);
}

void TestFieldPage::hoverAndClickShowTheCell()
{
    QTemporaryDir dir;
    const QString path = writeField(QDir(dir.path()), QStringLiteral("f.png"));
    FieldPage page;
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(path);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
    auto* view = page.findChild<FieldView*>();
    QVERIFY(view);
    // Click the centre of the first disc (60, 60 in image coordinates).
    const QPoint at = view->toWidget(QPointF(60, 60)).toPoint();
    QSignalSpy clicked(view, &FieldView::cellClicked);
    QTest::mouseClick(view, Qt::LeftButton, {}, at);
    QCOMPARE(clicked.count(), 1);
    const int index = clicked.first().first().toInt();
    QVERIFY(index >= 0);
    QVERIFY(page.currentResult().cells[size_t(index)].cell.box.contains(cv::Point(60, 60)));
    QCOMPARE(view->selectedCell(), index);
    // The crop label got a pixmap, the cell label names the cell.
    bool cropShown = false, infoShown = false;
    for (QLabel* l : page.findChildren<QLabel*>()) {
        cropShown = cropShown || !l->pixmap().isNull();
        infoShown = infoShown || l->text().contains(QStringLiteral("Cell %1").arg(index + 1));
    }
    QVERIFY(cropShown);
    QVERIFY(infoShown);
    // Background: no cell.
    QCOMPARE(view->cellAt(view->toWidget(QPointF(100, 10))), -1);
}

// A bad file gives an error on the page. And the page stays busy until the job's result is on
// the page, not only until its worker ends: a caller that waits for !isBusy() must find the
// result there (CI once read a slide's decision in that gap, before the field's model had
// reached the page).
void TestFieldPage::badFileShowsError()
{
    QTemporaryDir dir;
    const QString path = writeBadFile(QDir(dir.path()));
    QVERIFY(!path.isEmpty());
    FieldPage page;
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(path);
    // No events processed: the worker ends (a bad file fails at once) but cannot hand over.
    QTest::qSleep(5000);
    QCOMPARE(done.count(), 0);
    QVERIFY2(page.isBusy(), "the result has not reached the page yet");
    QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 30000);
    QCOMPARE(done.count(), 1);
    QVERIFY(!page.currentResult().error.isEmpty());
    QCOMPARE(page.currentCounts().cells, 0);
}

// The box marks a counted cell in the legend's parasitized colour whatever the cell's
// probability: a lab's pale-cell rule (or threshold) counts cells whose colour is blue.
void TestFieldPage::countedBoxInParasitizedColour()
{
    FieldView view;
    view.resize(400, 400);
    QImage image(200, 200, QImage::Format_RGB32);
    image.fill(Qt::white);
    std::vector<CellOverlay> cells(2);
    for (int i = 0; i < 2; ++i) {
        CellOverlay& c = cells[size_t(i)];
        const double x = 20 + 100 * i;
        c.contour << QPointF(x + 30, 60) << QPointF(x + 50, 80) << QPointF(x + 30, 100)
                  << QPointF(x + 10, 80);
        c.box = QRectF(x, 50, 60, 60);
        c.probability = 0.05f;
        c.parasitized = i == 1; // the second is counted (as a pale cell would be)
    }
    view.setField(image, cells, {});
    const QImage shot = view.grab().toImage();
    const cv::Scalar red = probabilityColour(1.0f);
    const cv::Scalar blue = probabilityColour(0.05f);
    auto near = [](QRgb px, const cv::Scalar& bgr) {
        return std::abs(qRed(px) - int(bgr[2])) + std::abs(qGreen(px) - int(bgr[1])) +
                   std::abs(qBlue(px) - int(bgr[0])) <
               60;
    };
    auto boxEdgeHas = [&](int i, const cv::Scalar& colour) {
        const QRectF b = cells[size_t(i)].box;
        const QPoint top = view.toWidget(QPointF(b.left() + 5, b.top())).toPoint();
        for (int dy = -2; dy <= 2; ++dy)
            if (near(shot.pixel(top.x(), top.y() + dy), colour))
                return true;
        return false;
    };
    QVERIFY(near(shot.pixel(view.toWidget(QPointF(150, 60)).toPoint()), blue) ||
            near(shot.pixel(view.toWidget(QPointF(150, 61)).toPoint()), blue)); // its contour
    QVERIFY2(boxEdgeHas(1, red), "a counted cell's box is in the parasitized colour");
    QVERIFY(!boxEdgeHas(0, red) && !boxEdgeHas(0, blue)); // an uncounted cell has no box
}

void TestFieldPage::folderSummary()
{
    QTemporaryDir dir;
    FieldPage page;
    QSignalSpy done(&page, &FieldPage::folderFinished);
    page.openFolder(writeSlideOfTwo(QDir(dir.path())));
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
    const FieldCounts total = page.folderCounts();
    QCOMPARE(total.images, 2);
    QCOMPARE(total.cells, 24); // edge cells excluded by default
    auto* table = page.findChild<QTableWidget*>();
    QVERIFY(table);
    QCOMPARE(table->rowCount(), 2);
    QCOMPARE(table->item(1, 1)->text(), QStringLiteral("12"));
}

// Every figure on the page is the shown model's. A new model (the main window passes each
// active model; the Model... button loads one) analyses the shown field and slide again: the
// counts one model made are never corrected with another model's card.
void TestFieldPage::newModelRecountsFieldAndSlide()
{
    if (!Classifier::hasEmbeddedModel())
        QSKIP("needs the embedded model");
    QTemporaryDir slide, models;
    FieldPage page;
    QSignalSpy folders(&page, &FieldPage::folderFinished);
    page.openFolder(writeSlideOfTwo(QDir(slide.path())));
    QTRY_COMPARE_WITH_TIMEOUT(folders.count(), 1, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 60000);
    QVERIFY2(page.slideDecision().decided, qPrintable(page.slideDecision().reason));
    QVERIFY2(page.fieldDecision().decided, qPrintable(page.fieldDecision().reason));

    // The same weights with a card that has no error rates: nothing can be corrected with it
    // (as the main window passes a new active model).
    Classifier bare;
    QVERIFY(bare.loadEmbedded());
    QJsonObject card = bare.card();
    for (const char* key : {"validation", "validation_by_source", "validation_on_fields"})
        card.remove(QLatin1String(key));
    bare.setCard(card);
    page.setClassifier(bare);
    QVERIFY(page.isBusy()); // both analysed again, never on this thread
    QTRY_COMPARE_WITH_TIMEOUT(folders.count(), 2, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 60000);
    const QString noRates = QStringLiteral("no validation figures");
    QVERIFY2(page.slideDecision().reason.contains(noRates),
             qPrintable(page.slideDecision().reason));
    QVERIFY2(page.fieldDecision().reason.contains(noRates),
             qPrintable(page.fieldDecision().reason));
    QCOMPARE(page.folderCounts().images, 2);

    // And back to the full card, from a file (the Model... button).
    Classifier full;
    QVERIFY(full.loadEmbedded());
    const QString fullPath = QDir(models.path()).filePath(QStringLiteral("full.pt"));
    QString error;
    QVERIFY2(full.save(fullPath, &error), qPrintable(error));
    page.loadModel(fullPath);
    QVERIFY(page.isBusy()); // loading, then both analyses again
    QTRY_COMPARE_WITH_TIMEOUT(folders.count(), 3, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 60000);
    QVERIFY2(page.slideDecision().decided, qPrintable(page.slideDecision().reason));
    QVERIFY2(page.fieldDecision().decided, qPrintable(page.fieldDecision().reason));
}

void TestFieldPage::secondFolderReplacesFirst()
{
    QTemporaryDir one, two;
    for (int i = 0; i < 4; ++i)
        writeField(QDir(one.path()), QStringLiteral("f%1.png").arg(i));
    writeField(QDir(two.path()), QStringLiteral("only.png"));
    FieldPage page;
    QSignalSpy done(&page, &FieldPage::folderFinished);
    page.openFolder(one.path());
    page.openFolder(two.path()); // the first stops; the GUI thread never waits for it
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
    QCOMPARE(done.first().first().toString(), two.path());
    QCOMPARE(page.folderCounts().images, 1);
    QCOMPARE(page.folderCounts().cells, 12);
}

void TestFieldPage::destroyWhileRunning()
{
    QTemporaryDir dir;
    const QDir d(dir.path());
    for (int i = 0; i < 6; ++i)
        writeField(d, QStringLiteral("f%1.png").arg(i));
    {
        FieldPage page;
        page.openFolder(dir.path());
        page.openField(d.filePath(QStringLiteral("f1.png")));
        page.cancel();
        // The destructor cancels and joins: no crash, no dangling work.
    }
    QVERIFY(true);
}

void TestFieldPage::screenshotOnRealField()
{
    // Manual check, not part of the suite's verdict: MALARIALENS_FIELD_SCREENSHOT=<png>
    // (and optionally MALARIALENS_FIELD_MODEL=<model file>, MALARIALENS_FIELD_IMAGE=<IML
    // field name>) grabs the page on a real field.
    const QString out = qEnvironmentVariable("MALARIALENS_FIELD_SCREENSHOT");
    if (out.isEmpty())
        QSKIP("set MALARIALENS_FIELD_SCREENSHOT=<png> to grab the page on a real field");
    const QString field = QStringLiteral(MALARIALENS_SHARED_DATA) +
                          QStringLiteral("/iml-fields/images/") +
                          qEnvironmentVariable("MALARIALENS_FIELD_IMAGE", "PA171967.JPG");
    if (!QFile::exists(field))
        QSKIP("shared data missing");
    FieldPage page;
    const QString model = qEnvironmentVariable("MALARIALENS_FIELD_MODEL");
    if (!model.isEmpty()) {
        Classifier c;
        QVERIFY2(c.load(model), qPrintable(c.errorString()));
        page.setClassifier(c);
    }
    page.resize(1400, 860);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(field);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
    auto* view = page.findChild<FieldView*>();
    // Select a cell so the crop panel is shown: a pale one when a lab's rule called one (its
    // panel says so), else the most probable.
    const FieldResult& r = page.currentResult();
    int pick = 0;
    for (int i = 0; i < int(r.cells.size()); ++i)
        if (r.cells[size_t(i)].probability > r.cells[size_t(pick)].probability &&
            !r.cells[size_t(i)].cell.touchesEdge)
            pick = i;
    for (int i = 0; i < int(r.cells.size()); ++i)
        if (r.cells[size_t(i)].pale && !r.cells[size_t(i)].cell.touchesEdge)
            pick = i;
    const auto& c = r.cells[size_t(pick)].cell;
    QTest::mouseClick(view, Qt::LeftButton, {},
                      view->toWidget(QPointF(c.centre.x, c.centre.y)).toPoint());
    // Optionally a slide: MALARIALENS_FIELD_FOLDER=<folder of fields>.
    const QString folder = qEnvironmentVariable("MALARIALENS_FIELD_FOLDER");
    if (!folder.isEmpty()) {
        QSignalSpy slide(&page, &FieldPage::folderFinished);
        page.openFolder(folder);
        QTRY_COMPARE_WITH_TIMEOUT(slide.count(), 1, 300000);
        QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 60000);
        // An interior cell: an edge cell is excluded from the view's picking by default.
        for (const FieldCell& c : page.currentResult().cells)
            if (!c.cell.touchesEdge) {
                QTest::mouseClick(
                    view, Qt::LeftButton, {},
                    view->toWidget(QPointF(c.cell.centre.x, c.cell.centre.y)).toPoint());
                break;
            }
    }
    QVERIFY(page.grab().save(out));
}

namespace {

// Where a QLabel actually paints its text, in `page` coordinates: its contents rectangle, or
// more when the text needs more height than the label got (a word-wrapped label squeezed by
// the layout paints its lines centred, over whatever lies above and below it).
QRect labelTextRect(const QLabel* label, const QWidget* page)
{
    QRect r = label->contentsRect();
    const int need =
        label->wordWrap() ? label->heightForWidth(label->width()) : label->sizeHint().height();
    if (need > r.height()) {
        const int extra = need - r.height();
        if (label->alignment() & Qt::AlignTop)
            r.setBottom(r.bottom() + extra);
        else if (label->alignment() & Qt::AlignBottom)
            r.setTop(r.top() - extra);
        else
            r.adjust(0, -extra / 2, 0, extra - extra / 2);
    }
    return QRect(label->mapTo(page, r.topLeft()), r.size());
}

} // namespace

void TestFieldPage::modelLabelNotDrawnOverLegend_data()
{
    QTest::addColumn<QSize>("size");
    QTest::newRow("1400x860") << QSize(1400, 860);
    QTest::newRow("1100x700") << QSize(1100, 700);
    QTest::newRow("1600x1000") << QSize(1600, 1000);
}

void TestFieldPage::modelLabelNotDrawnOverLegend()
{
    // Regression: "Model: default.pt (se)" was drawn over the legend's last row.
    QFETCH(QSize, size);
    QTemporaryDir dir;
    const QString path = writeField(QDir(dir.path()), QStringLiteral("f.png"));
    FieldPage page;
    if (Classifier::hasEmbeddedModel()) {
        Classifier c;
        QVERIFY(c.loadEmbedded());
        page.setClassifier(c);
    }
    page.resize(size);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(path); // fills the counts above the legend
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
    QCoreApplication::processEvents();
    auto* label = page.findChild<QLabel*>(QStringLiteral("modelLabel"));
    auto* legend = page.findChild<ProbabilityLegend*>(QStringLiteral("legend"));
    QVERIFY(label && legend);
    QVERIFY(label->text().startsWith(QLatin1String("Model:")));
    if (Classifier::hasEmbeddedModel())
        QVERIFY2(label->text().contains(QLatin1String("default.pt (se)")),
                 qPrintable(label->text()));
    // The legend gets the height its rows need, and the label's text stays off them.
    const QRect rows = legend->rowsRect();
    QVERIFY2(legend->height() > rows.bottom(),
             qPrintable(QStringLiteral("%1 <= %2").arg(legend->height()).arg(rows.bottom())));
    const QRect rowsOnPage(legend->mapTo(&page, rows.topLeft()), rows.size());
    // New counts text re-lays out the side panel through posted layout requests (label, panel,
    // scroll area): let them run before measuring.
    QTRY_VERIFY(!labelTextRect(label, &page)
                     .intersects(QRect(legend->mapTo(&page, legend->rowsRect().topLeft()),
                                       legend->rowsRect().size())));
    const QRect text = labelTextRect(label, &page);
    QVERIFY2(!text.intersects(rowsOnPage),
             qPrintable(QStringLiteral("label text %1,%2 %3x%4 over legend rows %5,%6 %7x%8")
                            .arg(text.x())
                            .arg(text.y())
                            .arg(text.width())
                            .arg(text.height())
                            .arg(rowsOnPage.x())
                            .arg(rowsOnPage.y())
                            .arg(rowsOnPage.width())
                            .arg(rowsOnPage.height())));
    // Every legend row, the last included, is inside the legend.
    for (const QRect& row : legend->rows())
        QVERIFY(legend->rect().contains(row));
}

void TestFieldPage::unsplitClumpsAreShownAndCounted()
{
    // 12 single discs and one blob of four cells' area that cannot be split.
    QTemporaryDir dir;
    const int r = 30;
    std::vector<Disc> discs = discGrid(4, 3, r);
    discs.push_back({cv::Point(470, 200), 2 * r});
    const QString path = dir.filePath(QStringLiteral("clump.png"));
    cv::imwrite(path.toStdString(), drawField(580, 420, discs));
    FieldPage page;
    page.resize(1200, 800);
    page.show();
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(path);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
    QCOMPARE(page.currentCounts().cells, 12);
    QCOMPARE(page.currentCounts().unsplitRegions, 1);
    QCOMPARE(page.currentCounts().unsplitCellsEstimate, 4);
    auto* view = page.findChild<FieldView*>();
    QCOMPARE(int(view->regions().size()), 1);
    QCOMPARE(view->regions().front().estimatedCells, 4);
    // A clump is not a cell: clicking it selects nothing.
    QCOMPARE(view->cellAt(view->toWidget(QPointF(470, 200))), -1);
    bool summary = false;
    for (QLabel* l : page.findChildren<QLabel*>())
        summary = summary ||
                  (l->text().contains(QLatin1String("12 cells")) &&
                   l->text().contains(QLatin1String("1 clump of touching cells (~4 cells) not")));
    QVERIFY(summary);
    const QString text = FieldPage::foundSummary(page.currentCounts(), true);
    QVERIFY2(text.contains(QLatin1String("12 cells classified")), qPrintable(text));
    QVERIFY2(text.contains(QLatin1String("1 clump of touching cells (~4 cells) not classified")),
             qPrintable(text));
}

// PA171747: a crowded real field (102 cells found, ~95 more in 25 clumps of touching cells).
void TestFieldPage::crowdedImlFieldCountsClumps()
{
    const QString field =
        QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields/images/PA171747.JPG");
    if (!QFile::exists(field))
        QSKIP("shared data missing");
    FieldPage page;
    page.resize(1400, 860);
    page.show();
    QSignalSpy done(&page, &FieldPage::fieldFinished);
    page.openField(field);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
    const FieldCounts c = page.currentCounts();
    QVERIFY2(c.unsplitRegions >= 5, qPrintable(QString::number(c.unsplitRegions)));
    QVERIFY(c.unsplitCellsEstimate >= 2 * c.unsplitRegions);
    auto* view = page.findChild<FieldView*>();
    QCOMPARE(view->regions().size(), page.currentResult().unsplit.size());
    const QString expected = QStringLiteral("%1 clumps of touching cells (~%2 cells) not")
                                 .arg(c.unsplitRegions)
                                 .arg(c.unsplitCellsEstimate);
    bool summary = false;
    for (QLabel* l : page.findChildren<QLabel*>())
        summary = summary || l->text().contains(expected);
    QVERIFY2(summary, qPrintable(expected));
    if (qEnvironmentVariableIsSet("MALARIALENS_GRAB_DIR"))
        page.grab().save(qEnvironmentVariable("MALARIALENS_GRAB_DIR") +
                         QStringLiteral("/fieldpage-crowded.png"));
}

QTEST_MAIN(TestFieldPage)
#include "tst_fieldpage.moc"
