// The cells to confirm, from the Classify page and from the Fields page, offscreen with real
// widgets, the embedded model, real cells and fields from ../shared/data and a real SQLite
// corrections database in a temporary folder: the gallery shows the most suspicious cells in
// descending probability, the Review keys decide and undo, every decision is in the database
// with its reviewer (field cells under their field and box), and a confirmed parasite turns
// the patient / field / slide decision to infected.
#include "classificationresults.h"
#include "classifier.h"
#include "classifypage.h"
#include "confirmcellsdialog.h"
#include "correctionstore.h"
#include "fieldpage.h"
#include "folderscanner.h"
#include "modelsession.h"
#include "reviewsession.h"

#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

namespace {

QString sharedData()
{
    QString root = qEnvironmentVariable("MALARIALENS_SHARED_DATA");
    if (root.isEmpty())
        root = QStringLiteral(MALARIALENS_SHARED_DATA);
    return QDir(root).absolutePath();
}

// Copies the cells of `patient` (file names starting with `prefix`) of class `cls`, at most
// `limit`, into dest/<cls>/.
int copyPatient(const QString& dest, const QString& cls, const QString& prefix, int limit)
{
    QDir from(sharedData() + QStringLiteral("/nih-cells/") + cls);
    const QStringList files =
        from.entryList({prefix + QStringLiteral("*.png")}, QDir::Files, QDir::Name);
    QDir().mkpath(dest + QLatin1Char('/') + cls);
    int copied = 0;
    for (const QString& f : files) {
        if (copied == limit ||
            !QFile::copy(from.filePath(f), dest + QLatin1Char('/') + cls + QLatin1Char('/') + f))
            break;
        ++copied;
    }
    return copied;
}

// The text of `column` in the patient / folder table row whose first column is `key`.
QString rowText(const QTableWidget* table, const QString& key, int column)
{
    for (int row = 0; row < table->rowCount(); ++row)
        if (table->item(row, 0) && table->item(row, 0)->text() == key)
            return table->item(row, column) ? table->item(row, column)->text() : QString();
    return {};
}

// Activates the dialog (QShortcut needs the active window) and sets the reviewer's name.
bool prepare(ml::ConfirmCellsDialog* dialog, const QString& reviewer)
{
    if (!dialog)
        return false;
    dialog->activateWindow();
    if (!QTest::qWaitForWindowActive(dialog))
        return false;
    auto* name = dialog->findChild<QLineEdit*>();
    name->setText(reviewer);
    Q_EMIT name->editingFinished();
    dialog->setFocus();
    return dialog->session()->reviewer() == reviewer;
}

// The latest row of the trail for `path`.
ml::Correction latestFor(const QString& db, const QString& path, int* rows = nullptr)
{
    ml::CorrectionStore store;
    ml::Correction out;
    if (!store.open(db))
        return out;
    int n = 0;
    for (const ml::Correction& c : store.all())
        if (c.path == path) {
            out = c;
            ++n;
        }
    if (rows)
        *rows = n;
    return out;
}

} // namespace

class TestConfirmCells : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void fromClassifyPage();
    void fromFieldsPageField();
    void fromFieldsPageSlide();
    void fieldCellKeyRoundTrip();

private:
    QTemporaryDir m_dir;
};

void TestConfirmCells::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(ml::Classifier::hasEmbeddedModel(), "this build has no embedded default model");
    QVERIFY(m_dir.isValid());
}

void TestConfirmCells::fieldCellKeyRoundTrip()
{
    const QString key =
        ml::fieldCellKey(QStringLiteral("/data/slide 1/PA171720.JPG"), cv::Rect(412, 96, 61, 58));
    QCOMPARE(key, QStringLiteral("/data/slide 1/PA171720.JPG#cell=412,96,61,58"));
    QCOMPARE(ml::fieldOfCellKey(key), QStringLiteral("/data/slide 1/PA171720.JPG"));
    QVERIFY(ml::fieldOfCellKey(QStringLiteral("/data/cells/C1_cell_3.png")).isEmpty());
}

