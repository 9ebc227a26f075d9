// malarialens-cli classify / train / model-info, run as real processes.
#include "classifier.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

using namespace ml;

class TestCliModels : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void classifyJsonOnRealCells();
    void classifyWithModelFileAndCsv();
    void classifyBadModel();
    void modelInfo();
    void trainWritesModelCardAndHistory();
    void trainRefusals();
    void trainExclusionList();
    void trainCrossValidationWritesOutOfFold();

private:
    int run(const QStringList& args, QByteArray* out, QByteArray* err = nullptr,
            int timeoutMs = 120000);
    QTemporaryDir m_dir;
};

int TestCliModels::run(const QStringList& args, QByteArray* out, QByteArray* err, int timeoutMs)
{
    QProcess p;
    p.start(QStringLiteral(MALARIALENS_CLI), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return -1;
    }
    *out = p.readAllStandardOutput();
    const QByteArray e = p.readAllStandardError();
    if (err)
        *err = e;
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

void TestCliModels::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // A small labelled folder of drawn cells (for the training and model-file runs).
    for (int cls = 0; cls < 2; ++cls) {
        const QString name =
            cls == 0 ? QStringLiteral("Parasitized") : QStringLiteral("Uninfected");
        QVERIFY(QDir(m_dir.path()).mkpath(QStringLiteral("drawn/") + name));
        for (int i = 0; i < 60; ++i) {
            cv::Mat m(90, 90, CV_8UC3, cv::Scalar(0, 0, 0));
            cv::circle(m, {45, 45}, 38, cv::Scalar(180, 150, 210), cv::FILLED);
            if (cls == 0)
                cv::circle(m, {30 + i % 20, 40}, 8, cv::Scalar(120, 30, 90), cv::FILLED);
            const QString file =
                cls == 0 ? QStringLiteral("C%1P%1thinF_cell_%2.png").arg(i % 5).arg(i)
                         : QStringLiteral("C%1_thinF_cell_%2.png").arg(40 + i % 5).arg(i);
            QVERIFY(cv::imwrite(
                m_dir.filePath(QStringLiteral("drawn/%1/%2").arg(name, file)).toStdString(), m));
        }
    }
}

void TestCliModels::classifyJsonOnRealCells()
{
    const QString nih = QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells");
    if (!QFile::exists(nih))
        QSKIP(qPrintable(QStringLiteral("shared data missing: %1").arg(nih)));
    if (!Classifier::hasEmbeddedModel())
        QSKIP("this build has no embedded model");
    // 20 cells per class, copied into the temporary folder (never into the repository).
    const QString folder = m_dir.filePath(QStringLiteral("real"));
    for (const QString& cls : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}) {
        QVERIFY(QDir(folder).mkpath(cls));
        const QStringList files =
            QDir(nih + QLatin1Char('/') + cls)
                .entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        for (int i = 0; i < 20; ++i) {
            const QString f = files.at(i * 331 % files.size());
            QVERIFY(QFile::copy(nih + QLatin1Char('/') + cls + QLatin1Char('/') + f,
                                folder + QLatin1Char('/') + cls + QLatin1Char('/') + f));
        }
    }
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("classify"), folder, QStringLiteral("--json"),
                  QStringLiteral("--threads"), QStringLiteral("2")},
                 &out, &err),
             0);
    const QJsonObject o = QJsonDocument::fromJson(out).object();
    QVERIFY2(!o.isEmpty(), out.constData());
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 40);
    QCOMPARE(o.value(QStringLiteral("failed")).toInt(), 0);
    QVERIFY(o.value(QStringLiteral("seconds")).toDouble() > 0);
    QVERIFY(o.value(QStringLiteral("images_per_second")).toDouble() > 0);
    const QJsonObject predicted = o.value(QStringLiteral("predicted")).toObject();
    QCOMPARE(predicted.value(QStringLiteral("Parasitized")).toInt() +
                 predicted.value(QStringLiteral("Uninfected")).toInt(),
             40);
    QVERIFY2(o.value(QStringLiteral("accuracy")).toDouble() >= 0.9, out.constData());
}

