// The canonical cell (core/cell/canonicalcell.h) on real NIH cells from ../shared/data: the
// same cell presented as another lab would (white or grey surround, another scale, another
// stain, JPEG) must come out as (nearly) the same model input.
#include "augment.h"
#include "canonicalcell.h"
#include "imageio.h"

#include <QDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

using namespace ml;

namespace {

const QString kCells = QStringLiteral(MALARIALENS_SHARED_DATA "/nih-cells");

// A few real cells of both classes, 64 x 64 float RGB as preprocessImage() gives.
std::vector<cv::Mat> realCells(int perClass)
{
    std::vector<cv::Mat> out;
    for (const QString& cls : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}) {
        const QDir dir(kCells + QLatin1Char('/') + cls);
        const QStringList files =
            dir.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name).mid(0, perClass);
        for (const QString& f : files) {
            const DecodedImage d = decodeImage(dir.filePath(f));
            if (!d.ok())
                continue;
            cv::Mat small;
            cv::resize(d.bgr, small, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
            out.push_back(toFloatRgb(small));
        }
    }
    return out;
}

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b)
{
    const cv::Scalar m = cv::mean(cv::abs(a - b));
    return (m[0] + m[1] + m[2]) / 3.0;
}

} // namespace

class TestCanonicalCell : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void findsNihCellAndPaintsSurround();
    void whiteSurroundGivesTheSameInput();
    void scaleIsUndone();
    void stainShiftIsUndoneByGrey();
    void blankImageFallsBackToWholeImage();
    void badInputGivesEmpty();
    void recipeRoundTripsThroughJson();

private:
    std::vector<cv::Mat> m_cells;
};

void TestCanonicalCell::initTestCase()
{
    if (!QDir(kCells).exists())
        QSKIP("../shared/data/nih-cells is missing");
    m_cells = realCells(10);
    QCOMPARE(int(m_cells.size()), 20);
}

void TestCanonicalCell::findsNihCellAndPaintsSurround()
{
    for (const cv::Mat& c : m_cells) {
        const CanonicalCell out = canonicalizeCell(c);
        QVERIFY(out.cellFound);
        QCOMPARE(out.rgb.size(), c.size());
        QCOMPARE(out.rgb.type(), CV_32FC3);
        // The NIH surround is black.
        QVERIFY(cv::norm(out.surroundColour) < 0.1);
        // Outside the mask every pixel is the fixed surround value (0).
        cv::Mat outside;
        cv::bitwise_not(out.mask, outside);
        QCOMPARE(cv::countNonZero(outside) > 0, true);
        const cv::Scalar outsideMean = cv::mean(out.rgb, outside);
        QCOMPARE(outsideMean[0] + outsideMean[1] + outsideMean[2], 0.0);
        // The cell fills about cellFill of the side: its box is 75-100 % of 64 px.
        const cv::Rect box = cv::boundingRect(out.mask);
        QVERIFY2(std::max(box.width, box.height) >= 48, qPrintable(QString::number(box.width)));
        // Grey: the three channels are equal inside the cell.
        std::vector<cv::Mat> ch;
        cv::split(out.rgb, ch);
        QCOMPARE(cv::norm(ch[0], ch[1], cv::NORM_INF), 0.0);
    }
}

void TestCanonicalCell::whiteSurroundGivesTheSameInput()
{
    for (const cv::Mat& c : m_cells) {
        const cv::Mat white = repaintSurround(c, cv::Vec3f(0.95f, 0.94f, 0.96f));
        const CanonicalCell a = canonicalizeCell(c), b = canonicalizeCell(white);
        QVERIFY(b.cellFound);
        QVERIFY2(cv::norm(b.surroundColour - cv::Vec3f(0.95f, 0.94f, 0.96f)) < 0.1,
                 "the white surround is recognised");
        // Same cell, same input, up to the soft edge of the repaint.
        QVERIFY2(meanAbsDiff(a.rgb, b.rgb) < 0.12,
                 qPrintable(QString::number(meanAbsDiff(a.rgb, b.rgb))));
    }
}

void TestCanonicalCell::scaleIsUndone()
{
    for (const cv::Mat& c : m_cells) {
        // The cell at 70 % of its size on a larger black canvas, as a field crop is.
        const cv::Mat smaller = zoom(c, 0.7f);
        const CanonicalCell a = canonicalizeCell(c), b = canonicalizeCell(smaller);
        const cv::Rect boxA = cv::boundingRect(a.mask), boxB = cv::boundingRect(b.mask);
        QVERIFY2(std::abs(boxA.width - boxB.width) <= 6,
                 qPrintable(QStringLiteral("%1 vs %2").arg(boxA.width).arg(boxB.width)));
        // Without canonicalisation the raw images differ far more.
        QVERIFY(meanAbsDiff(a.rgb, b.rgb) < meanAbsDiff(c, smaller));
    }
}

void TestCanonicalCell::stainShiftIsUndoneByGrey()
{
    for (const cv::Mat& c : m_cells) {
        // A bluer, paler stain and a brighter exposure.
        cv::Mat shifted = jitterColour(c, -15.0f, 0.6f);
        shifted = adjustBrightness(shifted, 0.0f);
        cv::Mat brighter;
        cv::min(shifted * 1.15, 1.0, brighter);
        const CanonicalCell a = canonicalizeCell(c), b = canonicalizeCell(brighter);
        QVERIFY2(meanAbsDiff(a.rgb, b.rgb) < 0.5 * meanAbsDiff(c, brighter) + 0.03,
                 qPrintable(QStringLiteral("%1 vs raw %2")
                                .arg(meanAbsDiff(a.rgb, b.rgb))
                                .arg(meanAbsDiff(c, brighter))));
    }
}

void TestCanonicalCell::blankImageFallsBackToWholeImage()
{
    const cv::Mat blank(64, 64, CV_32FC3, cv::Scalar::all(0.8));
    const CanonicalCell out = canonicalizeCell(blank);
    QVERIFY(!out.cellFound);
    QVERIFY(!out.rgb.empty());
    QVERIFY(cv::checkRange(out.rgb, true, nullptr, 0.0, 1.0 + 1e-6));
}

void TestCanonicalCell::badInputGivesEmpty()
{
    QVERIFY(canonicalizeCell(cv::Mat()).rgb.empty());
    QVERIFY(canonicalizeCell(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(1))).rgb.empty());
}

void TestCanonicalCell::recipeRoundTripsThroughJson()
{
    CanonicalRecipe r;
    r.cellFill = 0.8f;
    r.stain = CanonicalStain::Lab;
    bool ok = false;
    const CanonicalRecipe back = CanonicalRecipe::fromJson(r.toJson(), &ok);
    QVERIFY(ok);
    QCOMPARE(back.cellFill, 0.8f);
    QVERIFY(back.stain == CanonicalStain::Lab);
    CanonicalRecipe::fromJson(QJsonObject{{QStringLiteral("stain"), QStringLiteral("macenko")}},
                              &ok);
    QVERIFY(!ok);
}

QTEST_GUILESS_MAIN(TestCanonicalCell)
#include "tst_canonicalcell.moc"
