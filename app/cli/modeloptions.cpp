#include "modeloptions.h"

#include "classifier.h"
#include "clicommand.h"

#include <QJsonObject>
#include <QThread>

namespace ml::cli {

QCommandLineOption modelOption()
{
    return {QStringLiteral("model"), QStringLiteral("model file (default: embedded model)"),
            QStringLiteral("FILE")};
}

QCommandLineOption torchThreadsOption()
{
    return {QStringLiteral("threads"), QStringLiteral("libtorch threads (default: cores)"),
            QStringLiteral("N"), QString::number(QThread::idealThreadCount())};
}

QCommandLineOption thresholdOption()
{
    return {QStringLiteral("threshold"),
            QStringLiteral("P(Parasitized) from which a cell is called parasitized (default: "
                           "the model card's threshold, else 0.5)"),
            QStringLiteral("T")};
}

bool loadModel(const QCommandLineParser& parser, const QCommandLineOption& model,
               Classifier& classifier, const QString& command)
{
    const bool loaded =
        parser.isSet(model) ? classifier.load(parser.value(model)) : classifier.loadEmbedded();
    if (!loaded)
        printError(QStringLiteral("%1: %2").arg(command, classifier.errorString()));
    return loaded;
}

std::optional<double> decisionThreshold(const QCommandLineParser& parser,
                                        const QCommandLineOption& threshold,
                                        const Classifier& classifier)
{
    if (!parser.isSet(threshold))
        return classifier.card().value(QStringLiteral("threshold")).toDouble(0.5);
    bool ok = false;
    const double t = parser.value(threshold).toDouble(&ok);
    if (!ok || t < 0 || t > 1)
        return std::nullopt;
    return t;
}

} // namespace ml::cli