void TestCliModels::classifyWithModelFileAndCsv()
{
    const QString model = m_dir.filePath(QStringLiteral("untrained.pt"));
    QString why;
    QVERIFY2(Classifier::createUntrained(Architecture::Gap, 1).save(model, &why), qPrintable(why));
    const QString csv = m_dir.filePath(QStringLiteral("out.csv"));
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("classify"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--model"), model, QStringLiteral("--csv"), csv,
                  QStringLiteral("--json")},
                 &out, &err),
             0);
    const QJsonObject o = QJsonDocument::fromJson(out).object();
    QCOMPARE(o.value(QStringLiteral("images")).toInt(), 120);
    QVERIFY(o.contains(QStringLiteral("accuracy")));
    QCOMPARE(o.value(QStringLiteral("model"))
                 .toObject()
                 .value(QStringLiteral("architecture"))
                 .toString(),
             QStringLiteral("gap"));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray rows = f.readAll();
    QCOMPARE(rows.count('\n'), 121);
    QVERIFY(rows.startsWith("file,patient,true_label,predicted,probability_parasitized,error\n"));
}

void TestCliModels::classifyBadModel()
{
    const QString bad = m_dir.filePath(QStringLiteral("bad.pt"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a model");
    f.close();
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("classify"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--model"), bad},
                 &out, &err),
             1);
    QVERIFY2(err.contains(bad.toUtf8()) && err.contains("not a model file"), err.constData());
    QCOMPARE(run({QStringLiteral("classify")}, &out, &err), 2);
    QCOMPARE(run({QStringLiteral("classify"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--threads"), QStringLiteral("zero")},
                 &out, &err),
             2);
}

void TestCliModels::modelInfo()
{
    QByteArray out, err;
    if (Classifier::hasEmbeddedModel()) {
        QCOMPARE(run({QStringLiteral("model-info"), QStringLiteral("--json")}, &out, &err), 0);
        const QJsonObject card = QJsonDocument::fromJson(out).object();
        for (const char* key :
             {"architecture", "parameters", "input", "training_data", "split", "validation",
              "threshold", "weights_sha256", "libtorch_version", "date"})
            QVERIFY2(card.contains(QLatin1String(key)), key);
        QCOMPARE(card.value(QStringLiteral("weights_sha256")).toString(),
                 card.value(QStringLiteral("loaded"))
                     .toObject()
                     .value(QStringLiteral("weights_sha256"))
                     .toString());
        QCOMPARE(run({QStringLiteral("model-info")}, &out, &err), 0);
        QVERIFY(out.contains("architecture: "));
    }
    const QString model = m_dir.filePath(QStringLiteral("info.pt"));
    QVERIFY(Classifier::createUntrained(Architecture::Base).save(model));
    QCOMPARE(run({QStringLiteral("model-info"), QStringLiteral("--model"), model,
                  QStringLiteral("--json")},
                 &out, &err),
             0);
    QCOMPARE(QJsonDocument::fromJson(out).object().value(QStringLiteral("parameters")).toInt(),
             646338);
    QCOMPARE(run({QStringLiteral("model-info"), QStringLiteral("--model"),
                  m_dir.filePath(QStringLiteral("none.pt"))},
                 &out, &err),
             1);
    QVERIFY(err.contains("none.pt: no such file"));
}

void TestCliModels::trainWritesModelCardAndHistory()
{
    const QString model = m_dir.filePath(QStringLiteral("trained/m.pt"));
    QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("trained"))));
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("train"),
                  m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--arch"),
                  QStringLiteral("gap"),
                  QStringLiteral("--epochs"),
                  QStringLiteral("2"),
                  QStringLiteral("--batch-size"),
                  QStringLiteral("20"),
                  QStringLiteral("--split"),
                  QStringLiteral("patient"),
                  QStringLiteral("--val-fraction"),
                  QStringLiteral("0.2"),
                  QStringLiteral("--augment"),
                  QStringLiteral("--hue-jitter"),
                  QStringLiteral("15"),
                  QStringLiteral("--saturation-jitter"),
                  QStringLiteral("0.4"),
                  QStringLiteral("--seed"),
                  QStringLiteral("3"),
                  QStringLiteral("--threads"),
                  QStringLiteral("2"),
                  QStringLiteral("--out"),
                  model},
                 &out, &err),
             0);
    const QList<QByteArray> lines = out.trimmed().split('\n');
    QVERIFY2(lines.size() >= 3, out.constData());
    QVERIFY(lines.at(0).startsWith("epoch 1/2"));
    QVERIFY(lines.at(1).startsWith("epoch 2/2"));
    QVERIFY(QFile::exists(model));
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("trained/m.json"))));
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("trained/m.history.csv"))));
    QVERIFY(!QFile::exists(model + QStringLiteral(".checkpoint"))); // removed after the final save
    Classifier c;
    QVERIFY2(c.load(model), qPrintable(c.errorString()));
    QCOMPARE(c.card().value(QStringLiteral("weights_sha256")).toString(), c.weightsSha256());
    QCOMPARE(
        c.card().value(QStringLiteral("split")).toObject().value(QStringLiteral("seed")).toInt(),
        3);
    // The stain jitter asked for is the one recorded (and so the one trained with).
    const QJsonObject augmentation = c.card()
                                         .value(QStringLiteral("training"))
                                         .toObject()
                                         .value(QStringLiteral("augmentation"))
                                         .toObject();
    QCOMPARE(augmentation.value(QStringLiteral("hue_shift_degrees")).toDouble(), 15.0);
    QCOMPARE(augmentation.value(QStringLiteral("saturation_jitter")).toDouble(), 0.4);
}

