// Loading models: native round trip, TorchScript made by Debian's python3-torch, the
// embedded default model, and every kind of bad model file (clear error naming the file,
// previous model kept).
#include "classifier.h"
#include "modelcardsummary.h"
#include "networks.h"
#include "preprocess.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/core.hpp>

using namespace ml;

class TestClassifier : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void nativeRoundTrip_data();
    void nativeRoundTrip();
    void badFiles_data();
    void badFiles();
    void wrongShapeNative();
    void previousModelStaysActive();
    void predictRejectsWrongImages();
    void torchScriptFromPython();
    void torchScriptWrongInterface_data();
    void torchScriptWrongInterface();
    void embeddedModel();
    void embeddedModelOnRealCells();

private:
    QString write(const QString& name, const QByteArray& bytes);
    bool runPython(const QString& script, QString* output);
    std::vector<cv::Mat> sampleImages(int n) const;
    QTemporaryDir m_dir;
    QByteArray m_validNative;
    QString m_python;
};

QString TestClassifier::write(const QString& name, const QByteArray& bytes)
{
    const QString path = m_dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

std::vector<cv::Mat> TestClassifier::sampleImages(int n) const
{
    std::vector<cv::Mat> images;
    for (int i = 0; i < n; ++i) {
        cv::Mat m(64, 64, CV_32FC3);
        cv::randu(m, 0.0f, 1.0f);
        images.push_back(m);
    }
    return images;
}

bool TestClassifier::runPython(const QString& script, QString* output)
{
    // From a file: torch.jit.script() reads the source of the classes it compiles.
    const QString file = m_dir.filePath(QStringLiteral("make_model.py"));
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    f.write(script.toUtf8());
    f.close();
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.setWorkingDirectory(m_dir.path());
    p.start(m_python, {file});
    if (!p.waitForFinished(120000))
        return false;
    *output = QString::fromUtf8(p.readAll());
    return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

void TestClassifier::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const Classifier c = Classifier::createUntrained(Architecture::Se, 7);
    QString why;
    m_validNative = c.serialize(&why);
    QVERIFY2(!m_validNative.isEmpty(), qPrintable(why));
    // Debian's interpreter (the one python3-torch is installed for), not a user's pyenv.
    m_python = QFile::exists(QStringLiteral("/usr/bin/python3"))
                   ? QStringLiteral("/usr/bin/python3")
                   : QStandardPaths::findExecutable(QStringLiteral("python3"));
}

void TestClassifier::nativeRoundTrip_data()
{
    QTest::addColumn<int>("arch");
    QTest::newRow("base") << int(Architecture::Base);
    QTest::newRow("gap") << int(Architecture::Gap);
    QTest::newRow("se") << int(Architecture::Se);
}

void TestClassifier::nativeRoundTrip()
{
    QFETCH(int, arch);
    const Classifier original = Classifier::createUntrained(Architecture(arch), 3);
    const QString path = m_dir.filePath(QStringLiteral("roundtrip-%1.pt").arg(arch));
    QString why;
    QVERIFY2(original.save(path, &why), qPrintable(why));
    QVERIFY(QFile::exists(
        m_dir.filePath(QStringLiteral("roundtrip-%1.json").arg(arch)))); // card beside
    Classifier loaded;
    QVERIFY2(loaded.load(path), qPrintable(loaded.errorString()));
    QCOMPARE(loaded.architecture(), architectureName(Architecture(arch)));
    QCOMPARE(loaded.format(), QStringLiteral("native"));
    QCOMPARE(loaded.parameterCount(), trainableParameterCount(Architecture(arch)));
    QCOMPARE(loaded.weightsSha256().size(), 64);
    const auto images = sampleImages(4);
    const auto a = original.predict(images);
    const auto b = loaded.predict(images);
    QVERIFY(a && b);
    QCOMPARE(a->size(), size_t(4));
    for (size_t i = 0; i < a->size(); ++i) {
        QVERIFY(std::abs((*a)[i] - (*b)[i]) < 1e-5f);
        QVERIFY((*a)[i] >= 0.0f && (*a)[i] <= 1.0f);
    }
}

void TestClassifier::badFiles_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("reason"); // part of the message
    QTest::newRow("missing") << m_dir.filePath(QStringLiteral("missing.pt"))
                             << QStringLiteral("no such file");
    QTest::newRow("folder") << m_dir.path() << QStringLiteral("folder");
    QTest::newRow("empty") << write(QStringLiteral("empty.pt"), {}) << QStringLiteral("empty");
    QTest::newRow("text") << write(QStringLiteral("text.pt"), "this is not a model\n")
                          << QStringLiteral("not a model file");
    QTest::newRow("png-renamed") << write(QStringLiteral("image.pt"),
                                          QByteArray("\x89PNG\r\n\x1a\n", 8) + QByteArray(300, 'a'))
                                 << QStringLiteral("not a model file");
    QTest::newRow("truncated") << write(QStringLiteral("truncated.pt"),
                                        m_validNative.left(m_validNative.size() / 2))
                               << QStringLiteral("corrupt or truncated");
    QByteArray flipped = m_validNative;
    for (int i = flipped.size() - 200; i < flipped.size(); ++i)
        flipped[i] = char(~flipped[i]); // destroys the zip's central directory
    QTest::newRow("corrupt") << write(QStringLiteral("corrupt.pt"), flipped)
                             << QStringLiteral("corrupt");
}

