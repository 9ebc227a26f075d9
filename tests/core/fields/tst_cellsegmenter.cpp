// Red blood cell segmentation: exact counts on drawn fields, bad input, crops, and recall /
// precision on a subset of the shared IML field images.
#include "cellsegmenter.h"
#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "fieldimages.h"
#include "imageio.h"
#include "patientid.h"

#include <QDir>
#include <QTest>

#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

using namespace ml;
using namespace mltest;

namespace {

// Matches every disc to the detected box with the highest IoU.
double worstIou(const std::vector<Disc>& discs, const SegmentationResult& r)
{
    double worst = 1.0;
    for (const Disc& d : discs) {
        double best = 0.0;
        for (const SegmentedCell& c : r.cells)
            best = std::max(best, boxIou(d.box(), c.box));
        worst = std::min(worst, best);
    }
    return worst;
}

// An IML field of the shared data by name ("" when the shared data is missing).
QString imlField(const QString& name)
{
    const QString file =
        QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields/images/") + name;
    return QFileInfo::exists(file) ? file : QString();
}

// The best IoU of the annotated box `truth` with a detection box of `field` (analyzeField()).
double bestIou(const FieldResult& field, const QRect& truth)
{
    const cv::Rect t(truth.x(), truth.y(), truth.width(), truth.height());
    double best = 0.0;
    for (const cv::Rect& b : field.boxes(false))
        best = std::max(best, boxIou(b, t));
    return best;
}

// analyzeField() of `file` with these segmentation parameters.
FieldResult analyseWith(const QString& file, const SegmentationParams& params)
{
    FieldOptions o;
    o.segmentation = params;
    return analyzeField(file, o);
}

} // namespace

class TestCellSegmenter : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void separateDiscs_data();
    void separateDiscs();
    void touchingPairsAreSplit();
    void edgeCellsAreFlagged();
    void edgeFragmentsAreDropped();
    void detectionBoxHasAnnotationMargin();
    void explicitDiameter();
    void blankImageGivesWarning_data();
    void blankImageGivesWarning();
    void tinyAndEmptyImages();
    void notASmearGivesFewCells();
    void hugeImageIsDownscaledAndMappedBack();
    void greyAndBgraInput();
    void cropIsSquareWithBlackOutside();
    void cropAtImageCorner();
    void pipelineBatchesAndThreshold();
    void pipelineCancelAndClassifierFailure();
    void colourTransfer();
    void classifierCropsAreThePipelineCrops_data();
    void classifierCropsAreThePipelineCrops();
    void fieldCropIdIsReadBackAsPatient();
    void overlayMarksParasitized();
    void imlFieldsRecallPrecision();
    void unsplitClumpIsKeptWithCellEstimate();
    void crowdedImlFieldShowsUnsplitClumps();
    void stainedClumpAroundParasiteIsSplit_data();
    void stainedClumpAroundParasiteIsSplit();
    void darkInfectedCellIsCarvedFromAClump_data();
    void darkInfectedCellIsCarvedFromAClump();
    void carvingReachesNeckedAndPaleCells_data();
    void carvingReachesNeckedAndPaleCells();
};

void TestCellSegmenter::separateDiscs_data()
{
    QTest::addColumn<int>("radius");
    QTest::addColumn<int>("cols");
    QTest::addColumn<int>("rows");
    QTest::newRow("r20 6x4") << 20 << 6 << 4;
    QTest::newRow("r35 5x3") << 35 << 5 << 3;
    QTest::newRow("r45 3x3") << 45 << 3 << 3;
}

void TestCellSegmenter::separateDiscs()
{
    QFETCH(int, radius);
    QFETCH(int, cols);
    QFETCH(int, rows);
    const std::vector<Disc> discs = discGrid(cols, rows, radius);
    const cv::Mat img = drawField(3 * radius * cols + radius, 3 * radius * rows + radius, discs);
    const SegmentationResult r = segmentCells(img);
    QVERIFY2(r.warnings.isEmpty(), qPrintable(r.warnings.join(QLatin1String("; "))));
    QCOMPARE(int(r.cells.size()), cols * rows);
    QCOMPARE(r.interiorCount(), cols * rows);
    QVERIFY2(worstIou(discs, r) > 0.85, qPrintable(QString::number(worstIou(discs, r))));
    // The estimated diameter is the discs' diameter.
    QVERIFY2(std::abs(r.cellDiameter - 2.0 * radius) < 0.1 * 2.0 * radius,
             qPrintable(QString::number(r.cellDiameter)));
    for (const SegmentedCell& c : r.cells) {
        QVERIFY(std::abs(c.area - M_PI * radius * radius) < 0.15 * M_PI * radius * radius);
        QVERIFY(!c.contour.empty());
    }
}

