// malarialens-cli inputs --files LIST --out INPUTS.f32: what the model's network receives for
// each listed cell image, as raw float32 (N x 64 x 64 x 3, RGB, [0,1], row-major, in the order
// listed). The model's own input normalisation from its card is applied
// (Classifier::modelInput(), the same function classify uses), so tools outside the
// application (scripts/quantize.py: int8 calibration) see exactly the network's inputs,
// canonical cells included, without reimplementing them.
#include "clicommand.h"
#include "modeloptions.h"

#include "classifier.h"
#include "preprocess.h"

#include <QCommandLineParser>
#include <QSaveFile>

namespace ml::cli {

int runInputs(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Write what the model's network receives for each listed cell image (after the "
        "model's own input normalisation) as raw float32, N x 64 x 64 x 3 RGB in [0,1], in "
        "the order listed. For tools outside the application, e.g. int8 calibration. The "
        "images are only read."));
    p.addHelpOption();
    const QCommandLineOption files(QStringLiteral("files"),
                                   QStringLiteral("text file with one image path per line"),
                                   QStringLiteral("LIST"));
    const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("float32 file to write"),
                                 QStringLiteral("FILE"));
    const QCommandLineOption model = modelOption();
    p.addOptions({files, out, model});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (!p.isSet(files) || !p.isSet(out)) {
        printError(QStringLiteral("inputs: --files and --out are required (see --help)"));
        return 2;
    }
    QString error;
    const std::optional<QStringList> list = readListFile(p.value(files), &error);
    if (!list) {
        printError(QStringLiteral("inputs: cannot read %1").arg(error));
        return 2;
    }
    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("inputs")))
        return 1;
    QSaveFile file(p.value(out));
    if (!file.open(QIODevice::WriteOnly)) {
        printError(QStringLiteral("inputs: cannot write %1").arg(p.value(out)));
        return 1;
    }
    for (const QString& path : *list) {
        const PreprocessedImage image = loadPreprocessed(path);
        if (!image.ok()) {
            // One missing cell would shift every later one: stop, write nothing.
            printError(QStringLiteral("inputs: %1: %2").arg(path, image.error));
            return 1;
        }
        const cv::Mat input = classifier.modelInput(image.rgb);
        cv::Mat continuous = input.isContinuous() ? input : input.clone();
        file.write(reinterpret_cast<const char*>(continuous.ptr<float>()),
                   qint64(continuous.total() * continuous.elemSize()));
    }
    if (!file.commit()) {
        printError(QStringLiteral("inputs: cannot write %1").arg(p.value(out)));
        return 1;
    }
    printLine(QStringLiteral("inputs: %1 cells written to %2").arg(list->size()).arg(p.value(out)));
    return 0;
}

} // namespace ml::cli