void TestClassifier::badFiles()
{
    QFETCH(QString, path);
    QFETCH(QString, reason);
    Classifier c;
    QVERIFY(!c.load(path));
    QVERIFY(!c.isLoaded());
    QVERIFY2(c.errorString().startsWith(path), qPrintable(c.errorString()));
    QVERIFY2(c.errorString().contains(reason), qPrintable(c.errorString()));
}

void TestClassifier::wrongShapeNative()
{
    // A native archive that claims "se" but holds gap weights, and one with se weights of
    // the wrong shape.
    torch::serialize::OutputArchive root;
    root.write("malarialens_format", c10::IValue(std::string("malarialens-native-1")));
    root.write("malarialens_arch", c10::IValue(std::string("se")));
    torch::serialize::OutputArchive weights;
    makeNetwork(Architecture::Gap)->save(weights);
    root.write("model", weights);
    const QString path = m_dir.filePath(QStringLiteral("wrong-arch.pt"));
    root.save_to(path.toStdString());
    Classifier c;
    QVERIFY(!c.load(path));
    QVERIFY2(c.errorString().startsWith(path) &&
                 c.errorString().contains(QLatin1String("do not fit the se architecture")),
             qPrintable(c.errorString()));

    CellNet se = makeNetwork(Architecture::Se);
    {
        torch::NoGradGuard noGrad;
        auto params = se->named_parameters(true);
        params["fc3.weight"].set_data(torch::zeros({3, 64})); // 3 outputs instead of 2
        params["fc3.bias"].set_data(torch::zeros({3}));
    }
    torch::serialize::OutputArchive root2;
    root2.write("malarialens_format", c10::IValue(std::string("malarialens-native-1")));
    root2.write("malarialens_arch", c10::IValue(std::string("se")));
    torch::serialize::OutputArchive weights2;
    se->save(weights2);
    root2.write("model", weights2);
    const QString path2 = m_dir.filePath(QStringLiteral("wrong-shape.pt"));
    root2.save_to(path2.toStdString());
    QVERIFY(!c.load(path2));
    QVERIFY2(
        c.errorString().contains(QLatin1String("fc3.weight has shape [3, 64], expected [2, 64]")),
        qPrintable(c.errorString()));

    torch::serialize::OutputArchive root3;
    root3.write("malarialens_format", c10::IValue(std::string("malarialens-native-1")));
    root3.write("malarialens_arch", c10::IValue(std::string("resnet")));
    const QString path3 = m_dir.filePath(QStringLiteral("unknown-arch.pt"));
    root3.save_to(path3.toStdString());
    QVERIFY(!c.load(path3));
    QVERIFY2(c.errorString().contains(QLatin1String("unknown architecture 'resnet'")),
             qPrintable(c.errorString()));
}