void TestCellSegmenter::touchingPairsAreSplit()
{
    // 5 pairs of overlapping discs (centres 1.7 r apart: a narrow neck) and 5 single discs.
    const int r = 30;
    std::vector<Disc> discs;
    for (int i = 0; i < 5; ++i) {
        const int x = 60 + i * 150;
        discs.push_back({cv::Point(x, 70), r});
        discs.push_back({cv::Point(x + 51, 70), r});  // pair, overlapping by 9 px
        discs.push_back({cv::Point(x + 20, 230), r}); // single
    }
    const cv::Mat img = drawField(800, 320, discs);
    const SegmentationResult res = segmentCells(img);
    QCOMPARE(int(res.cells.size()), 15);
    QVERIFY2(worstIou(discs, res) > 0.7, qPrintable(QString::number(worstIou(discs, res))));
}

void TestCellSegmenter::edgeCellsAreFlagged()
{
    const int r = 30;
    std::vector<Disc> discs = discGrid(4, 3, r);    // interior, 12 cells
    discs.push_back({cv::Point(20, 330), r});       // cut by the left border, 5/6 visible
    discs.push_back({cv::Point(300, 420 - 20), r}); // cut by the bottom border, 5/6 visible
    const cv::Mat img = drawField(420, 420, discs);
    const SegmentationResult res = segmentCells(img);
    QCOMPARE(int(res.cells.size()), 14);
    QCOMPARE(res.interiorCount(), 12);
    QCOMPARE(res.droppedEdgeFragments, 0);
    for (const SegmentedCell& c : res.cells) {
        const bool nearBorder = c.box.x == 0 || c.box.br().y >= img.rows;
        QCOMPARE(c.touchesEdge, nearBorder);
    }
}

void TestCellSegmenter::edgeFragmentsAreDropped()
{
    // Cells half outside the image (a half or two thirds of the diameter visible, large
    // enough to pass the size filter) are not counted; one with 5/6 visible is, flagged as an
    // edge cell. With the check disabled every fragment comes back.
    const int r = 30;
    std::vector<Disc> discs = discGrid(3, 3, r);
    discs.push_back({cv::Point(5, 110), r});        // left border, 35 of 60 px visible
    discs.push_back({cv::Point(200, 340), r});      // bottom border, 30 of 60 px visible
    discs.push_back({cv::Point(340 - 10, 10), r});  // top-right corner, 40 px each way
    discs.push_back({cv::Point(340 - 20, 230), r}); // right border, 50 of 60 px visible
    const cv::Mat img = drawField(340, 340, discs);
    const SegmentationResult res = segmentCells(img);
    QCOMPARE(int(res.cells.size()), 10);
    QCOMPARE(res.interiorCount(), 9);
    QCOMPARE(res.droppedEdgeFragments, 3);
    SegmentationParams all;
    all.minEdgeVisible = 0.0;
    const SegmentationResult kept = segmentCells(img, all);
    QCOMPARE(int(kept.cells.size()), 13);
    QCOMPARE(kept.interiorCount(), 9);
    QCOMPARE(kept.droppedEdgeFragments, 0);
}

void TestCellSegmenter::detectionBoxHasAnnotationMargin()
{
    // The reported box is the tight box grown by boxMargin x diameter on each side (clipped
    // to the image); 0 gives the tight box.
    const int r = 30;
    const std::vector<Disc> discs = discGrid(3, 2, r);
    const cv::Mat img = drawField(300, 200, discs);
    const SegmentationResult res = segmentCells(img);
    QCOMPARE(int(res.cells.size()), 6);
    const int grow = int(std::lround(SegmentationParams{}.boxMargin * res.cellDiameter));
    QVERIFY(grow >= 3);
    for (const SegmentedCell& c : res.cells) {
        const cv::Rect expected = (c.box + cv::Size(2 * grow, 2 * grow) - cv::Point(grow, grow)) &
                                  cv::Rect(0, 0, 300, 200);
        QCOMPARE(c.detectionBox, expected);
    }
    SegmentationParams tight;
    tight.boxMargin = 0.0;
    for (const SegmentedCell& c : segmentCells(img, tight).cells)
        QCOMPARE(c.detectionBox, c.box);
}

void TestCellSegmenter::explicitDiameter()
{
    const std::vector<Disc> discs = discGrid(3, 2, 30);
    const cv::Mat img = drawField(300, 200, discs);
    SegmentationParams p;
    p.cellDiameter = 60;
    const SegmentationResult res = segmentCells(img, p);
    QCOMPARE(int(res.cells.size()), 6);
    QCOMPARE(res.cellDiameter, 60.0);
    // An expected diameter far too large turns every disc into a piece below minAreaFraction.
    p.cellDiameter = 400;
    QCOMPARE(int(segmentCells(img, p).cells.size()), 0);
}

