// malarialens-cli model-info: prints the model card of the embedded default model or of a
// model file.

#include "clicommand.h"
#include "modeloptions.h"

#include "classifier.h"
#include "trainingresult.h"

#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>

namespace ml::cli {

namespace {

void printCard(const QJsonObject& o, const QString& indent)
{
    for (auto it = o.constBegin(); it != o.constEnd(); ++it) {
        if (it.value().isObject()) {
            printLine(indent + it.key() + QLatin1Char(':'));
            printCard(it.value().toObject(), indent + QStringLiteral("  "));
        } else if (it.value().isArray()) {
            printLine(indent + it.key() + QStringLiteral(": ") +
                      QString::fromUtf8(
                          QJsonDocument(it.value().toArray()).toJson(QJsonDocument::Compact)));
        } else {
            printLine(indent + it.key() + QStringLiteral(": ") + it.value().toVariant().toString());
        }
    }
}

// The per-source and held-out source figures as readable lines (the card has them as JSON).
void printSourceFigures(const QJsonObject& card)
{
    auto line = [](const QString& what, const SourceFigures& f) {
        printLine(what + QLatin1Char(' ') + f.describe());
    };
    const QJsonArray perSource = card.value(QStringLiteral("validation_by_source")).toArray();
    for (const QJsonValue& v : perSource)
        line(QStringLiteral("validation, source"), SourceFigures::fromJson(v.toObject()));
    const QJsonObject holdout = card.value(QStringLiteral("holdout")).toObject();
    if (!holdout.isEmpty())
        line(QStringLiteral("held-out source (never trained on)"),
             SourceFigures::fromJson(holdout));
}

} // namespace

int runModelInfo(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Print the model card of the embedded default model, or of FILE (native or TorchScript)."));
    p.addHelpOption();
    const QCommandLineOption model = modelOption();
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    const QCommandLineOption perPatient(
        QStringLiteral("per-patient"),
        QStringLiteral("text output: include the per-patient validation table"));
    p.addOptions({model, json, perPatient});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (!p.positionalArguments().isEmpty()) {
        printError(QStringLiteral("model-info: unexpected argument '%1' (use --model FILE)")
                       .arg(p.positionalArguments().first()));
        return 2;
    }
    Classifier c;
    if (!loadModel(p, model, c, QStringLiteral("model-info")))
        return 1;
    QJsonObject card = c.card();
    // What was actually loaded, beside what the card claims.
    card.insert(QStringLiteral("loaded"),
                QJsonObject{{QStringLiteral("source"), c.source()},
                            {QStringLiteral("format"), c.format()},
                            {QStringLiteral("architecture"), c.architecture()},
                            {QStringLiteral("parameters"), double(c.parameterCount())},
                            {QStringLiteral("weights_sha256"), c.weightsSha256()}});
    if (p.isSet(json)) {
        printJson(card);
        return 0;
    }
    if (!p.isSet(perPatient)) {
        QJsonObject v = card.value(QStringLiteral("validation")).toObject();
        v.remove(QStringLiteral("per_patient"));
        if (!v.isEmpty())
            card.insert(QStringLiteral("validation"), v);
    }
    printCard(card, QString());
    printSourceFigures(card);
    return 0;
}

} // namespace ml::cli
