// Explanation heatmaps with known answers: a gap network wired by hand so that its output
// depends only on the red channel, shown a black cell with one red square: Grad-CAM and
// occlusion must both put their evidence on the square. Plus: the split forward pass equals
// each network's own forward(), and the embedded model on real cells looks at the cell,
// not the black background around it.
#include "augment.h"
#include "classifier.h"
#include "classifier_p.h"
#include "gradcam.h"
#include "heatmapimage.h"
#include "matconvert.h"
#include "networks.h"
#include "preprocess.h"
#include "reviewdata.h"
#include "torchthreads.h"

#include <QDir>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgproc.hpp>

using namespace ml;

namespace {

// gap network: conv1..conv3 pass the red channel through their channel 0 (centre tap 1,
// everything else 0), leaky/silu keep positive values, GAP -> fc1 keeps it -> fc2 gives
// logit(Parasitized) = 8 * mean(red feature) - 1, logit(Uninfected) = 0. Only red pixels
// can raise P(Parasitized).
Classifier redDetector()
{
    Classifier c = Classifier::createUntrained(Architecture::Gap, 1);
    auto* net = dynamic_cast<GapNetImpl*>(c.loadedModel()->net.get());
    Q_ASSERT(net);
    torch::NoGradGuard noGrad;
    for (auto& p : net->parameters())
        p.zero_();
    for (auto* conv : {&net->conv1, &net->conv2, &net->conv3})
        (*conv)->weight.index_put_({0, 0, 1, 1}, 1.0);
    net->fc1->weight.index_put_({0, 0}, 1.0);
    net->fc2->weight.index_put_({0, 0}, 8.0);
    net->fc2->bias.index_put_({0}, -1.0);
    return c;
}

// A black 64x64 cell with a red square at (x, y), size s.
cv::Mat redSquare(int x, int y, int s)
{
    cv::Mat m = cv::Mat::zeros(kModelInputSize, kModelInputSize, CV_32FC3);
    m(cv::Rect(x, y, s, s)).setTo(cv::Scalar(1, 0, 0));
    return m;
}

double massInside(const cv::Mat& heat, const cv::Rect& r)
{
    const double total = cv::sum(heat)[0];
    return total > 0 ? cv::sum(heat(r & cv::Rect(0, 0, heat.cols, heat.rows)))[0] / total : 0;
}

cv::Point peak(const cv::Mat& heat)
{
    cv::Point p;
    cv::minMaxLoc(heat, nullptr, nullptr, nullptr, &p);
    return p;
}

} // namespace

class TestGradCam : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void splitForwardMatchesNetwork_data();
    void splitForwardMatchesNetwork();
    void knownAnswer_data();
    void knownAnswer();
    void torchScriptIsExplainedByOcclusion();
    void colourNormalisedModelIsExplainedByGradCam();
    void targetWithoutEvidenceIsEmpty();
    void badInputIsAnError();
    void embeddedModelLooksAtTheCell();
    void parasiteEvidenceFadesWithTheProbability();

private:
    Classifier m_embedded;     ///< the embedded model on real cells, when both are there
    QString m_embeddedMissing; ///< why the tests on it skip, or empty
};

void TestGradCam::initTestCase()
{
    setTorchThreads(2);
    if (!Classifier::hasEmbeddedModel())
        m_embeddedMissing = QStringLiteral("this build has no embedded model");
    else if (reviewtest::nihCells().isEmpty())
        m_embeddedMissing = QStringLiteral(
            "shared data folder missing (MALARIALENS_SHARED_DATA/nih-cells): real images needed");
    else
        QVERIFY2(m_embedded.loadEmbedded(), qPrintable(m_embedded.errorString()));
}

void TestGradCam::splitForwardMatchesNetwork_data()
{
    QTest::addColumn<int>("arch");
    QTest::newRow("base") << int(Architecture::Base);
    QTest::newRow("gap") << int(Architecture::Gap);
    QTest::newRow("se") << int(Architecture::Se);
}