void TestCellSegmenter::blankImageGivesWarning_data()
{
    QTest::addColumn<cv::Scalar>("colour");
    QTest::addColumn<bool>("noise");
    QTest::newRow("white") << cv::Scalar(255, 255, 255) << false;
    QTest::newRow("background only") << fieldBackground() << true;
    QTest::newRow("black") << cv::Scalar(0, 0, 0) << false;
    QTest::newRow("very dark noisy") << cv::Scalar(6, 6, 6) << true;
}

void TestCellSegmenter::blankImageGivesWarning()
{
    QFETCH(cv::Scalar, colour);
    QFETCH(bool, noise);
    cv::Mat img(480, 640, CV_8UC3, colour);
    if (noise) {
        cv::Mat n(img.size(), CV_16SC3), img16;
        cv::theRNG().state = 3;
        cv::randn(n, cv::Scalar::all(0), cv::Scalar::all(2));
        img.convertTo(img16, CV_16SC3);
        img16 += n;
        img16.convertTo(img, CV_8UC3);
    }
    const SegmentationResult r = segmentCells(img);
    QCOMPARE(int(r.cells.size()), 0);
    QVERIFY(!r.warnings.isEmpty());
}

void TestCellSegmenter::tinyAndEmptyImages()
{
    SegmentationResult r = segmentCells(cv::Mat());
    QCOMPARE(int(r.cells.size()), 0);
    QVERIFY(!r.warnings.isEmpty());
    r = segmentCells(drawField(8, 8, {{cv::Point(4, 4), 3}}));
    QCOMPARE(int(r.cells.size()), 0);
    QVERIFY(r.warnings.first().contains(QLatin1String("too small")));
    r = segmentCells(cv::Mat(100, 100, CV_32FC3, cv::Scalar::all(0.5)));
    QCOMPARE(int(r.cells.size()), 0);
    QVERIFY(!r.warnings.isEmpty());
    QVERIFY(cellCrop(cv::Mat(), SegmentedCell{}).empty());
}

void TestCellSegmenter::notASmearGivesFewCells()
{
    // A smooth photo-like gradient with one big dark shape: no cell-sized objects.
    cv::Mat img(480, 640, CV_8UC3);
    for (int y = 0; y < img.rows; ++y)
        for (int x = 0; x < img.cols; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x * 255 / 640), uchar(y * 255 / 480), 128);
    cv::rectangle(img, cv::Rect(100, 100, 400, 250), cv::Scalar(20, 30, 40), cv::FILLED);
    const SegmentationResult r = segmentCells(img);
    QVERIFY2(r.cells.size() <= 10, qPrintable(QString::number(r.cells.size())));
    QVERIFY(!r.warnings.isEmpty());
}

void TestCellSegmenter::hugeImageIsDownscaledAndMappedBack()
{
    // 6000x4500 (27 MP): segmented at <= 400k pixels, boxes mapped back to full size.
    const int r = 150;
    const std::vector<Disc> discs = discGrid(12, 9, r);
    const cv::Mat img = drawField(6000, 4500, discs, false);
    const SegmentationResult res = segmentCells(img);
    QVERIFY(res.scale < 0.2);
    QCOMPARE(res.imageSize, img.size());
    QCOMPARE(int(res.cells.size()), 12 * 9);
    QVERIFY2(worstIou(discs, res) > 0.85, qPrintable(QString::number(worstIou(discs, res))));
    QVERIFY(std::abs(res.cellDiameter - 2.0 * r) < 0.1 * 2.0 * r);
}

void TestCellSegmenter::greyAndBgraInput()
{
    const std::vector<Disc> discs = discGrid(3, 2, 25);
    const cv::Mat bgr = drawField(250, 180, discs);
    cv::Mat grey, bgra;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
    QCOMPARE(int(segmentCells(grey).cells.size()), 6);
    QCOMPARE(int(segmentCells(bgra).cells.size()), 6);
}