void TestConfirmCells::fromClassifyPage()
{
    if (!QDir(sharedData() + QStringLiteral("/nih-cells/Uninfected")).exists())
        QSKIP("../shared/data/nih-cells is missing: cells to confirm (Classify) not tested");
    // C1: a healthy patient (70 cells, none parasitized); C132P93: an infected one.
    const QString folder = m_dir.filePath(QStringLiteral("cells"));
    QCOMPARE(copyPatient(folder, QStringLiteral("Uninfected"), QStringLiteral("C1_"), 70), 70);
    QCOMPARE(copyPatient(folder, QStringLiteral("Parasitized"), QStringLiteral("C132P93"), 20), 20);
    const QString db = m_dir.filePath(QStringLiteral("classify-corrections.sqlite"));

    ml::ModelSession session;
    QVERIFY(session.hasModel() || session.useEmbedded());
    ml::ClassifyPage page(&session);
    page.setDatabasePath(db);
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.setDataset(std::make_shared<ml::Dataset>(ml::scanFolder(folder)));
    QSignalSpy finished(&session, &ml::ModelSession::classificationFinished);
    page.classify();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 120000);
    const auto results = session.results();
    QVERIFY(results && results->classified() == 90);

    // The healthy patient is not shown infected by the estimate.
    const QString patient = QStringLiteral("C1");
    QTableWidget* patients = page.patientTable();
    QCOMPARE(rowText(patients, patient, 4), QStringLiteral("Not shown"));
    for (int row = 0; row < patients->rowCount(); ++row)
        if (patients->item(row, 0)->text() == patient)
            patients->selectRow(row);
    QVERIFY(page.confirmButton()->isEnabled());

    // The gallery: the patient's 12 most suspicious cells, most suspicious first.
    std::vector<float> expected;
    for (int i = 0; i < results->size(); ++i)
        if (results->dataset()->images.at(i).patient == patient)
            expected.push_back(results->probability(i));
    std::sort(expected.begin(), expected.end(), std::greater<float>());
    expected.resize(ml::kCellsToConfirm);
    ml::ConfirmCellsDialog* dialog = page.confirmCells();
    QVERIFY(dialog);
    QCOMPARE(int(dialog->cells().items.size()), ml::kCellsToConfirm);
    for (int i = 0; i < ml::kCellsToConfirm; ++i) {
        const ml::ReviewItem& item = dialog->cells().items[size_t(i)];
        QCOMPARE(item.probability, expected[size_t(i)]);
        QCOMPARE(results->dataset()->images.at(item.index).patient, patient);
        QVERIFY(dialog->caption(i)->text().startsWith(
            QStringLiteral("%1. P = %2").arg(i + 1).arg(item.probability, 0, 'f', 2)));
    }
    QTRY_VERIFY_WITH_TIMEOUT(dialog->imagesReady(), 60000);
    for (int i = 0; i < ml::kCellsToConfirm; ++i)
        QVERIFY2(!dialog->tile(i)->pixmap().isNull(), qPrintable(QString::number(i)));

    // U then P: decided, stored with the reviewer, and the patient becomes infected.
    QVERIFY(prepare(dialog, QStringLiteral("Test Reviewer")));
    const QString first = results->dataset()->absolutePath(dialog->cells().items[0].index);
    const QString second = results->dataset()->absolutePath(dialog->cells().items[1].index);
    QTest::keyClick(dialog, Qt::Key_U);
    QCOMPARE(dialog->decisions().at(0), QStringLiteral("Uninfected"));
    QCOMPARE(rowText(patients, patient, 4), QStringLiteral("Not shown"));
    QTest::keyClick(dialog, Qt::Key_P);
    QCOMPARE(dialog->decisions().at(1), QStringLiteral("Parasitized"));
    QCOMPARE(dialog->confirmedParasitized(), 1);
    int rows = 0;
    ml::Correction c = latestFor(db, second, &rows);
    QCOMPARE(rows, 1);
    QCOMPARE(c.newLabel, QStringLiteral("Parasitized"));
    QCOMPARE(c.oldLabel, QStringLiteral("Uninfected")); // the folder's label
    QCOMPARE(c.reviewer, QStringLiteral("Test Reviewer"));
    QCOMPARE(c.sha256, ml::sha256OfFile(second)); // a cell image: recorded by its content too
    QCOMPARE(latestFor(db, first).newLabel, QStringLiteral("Uninfected"));
    QCOMPARE(rowText(patients, patient, 4), QStringLiteral("Infected"));

    // Z undoes the confirmation: a restoring row, and the patient is not shown infected again.
    QTest::keyClick(dialog, Qt::Key_Z);
    QCOMPARE(dialog->decisions().at(1), QString());
    QCOMPARE(dialog->confirmedParasitized(), 0);
    c = latestFor(db, second, &rows);
    QCOMPARE(rows, 2);
    QCOMPARE(c.newLabel, QStringLiteral("Uninfected"));
    QCOMPARE(rowText(patients, patient, 4), QStringLiteral("Not shown"));
    QTest::keyClick(dialog, Qt::Key_Z);
    QCOMPARE(dialog->decisions().at(0), QString());

    // Confirmed again, then closed: the decision outlives the dialog.
    QTest::keyClick(dialog, Qt::Key_P);
    QCOMPARE(dialog->decisions().at(0), QStringLiteral("Parasitized"));
    dialog->close();
    page.setDataset(std::make_shared<ml::Dataset>(ml::scanFolder(folder)));
    QSignalSpy again(&session, &ml::ModelSession::classificationFinished);
    page.classify();
    QTRY_COMPARE_WITH_TIMEOUT(again.size(), 1, 120000);
    QCOMPARE(rowText(patients, patient, 4), QStringLiteral("Infected"));
}

