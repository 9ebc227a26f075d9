// malarialens-cli explain IMAGE --out heatmap.png: where the model found its evidence in one
// cell image (Grad-CAM for native models, occlusion for TorchScript), drawn over the cell.
#include "clicommand.h"
#include "modeloptions.h"

#include "classifier.h"
#include "gradcam.h"
#include "heatmapimage.h"
#include "imageio.h"
#include "matconvert.h"
#include "torchthreads.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QImageWriter>
#include <QJsonObject>
#include <QSaveFile>
#include <QThread>

namespace ml::cli {

int runExplain(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Explain the classification of one cell image: a heatmap of where the evidence for "
        "the class lies. Grad-CAM on the last convolution layer for native models, occlusion "
        "sensitivity (the drop in probability when a patch is covered) for TorchScript "
        "models. Writes the heatmap over the cell as PNG. The image is only read."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("IMAGE"), QStringLiteral("cell image"));
    const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("PNG to write"),
                                 QStringLiteral("FILE"));
    const QCommandLineOption model = modelOption();
    const QCommandLineOption method(QStringLiteral("method"),
                                    QStringLiteral("auto, grad-cam or occlusion (default auto)"),
                                    QStringLiteral("M"), QStringLiteral("auto"));
    const QCommandLineOption target(
        QStringLiteral("class"),
        QStringLiteral(
            "class to explain: predicted, Parasitized or Uninfected (default predicted)"),
        QStringLiteral("C"), QStringLiteral("predicted"));
    const QCommandLineOption opacity(QStringLiteral("opacity"),
                                     QStringLiteral("heatmap opacity 0..1 (default 0.5)"),
                                     QStringLiteral("A"), QStringLiteral("0.5"));
    const QCommandLineOption size(QStringLiteral("size"),
                                  QStringLiteral("longer edge of the PNG in pixels (default 256)"),
                                  QStringLiteral("N"), QStringLiteral("256"));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    p.addOptions({out, model, method, target, opacity, size, json});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() != 1) {
        printError(QStringLiteral("explain: expected one image (see --help)"));
        return 2;
    }
    bool okMethod = false, okOpacity = false, okSize = false;
    ExplainOptions options;
    options.method = explainMethodFromName(p.value(method), &okMethod);
    const double alpha = p.value(opacity).toDouble(&okOpacity);
    const int edge = p.value(size).toInt(&okSize);
    const QString cls = p.value(target).toLower();
    if (cls == QLatin1String("parasitized"))
        options.targetClass = 0;
    else if (cls == QLatin1String("uninfected"))
        options.targetClass = 1;
    else if (cls != QLatin1String("predicted"))
        okMethod = false;
    if (!okMethod || !okOpacity || alpha < 0 || alpha > 1 || !okSize || edge < 16 || edge > 4096) {
        printError(QStringLiteral("explain: invalid --method, --class, --opacity or --size"));
        return 2;
    }
    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("explain")))
        return 1;
    options.threshold = classifier.cardThreshold();
    setTorchThreads(QThread::idealThreadCount());
    const QString image = p.positionalArguments().first();
    const Explanation e = explainFile(classifier, image, options);
    if (!e.ok()) {
        printError(QStringLiteral("explain: %1").arg(e.error));
        return 1;
    }
    if (p.isSet(out)) {
        const DecodedImage decoded = decodeImage(image);
        QImage cell = matToQImage(decoded.bgr);
        cell = cell.scaled(QSize(edge, edge), Qt::KeepAspectRatio, Qt::SmoothTransformation);
        const QImage overlay = heatmapOverlay(cell, e.heatmap, alpha);
        QSaveFile file(p.value(out));
        if (!file.open(QIODevice::WriteOnly) || !QImageWriter(&file, "png").write(overlay) ||
            !file.commit()) {
            printError(QStringLiteral("explain: cannot write %1").arg(p.value(out)));
            return 1;
        }
    }
    const QString className =
        e.targetClass == 0 ? QStringLiteral("Parasitized") : QStringLiteral("Uninfected");
    if (p.isSet(json)) {
        printJson({{QStringLiteral("image"), image},
                   {QStringLiteral("probability_parasitized"), double(e.probability)},
                   {QStringLiteral("explained_class"), className},
                   {QStringLiteral("method"), explainMethodName(e.method)},
                   {QStringLiteral("layer"), e.layer},
                   {QStringLiteral("model"), classifier.source()},
                   {QStringLiteral("out"), p.value(out)}});
    } else {
        printLine(QStringLiteral("%1: P(Parasitized) = %2; %3 evidence for %4 (layer %5)%6")
                      .arg(QFileInfo(image).fileName())
                      .arg(double(e.probability), 0, 'f', 3)
                      .arg(explainMethodName(e.method), className, e.layer)
                      .arg(p.isSet(out) ? QStringLiteral(" written to %1").arg(p.value(out))
                                        : QString()));
    }
    return 0;
}

} // namespace ml::cli