void TestClassifier::previousModelStaysActive()
{
    Classifier c;
    const QString good = write(QStringLiteral("good.pt"), m_validNative);
    QVERIFY(c.load(good));
    const auto before = c.predict(sampleImages(2));
    QVERIFY(!c.load(write(QStringLiteral("junk.pt"), "junk")));
    QVERIFY(c.errorString().contains(QLatin1String("junk.pt")));
    QVERIFY(c.isLoaded());
    QCOMPARE(c.source(), good);
    const auto after = c.predict(sampleImages(2));
    QVERIFY(before && after);
    // A later successful load clears the error.
    QVERIFY(c.load(good));
    QVERIFY(c.errorString().isEmpty());
}

void TestClassifier::predictRejectsWrongImages()
{
    const Classifier c = Classifier::createUntrained(Architecture::Gap);
    QString why;
    QVERIFY(!c.predict({cv::Mat(32, 32, CV_32FC3)}, &why));
    QVERIFY(why.contains(QLatin1String("64x64")));
    QVERIFY(!Classifier().predict(sampleImages(1), &why));
    QCOMPARE(why, QStringLiteral("no model loaded"));
    const auto none = c.predict({});
    QVERIFY(none && none->empty());
}

void TestClassifier::torchScriptFromPython()
{
    QString out;
    if (m_python.isEmpty() || !runPython(QStringLiteral("import torch"), &out))
        QSKIP("python3-torch is not installed (Debian package python3-torch)");
    // A scripted model with the 64x64x3 -> 2 interface, and its own outputs for two inputs
    // so the C++ side must reproduce them.
    const QString script = QStringLiteral(R"(
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)
    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(x.mean((2, 3)))
m = Net().eval()
with torch.no_grad():
    m.bn.running_mean.uniform_(-0.1, 0.1)
s = torch.jit.script(m)
s.save('script.pt')
x = torch.stack([torch.full((3, 64, 64), 0.25), torch.full((3, 64, 64), 0.75)])
with torch.no_grad():
    p = torch.softmax(s(x), 1)[:, 0]
print('%.7f %.7f' % (p[0].item(), p[1].item()))
torch.jit.trace(m, torch.rand(1, 3, 64, 64)).save('traced.pt')
torch.save(m, 'pickle.pt')
)");
    QVERIFY2(runPython(script, &out), qPrintable(out));
    const QStringList expected =
        out.trimmed().split(QLatin1Char('\n')).last().split(QLatin1Char(' '));
    QCOMPARE(expected.size(), 2);
    std::vector<cv::Mat> images{cv::Mat(64, 64, CV_32FC3, cv::Scalar::all(0.25)),
                                cv::Mat(64, 64, CV_32FC3, cv::Scalar::all(0.75))};
    for (const QString& name : {QStringLiteral("script.pt"), QStringLiteral("traced.pt")}) {
        Classifier c;
        QVERIFY2(c.load(m_dir.filePath(name)), qPrintable(c.errorString()));
        QCOMPARE(c.format(), QStringLiteral("torchscript"));
        QCOMPARE(c.architecture(), QStringLiteral("torchscript"));
        QCOMPARE(c.parameterCount(), qint64(3 * 8 * 9 + 8 + 8 + 8 + 8 * 2 + 2));
        const auto p = c.predict(images);
        QVERIFY(p);
        QVERIFY2(std::abs((*p)[0] - expected[0].toFloat()) < 1e-5f,
                 qPrintable(QString::number((*p)[0])));
        QVERIFY2(std::abs((*p)[1] - expected[1].toFloat()) < 1e-5f,
                 qPrintable(QString::number((*p)[1])));
    }
    // A plain torch.save() pickle is refused with a hint.
    Classifier c;
    QVERIFY(!c.load(m_dir.filePath(QStringLiteral("pickle.pt"))));
    QVERIFY2(c.errorString().contains(QLatin1String("pickle.pt")), qPrintable(c.errorString()));
}