void TestCellSegmenter::cropIsSquareWithBlackOutside()
{
    const Disc d{cv::Point(100, 90), 30};
    const cv::Mat img = drawField(200, 180, {d}, false);
    const SegmentationResult r = segmentCells(img);
    QCOMPARE(int(r.cells.size()), 1);
    const cv::Mat crop = cellCrop(img, r.cells.front());
    QCOMPARE(crop.type(), CV_8UC3);
    QCOMPARE(crop.rows, crop.cols);
    QVERIFY(std::abs(crop.cols - 61) <= 4);
    // Corners lie outside the disc: black, as in the NIH crops. Inside: the cell's colour.
    QCOMPARE(crop.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
    QCOMPARE(crop.at<cv::Vec3b>(crop.rows - 1, crop.cols - 1), cv::Vec3b(0, 0, 0));
    const cv::Vec3b inside = crop.at<cv::Vec3b>(crop.rows / 2, crop.cols / 6 + 2);
    QCOMPARE(inside, cv::Vec3b(160, 115, 170));
    const cv::Mat padded = cellCrop(img, r.cells.front(), 5);
    QCOMPARE(padded.cols, crop.cols + 10);
}

void TestCellSegmenter::cropAtImageCorner()
{
    SegmentedCell c;
    c.box = cv::Rect(0, 0, 20, 10);
    c.contour = {{0, 0}, {19, 0}, {19, 9}, {0, 9}};
    const cv::Mat img(50, 50, CV_8UC3, cv::Scalar(10, 20, 30));
    const cv::Mat crop = cellCrop(img, c);
    QCOMPARE(crop.size(), cv::Size(20, 20));
    // The square reaches above the image: that part is black, the cell keeps its pixels.
    QCOMPARE(crop.at<cv::Vec3b>(0, 10), cv::Vec3b(0, 0, 0));
    QCOMPARE(crop.at<cv::Vec3b>(10, 10), cv::Vec3b(10, 20, 30));
}

// A real (if simple) crop classifier: P(Parasitized) = the share of the crop's non-black
// pixels that are dark purple. Drawn "infected" discs carry a dark dot, healthy ones not.
std::optional<std::vector<float>> darkDotClassifier(const std::vector<cv::Mat>& crops, QString*)
{
    std::vector<float> out;
    for (const cv::Mat& c : crops) {
        int inside = 0, dark = 0;
        for (int y = 0; y < c.rows; ++y)
            for (int x = 0; x < c.cols; ++x) {
                const cv::Vec3b v = c.at<cv::Vec3b>(y, x);
                if (v == cv::Vec3b(0, 0, 0))
                    continue;
                ++inside;
                dark += v[1] < 60 ? 1 : 0;
            }
        out.push_back(inside ? std::min(1.0f, 20.0f * dark / inside) : 0.0f);
    }
    return out;
}

void TestCellSegmenter::pipelineBatchesAndThreshold()
{
    std::vector<Disc> discs = discGrid(5, 3, 30);
    cv::Mat img = drawField(480, 300, discs);
    // Discs 0, 4 and 7 get a parasite-like dark dot.
    for (int i : {0, 4, 7})
        cv::circle(img, discs[size_t(i)].centre + cv::Point(8, 0), 6, cv::Scalar(98, 17, 90),
                   cv::FILLED);
    int calls = 0;
    std::vector<int> progress;
    FieldOptions o;
    o.batchSize = 4;
    o.colourNormalization = ColourNormalization::None;
    o.classifier = [&calls](const std::vector<cv::Mat>& crops, QString* e) {
        ++calls;
        return darkDotClassifier(crops, e);
    };
    o.progress = [&progress](int done, int) { progress.push_back(done); };
    const FieldResult r = analyzeFieldImage(img, o);
    QVERIFY(r.ok());
    QVERIFY(r.classified);
    QCOMPARE(int(r.cells.size()), 15);
    QCOMPARE(calls, 4); // 15 cells in batches of 4
    QCOMPARE(progress, (std::vector<int>{0, 4, 8, 12, 15}));
    const FieldCounts c = r.counts(false);
    QCOMPARE(c.cells, 15);
    QCOMPARE(c.parasitized, 3);
    for (const FieldCell& fc : r.cells) {
        bool hasDot = false;
        for (int i : {0, 4, 7})
            hasDot = hasDot || fc.cell.box.contains(discs[size_t(i)].centre);
        QCOMPARE(fc.parasitized, hasDot);
        QVERIFY(fc.probability >= 0.0f && fc.probability <= 1.0f);
    }
    const Proportion p = c.parasitemia();
    QCOMPARE(p.p, 3.0 / 15.0);
    // A threshold above every probability flags nothing.
    o.threshold = 1.01;
    QCOMPARE(analyzeFieldImage(img, o).counts(false).parasitized, 0);
}

void TestCellSegmenter::pipelineCancelAndClassifierFailure()
{
    const cv::Mat img = drawField(480, 300, discGrid(5, 3, 30));
    FieldOptions o;
    o.batchSize = 4;
    int calls = 0;
    o.classifier = [&calls](const std::vector<cv::Mat>& crops, QString* e) {
        ++calls;
        return darkDotClassifier(crops, e);
    };
    o.cancelled = [&calls] { return calls >= 2; };
    FieldResult r = analyzeFieldImage(img, o);
    QVERIFY(r.cancelled);
    QVERIFY(!r.ok());
    QCOMPARE(calls, 2);
    o.cancelled = nullptr;
    o.classifier = [](const std::vector<cv::Mat>&,
                      QString* e) -> std::optional<std::vector<float>> {
        *e = QStringLiteral("model exploded");
        return std::nullopt;
    };
    r = analyzeFieldImage(img, o);
    QCOMPARE(r.error, QStringLiteral("model exploded"));
    QVERIFY(!r.classified);
    // Without a classifier: segmentation only, probabilities -1.
    o.classifier = nullptr;
    r = analyzeFieldImage(img, o);
    QVERIFY(r.ok());
    QVERIFY(!r.classified);
    QCOMPARE(r.cells.front().probability, -1.0f);
}

void TestCellSegmenter::colourTransfer()
{
    const std::vector<Disc> discs = discGrid(3, 2, 30);
    const cv::Mat img = drawField(300, 200, discs, false);
    const FieldResult r = analyzeFieldImage(img, FieldOptions{});
    QCOMPARE(int(r.cells.size()), 6);
    const ColourStats field = cellColourStats(img, r.cells);
    QVERIFY(field.valid());
    const ColourStats ref = nihCellColour();
    const cv::Mat crop = cellCrop(img, r.cells.front().cell);
    const cv::Mat shifted = transferColour(crop, field, ref, false);
    QCOMPARE(shifted.size(), crop.size());
    // Black outside the cell stays black; inside, the mean colour becomes the reference's.
    QCOMPARE(shifted.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
    cv::Mat inside;
    cv::inRange(crop, cv::Scalar::all(1), cv::Scalar::all(255), inside);
    cv::Mat lab;
    cv::cvtColor(shifted, lab, cv::COLOR_BGR2Lab);
    const cv::Scalar m = cv::mean(lab, inside);
    for (int c = 0; c < 3; ++c)
        QVERIFY2(
            std::abs(m[c] - ref.mean[c]) < 4.0,
            qPrintable(QStringLiteral("channel %1: %2 vs %3").arg(c).arg(m[c]).arg(ref.mean[c])));
    // Invalid statistics: the crop comes back unchanged.
    const cv::Mat same = transferColour(crop, ColourStats{}, ref);
    QCOMPARE(cv::norm(same, crop, cv::NORM_INF), 0.0);
}

void TestCellSegmenter::classifierCropsAreThePipelineCrops_data()
{
    QTest::addColumn<int>("mode");
    QTest::newRow("none") << int(ColourNormalization::None);
    QTest::newRow("shift") << int(ColourNormalization::Shift);
    QTest::newRow("reinhard") << int(ColourNormalization::Reinhard);
}

void TestCellSegmenter::classifierCropsAreThePipelineCrops()
{
    // Exported training crops must be exactly what the classifier receives at inference.
    QFETCH(int, mode);
    const std::vector<Disc> discs = discGrid(4, 3, 30);
    const cv::Mat img = drawField(400, 300, discs);
    std::vector<cv::Mat> seen;
    FieldOptions o;
    o.batchSize = 5;
    o.colourNormalization = ColourNormalization(mode);
    o.classifier = [&seen](const std::vector<cv::Mat>& crops, QString*) {
        for (const cv::Mat& c : crops)
            seen.push_back(c.clone());
        return std::optional<std::vector<float>>(std::vector<float>(crops.size(), 0.1f));
    };
    const FieldResult r = analyzeFieldImage(img, o);
    QVERIFY(r.ok());
    QCOMPARE(seen.size(), size_t(12));
    const std::vector<size_t> which{0, 5, 11};
    const std::vector<cv::Mat> crops = classifierCrops(img, r.cells, which, o);
    QCOMPARE(crops.size(), which.size());
    for (size_t k = 0; k < which.size(); ++k) {
        QCOMPARE(crops[k].size(), seen[which[k]].size());
        QCOMPARE(cv::norm(crops[k], seen[which[k]], cv::NORM_INF), 0.0);
    }
}

void TestCellSegmenter::fieldCropIdIsReadBackAsPatient()
{
    QCOMPARE(fieldCropId(QStringLiteral("/data/PA171710.JPG")), QStringLiteral("C171710"));
    QCOMPARE(fieldCropId(QStringLiteral("slide3_field12.png")), QStringLiteral("C12"));
    const QString noDigits = fieldCropId(QStringLiteral("field.png"));
    QVERIFY(noDigits.startsWith(QLatin1Char('C')) && noDigits.size() > 1);
    QCOMPARE(fieldCropId(QStringLiteral("field.png")), noDigits); // stable
    // The training split reads it back from the crop names the CLI writes, both classes alike.
    QCOMPARE(patientIdFromFileName(QStringLiteral("C171710_PA171710_cell012_ring.png")),
             QStringLiteral("C171710"));
    QCOMPARE(patientIdFromFileName(QStringLiteral("C171710_PA171710_cell013_rbc.png")),
             QStringLiteral("C171710"));
}

void TestCellSegmenter::overlayMarksParasitized()
{
    const cv::Mat img = drawField(300, 200, discGrid(3, 2, 30), false);
    const cv::Mat original = img.clone();
    FieldResult r = analyzeFieldImage(img, FieldOptions{});
    QCOMPARE(int(r.cells.size()), 6);
    r.cells[0].probability = 0.95f;
    r.cells[0].parasitized = true;
    const cv::Mat overlay = drawFieldOverlay(img, r, false);
    QCOMPARE(overlay.size(), img.size());
    // The parasitized cell's box is drawn in the colour of p = 0.95; the input is untouched.
    const cv::Rect b = r.cells[0].cell.box;
    const cv::Scalar red = probabilityColour(0.95f);
    const cv::Vec3b corner = overlay.at<cv::Vec3b>(b.y, b.x + b.width / 2);
    QVERIFY(std::abs(corner[2] - red[2]) < 30 && std::abs(corner[0] - red[0]) < 30);
    QCOMPARE(cv::norm(img, original, cv::NORM_INF), 0.0);
    QVERIFY(cv::norm(overlay, original, cv::NORM_INF) > 0.0);
}

void TestCellSegmenter::imlFieldsRecallPrecision()
{
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFileInfo::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields): real-field recall/precision not "
              "measured");
    const FieldAnnotationSet truth =
        loadFieldAnnotations(root + QStringLiteral("/annotations.json"));
    QVERIFY2(truth.ok(), qPrintable(truth.error));
    QCOMPARE(truth.byName.size(), 188);
    // All 188 fields (~10-20 s): the goals are on the whole set. The odd-indexed
    // fields were not used to choose minEdgeVisible / boxMargin (docs/BENCHMARKS.md).
    const QStringList files = fieldImagesInFolder(root + QStringLiteral("/images"));
    QCOMPARE(files.size(), 188);
    FieldEvaluation all, odd;
    for (int i = 0; i < files.size(); ++i) {
        const FieldResult r = analyzeField(files.at(i), FieldOptions{});
        QVERIFY2(r.ok(), qPrintable(r.error));
        const FieldAnnotation* fa = truth.find(files.at(i));
        QVERIFY(fa);
        const FieldEvaluation e = evaluateField(r.boxes(false), {}, *fa, r.imageSize);
        all += e;
        if (i % 2)
            odd += e;
    }
    qInfo("IML, 188 fields: recall %.3f (%d/%d), precision %.3f (%d/%d); odd-indexed (held "
          "out) recall %.3f, precision %.3f",
          all.recall(), all.matched, all.truthCells, all.precision(), all.matched, all.detections,
          odd.recall(), odd.precision());
    // The goals, at IoU >= 0.5, all cells (edge cells included).
    QVERIFY2(all.recall() >= 0.90, qPrintable(QString::number(all.recall())));
    QVERIFY2(all.precision() >= 0.90, qPrintable(QString::number(all.precision())));
}

