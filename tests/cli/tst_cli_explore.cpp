// `malarialens-cli mean` and `malarialens-cli grid`, run as the real executable.

#include "clirun.h"
#include "folderscanner.h"
#include "gridrenderer.h"

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

using namespace ml;

namespace {

bool writeConstant(const QString& path, int w, int h, cv::Scalar bgr)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    return cv::imwrite(path.toStdString(), cv::Mat(h, w, CV_8UC3, bgr));
}

using Run = mltest::CliRun;

// Keeps the test's cache out of the user's ~/.cache.
Run runCli(const QStringList& args, const QString& cacheHome)
{
    return mltest::runCli(args, 120000, {{QStringLiteral("XDG_CACHE_HOME"), cacheHome}});
}

} // namespace

class TestCliExplore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void meanWritesPngsAndJson();
    void meanOneClassHasNoDifference();
    void meanUsageErrors();
    void gridIsTheSameImageAsRenderGrid_data();
    void gridIsTheSameImageAsRenderGrid();
    void gridUsageErrors_data();
    void gridUsageErrors();
    void augmentGridOnRealCells();

private:
    QTemporaryDir m_tmp;
    QString m_data;
};

void TestCliExplore::initTestCase()
{
    QVERIFY(QFileInfo::exists(QStringLiteral(MALARIALENS_CLI)));
    QVERIFY(m_tmp.isValid());
    m_data = m_tmp.filePath(QStringLiteral("data"));
    for (int i = 0; i < 6; ++i) {
        // Parasitized alternates (40,80,120) and (60,100,140): mean (50,90,130), std 10.
        const double d = i % 2 ? 10 : -10;
        QVERIFY(writeConstant(m_data + QStringLiteral("/Parasitized/p%1.png").arg(i), 30 + i, 30,
                              {50 + d, 90 + d, 130 + d}));
        QVERIFY(writeConstant(m_data + QStringLiteral("/Uninfected/u%1.png").arg(i), 30, 25 + i,
                              {20, 60, 100}));
    }
    QFile bad(m_data + QStringLiteral("/Uninfected/broken.png"));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write(QByteArray(100, 'q'));
}

void TestCliExplore::meanWritesPngsAndJson()
{
    const QString out = m_tmp.filePath(QStringLiteral("mean-out"));
    const Run r = runCli({QStringLiteral("mean"), m_data, QStringLiteral("--out"), out,
                          QStringLiteral("--size"), QStringLiteral("16"), QStringLiteral("--json")},
                         m_tmp.filePath(QStringLiteral("cache")));
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j.value(QStringLiteral("size")).toInt(), 16);
    QCOMPARE(j.value(QStringLiteral("images")).toInt(), 12);
    QCOMPARE(j.value(QStringLiteral("skipped")).toArray().size(), 1);
    const QJsonArray classes = j.value(QStringLiteral("classes")).toArray();
    QCOMPARE(classes.size(), 2);
    const QJsonArray rgb = classes.at(0).toObject().value(QStringLiteral("meanRGB")).toArray();
    QVERIFY(std::abs(rgb.at(0).toDouble() - 130.0 / 255) < 1e-5);
    QVERIFY(std::abs(rgb.at(2).toDouble() - 50.0 / 255) < 1e-5);
    // Difference = ((50-20) + (90-60) + (130-100)) / 3 / 255 = 30/255 everywhere.
    const QJsonObject diff = j.value(QStringLiteral("difference")).toObject();
    QCOMPARE(diff.value(QStringLiteral("minuend")).toString(), QStringLiteral("Parasitized"));
    QVERIFY(std::abs(diff.value(QStringLiteral("max")).toDouble() - 30.0 / 255) < 1e-5);
    QVERIFY(std::abs(diff.value(QStringLiteral("min")).toDouble() - 30.0 / 255) < 1e-5);
    QVERIFY(std::abs(j.value(QStringLiteral("stdScale")).toDouble() - 10.0 / 255) < 1e-5);

    for (const char* f : {"mean_Parasitized.png", "mean_Uninfected.png", "std_Parasitized.png",
                          "std_Uninfected.png", "difference.png", "overview.png"})
        QVERIFY2(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(f)), f);
    const QImage mean(out + QStringLiteral("/mean_Parasitized.png"));
    QCOMPARE(mean.size(), QSize(16, 16));
    QCOMPARE(mean.pixel(8, 8), qRgb(130, 90, 50));
    // Std images are shown on the common scale: Parasitized std is the maximum -> white,
    // Uninfected std 0 -> black.
    QCOMPARE(QImage(out + QStringLiteral("/std_Parasitized.png")).pixel(3, 3), qRgb(255, 255, 255));
    QCOMPARE(QImage(out + QStringLiteral("/std_Uninfected.png")).pixel(3, 3), qRgb(0, 0, 0));
    // A constant positive difference at full scale is the red end of the map.
    const QImage d(out + QStringLiteral("/difference.png"));
    QVERIFY(d.width() > 256);
    int red = 0;
    for (int x = 0; x < d.width(); ++x)
        red += d.pixel(x, d.height() / 2) == qRgb(178, 24, 43);
    QVERIFY2(red >= 256, qPrintable(QString::number(red)));

    // Second run: from the cache, same numbers.
    const Run again =
        runCli({QStringLiteral("mean"), m_data, QStringLiteral("--out"), out,
                QStringLiteral("--size"), QStringLiteral("16"), QStringLiteral("--json")},
               m_tmp.filePath(QStringLiteral("cache")));
    QCOMPARE(again.exitCode, 0);
    const QJsonObject j2 = QJsonDocument::fromJson(again.out).object();
    QVERIFY(j2.value(QStringLiteral("fromCache")).toBool());
    QCOMPARE(j2.value(QStringLiteral("classes")), j.value(QStringLiteral("classes")));
}