void TestClassifier::torchScriptWrongInterface_data()
{
    QTest::addColumn<QString>("module");
    QTest::addColumn<QString>("reason");
    QTest::newRow("3-outputs")
        << QStringLiteral("nn.Sequential(nn.Flatten(), nn.LazyLinear(3)) if False else "
                          "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3))")
        << QStringLiteral("expected [2, 2]");
    QTest::newRow("32x32-input") << QStringLiteral(
                                        "nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))")
                                 << QStringLiteral("does not accept a 64x64x3 input");
    QTest::newRow("1-channel")
        << QStringLiteral(
               "nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())")
        << QStringLiteral("does not accept a 64x64x3 input");
    // Broken weights: every output NaN (or infinite). Today's worst silent failure (every cell
    // called Uninfected, exit 0) if it were accepted.
    const QString head =
        QStringLiteral("(lambda m: (m[2].weight.data.fill_(float('%1')), m)[1])(nn.Sequential("
                       "nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2)))");
    QTest::newRow("nan-weights") << head.arg(QStringLiteral("nan"))
                                 << QStringLiteral("NaN or infinite");
    QTest::newRow("inf-weights") << head.arg(QStringLiteral("inf"))
                                 << QStringLiteral("NaN or infinite");
}

void TestClassifier::torchScriptWrongInterface()
{
    QFETCH(QString, module);
    QFETCH(QString, reason);
    QString out;
    if (m_python.isEmpty() || !runPython(QStringLiteral("import torch"), &out))
        QSKIP("python3-torch is not installed (Debian package python3-torch)");
    const QString file =
        QStringLiteral("wrong-%1.pt").arg(QString::fromLatin1(QTest::currentDataTag()));
    QVERIFY2(
        runPython(QStringLiteral("import torch, torch.nn as nn\ntorch.jit.script(%1).save('%2')")
                      .arg(module, file),
                  &out),
        qPrintable(out));
    Classifier c;
    QVERIFY(c.load(m_dir.filePath(QStringLiteral("good.pt"))) ||
            c.loadData(m_validNative, QStringLiteral("good")));
    const QString before = c.source();
    QVERIFY(!c.load(m_dir.filePath(file)));
    QVERIFY2(c.errorString().startsWith(m_dir.filePath(file)) && c.errorString().contains(reason),
             qPrintable(c.errorString()));
    QCOMPARE(c.source(), before);
}