void TestCellSegmenter::unsplitClumpIsKeptWithCellEstimate()
{
    // 12 single discs, one blob of four cells' area without necks (the watershed cannot split
    // it), and a thin bar (a fibre, as long as the blob): the blob comes back as an unsplit
    // clump of ~4 cells, the bar does not, and neither is a cell.
    const int r = 30;
    std::vector<Disc> discs = discGrid(4, 3, r);
    discs.push_back({cv::Point(470, 200), 2 * r});
    cv::Mat img = drawField(580, 420, discs);
    cv::rectangle(img, cv::Rect(380, 340, 150, 8), cellColour(), cv::FILLED);
    const SegmentationResult res = segmentCells(img);
    QCOMPARE(int(res.cells.size()), 12);
    QCOMPARE(int(res.unsplit.size()), 1);
    const UnsplitRegion& u = res.unsplit.front();
    QCOMPARE(u.estimatedCells, 4);
    QCOMPARE(res.unsplitCellsEstimate(), 4);
    QVERIFY(!u.touchesEdge);
    QVERIFY2(boxIou(u.box, discs.back().box()) > 0.85,
             qPrintable(QString::number(boxIou(u.box, discs.back().box()))));
    QVERIFY(u.contour.size() > 8);
    QVERIFY(std::abs(u.area - M_PI * 60 * 60) < 0.1 * M_PI * 60 * 60);

    // Through the pipeline: counted apart from the cells, edge clumps follow excludeEdge.
    FieldResult fr = analyzeFieldImage(img, FieldOptions{});
    QCOMPARE(int(fr.unsplit.size()), 1);
    FieldCounts c = fr.counts(true);
    QCOMPARE(c.cells, 12);
    QCOMPARE(c.unsplitRegions, 1);
    QCOMPARE(c.unsplitCellsEstimate, 4);
    fr.unsplit.front().touchesEdge = true;
    QCOMPARE(fr.counts(true).unsplitRegions, 0);
    QCOMPARE(fr.counts(false).unsplitCellsEstimate, 4);
    FieldCounts sum = fr.counts(false);
    sum += fr.counts(false);
    QCOMPARE(sum.unsplitRegions, 2);
    QCOMPARE(sum.unsplitCellsEstimate, 8);

    // Switched off, nothing is kept (and the cells are the same).
    SegmentationParams off;
    off.unsplitMinDepth = 0;
    const SegmentationResult none = segmentCells(img, off);
    QCOMPARE(int(none.cells.size()), 12);
    QVERIFY(none.unsplit.empty());
}

