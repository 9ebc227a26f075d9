// Pale cells (core/fields/palecells): a detection's colour against its field, the rule a lab's
// card carries, and the field pipeline calling pale cells when a lab has the rule. Real IML
// fields of ../shared/data: large pale P. vivax gametocytes that a calibrated model (proxy
// seed 42) scored under 0.05 on the held-out fields (docs/MODEL.md, "Pale cells").

#include "fieldanalysis.h"
#include "fieldannotations.h"
#include "palecells.h"

#include <QDir>
#include <QTest>

#include <opencv2/imgproc.hpp>

using namespace ml;

namespace {

const QString kFields = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/iml-fields");

// The detection of `r` best matching the field's (single) annotated parasite, or -1.
int parasiteDetection(const FieldResult& r, const FieldAnnotation& truth)
{
    const std::vector<cv::Rect> boxes = r.boxes(false);
    for (const AnnotatedObject& o : truth.objects) {
        if (!o.infected)
            continue;
        int best = -1;
        double bestIou = 0.5;
        for (size_t i = 0; i < boxes.size(); ++i)
            if (boxIou(boxes[i], o.box) >= bestIou) {
                bestIou = boxIou(boxes[i], o.box);
                best = int(i);
            }
        return best;
    }
    return -1;
}

} // namespace

class TestPaleCells : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void onlyThePaleDiscIsPale();
    void badInputGivesNoTones();
    void paleGametocytesArePale();
    void ruleComesFromTheLabsCard();
    void labRuleCallsPaleCellsWhateverTheClassifierSays();

private:
    FieldAnnotationSet m_truth;
};

void TestPaleCells::initTestCase()
{
    if (!QDir(kFields).exists())
        QSKIP("../shared/data/iml-fields is missing");
    m_truth = loadFieldAnnotations(kFields + QStringLiteral("/annotations.json"));
    QVERIFY2(m_truth.ok(), qPrintable(m_truth.error));
}

void TestPaleCells::onlyThePaleDiscIsPale()
{
    // Nine mauve cells and one paler, greyer one: only that one is off the field's median.
    cv::Mat field(300, 300, CV_8UC3, cv::Scalar(195, 222, 200));
    std::vector<cv::Rect> boxes;
    for (int k = 0; k < 10; ++k) {
        const cv::Point centre(30 + (k % 5) * 60, 60 + (k / 5) * 150);
        const cv::Scalar colour = k == 7 ? cv::Scalar(205, 195, 210) : cv::Scalar(160, 115, 170);
        cv::circle(field, centre, 25, colour, cv::FILLED);
        boxes.emplace_back(centre.x - 25, centre.y - 25, 51, 51);
    }
    const std::vector<CellTone> tones = relativeCellTones(field, boxes);
    QCOMPARE(tones.size(), boxes.size());
    const PaleCellRule rule;
    for (size_t k = 0; k < tones.size(); ++k) {
        QCOMPARE(rule.isPale(tones[k]), k == 7);
        if (k != 7) {
            QCOMPARE(tones[k].lightness, 0.0);
            QCOMPARE(tones[k].redness, 0.0);
        }
    }
    QVERIFY(tones[7].lightness > 25 && tones[7].redness < -8);
}

void TestPaleCells::badInputGivesNoTones()
{
    QVERIFY(relativeCellTones(cv::Mat(), {cv::Rect(0, 0, 5, 5)}).empty());
    QVERIFY(
        relativeCellTones(cv::Mat(10, 10, CV_8UC1, cv::Scalar(9)), {cv::Rect(0, 0, 5, 5)}).empty());
    // A box outside the image is measured as nothing: no tone, never pale.
    const cv::Mat field(40, 40, CV_8UC3, cv::Scalar(160, 115, 170));
    const std::vector<CellTone> tones =
        relativeCellTones(field, {cv::Rect(0, 0, 20, 20), cv::Rect(100, 100, 20, 20)});
    QCOMPARE(tones.size(), size_t(2));
    QCOMPARE(tones[1].lightness, 0.0);
    QVERIFY(!PaleCellRule().isPale(tones[1]));
}