void TestGradCam::splitForwardMatchesNetwork()
{
    // Grad-CAM's copy of the forward pass must be the network's, or the heatmap would
    // explain another model: explainCell() checks its split pass against predict() and
    // fails when they differ, so a successful run for every architecture is the check.
    QFETCH(int, arch);
    const Classifier model = Classifier::createUntrained(Architecture(arch), 7);
    cv::Mat rgb(kModelInputSize, kModelInputSize, CV_32FC3);
    cv::randu(rgb, 0.f, 1.f);
    const auto p = model.predict({rgb});
    QVERIFY(p);
    for (int target : {0, 1}) {
        ExplainOptions o;
        o.method = ExplainMethod::GradCam;
        o.targetClass = target;
        const Explanation e = explainCell(model, rgb, o);
        QVERIFY2(e.error.isEmpty(), qPrintable(e.error));
        QCOMPARE(e.probability, p->front());
        QCOMPARE(e.method, ExplainMethod::GradCam);
        QCOMPARE(e.heatmap.rows, kModelInputSize);
        double lo = 0, hi = 0;
        cv::minMaxLoc(e.heatmap, &lo, &hi);
        QVERIFY(lo >= 0);
        QVERIFY(hi <= 1.0 + 1e-6);
    }
}

void TestGradCam::knownAnswer_data()
{
    QTest::addColumn<int>("method");
    QTest::addColumn<int>("x");
    QTest::addColumn<int>("y");
    QTest::newRow("grad-cam, top left") << int(ExplainMethod::GradCam) << 8 << 8;
    QTest::newRow("grad-cam, bottom right") << int(ExplainMethod::GradCam) << 40 << 36;
    QTest::newRow("occlusion, top left") << int(ExplainMethod::Occlusion) << 8 << 8;
    QTest::newRow("occlusion, bottom right") << int(ExplainMethod::Occlusion) << 40 << 36;
}

void TestGradCam::knownAnswer()
{
    QFETCH(int, method);
    QFETCH(int, x);
    QFETCH(int, y);
    const Classifier model = redDetector();
    constexpr int kSize = 16;
    const cv::Mat cell = redSquare(x, y, kSize);
    // The model responds to the square and to nothing else.
    const auto pBlack = model.predict({cv::Mat::zeros(kModelInputSize, kModelInputSize, CV_32FC3)});
    const auto pCell = model.predict({cell});
    QVERIFY(pBlack && pCell);
    QVERIFY(pCell->front() > pBlack->front() + 0.05f);

    ExplainOptions o;
    o.method = ExplainMethod(method);
    o.targetClass = 0; // why Parasitized
    const Explanation e = explainCell(model, cell, o);
    QVERIFY2(e.ok(), qPrintable(e.error));
    QCOMPARE(e.method, ExplainMethod(method));
    const cv::Rect square(x, y, kSize, kSize);
    // Grad-CAM works at 16x16 (a 4-pixel grid) and is upsampled bilinearly: allow one cell of
    // blur; occlusion patches are 12 pixels wide: a patch overlapping the square by one
    // pixel already lowers the score, so allow the patch size around it.
    const int margin = method == int(ExplainMethod::GradCam) ? 4 : 11;
    const cv::Rect around(x - margin, y - margin, kSize + 2 * margin, kSize + 2 * margin);
    const double inside = massInside(e.heatmap, around);
    QVERIFY2(inside > 0.97, qPrintable(QStringLiteral("mass near the square %1").arg(inside)));
    QVERIFY2(
        square.contains(peak(e.heatmap)),
        qPrintable(QStringLiteral("peak at %1,%2").arg(peak(e.heatmap).x).arg(peak(e.heatmap).y)));
    // The far corner region has no evidence at all.
    const cv::Rect far(x < 32 ? 48 : 0, y < 32 ? 48 : 0, 16, 16);
    QCOMPARE(cv::sum(e.heatmap(far))[0], 0.0);
}

void TestGradCam::torchScriptIsExplainedByOcclusion()
{
    // The same known answer as a TorchScript model (written by libtorch's own script
    // compiler, no Python needed): its layers are out of reach, so Auto must fall back to
    // occlusion, and occlusion must find the red square.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("red.pt"));
    {
        torch::jit::Module m("RedDetector");
        m.define(R"(
def forward(self, x):
    r = x[:, 0, :, :].mean(dim=[1, 2])
    logit = 64.0 * r - 1.0
    return torch.stack([logit, torch.zeros_like(logit)], dim=1)
)");
        m.save(path.toStdString());
    }
    Classifier model;
    QVERIFY2(model.load(path), qPrintable(model.errorString()));
    QCOMPARE(model.format(), QStringLiteral("torchscript"));
    const cv::Mat cell = redSquare(36, 12, 16);
    ExplainOptions o;
    o.targetClass = 0;
    const Explanation e = explainCell(model, cell, o);
    QVERIFY2(e.ok(), qPrintable(e.error));
    QCOMPARE(e.method, ExplainMethod::Occlusion);
    QCOMPARE(e.layer, QStringLiteral("input"));
    QVERIFY(massInside(e.heatmap, cv::Rect(36 - 11, 12 - 11, 16 + 22, 16 + 22)) > 0.97);
    QVERIFY(cv::Rect(36, 12, 16, 16).contains(peak(e.heatmap)));
    o.method = ExplainMethod::GradCam;
    const Explanation g = explainCell(model, cell, o);
    QVERIFY(!g.ok());
    QVERIFY2(g.error.contains(QStringLiteral("TorchScript")), qPrintable(g.error));
}