// A crowded field: 102 cells found, ~95 more in 25 clumps of touching cells (checked by eye).
#define CROWDED_FIELD "PA171747.JPG"
void TestCellSegmenter::crowdedImlFieldShowsUnsplitClumps()
{
    // A crowded real field, where many cells touch: the annotated cells no detection matches
    // lie mostly inside the unsplit clumps, and the clumps' estimate is of the order of the
    // annotated cells they hold.
    const QString root = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");
    if (!QFileInfo::exists(root + QStringLiteral("/annotations.json")))
        QSKIP("shared data missing (../shared/data/iml-fields)");
    const FieldAnnotationSet truth =
        loadFieldAnnotations(root + QStringLiteral("/annotations.json"));
    QVERIFY2(truth.ok(), qPrintable(truth.error));
    const QString file = root + QStringLiteral("/images/") + QStringLiteral(CROWDED_FIELD);
    const FieldResult r = analyzeField(file, FieldOptions{});
    QVERIFY2(r.ok(), qPrintable(r.error));
    const FieldAnnotation* fa = truth.find(file);
    QVERIFY(fa);
    std::vector<cv::Rect> truthBoxes;
    for (const AnnotatedObject& o : fa->objects)
        if (!o.difficult)
            truthBoxes.push_back(o.box);
    const std::vector<int> match = matchBoxes(r.boxes(false), truthBoxes, 0.5);
    std::vector<bool> matched(truthBoxes.size(), false);
    for (int m : match)
        if (m >= 0)
            matched[size_t(m)] = true;
    int missed = 0, missedInClump = 0, inClumps = 0;
    for (size_t i = 0; i < truthBoxes.size(); ++i) {
        const cv::Point2f centre(truthBoxes[i].x + truthBoxes[i].width / 2.0f,
                                 truthBoxes[i].y + truthBoxes[i].height / 2.0f);
        bool inside = false;
        for (const UnsplitRegion& u : r.unsplit)
            inside = inside || cv::pointPolygonTest(u.contour, centre, false) >= 0;
        inClumps += inside ? 1 : 0;
        if (!matched[i]) {
            ++missed;
            missedInClump += inside ? 1 : 0;
        }
    }
    const FieldCounts c = r.counts(false);
    qInfo("%s: %d annotated, %d cells found, %d missed (%d of them in %d clumps); clumps hold "
          "%d annotated cells, estimate ~%d",
          CROWDED_FIELD, int(truthBoxes.size()), c.cells, missed, missedInClump, c.unsplitRegions,
          inClumps, c.unsplitCellsEstimate);
    QVERIFY2(c.unsplitRegions >= 5, qPrintable(QString::number(c.unsplitRegions)));
    // Most of what the cell count misses is shown as clumps.
    QVERIFY2(missedInClump >= missed / 2, qPrintable(QString::number(missedInClump)));
    // The annotators boxed only some of the cells inside clumps (131 boxes on a field showing
    // ~200 cells), so they bound the estimate from below only: every box inside is a cell.
    QVERIFY2(c.unsplitCellsEstimate >= inClumps,
             qPrintable(QString::number(c.unsplitCellsEstimate)));
    // Found cells and the clumps' estimate account for every annotated cell and more; without
    // the clumps, a quarter of the annotated cells would be unaccounted for.
    QVERIFY(c.cells + c.unsplitCellsEstimate >= int(truthBoxes.size()));
    QVERIFY(c.cells < int(0.8 * truthBoxes.size()));
    if (qEnvironmentVariableIsSet("MALARIALENS_GRAB_DIR")) {
        const DecodedImage d = decodeImage(file);
        cv::imwrite(
            (qEnvironmentVariable("MALARIALENS_GRAB_DIR") + QStringLiteral("/crowded-overlay.png"))
                .toStdString(),
            drawFieldOverlay(d.bgr, r, false));
    }
}

