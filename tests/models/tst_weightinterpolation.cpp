// interpolateWeights(): every parameter and BatchNorm statistic is the asked mix of the two
// models', the mixed model classifies like its ends at shares 1 and 0, and mismatched
// models are refused with a reason.
#include "classifier_p.h"
#include "weightinterpolation.h"

#include <QTest>

#include <opencv2/core.hpp>

#include <torch/torch.h>

using namespace ml;

class TestWeightInterpolation : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void everyTensorIsTheAskedMix();
    void theEndsClassifyLikeTheirModels();
    void refusesMismatchedModels();
};

namespace {

// Two se networks with different weights and different BatchNorm running statistics.
std::pair<Classifier, Classifier> twoModels()
{
    Classifier a = Classifier::createUntrained(Architecture::Se, 1);
    Classifier b = Classifier::createUntrained(Architecture::Se, 2);
    {
        torch::NoGradGuard noGrad;
        for (auto& item : b.loadedModel()->net->named_buffers(true))
            if (QString::fromStdString(item.key()).endsWith(QLatin1String("running_mean")))
                item.value().fill_(0.25);
    }
    // Reloaded, so that its inference copy is built from the changed statistics.
    Classifier reloaded;
    if (!reloaded.loadData(b.serialize(), QStringLiteral("b")))
        qFatal("%s", qPrintable(reloaded.errorString()));
    return {a, reloaded};
}

std::vector<cv::Mat> someCells()
{
    std::vector<cv::Mat> cells;
    cv::RNG rng(7);
    for (int i = 0; i < 6; ++i) {
        cv::Mat m(64, 64, CV_32FC3); // what preprocessImage() gives the network
        rng.fill(m, cv::RNG::UNIFORM, 0.0, 1.0);
        cells.push_back(m);
    }
    return cells;
}

} // namespace

void TestWeightInterpolation::everyTensorIsTheAskedMix()
{
    const auto [a, b] = twoModels();
    QString error;
    const Classifier m = interpolateWeights(a, b, 0.25, &error);
    QVERIFY2(m.isLoaded(), qPrintable(error));
    const auto& net = *m.loadedModel()->net;
    const auto pa = a.loadedModel()->net->named_parameters(true);
    const auto pb = b.loadedModel()->net->named_parameters(true);
    int differing = 0;
    for (const auto& item : net.named_parameters(true)) {
        const torch::Tensor want = pa[item.key()] * 0.25 + pb[item.key()] * 0.75;
        QVERIFY2(torch::allclose(item.value(), want, 1e-6, 1e-7), item.key().c_str());
        differing += !torch::equal(pa[item.key()], pb[item.key()]);
    }
    QVERIFY(differing > 0); // the two ends really differ
    const auto ba = a.loadedModel()->net->named_buffers(true);
    const auto bb = b.loadedModel()->net->named_buffers(true);
    int means = 0;
    for (const auto& item : net.named_buffers(true)) {
        if (!item.value().is_floating_point()) {
            QVERIFY(torch::equal(item.value(), bb[item.key()])); // a counter: the adapted one's
            continue;
        }
        QVERIFY2(torch::allclose(item.value(), ba[item.key()] * 0.25 + bb[item.key()] * 0.75),
                 item.key().c_str());
        means += QString::fromStdString(item.key()).endsWith(QLatin1String("running_mean"));
    }
    QVERIFY(means > 0);
    QCOMPARE(m.card(), b.card());
}

void TestWeightInterpolation::theEndsClassifyLikeTheirModels()
{
    const auto [a, b] = twoModels();
    const std::vector<cv::Mat> cells = someCells();
    QString error;
    const auto pa = a.predict(cells, &error);
    QVERIFY2(pa, qPrintable(error));
    const auto pb = b.predict(cells, &error);
    QVERIFY2(pb, qPrintable(error));
    const auto p1 = interpolateWeights(a, b, 1.0).predict(cells, &error);
    QVERIFY2(p1, qPrintable(error));
    const auto p0 = interpolateWeights(a, b, 0.0).predict(cells, &error);
    QVERIFY2(p0, qPrintable(error));
    const auto pHalf = interpolateWeights(a, b, 0.5).predict(cells, &error);
    QVERIFY2(pHalf, qPrintable(error));
    bool halfDiffers = false;
    for (size_t i = 0; i < cells.size(); ++i) {
        QVERIFY(std::abs((*p1)[i] - (*pa)[i]) < 1e-5f);
        QVERIFY(std::abs((*p0)[i] - (*pb)[i]) < 1e-5f);
        halfDiffers |=
            std::abs((*pHalf)[i] - (*pa)[i]) > 1e-4f && std::abs((*pHalf)[i] - (*pb)[i]) > 1e-4f;
    }
    QVERIFY(halfDiffers);
}

void TestWeightInterpolation::refusesMismatchedModels()
{
    const Classifier se = Classifier::createUntrained(Architecture::Se, 1);
    const Classifier base = Classifier::createUntrained(Architecture::Base, 1);
    QString error;
    QVERIFY(!interpolateWeights(se, base, 0.5, &error).isLoaded());
    QVERIFY2(error.contains(QLatin1String("architectures differ")), qPrintable(error));
    error.clear();
    QVERIFY(!interpolateWeights(se, Classifier(), 0.5, &error).isLoaded());
    QVERIFY2(error.contains(QLatin1String("native")), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestWeightInterpolation)
#include "tst_weightinterpolation.moc"