void TestGradCam::colourNormalisedModelIsExplainedByGradCam()
{
    // A model trained on colour-normalised cells (card input.normalization) sees normalised
    // pixels in predict(); Grad-CAM must run on the same input (its self-check against
    // predict() fails otherwise: the red square is scaled to the reference red 0.765).
    Classifier model = redDetector();
    QJsonObject card = model.card();
    QJsonObject input = card.value(QStringLiteral("input")).toObject();
    input.insert(QStringLiteral("normalization"), QStringLiteral("foreground-median"));
    card.insert(QStringLiteral("input"), input);
    model.setCard(card);
    const cv::Mat cell = redSquare(8, 40, 16);
    const auto raw = redDetector().predict({cell});
    const auto normalised = model.predict({cell});
    QVERIFY(raw && normalised);
    QVERIFY(std::abs(raw->front() - normalised->front()) > 0.01f); // the normalisation matters
    ExplainOptions o;
    o.method = ExplainMethod::GradCam;
    o.targetClass = 0;
    const Explanation e = explainCell(model, cell, o);
    QVERIFY2(e.ok(), qPrintable(e.error));
    QCOMPARE(e.probability, normalised->front());
    QVERIFY(cv::Rect(8, 40, 16, 16).contains(peak(e.heatmap)));
}

void TestGradCam::targetWithoutEvidenceIsEmpty()
{
    // Nothing in the image speaks for Uninfected (its logit is constant): Grad-CAM's
    // gradient is zero, so the map is all zero, not noise scaled up to look meaningful.
    const Classifier model = redDetector();
    ExplainOptions o;
    o.method = ExplainMethod::GradCam;
    o.targetClass = 1;
    const Explanation e = explainCell(model, redSquare(20, 20, 16), o);
    QVERIFY2(e.ok(), qPrintable(e.error));
    QCOMPARE(cv::sum(e.heatmap)[0], 0.0);
}

void TestGradCam::badInputIsAnError()
{
    const Classifier model = redDetector();
    QVERIFY(!explainCell(model, cv::Mat::zeros(32, 32, CV_32FC3)).ok());
    QVERIFY(!explainCell(Classifier(), redSquare(0, 0, 8)).ok());
    const Explanation missing = explainFile(model, QStringLiteral("/nonexistent/cell.png"));
    QVERIFY(!missing.ok());
    QVERIFY(missing.error.contains(QStringLiteral("/nonexistent/cell.png")));
    bool ok = true;
    explainMethodFromName(QStringLiteral("magic"), &ok);
    QVERIFY(!ok);
    QCOMPARE(explainMethodFromName(QStringLiteral("Grad-CAM"), &ok), ExplainMethod::GradCam);
    QVERIFY(ok);
}

