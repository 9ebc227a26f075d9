// The study's architectures: exact trainable parameter counts and output shapes.
#include "architecture.h"
#include "networks.h"

#include <QTest>

using namespace ml;

class TestNetworks : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parameterCounts_data();
    void parameterCounts();
    void outputShape_data();
    void outputShape();
    void seHasBatchNormBuffers();
    void architectureNames();
    void copyStateMakesIdenticalOutputs();
};

void TestNetworks::parameterCounts_data()
{
    QTest::addColumn<int>("arch");
    QTest::addColumn<qint64>("expected");
    QTest::newRow("base") << int(Architecture::Base) << qint64(646338);
    QTest::newRow("gap") << int(Architecture::Gap) << qint64(110018);
    QTest::newRow("se") << int(Architecture::Se) << qint64(270674);
}

void TestNetworks::parameterCounts()
{
    QFETCH(int, arch);
    QFETCH(qint64, expected);
    QCOMPARE(trainableParameterCount(Architecture(arch)), expected);
}

void TestNetworks::outputShape_data()
{
    QTest::addColumn<int>("arch");
    QTest::addColumn<int>("batch");
    for (int b : {1, 5}) {
        QTest::addRow("base-%d", b) << int(Architecture::Base) << b;
        QTest::addRow("gap-%d", b) << int(Architecture::Gap) << b;
        QTest::addRow("se-%d", b) << int(Architecture::Se) << b;
    }
}

void TestNetworks::outputShape()
{
    QFETCH(int, arch);
    QFETCH(int, batch);
    CellNet net = makeNetwork(Architecture(arch));
    QVERIFY(net);
    // Training mode too: BatchNorm must accept a batch of one spatially.
    for (bool training : {false, true}) {
        net->train(training);
        torch::NoGradGuard noGrad;
        const torch::Tensor out = net->forward(torch::rand({batch, 3, 64, 64}));
        QCOMPARE(out.dim(), int64_t(2));
        QCOMPARE(out.size(0), int64_t(batch));
        QCOMPARE(out.size(1), int64_t(2));
        QVERIFY(torch::isfinite(out).all().item<bool>());
    }
    // base flattens 12x12x64: a 65x65 input no longer fits its dense layer.
    if (Architecture(arch) == Architecture::Base) {
        bool threw = false;
        try {
            net->forward(torch::rand({1, 3, 70, 70}));
        } catch (const c10::Error&) {
            threw = true;
        }
        QVERIFY(threw);
    }
}

void TestNetworks::seHasBatchNormBuffers()
{
    CellNet net = makeNetwork(Architecture::Se);
    qint64 buffers = 0;
    for (const auto& b : net->buffers(true)) {
        if (b.is_floating_point())
            buffers += b.numel();
    }
    // running mean + var of 32 + 64 + 128 + 128 channels: not trainable, not counted above.
    QCOMPARE(buffers, qint64(2 * (32 + 64 + 128 + 128)));
}

void TestNetworks::architectureNames()
{
    QCOMPARE(parseArchitecture(QStringLiteral("SE")).value(), Architecture::Se);
    QCOMPARE(parseArchitecture(QStringLiteral("gap")).value(), Architecture::Gap);
    QCOMPARE(parseArchitecture(QStringLiteral("base")).value(), Architecture::Base);
    QVERIFY(!parseArchitecture(QStringLiteral("resnet")).has_value());
    QCOMPARE(architectureName(Architecture::Se), QStringLiteral("se"));
}

void TestNetworks::copyStateMakesIdenticalOutputs()
{
    torch::manual_seed(1);
    CellNet a = makeNetwork(Architecture::Se);
    torch::manual_seed(2);
    CellNet b = makeNetwork(Architecture::Se);
    a->eval();
    b->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({3, 3, 64, 64});
    QVERIFY(!torch::allclose(a->forward(x), b->forward(x)));
    copyState(*a, *b);
    QVERIFY(torch::allclose(a->forward(x), b->forward(x)));
}

QTEST_GUILESS_MAIN(TestNetworks)
#include "tst_networks.moc"