void TestCellSegmenter::stainedClumpAroundParasiteIsSplit_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QRect>("parasite");
    // Two annotated parasites inside clumps of touching cells (docs/MODEL.md): the default
    // split leaves each merged with its neighbours (best IoU 0.06 and 0.03).
    QTest::newRow("trophozoite") << QStringLiteral("PA172004.JPG") << QRect(747, 401, 80, 111);
    QTest::newRow("gametocyte") << QStringLiteral("PA172022.JPG") << QRect(683, 418, 99, 86);
}

void TestCellSegmenter::stainedClumpAroundParasiteIsSplit()
{
    // The finer split of stained clumps finds the infected cell as a cell of its own; without
    // it (stainedResplitAbove 0) the same field does not.
    QFETCH(QString, field);
    QFETCH(QRect, parasite);
    const QString file = imlField(field);
    if (file.isEmpty())
        QSKIP("shared data missing (../shared/data/iml-fields)");
    const double stained = bestIou(analyseWith(file, SegmentationParams{}), parasite);
    SegmentationParams off;
    off.stainedResplitAbove = 0.0;
    const double plain = bestIou(analyseWith(file, off), parasite);
    QVERIFY2(stained >= 0.5, qPrintable(QString::number(stained)));
    QVERIFY2(plain < 0.5, qPrintable(QString::number(plain)));
}

