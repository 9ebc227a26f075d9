// BatchNorm statistics recomputed as a plain average over clean batches (precise BN).
#include "batchnormstatistics.h"
#include "networks.h"

#include <QTest>

#include <torch/torch.h>

using namespace ml;

class TestBatchNormStatistics : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void averagesOverEveryBatch();
    void networkWithoutBatchNormIsLeftAlone();
};

void TestBatchNormStatistics::averagesOverEveryBatch()
{
    torch::manual_seed(7);
    CellNet net = makeNetwork(Architecture::Se);
    auto* se = dynamic_cast<SeNetImpl*>(net.get());
    QVERIFY(se);
    // Three batches with very different levels: an exponential average (momentum 0.1) would
    // be dominated by the last; the plain average weighs them equally.
    std::vector<torch::Tensor> batches;
    for (float level : {-1.0f, 0.5f, 2.0f})
        batches.push_back(torch::randn({8, 3, 64, 64}) * 0.3 + level);
    torch::Tensor expectedMean = torch::zeros({32});
    torch::Tensor expectedVar = torch::zeros({32});
    {
        torch::NoGradGuard noGrad;
        for (const auto& b : batches) {
            const torch::Tensor y = se->conv1(b);
            expectedMean += y.mean({0, 2, 3}) / 3.0;
            // libtorch keeps the unbiased variance of each batch.
            expectedVar += y.transpose(0, 1).reshape({32, -1}).var(1, /*unbiased=*/true) / 3.0;
        }
    }
    net->eval();
    const int layers = recomputeBatchNormStatistics(
        *net, [&](int i) { return batches[size_t(i)]; }, 3);
    QCOMPARE(layers, 4);
    QVERIFY(net->is_training());
    QVERIFY(torch::allclose(se->bn1->running_mean, expectedMean, 1e-4, 1e-5));
    QVERIFY(torch::allclose(se->bn1->running_var, expectedVar, 1e-3, 1e-5));
    QCOMPARE(se->bn1->num_batches_tracked.item<int64_t>(), int64_t(3));
    // The training momentum is back for the next epoch.
    QVERIFY(se->bn1->options.momentum().has_value());
    QCOMPARE(*se->bn1->options.momentum(), 0.1);
    QVERIFY(se->bn4->options.momentum().has_value());
}

void TestBatchNormStatistics::networkWithoutBatchNormIsLeftAlone()
{
    CellNet net = makeNetwork(Architecture::Gap);
    int calls = 0;
    const int layers = recomputeBatchNormStatistics(
        *net,
        [&](int) {
            ++calls;
            return torch::zeros({1, 3, 64, 64});
        },
        5);
    QCOMPARE(layers, 0);
    QCOMPARE(calls, 0);
}

QTEST_GUILESS_MAIN(TestBatchNormStatistics)
#include "tst_batchnormstatistics.moc"