void TestCliModels::trainRefusals()
{
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn"))}, &out, &err),
             2); // no --out
    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--arch"), QStringLiteral("vgg"), QStringLiteral("--out"),
                  m_dir.filePath(QStringLiteral("x.pt"))},
                 &out, &err),
             2);
    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn/Parasitized")),
                  QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x.pt"))},
                 &out, &err),
             1);
    QVERIFY2(err.contains("2 class subfolders"), err.constData());
    // Stain jitter out of range, or asked for together with --no-stain-jitter.
    for (const QStringList& extra :
         {QStringList{QStringLiteral("--saturation-jitter"), QStringLiteral("1.5")},
          QStringList{QStringLiteral("--hue-jitter"), QStringLiteral("-3")},
          QStringList{QStringLiteral("--no-stain-jitter"), QStringLiteral("--hue-jitter"),
                      QStringLiteral("5")}}) {
        QCOMPARE(run(QStringList{QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn")),
                                 QStringLiteral("--augment"), QStringLiteral("--out"),
                                 m_dir.filePath(QStringLiteral("x.pt"))} +
                         extra,
                     &out, &err),
                 2);
        QVERIFY2(err.contains("jitter"), err.constData());
    }
}

void TestCliModels::trainExclusionList()
{
    // Every Parasitized cell listed: the training side loses all of them, the validation
    // side keeps its own, and the card counts what was left out.
    const QString list = m_dir.filePath(QStringLiteral("exclude.txt"));
    {
        QFile f(list);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Text));
        f.write("# doubtful labels\n");
        // Paths as classify --csv or a file manager give them: relative to DIR, absolute,
        // or with a "./" in front; one line names no cell of the folder.
        const QDir parasitized(m_dir.filePath(QStringLiteral("drawn/Parasitized")));
        const QStringList names = parasitized.entryList(QDir::Files);
        for (int i = 0; i < names.size(); ++i) {
            const QString relative = QStringLiteral("Parasitized/%1").arg(names.at(i));
            const QString line = i % 3 == 0   ? relative
                                 : i % 3 == 1 ? parasitized.absoluteFilePath(names.at(i))
                                              : QStringLiteral("./") + relative;
            f.write((line + QLatin1Char('\n')).toUtf8());
        }
        f.write("Parasitized/not-a-cell.png\n");
    }
    const QString model = m_dir.filePath(QStringLiteral("excluded/m.pt"));
    QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("excluded"))));
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--arch"), QStringLiteral("gap"), QStringLiteral("--epochs"),
                  QStringLiteral("1"), QStringLiteral("--batch-size"), QStringLiteral("20"),
                  QStringLiteral("--exclude-list"), list, QStringLiteral("--out"), model},
                 &out, &err),
             0);
    Classifier c;
    QVERIFY2(c.load(model), qPrintable(c.errorString()));
    const QJsonObject data = c.card().value(QStringLiteral("training_data")).toObject();
    QVERIFY(!data.value(QStringLiteral("train_cells"))
                 .toObject()
                 .contains(QLatin1String("Parasitized")));
    const int valParasitized = data.value(QStringLiteral("val_cells"))
                                   .toObject()
                                   .value(QStringLiteral("Parasitized"))
                                   .toInt();
    QVERIFY(valParasitized > 0);
    const QJsonObject excluded = c.card()
                                     .value(QStringLiteral("training"))
                                     .toObject()
                                     .value(QStringLiteral("excluded_from_training"))
                                     .toObject();
    QCOMPARE(excluded.value(QStringLiteral("cells")).toInt(), 60 - valParasitized);
    QCOMPARE(excluded.value(QStringLiteral("source")).toString(), QStringLiteral("exclude.txt"));
    QVERIFY2(err.contains("1 listed path is not a cell of"), err.constData());

    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--exclude-list"), m_dir.filePath(QStringLiteral("nolist.txt")),
                  QStringLiteral("--out"), model},
                 &out, &err),
             1);
    QVERIFY2(err.contains("cannot read the exclusion list") && err.contains("nolist.txt"),
             err.constData());
}