void TestConfirmCells::fromFieldsPageField()
{
    const QString field =
        sharedData() + QStringLiteral("/iml-fields/images/PA171727.JPG"); // 3 of 104 called
    if (!QFile::exists(field))
        QSKIP("../shared/data/iml-fields is missing: cells to confirm (Fields) not tested");
    const QString db = m_dir.filePath(QStringLiteral("field-corrections.sqlite"));
    ml::FieldPage page;
    page.setDatabasePath(db);
    page.resize(1400, 900);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QVERIFY(!page.confirmFieldButton()->isEnabled());
    QSignalSpy done(&page, &ml::FieldPage::fieldFinished);
    page.openField(field);
    QTRY_COMPARE_WITH_TIMEOUT(done.size(), 1, 120000);
    const ml::FieldResult& r = page.currentResult();
    QVERIFY(r.ok() && r.classified);
    QVERIFY2(page.fieldDecision().decided && !page.fieldDecision().infected,
             qPrintable(page.fieldDecision().reason));
    QVERIFY(page.confirmFieldButton()->isEnabled());

    // The field's most suspicious cells (edge cells excluded, as the counts are).
    std::vector<float> expected;
    for (const ml::FieldCell& c : r.cells)
        if (c.probability >= 0 && !c.cell.touchesEdge)
            expected.push_back(c.probability);
    std::sort(expected.begin(), expected.end(), std::greater<float>());
    QVERIFY(expected.size() > size_t(ml::kCellsToConfirm));
    ml::ConfirmCellsDialog* dialog = page.confirmFieldCells();
    QVERIFY(dialog);
    QCOMPARE(int(dialog->cells().items.size()), ml::kCellsToConfirm);
    for (int i = 0; i < ml::kCellsToConfirm; ++i)
        QCOMPARE(dialog->cells().items[size_t(i)].probability, expected[size_t(i)]);
    QTRY_VERIFY_WITH_TIMEOUT(dialog->imagesReady(), 60000);
    for (int i = 0; i < ml::kCellsToConfirm; ++i)
        QVERIFY2(!dialog->tile(i)->pixmap().isNull(), qPrintable(QString::number(i)));

    // P on the most suspicious cell: stored under the field and its box, field infected.
    QVERIFY(prepare(dialog, QStringLiteral("Field Reviewer")));
    const ml::FieldCell* top = nullptr;
    for (const ml::FieldCell& c : r.cells)
        if (!c.cell.touchesEdge && c.probability == expected[0])
            top = &c;
    QVERIFY(top);
    const QString key =
        ml::fieldCellKey(QFileInfo(field).absoluteFilePath(), top->cell.detectionBox);
    QCOMPARE(dialog->cells().dataset->absolutePath(dialog->cells().items[0].index), key);
    QTest::keyClick(dialog, Qt::Key_P);
    int rows = 0;
    ml::Correction c = latestFor(db, key, &rows);
    QCOMPARE(rows, 1);
    QCOMPARE(c.newLabel, QStringLiteral("Parasitized"));
    QCOMPARE(c.reviewer, QStringLiteral("Field Reviewer"));
    QVERIFY(c.sha256.isEmpty()); // a box in a field, not a file of its own
    QVERIFY(c.note.contains(QStringLiteral("PA171727.JPG")));
    QVERIFY(page.fieldDecision().infected);
    bool shown = false; // the side panel says so, and who confirmed it
    for (const QLabel* label : page.findChildren<QLabel*>())
        shown = shown || label->text().contains(QStringLiteral(
                             "Field: <b>Infected (1 parasite confirmed by Field Reviewer)</b>"));
    QVERIFY(shown);

    // Z: undone in the database and on the page.
    QTest::keyClick(dialog, Qt::Key_Z);
    c = latestFor(db, key, &rows);
    QCOMPARE(rows, 2);
    QCOMPARE(c.newLabel, QStringLiteral("unlabeled"));
    QVERIFY(!page.fieldDecision().infected);
    QTest::keyClick(dialog, Qt::Key_U);
    QCOMPARE(latestFor(db, key).newLabel, QStringLiteral("Uninfected"));
    QVERIFY(!page.fieldDecision().infected);
    dialog->close();
}