void TestGradCam::embeddedModelLooksAtTheCell()
{
    if (!m_embeddedMissing.isEmpty())
        QSKIP(qPrintable(m_embeddedMissing));
    const Classifier& model = m_embedded;
    const QDir dir(reviewtest::nihCells() + QStringLiteral("/Parasitized"));
    const QStringList files = dir.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
    QVERIFY(files.size() >= 40);
    // The crops are a cell on a black background: the evidence must lie on the cell.
    int explained = 0;
    double insideSum = 0;
    for (int i = 0; i < 40; ++i) {
        const QString path = dir.filePath(files.at(i * (files.size() / 40)));
        const PreprocessedImage img = loadPreprocessed(path);
        QVERIFY2(img.ok(), qPrintable(img.error));
        ExplainOptions o;
        o.targetClass = 0;
        const Explanation e = explainCell(model, img.rgb, o);
        QVERIFY2(e.ok(), qPrintable(e.error));
        QCOMPARE(e.method, ExplainMethod::GradCam);
        QCOMPARE(e.layer, QStringLiteral("conv4"));
        if (e.probability < 0.5 || cv::sum(e.heatmap)[0] <= 0)
            continue;
        cv::Mat grey;
        cv::cvtColor(img.rgb, grey, cv::COLOR_RGB2GRAY);
        cv::Mat cellMask = grey > 0.04f;
        // Cell pixels, grown by Grad-CAM's 4-pixel grid (its map cannot be sharper).
        cv::dilate(cellMask, cellMask, cv::Mat::ones(9, 9, CV_8U));
        const double total = cv::sum(e.heatmap)[0];
        cv::Mat maskF;
        cellMask.convertTo(maskF, CV_32F, 1.0 / 255);
        const double inside = cv::sum(e.heatmap.mul(maskF))[0] / total;
        insideSum += inside;
        ++explained;
    }
    QVERIFY2(explained >= 20, qPrintable(QString::number(explained)));
    const double meanInside = insideSum / explained;
    qInfo("embedded model, %d parasitized cells: %.3f of the heatmap on the cell", explained,
          meanInside);
    QVERIFY2(meanInside > 0.9, qPrintable(QString::number(meanInside)));
}

void TestGradCam::parasiteEvidenceFadesWithTheProbability()
{
    // The labelling page draws the Parasitized class's heatmap at parasiteEvidenceOpacity().
    // Over real cells of the embedded model: on cells it gives under 2 % no pixel moves by
    // more than a few grey levels, although the normalised heatmap at the fixed 0.4 it used
    // before moves them by far more; on cells it calls parasitized the evidence shows.
    if (!m_embeddedMissing.isEmpty())
        QSKIP(qPrintable(m_embeddedMissing));
    const Classifier& model = m_embedded;
    QCOMPARE(parasiteEvidenceOpacity(std::nan("")), 0.0);
    QCOMPARE(parasiteEvidenceOpacity(-1.0), 0.0);
    QCOMPARE(parasiteEvidenceOpacity(2.0), 0.6);
    const auto largestChange = [](const QImage& a, const QImage& b) {
        int most = 0;
        for (int y = 0; y < a.height(); ++y)
            for (int x = 0; x < a.width(); ++x) {
                const QRgb p = a.pixel(x, y), q = b.pixel(x, y);
                most = std::max({most, std::abs(qRed(p) - qRed(q)), std::abs(qGreen(p) - qGreen(q)),
                                 std::abs(qBlue(p) - qBlue(q))});
            }
        return most;
    };
    int sure = 0, calledParasitized = 0;
    for (const QString& cls : {QStringLiteral("Uninfected"), QStringLiteral("Parasitized")}) {
        const QDir dir(reviewtest::nihCells() + QLatin1Char('/') + cls);
        const QStringList files = dir.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        QVERIFY(files.size() >= 30);
        for (int i = 0; i < 30; ++i) {
            const PreprocessedImage img = loadPreprocessed(dir.filePath(files.at(i * 7)));
            QVERIFY2(img.ok(), qPrintable(img.error));
            ExplainOptions o;
            o.targetClass = kParasitizedClass;
            const Explanation e = explainCell(model, img.rgb, o);
            if (!e.ok() || cv::sum(e.heatmap)[0] <= 0)
                continue; // no evidence at all: nothing is drawn either way
            const QImage seen = matToQImage(toBgr8(model.modelInput(img.rgb)));
            const int faded = largestChange(
                seen, heatmapOverlay(seen, e.heatmap, parasiteEvidenceOpacity(e.probability)));
            if (e.probability < 0.02) {
                ++sure;
                QVERIFY2(faded <= 8, qPrintable(QString::number(faded)));
                QVERIFY(largestChange(seen, heatmapOverlay(seen, e.heatmap, 0.4)) > 40);
            } else if (e.probability > 0.9) {
                ++calledParasitized;
                QVERIFY2(faded > 40, qPrintable(QString::number(faded)));
            }
        }
    }
    QVERIFY2(
        sure >= 10 && calledParasitized >= 10,
        qPrintable(
            QStringLiteral("%1 sure healthy, %2 parasitized").arg(sure).arg(calledParasitized)));
}

QTEST_GUILESS_MAIN(TestGradCam)
#include "tst_gradcam.moc"