void TestCellSegmenter::darkInfectedCellIsCarvedFromAClump_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QRect>("parasite");
    // Annotated parasites whose cell stains darker than the healthy cells it overlaps, in
    // clumps without a neck: without the carving each is inside an unsplit clump (best IoU
    // 0 and 0.02 on 2026-12-02).
    QTest::newRow("gametocyte") << QStringLiteral("PA171971.JPG") << QRect(591, 389, 98, 87);
    QTest::newRow("ring") << QStringLiteral("PA171985.JPG") << QRect(565, 439, 86, 94);
}

void TestCellSegmenter::darkInfectedCellIsCarvedFromAClump()
{
    // The dark region of the clump becomes a cell of its own, and what is left of the clump
    // stays a clump; with darkCellContrast 0 (no carving) the same field does not find it.
    QFETCH(QString, field);
    QFETCH(QRect, parasite);
    const QString file = imlField(field);
    if (file.isEmpty())
        QSKIP("shared data missing (../shared/data/iml-fields)");
    const FieldResult carved = analyseWith(file, SegmentationParams{});
    SegmentationParams off;
    off.darkCellContrast = 0.0;
    const FieldResult plain = analyseWith(file, off);
    QVERIFY2(bestIou(carved, parasite) >= 0.5,
             qPrintable(QString::number(bestIou(carved, parasite))));
    QVERIFY2(bestIou(plain, parasite) < 0.5, qPrintable(QString::number(bestIou(plain, parasite))));
    // Carving adds the infected cell, not a spray of pieces: at most a few cells more over
    // the whole field (one per clump with a dark cell in it).
    const int added = carved.counts(false).cells - plain.counts(false).cells;
    QVERIFY2(added >= 1 && added <= 3, qPrintable(QString::number(added)));
}

void TestCellSegmenter::carvingReachesNeckedAndPaleCells_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QRect>("parasite");
    QTest::addColumn<QString>("without");
    // Annotated parasites in clumps that the carving of the dark class with an opening of a
    // fifth of a cell missed (best IoU 0.00-0.12 on 2026-12-02). Each is found with the
    // defaults and not with the one extension named in `without` turned off.
    // Still joined to a dark neighbour by a thick neck after the fifth-of-a-cell opening:
    QTest::newRow("gametocyte, wider opening")
        << QStringLiteral("PA171907.JPG") << QRect(804, 594, 117, 116) << QStringLiteral("wider");
    QTest::newRow("trophozoite, wider opening")
        << QStringLiteral("PA171922.JPG") << QRect(255, 822, 113, 85) << QStringLiteral("wider");
    // Deep-staining fields, where the gametocyte is the paler cell of its clump:
    QTest::newRow("gametocyte, light class")
        << QStringLiteral("PA171867.JPG") << QRect(587, 609, 96, 94) << QStringLiteral("light");
    QTest::newRow("gametocyte 2, light class")
        << QStringLiteral("PA171853.JPG") << QRect(704, 308, 89, 109) << QStringLiteral("light");
}

void TestCellSegmenter::carvingReachesNeckedAndPaleCells()
{
    QFETCH(QString, field);
    QFETCH(QRect, parasite);
    QFETCH(QString, without);
    const QString file = imlField(field);
    if (file.isEmpty())
        QSKIP("shared data missing (../shared/data/iml-fields)");
    SegmentationParams off;
    if (without == QLatin1String("wider"))
        off.darkCellMaxOpening = 0.2;
    else
        off.lightCellContrast = 0.0;
    const FieldResult full = analyseWith(file, SegmentationParams{});
    const FieldResult reduced = analyseWith(file, off);
    QVERIFY2(bestIou(full, parasite) >= 0.5, qPrintable(QString::number(bestIou(full, parasite))));
    QVERIFY2(bestIou(reduced, parasite) < 0.5,
             qPrintable(QString::number(bestIou(reduced, parasite))));
    // The extension adds the infected cell, not a spray of pieces, and takes it out of a clump.
    const int added = full.counts(false).cells - reduced.counts(false).cells;
    QVERIFY2(added >= 1 && added <= 3, qPrintable(QString::number(added)));
    const cv::Point2f centre(parasite.x() + parasite.width() / 2.0f,
                             parasite.y() + parasite.height() / 2.0f);
    QVERIFY(
        std::any_of(reduced.unsplit.begin(), reduced.unsplit.end(), [&](const UnsplitRegion& u) {
            return cv::pointPolygonTest(u.contour, centre, false) >= 0;
        }));
}

QTEST_GUILESS_MAIN(TestCellSegmenter)
#include "tst_cellsegmenter.moc"
