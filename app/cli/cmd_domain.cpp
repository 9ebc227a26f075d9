// malarialens-cli domain: records a model's domain (how its training cells looked, per source,
// and how spread its outputs were on them) into the model's card, so that classify, evaluate,
// segment and the GUI can say when new cells fall outside it.

#include "clicommand.h"
#include "modeloptions.h"

#include "classifier.h"
#include "domainprofile.h"
#include "folderscanner.h"

#include <QCommandLineParser>
#include <QFile>
#include <QJsonDocument>

namespace ml::cli {

int runDomain(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Measure how the cells of each training source look (stain in L*a*b*, size, sharpness, "
        "surround) and the model's output spread on them; print it, and with --write store it "
        "in the model's card (card.domain) beside --model FILE."));
    p.addHelpOption();
    const QCommandLineOption model = modelOption();
    const QCommandLineOption source(QStringLiteral("source"),
                                    QStringLiteral("a training source: NAME=DIR (repeatable)"),
                                    QStringLiteral("NAME=DIR"));
    const QCommandLineOption perSource(QStringLiteral("per-source"),
                                       QStringLiteral("cells measured per source (default 1000)"),
                                       QStringLiteral("N"), QStringLiteral("1000"));
    const QCommandLineOption write(QStringLiteral("write"),
                                   QStringLiteral("store the domain in the card of --model FILE"));
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    p.addOptions({model, source, perSource, write, threads, json});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    bool ok = false;
    const int n = p.value(perSource).toInt(&ok);
    if (!ok || n < 10 || p.values(source).isEmpty() || (p.isSet(write) && !p.isSet(model))) {
        printError(QStringLiteral("domain: give --source NAME=DIR at least once, --per-source "
                                  ">= 10, and --model FILE with --write (see --help)"));
        return 2;
    }
    Classifier classifier;
    if (!loadModel(p, model, classifier, QStringLiteral("domain")))
        return 1;
    QList<Dataset> datasets;
    QStringList names;
    for (const QString& s : p.values(source)) {
        const int eq = s.indexOf(QLatin1Char('='));
        if (eq <= 0 || eq == s.size() - 1) {
            printError(QStringLiteral("domain: --source '%1' is not NAME=DIR").arg(s));
            return 2;
        }
        datasets.append(scanFolder(s.mid(eq + 1)));
        names << s.left(eq);
        if (!datasets.last().error.isEmpty()) {
            printError(QStringLiteral("domain: %1").arg(datasets.last().error));
            return 1;
        }
    }
    QList<NamedSource> sources;
    for (int i = 0; i < datasets.size(); ++i)
        sources.append({names.at(i), &datasets.at(i)});
    QString error;
    const DomainProfile profile = measureDomain(sources, classifier, n, &error);
    if (profile.isEmpty()) {
        printError(
            QStringLiteral("domain: %1").arg(error.isEmpty() ? QStringLiteral("no cell") : error));
        return 1;
    }
    if (p.isSet(write)) {
        QJsonObject card = classifier.card();
        card.insert(QStringLiteral("domain"), profile.toJson());
        const QString cardPath = cardPathForModel(p.value(model));
        if (!writeFileAtomically(cardPath, QJsonDocument(card).toJson(QJsonDocument::Indented),
                                 &error)) {
            printError(QStringLiteral("domain: %1").arg(error));
            return 1;
        }
    }
    if (p.isSet(json)) {
        printJson(profile.toJson());
        return 0;
    }
    for (const SourceDomain& s : profile.sources)
        printLine(QStringLiteral("%1: %2 cells, L* %3, a* %4, b* %5, diameter %6 px, sharpness "
                                 "%7, surround %8, %9 % of outputs in [0.2, 0.8]")
                      .arg(s.name)
                      .arg(s.cells)
                      .arg(s.lightness.median, 0, 'f', 1)
                      .arg(s.a.median, 0, 'f', 1)
                      .arg(s.b.median, 0, 'f', 1)
                      .arg(s.diameter.median, 0, 'f', 0)
                      .arg(s.sharpness.median, 0, 'f', 3)
                      .arg(s.surround.median, 0, 'f', 2)
                      .arg(s.uncertainShare * 100.0, 0, 'f', 1));
    return 0;
}

} // namespace ml::cli
