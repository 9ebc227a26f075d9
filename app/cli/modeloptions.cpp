#include "modeloptions.h"

#include "classifier.h"
#include "clicommand.h"

#include <QFile>
#include <QJsonArray>
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

namespace {

const QLatin1String kAutoPrecision("auto");

bool isAuto(const QString& value)
{
    return value.trimmed().compare(kAutoPrecision, Qt::CaseInsensitive) == 0;
}

} // namespace

QCommandLineOption precisionOption(PrecisionDefault byDefault)
{
    const bool autoDefault = byDefault == PrecisionDefault::Auto;
    return {QStringLiteral("precision"),
            QStringLiteral("fp32, int8 (the model's quantised companion, <model>.int8.pt; when "
                           "it has none, fp32 runs and a note says why) or auto (int8 when the "
                           "model has that companion, else fp32; default %1)")
                .arg(autoDefault ? kAutoPrecision : QLatin1String("fp32")),
            QStringLiteral("P"), autoDefault ? QString(kAutoPrecision) : QStringLiteral("fp32")};
}

bool validPrecision(const QCommandLineParser& parser, const QCommandLineOption& precision)
{
    const QString value = parser.value(precision);
    return isAuto(value) || precisionFromName(value).has_value();
}

bool applyPrecision(const QCommandLineParser& parser, const QCommandLineOption& precision,
                    Classifier& classifier, const QString& command)
{
    if (isAuto(parser.value(precision))) {
        // int8 where the model has a companion: it decides like fp32 (scripts/quantize.py
        // checks it, tst_int8inference too) and classifies about 1.25x faster. No companion
        // is the normal case for a lab's own model, so fp32 runs without a note (the output
        // says which ran); a companion that is there but cannot run is said, as for int8.
        const QString companion = classifier.int8CompanionPath();
        if (classifier.precision() == Precision::Fp32 && !companion.isEmpty() &&
            QFile::exists(companion) && !classifier.setPrecision(Precision::Int8))
            printError(QStringLiteral("%1: %2").arg(command, classifier.precisionNote()));
        return true;
    }
    const std::optional<Precision> wanted = precisionFromName(parser.value(precision));
    if (!wanted) {
        printError(QStringLiteral("%1: invalid --precision '%2' (fp32, int8 or auto)")
                       .arg(command, parser.value(precision)));
        return false;
    }
    // Only an explicit request changes a model: an int8 file given with --model runs as int8
    // unless fp32 is asked for.
    if (parser.isSet(precision) && !classifier.setPrecision(*wanted))
        printError(QStringLiteral("%1: %2").arg(command, classifier.precisionNote()));
    return true;
}

bool loadModel(const QCommandLineParser& parser, const QCommandLineOption& model,
               Classifier& classifier, const QString& command, const QCommandLineOption* precision)
{
    const bool loaded =
        parser.isSet(model) ? classifier.load(parser.value(model)) : classifier.loadEmbedded();
    if (!loaded) {
        printError(QStringLiteral("%1: %2").arg(command, classifier.errorString()));
        return false;
    }
    return !precision || applyPrecision(parser, *precision, classifier, command);
}

std::optional<double> decisionThreshold(const QCommandLineParser& parser,
                                        const QCommandLineOption& threshold,
                                        const Classifier& classifier)
{
    if (!parser.isSet(threshold))
        return classifier.cardThreshold();
    bool ok = false;
    const double t = parser.value(threshold).toDouble(&ok);
    if (!ok || t < 0 || t > 1)
        return std::nullopt;
    return t;
}

namespace {

QString percentText(const QJsonValue& v)
{
    return v.isDouble() ? QStringLiteral("%1 %").arg(v.toDouble() * 100.0, 0, 'f', 2)
                        : QStringLiteral("-");
}

QString correctedText(const QJsonObject& o)
{
    const QJsonArray ci = o.value(QStringLiteral("parasitemia_corrected_ci95")).toArray();
    if (ci.size() != 2)
        return QStringLiteral("no corrected figure (%1)")
            .arg(o.value(QStringLiteral("parasitemia_error")).toString());
    return QStringLiteral("corrected %1 (95 % CI %2 - %3)")
        .arg(percentText(o.value(QStringLiteral("parasitemia_corrected"))), percentText(ci.at(0)),
             percentText(ci.at(1)));
}

} // namespace

void printParasitemia(const QJsonObject& summary)
{
    printLine(QStringLiteral("Parasitemia: apparent %1, %2; corrected for the model's known "
                             "errors (%3)")
                  .arg(percentText(summary.value(QStringLiteral("parasitemia_apparent"))),
                       correctedText(summary),
                       summary.value(QStringLiteral("rates_source"))
                           .toString(QStringLiteral("no error rates"))));
    const QJsonObject patients = summary.value(QStringLiteral("per_patient")).toObject();
    for (auto it = patients.begin(); it != patients.end(); ++it) {
        const QJsonObject p = it.value().toObject();
        printLine(QStringLiteral("  %1 %2 cells, apparent %3, %4: %5")
                      .arg(it.key(), -12)
                      .arg(p.value(QStringLiteral("cells")).toInt())
                      .arg(percentText(p.value(QStringLiteral("parasitemia_apparent"))),
                           correctedText(p),
                           p.value(QStringLiteral("predicted_infected")).toBool()
                               ? QStringLiteral("INFECTED")
                               : QStringLiteral("not shown infected")));
    }
}

} // namespace ml::cli