void TestPaleCells::paleGametocytesArePale()
{
    // Three held-out fields with one annotated parasite each, a pale gametocyte: it is pale,
    // and at most two other detections of its field are.
    for (const char* name : {"PA171841.JPG", "PA171872.JPG", "PA171866.JPG"}) {
        const QString path = kFields + QStringLiteral("/images/") + QLatin1String(name);
        const FieldAnnotation* truth = m_truth.find(QLatin1String(name));
        QVERIFY(truth);
        QCOMPARE(truth->infectedCount(), 1);
        cv::Mat image;
        const FieldResult r = analyzeField(path, FieldOptions{}, &image);
        QVERIFY2(r.ok(), qPrintable(r.error));
        const int parasite = parasiteDetection(r, *truth);
        QVERIFY2(parasite >= 0, name);
        const std::vector<CellTone> tones = relativeCellTones(image, r.boxes(false));
        QCOMPARE(tones.size(), r.cells.size());
        const PaleCellRule rule;
        QVERIFY2(rule.isPale(tones[size_t(parasite)]), name);
        const auto pale = std::count_if(tones.begin(), tones.end(),
                                        [&](const CellTone& t) { return rule.isPale(t); });
        QVERIFY2(pale <= 3, qPrintable(QStringLiteral("%1: %2 pale").arg(name).arg(pale)));
    }
}

void TestPaleCells::ruleComesFromTheLabsCard()
{
    QVERIFY(!PaleCellRule::fromCard(QJsonObject{}));
    QVERIFY(!PaleCellRule::fromCard(
        QJsonObject{{QStringLiteral("lab_calibration"),
                     QJsonObject{{QStringLiteral("lab"), QStringLiteral("x")}}}}));
    PaleCellRule written;
    written.lightnessAbove = 30;
    written.rednessBelow = -12;
    const QJsonObject card{{QStringLiteral("lab_calibration"),
                            QJsonObject{{QStringLiteral("pale_cells"), written.toJson()}}}};
    const std::optional<PaleCellRule> read = PaleCellRule::fromCard(card);
    QVERIFY(read);
    QCOMPARE(read->lightnessAbove, 30.0);
    QCOMPARE(read->rednessBelow, -12.0);
}

void TestPaleCells::labRuleCallsPaleCellsWhateverTheClassifierSays()
{
    // A classifier that calls nothing: only the rule can call a cell. Without it no cell is
    // called; with it exactly the pale ones are, the gametocyte among them, and their
    // probabilities stay the classifier's.
    const QString path = kFields + QStringLiteral("/images/PA171841.JPG");
    FieldOptions o;
    o.classifier = [](const std::vector<cv::Mat>& crops, QString*) {
        return std::optional<std::vector<float>>(std::vector<float>(crops.size(), 0.01f));
    };
    const FieldResult without = analyzeField(path, o);
    QVERIFY2(without.ok(), qPrintable(without.error));
    QCOMPARE(without.counts(false).parasitized, 0);
    o.paleCells = PaleCellRule{};
    const FieldResult with = analyzeField(path, o);
    QVERIFY2(with.ok(), qPrintable(with.error));
    QCOMPARE(with.cells.size(), without.cells.size());
    int pale = 0;
    for (const FieldCell& c : with.cells) {
        QCOMPARE(c.parasitized, c.pale);
        QCOMPARE(c.probability, 0.01f);
        pale += c.pale;
    }
    QVERIFY(pale >= 1);
    QCOMPARE(with.counts(false).parasitized, pale);
    QCOMPARE(with.counts(false).paleCalled, pale);
    QCOMPARE(without.counts(false).paleCalled, 0);
    const int parasite = parasiteDetection(with, *m_truth.find(QStringLiteral("PA171841.JPG")));
    QVERIFY(parasite >= 0);
    QVERIFY(with.cells[size_t(parasite)].parasitized);
}

QTEST_GUILESS_MAIN(TestPaleCells)
#include "tst_palecells.moc"