void TestCliExplore::meanOneClassHasNoDifference()
{
    QTemporaryDir dir;
    QVERIFY(writeConstant(dir.filePath("Parasitized/a.png"), 10, 10, {1, 2, 3}));
    QVERIFY(QDir().mkpath(dir.filePath("Uninfected"))); // empty class
    const QString out = dir.filePath(QStringLiteral("out"));
    const Run r = runCli({QStringLiteral("mean"), dir.path(), QStringLiteral("--out"), out,
                          QStringLiteral("--no-cache")},
                         m_tmp.filePath(QStringLiteral("cache")));
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY(r.out.contains("needs two classes"));
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/mean_Parasitized.png")));
    QVERIFY(!QFileInfo::exists(out + QStringLiteral("/mean_Uninfected.png")));
    QVERIFY(!QFileInfo::exists(out + QStringLiteral("/difference.png")));
}

void TestCliExplore::meanUsageErrors()
{
    const QString cache = m_tmp.filePath(QStringLiteral("cache"));
    QCOMPARE(runCli({QStringLiteral("mean"), m_data}, cache).exitCode, 2);
    QCOMPARE(runCli({QStringLiteral("mean"), m_data, QStringLiteral("--out"), m_tmp.filePath("x"),
                     QStringLiteral("--size"), QStringLiteral("zero")},
                    cache)
                 .exitCode,
             2);
    QCOMPARE(runCli({QStringLiteral("mean"), QStringLiteral("/no/such/folder"),
                     QStringLiteral("--out"), m_tmp.filePath("x")},
                    cache)
                 .exitCode,
             1);
}

void TestCliExplore::gridIsTheSameImageAsRenderGrid_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<int>("size");
    QTest::newRow("rgb 3") << QStringLiteral("rgb") << 3;
    QTest::newRow("hsv 6") << QStringLiteral("hsv") << 6;
    QTest::newRow("blur 3") << QStringLiteral("blur") << 3;
    QTest::newRow("augment 6") << QStringLiteral("augment") << 6;
}

void TestCliExplore::gridIsTheSameImageAsRenderGrid()
{
    QFETCH(QString, mode);
    QFETCH(int, size);
    const QString png = m_tmp.filePath(QStringLiteral("grid-%1-%2.png").arg(mode).arg(size));
    const Run r =
        runCli({QStringLiteral("grid"), m_data, QStringLiteral("--mode"), mode,
                QStringLiteral("--size"), QString::number(size), QStringLiteral("--out"), png,
                QStringLiteral("--seed"), QStringLiteral("7"), QStringLiteral("--kernel"),
                QStringLiteral("7"), QStringLiteral("--sigma"), QStringLiteral("1.5")},
               m_tmp.filePath(QStringLiteral("cache")));
    QVERIFY2(r.exitCode == 0, r.err.constData());
    // The same call in-process (the GUI's code path) gives the same pixels.
    GridOptions o;
    o.mode = *gridModeFromName(mode);
    o.size = size;
    o.seed = 7;
    o.kernelSize = 7;
    o.sigma = 1.5;
    const GridResult expected = renderGrid(scanFolder(m_data), o);
    QVERIFY(expected.ok());
    const QImage written(png);
    QCOMPARE(written.size(), expected.image.size());
    QCOMPARE(written.convertToFormat(QImage::Format_RGB32),
             expected.image.convertToFormat(QImage::Format_RGB32));
}

void TestCliExplore::gridUsageErrors_data()
{
    QTest::addColumn<QStringList>("extra");
    QTest::newRow("bad mode") << QStringList{"--mode", "sepia"};
    QTest::newRow("size 4") << QStringList{"--size", "4"};
    QTest::newRow("even kernel") << QStringList{"--mode", "blur", "--kernel", "4"};
    QTest::newRow("negative sigma") << QStringList{"--sigma", "-1"};
    QTest::newRow("bad seed") << QStringList{"--seed", "abc"};
}

void TestCliExplore::gridUsageErrors()
{
    QFETCH(QStringList, extra);
    QStringList args{QStringLiteral("grid"), m_data, QStringLiteral("--out"),
                     m_tmp.filePath("bad.png")};
    args << extra;
    const Run r = runCli(args, m_tmp.filePath(QStringLiteral("cache")));
    QCOMPARE(r.exitCode, 2);
    QVERIFY(!r.err.isEmpty());
    QVERIFY(!QFileInfo::exists(m_tmp.filePath("bad.png")));
}

void TestCliExplore::augmentGridOnRealCells()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFileInfo::exists(root))
        QSKIP("shared data folder ../shared/data/nih-cells is missing: real-data check skipped");
    const QString out = m_tmp.filePath(QStringLiteral("nih"));
    const Run r =
        runCli({QStringLiteral("grid"), root, QStringLiteral("--mode"), QStringLiteral("augment"),
                QStringLiteral("--size"), QStringLiteral("6"), QStringLiteral("--out"),
                out + QStringLiteral("/grid.png"), QStringLiteral("--json")},
               m_tmp.filePath(QStringLiteral("cache")));
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(j.value(QStringLiteral("images")).toArray().size(), 36);
    QVERIFY(!QImage(out + QStringLiteral("/grid.png")).isNull());
}

QTEST_MAIN(TestCliExplore)
#include "tst_cli_explore.moc"