void TestConfirmCells::fromFieldsPageSlide()
{
    const QString images = sharedData() + QStringLiteral("/iml-fields/images");
    if (!QFile::exists(images + QStringLiteral("/PA171740.JPG")))
        QSKIP("../shared/data/iml-fields is missing: cells to confirm (slide) not tested");
    // A slide of two fields, neither shown infected by the estimate of the two-lab default
    // model (0 of 131 and 1 of 117 cells called parasitized).
    const QString slide = m_dir.filePath(QStringLiteral("slide"));
    QVERIFY(QDir().mkpath(slide));
    for (const QString& name : {QStringLiteral("PA171740.JPG"), QStringLiteral("PA171730.JPG")})
        QVERIFY(QFile::copy(images + QLatin1Char('/') + name, slide + QLatin1Char('/') + name));
    const QString db = m_dir.filePath(QStringLiteral("slide-corrections.sqlite"));
    ml::FieldPage page;
    page.setDatabasePath(db);
    page.resize(1400, 900);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QSignalSpy done(&page, &ml::FieldPage::folderFinished);
    page.openFolder(slide);
    QTRY_COMPARE_WITH_TIMEOUT(done.size(), 1, 240000);
    QTRY_VERIFY_WITH_TIMEOUT(!page.isBusy(), 120000);
    QVERIFY2(page.slideDecision().decided && !page.slideDecision().infected,
             qPrintable(page.slideDecision().reason));
    QVERIFY(page.confirmSlideButton()->isEnabled());

    ml::ConfirmCellsDialog* dialog = page.confirmSlideCells();
    QVERIFY(dialog);
    const ml::CellsToConfirm& cells = dialog->cells();
    QCOMPARE(int(cells.items.size()), ml::kCellsToConfirm);
    QSet<QString> fields;
    for (size_t i = 0; i < cells.items.size(); ++i) {
        if (i > 0)
            QVERIFY(cells.items[i - 1].probability >= cells.items[i].probability);
        fields.insert(ml::fieldOfCellKey(cells.dataset->absolutePath(cells.items[i].index)));
    }
    QCOMPARE(fields.size(), 2); // the slide's gallery draws on both fields
    QTRY_VERIFY_WITH_TIMEOUT(dialog->imagesReady(), 60000);

    // Skip the first cell, confirm the second: the slide and that field become infected, in
    // the summary and in the folder table (exported as CSV).
    QVERIFY(prepare(dialog, QStringLiteral("Slide Reviewer")));
    QTest::keyClick(dialog, Qt::Key_S);
    QTest::keyClick(dialog, Qt::Key_P);
    QCOMPARE(dialog->decisions().at(0), QString());
    QCOMPARE(dialog->decisions().at(1), QStringLiteral("Parasitized"));
    const QString key = cells.dataset->absolutePath(cells.items[1].index);
    QCOMPARE(latestFor(db, key).reviewer, QStringLiteral("Slide Reviewer"));
    QVERIFY(page.slideDecision().infected);
    const QString fieldName = QFileInfo(ml::fieldOfCellKey(key)).fileName();
    QCOMPARE(rowText(page.folderTable(), fieldName, 2), QStringLiteral("Infected (confirmed)"));
    QCOMPARE(rowText(page.folderTable(), fieldName, 6), QStringLiteral("1 by Slide Reviewer"));
    const QString other = fieldName == QStringLiteral("PA171740.JPG")
                              ? QStringLiteral("PA171730.JPG")
                              : QStringLiteral("PA171740.JPG");
    QCOMPARE(rowText(page.folderTable(), other, 2), QStringLiteral("Not shown infected"));

    // Undo the confirmation, then the skip.
    QTest::keyClick(dialog, Qt::Key_Z);
    QVERIFY(!page.slideDecision().infected);
    QCOMPARE(rowText(page.folderTable(), fieldName, 6), QStringLiteral("0"));
    QCOMPARE(rowText(page.folderTable(), fieldName, 2), QStringLiteral("Not shown infected"));
    QTest::keyClick(dialog, Qt::Key_Z);
    QCOMPARE(dialog->session()->position(), 0);
    dialog->close();
}

QTEST_MAIN(TestConfirmCells)
#include "tst_confirmcells.moc"