void TestCliModels::trainCrossValidationWritesOutOfFold()
{
    const QString model = m_dir.filePath(QStringLiteral("cv/m.pt"));
    QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("cv"))));
    QByteArray out, err;
    QCOMPARE(run({QStringLiteral("train"), m_dir.filePath(QStringLiteral("drawn")),
                  QStringLiteral("--arch"), QStringLiteral("gap"), QStringLiteral("--epochs"),
                  QStringLiteral("1"), QStringLiteral("--batch-size"), QStringLiteral("20"),
                  QStringLiteral("--folds"), QStringLiteral("3"), QStringLiteral("--threads"),
                  QStringLiteral("2"), QStringLiteral("--out"), model},
                 &out, &err),
             0);
    QVERIFY2(out.contains("pooled out-of-fold (120 cells, 10 patients)"), out.constData());
    // The saved model is the final fit on every patient, not one fold's.
    QVERIFY2(out.contains("final model: trained on every patient"), out.constData());
    Classifier saved;
    QVERIFY2(saved.load(model), qPrintable(saved.errorString()));
    const QJsonObject trainCells = saved.card()
                                       .value(QStringLiteral("training_data"))
                                       .toObject()
                                       .value(QStringLiteral("train_cells"))
                                       .toObject();
    QCOMPARE(trainCells.value(QStringLiteral("Parasitized")).toInt() +
                 trainCells.value(QStringLiteral("Uninfected")).toInt(),
             120);
    QVERIFY(!QFile::exists(model + QStringLiteral(".checkpoint.fold3")));
    // Every cell exactly once, scored by the fold that held its patient out.
    QFile oof(m_dir.filePath(QStringLiteral("cv/m.oof.csv")));
    QVERIFY(oof.open(QIODevice::ReadOnly | QIODevice::Text));
    const QList<QByteArray> lines = oof.readAll().trimmed().split('\n');
    QCOMPARE(lines.first(), QByteArray("file,patient,true_label,fold,probability_parasitized"));
    QCOMPARE(lines.size(), 121);
    QSet<QByteArray> files;
    QMap<QByteArray, QByteArray> foldOfPatient;
    QSet<QByteArray> folds;
    for (int i = 1; i < lines.size(); ++i) {
        const QList<QByteArray> f = lines.at(i).split(',');
        QCOMPARE(f.size(), 5);
        files.insert(f.at(0));
        QVERIFY(f.at(0).startsWith(f.at(2) + '/')); // the label is the file's folder
        if (foldOfPatient.contains(f.at(1)))
            QCOMPARE(foldOfPatient.value(f.at(1)), f.at(3));
        foldOfPatient.insert(f.at(1), f.at(3));
        folds.insert(f.at(3));
        bool ok = false;
        const double prob = f.at(4).toDouble(&ok);
        QVERIFY(ok && prob >= 0 && prob <= 1);
    }
    QCOMPARE(files.size(), 120);
    QCOMPARE(foldOfPatient.size(), 10);
    QCOMPARE(folds, QSet<QByteArray>({"1", "2", "3"}));
}

QTEST_GUILESS_MAIN(TestCliModels)
#include "tst_cli_models.moc"
