#include "datasetsummary.h"
#include "folderscanner.h"
#include "testimages.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace mltest;

class TestFolderScanner : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void classesSortedLikeKeras();
    void unlabeledFolder();
    void patientFallbackIsFolder();
    void badFilesAreSkippedWithReasons();
    void unreadableFile();
    void symlinkLoopTerminates();
    void missingFolder();
    void folderDeletedDuringScan();
    void cancelStopsTheScan();
    void imagesOutsideClassFolders();
    void emptyClassIsKept();
    void summaryCountsEveryBadCase();
    void nihCells();

private:
    static void touch(const QString& path, const QByteArray& bytes = "x")
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bytes);
    }
};

void TestFolderScanner::classesSortedLikeKeras()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    for (const char* c : {"Uninfected", "Parasitized", "b_lower"})
        QVERIFY(d.mkdir(QString::fromLatin1(c)));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Uninfected/C1_thinF_a.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C33P1thinF_b.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C33P1thinF_c.jpg"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("b_lower/C2_x.bmp"))));
    touch(d.filePath(QStringLiteral("Parasitized/notes.txt")));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QVERIFY(ds.error.isEmpty());
    // Python's sorted(): upper case before lower case.
    QCOMPARE(ds.classNames, QStringList({QStringLiteral("Parasitized"),
                                         QStringLiteral("Uninfected"), QStringLiteral("b_lower")}));
    QCOMPARE(ds.images.size(), 4);
    QCOMPARE(ds.images.at(0).label, 0);
    QCOMPARE(ds.images.at(0).patient, QStringLiteral("C33P1"));
    QCOMPARE(ds.countPerClass().value(QStringLiteral("Parasitized")), 2);
    QCOMPARE(ds.countPerClass().value(QStringLiteral("Uninfected")), 1);
    QCOMPARE(ds.countPerPatient().size(), 3);
    QVERIFY(ds.skipped.isEmpty()); // a .txt file is ignored, not skipped
}

void TestFolderScanner::unlabeledFolder()
{
    QTemporaryDir dir;
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("one.png"))));
    QVERIFY(writeColourImage(dir.filePath(QStringLiteral("two.tiff"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QVERIFY(!ds.isLabelled());
    QCOMPARE(ds.images.size(), 2);
    QCOMPARE(ds.images.at(0).label, -1);
    QCOMPARE(ds.className(-1), QStringLiteral("unlabeled"));
}

void TestFolderScanner::patientFallbackIsFolder()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkpath(QStringLiteral("sick/slideA")));
    QVERIFY(d.mkpath(QStringLiteral("sick/slideB")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("sick/slideA/1.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("sick/slideB/2.png"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.images.size(), 2);
    QCOMPARE(ds.images.at(0).patient, QStringLiteral("sick/slideA"));
    QCOMPARE(ds.images.at(1).patient, QStringLiteral("sick/slideB"));
    QCOMPARE(ds.patientSource, ml::PatientSource::Folder);
}

void TestFolderScanner::badFilesAreSkippedWithReasons()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("A")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("A/good.png"))));
    QVERIFY(writeEmpty(d.filePath(QStringLiteral("A/empty.png"))));
    QVERIFY(QFile::link(d.filePath(QStringLiteral("A/nowhere.png")),
                        d.filePath(QStringLiteral("A/broken.png"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.images.size(), 1);
    QCOMPARE(ds.skipped.size(), 2);
    QStringList reasons;
    for (const auto& s : ds.skipped)
        reasons << s.path + QStringLiteral(": ") + s.reason;
    reasons.sort();
    QCOMPARE(reasons.at(0), QStringLiteral("A/broken.png: broken symbolic link"));
    QCOMPARE(reasons.at(1), QStringLiteral("A/empty.png: empty file (0 bytes)"));
}

void TestFolderScanner::unreadableFile()
{
    if (geteuid() == 0)
        QSKIP("running as root: permissions do not stop root from reading a file");
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("locked.png"));
    QVERIFY(writeColourImage(path));
    QVERIFY(QFile::setPermissions(path, QFileDevice::Permissions()));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.images.size(), 0);
    QCOMPARE(ds.skipped.size(), 1);
    QVERIFY(ds.skipped.at(0).reason.contains(QLatin1String("permission")));
}

void TestFolderScanner::symlinkLoopTerminates()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkpath(QStringLiteral("A/sub")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("A/sub/x.png"))));
    // A/sub/loop -> A : following it would recurse for ever.
    QVERIFY(QFile::link(d.filePath(QStringLiteral("A")), d.filePath(QStringLiteral("A/sub/loop"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.images.size(), 1);
    QCOMPARE(ds.skipped.size(), 1);
    QVERIFY2(ds.skipped.at(0).reason.contains(QLatin1String("loop")),
             qPrintable(ds.skipped.at(0).reason));
}

void TestFolderScanner::missingFolder()
{
    const ml::Dataset ds = ml::scanFolder(QStringLiteral("/nonexistent/malarialens/folder"));
    QVERIFY(ds.error.contains(QLatin1String("not found")));
    QVERIFY(ds.images.isEmpty());
}

void TestFolderScanner::folderDeletedDuringScan()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("A")));
    QVERIFY(d.mkdir(QStringLiteral("B")));
    for (int i = 0; i < 600; ++i)
        touch(d.filePath(QStringLiteral("A/%1.png").arg(i, 4, 10, QLatin1Char('0'))));
    for (int i = 0; i < 50; ++i)
        touch(d.filePath(QStringLiteral("B/%1.png").arg(i)));
    bool removed = false;
    ml::ScanOptions opts;
    opts.progress = [&](int found) {
        if (found >= 500 && !removed)
            removed = QDir(dir.path()).removeRecursively();
    };
    const ml::Dataset ds = ml::scanFolder(dir.path(), opts);
    QVERIFY(removed);
    QVERIFY2(ds.error.contains(QLatin1String("disappeared")), qPrintable(ds.error));
}