void TestClassifier::embeddedModel()
{
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model (resources/models/default.pt missing when "
              "configured)");
    Classifier c;
    QVERIFY2(c.loadEmbedded(), qPrintable(c.errorString()));
    QCOMPARE(c.source(), QStringLiteral(":/models/default.pt"));
    const QJsonObject card = c.card();
    QCOMPARE(card.value(QStringLiteral("architecture")).toString(), c.architecture());
    QCOMPARE(qint64(card.value(QStringLiteral("parameters")).toDouble()), c.parameterCount());
    // The card describes exactly these weights.
    QCOMPARE(card.value(QStringLiteral("weights_sha256")).toString(), c.weightsSha256());
    QCOMPARE(
        card.value(QStringLiteral("split")).toObject().value(QStringLiteral("mode")).toString(),
        QStringLiteral("patient"));
    QVERIFY(
        card.value(QStringLiteral("validation")).toObject().contains(QStringLiteral("cell_level")));

    // About the model: the card's own figures, and the recipe's cross-validation by patient.
    const QJsonObject cells = card.value(QStringLiteral("validation"))
                                  .toObject()
                                  .value(QStringLiteral("cell_level"))
                                  .toObject();
    const QString summary = modelCardSummary(card);
    QVERIFY2(summary.contains(
                 QStringLiteral("Validation (patient split, %1 cells): accuracy %2%")
                     .arg(cells.value(QStringLiteral("count")).toInt())
                     .arg(100 * cells.value(QStringLiteral("accuracy")).toDouble(), 0, 'f', 2)),
             qPrintable(summary));
    // The default since 2026-12-01 is the two-lab model: each lab's held-out figures, as its
    // card records them (the NIH-only model before it had the recipe's 5-fold
    // cross-validation and simulated stain shifts instead: the stain line is tested below on a
    // made card, the cross-validation line in tst_trainer).
    for (const QJsonValue& v : card.value(QStringLiteral("validation_by_source")).toArray()) {
        const QJsonObject lab = v.toObject();
        QVERIFY2(
            summary.contains(
                QStringLiteral("Held out, lab %1 (%2 cells): sensitivity %3%")
                    .arg(lab.value(QStringLiteral("source")).toString())
                    .arg(QLocale::c().toString(lab.value(QStringLiteral("cells")).toInt()))
                    .arg(100 * lab.value(QStringLiteral("sensitivity")).toDouble(), 0, 'f', 2)),
            qPrintable(summary));
    }
    QCOMPARE(card.value(QStringLiteral("validation_by_source")).toArray().size(), 2);
    QVERIFY(modelCardSummary(QJsonObject{{QStringLiteral("architecture"), QStringLiteral("se")}})
                .isEmpty());

    // The stain-shift line names the worst accuracy and the largest healthy share, each
    // with its own shift (here two different rows).
    const auto shift = [](const char* name, double accuracy, double share, const char* patient) {
        return QJsonObject{{QStringLiteral("shift"), QLatin1String(name)},
                           {QStringLiteral("accuracy"), accuracy},
                           {QStringLiteral("max_healthy_patient_parasitized_share"), share},
                           {QStringLiteral("max_healthy_patient"), QLatin1String(patient)}};
    };
    QJsonObject drawn{{QStringLiteral("validation"),
                       QJsonObject{{QStringLiteral("cell_level"),
                                    QJsonObject{{QStringLiteral("accuracy"), 0.9}}}}}};
    drawn.insert(
        QStringLiteral("stain_shift_robustness"),
        QJsonObject{{QStringLiteral("per_shift"),
                     QJsonArray{shift("none", 0.96, 0.05, "A"), shift("pale", 0.90, 0.02, "B"),
                                shift("strong", 0.95, 0.12, "C")}}});
    const QString drawnSummary = modelCardSummary(drawn);
    QVERIFY2(drawnSummary.contains(QLatin1String(
                 "Simulated stain shifts (3): worst accuracy 90.00% (pale); largest healthy "
                 "share 12.00% (strong, C)")),
             qPrintable(drawnSummary));
}

void TestClassifier::embeddedModelOnRealCells()
{
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    const QString data = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFile::exists(data))
        QSKIP(qPrintable(
            QStringLiteral("shared data missing: %1 (see ../shared/data/README.md)").arg(data)));
    Classifier c;
    QVERIFY(c.loadEmbedded());
    // Clear-cut cells of both classes (checked by eye: a ring-stage parasite / a clean cell).
    const QStringList parasitized{
        QStringLiteral("Parasitized/C101P62ThinF_IMG_20150918_151006_cell_61.png"),
        QStringLiteral("Parasitized/C101P62ThinF_IMG_20150918_151006_cell_62.png"),
        QStringLiteral("Parasitized/C101P62ThinF_IMG_20150918_151006_cell_63.png")};
    QDir uninfectedDir(data + QStringLiteral("/Uninfected"));
    const QStringList uninfected =
        uninfectedDir.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name).mid(0, 3);
    QCOMPARE(uninfected.size(), 3);
    std::vector<cv::Mat> images;
    for (const QString& f : parasitized) {
        const PreprocessedImage p = loadPreprocessed(data + QLatin1Char('/') + f);
        QVERIFY2(p.ok(), qPrintable(f));
        images.push_back(p.rgb);
    }
    for (const QString& f : uninfected) {
        const PreprocessedImage p = loadPreprocessed(uninfectedDir.filePath(f));
        QVERIFY2(p.ok(), qPrintable(f));
        images.push_back(p.rgb);
    }
    const auto p = c.predict(images);
    QVERIFY(p);
    for (int i = 0; i < 3; ++i)
        QVERIFY2((*p)[i] > 0.5f,
                 qPrintable(QStringLiteral("%1: %2").arg(parasitized[i]).arg((*p)[i])));
    for (int i = 0; i < 3; ++i)
        QVERIFY2((*p)[3 + i] < 0.5f,
                 qPrintable(QStringLiteral("%1: %2").arg(uninfected[i]).arg((*p)[3 + i])));
}

QTEST_GUILESS_MAIN(TestClassifier)
#include "tst_classifier.moc"