void TestFolderScanner::cancelStopsTheScan()
{
    QTemporaryDir dir;
    for (int i = 0; i < 1200; ++i)
        touch(dir.filePath(QStringLiteral("%1.png").arg(i)));
    std::atomic<bool> cancel{false};
    ml::ScanOptions opts;
    opts.cancel = &cancel;
    opts.progress = [&](int found) {
        if (found >= 500)
            cancel = true;
    };
    const ml::Dataset ds = ml::scanFolder(dir.path(), opts);
    QVERIFY(ds.cancelled);
    QVERIFY(ds.images.size() < 1200);
}

void TestFolderScanner::imagesOutsideClassFolders()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("A")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("A/in.png"))));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("stray.png"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.images.size(), 1);
    QCOMPARE(ds.skipped.size(), 1);
    QCOMPARE(ds.skipped.at(0).path, QStringLiteral("stray.png"));
}

void TestFolderScanner::emptyClassIsKept()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("A")));
    QVERIFY(d.mkdir(QStringLiteral("B")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("A/in.png"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    QCOMPARE(ds.classNames.size(), 2);
    QCOMPARE(ds.countPerClass().value(QStringLiteral("B")), 0);
}

void TestFolderScanner::summaryCountsEveryBadCase()
{
    QTemporaryDir dir;
    QDir d(dir.path());
    QVERIFY(d.mkdir(QStringLiteral("Parasitized")));
    QVERIFY(d.mkdir(QStringLiteral("Uninfected")));
    QVERIFY(writeColourImage(d.filePath(QStringLiteral("Parasitized/C5P1thinF_ok.png")), 50, 60));
    QVERIFY(writeGrayImage(d.filePath(QStringLiteral("Parasitized/C5P1thinF_gray.png")), 70, 80));
    QVERIFY(writeRgbaPng(d.filePath(QStringLiteral("Uninfected/C9_rgba.png")), 30, 30));
    QVERIFY(write16BitPng(d.filePath(QStringLiteral("Uninfected/C9_deep.png"))));
    QVERIFY(writePalettePng(d.filePath(QStringLiteral("Uninfected/C9_palette.png"))));
    QVERIFY(writeTruncatedPng(d.filePath(QStringLiteral("Uninfected/C9_trunc.png"))));
    QVERIFY(writeGarbage(d.filePath(QStringLiteral("Uninfected/C9_garbage.jpg"))));
    QVERIFY(writeHugeHeaderPng(d.filePath(QStringLiteral("Uninfected/C9_huge.png")), 30000, 30000));
    QVERIFY(writeEmpty(d.filePath(QStringLiteral("Uninfected/C9_empty.bmp"))));
    const ml::Dataset ds = ml::scanFolder(dir.path());
    const ml::DatasetSummary s = ml::summarizeDataset(ds);
    QCOMPARE(s.files, 8); // the empty file is skipped by the scan
    QCOMPARE(s.images, 5);
    QCOMPARE(s.skipped.size(), 4);
    QCOMPARE(s.perClass.value(QStringLiteral("Parasitized")), 2);
    QCOMPARE(s.perClass.value(QStringLiteral("Uninfected")), 3);
    QCOMPARE(s.perPatient.size(), 2);
    QCOMPARE(s.minWidth, 30);
    QCOMPARE(s.maxWidth, 70);
    QCOMPARE(s.maxHeight, 80);
    QCOMPARE(s.minPixel, 0);
    QCOMPARE(s.maxPixel, 255);
    QCOMPARE(s.channelCounts.value(1), 1);
    QCOMPARE(s.channelCounts.value(4), 1);
    const QJsonObject json = ml::summaryToJson(ds, s);
    QCOMPARE(json.value(QStringLiteral("images")).toInt(), 5);
    QCOMPARE(json.value(QStringLiteral("skipped")).toArray().size(), 4);
}

void TestFolderScanner::nihCells()
{
    const QString data = sharedData();
    if (data.isEmpty())
        QSKIP("../shared/data/nih-cells is missing: real-data scan not checked");
    const ml::Dataset ds = ml::scanFolder(data + QStringLiteral("/nih-cells"));
    QVERIFY(ds.error.isEmpty());
    QCOMPARE(ds.classNames,
             QStringList({QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}));
    QCOMPARE(ds.images.size(), 14015);
    QCOMPARE(ds.countPerClass().value(QStringLiteral("Parasitized")), 7048);
    QCOMPARE(ds.countPerClass().value(QStringLiteral("Uninfected")), 6967);
    QCOMPARE(ds.countPerPatient().size(), 100);
    QCOMPARE(ds.patientSource, ml::PatientSource::FileName);
    QVERIFY(ds.skipped.isEmpty());
}

QTEST_GUILESS_MAIN(TestFolderScanner)
#include "tst_folderscanner.moc"
