#include "allocator.h"
#include "blaskernels.h"
#include "clicommand.h"

#include <QFile>
#include <QGuiApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QTextStream>

#include <cstdio>

namespace ml::cli {

void printJson(const QJsonObject& json)
{
    QTextStream out(stdout);
    out << QJsonDocument(json).toJson(QJsonDocument::Indented);
    out.flush();
}

std::optional<int> parseArguments(QCommandLineParser& parser, const QStringList& args)
{
    if (!parser.parse(args)) {
        printError(parser.errorText());
        return 2;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        printLine(parser.helpText());
        return 0;
    }
    return std::nullopt;
}

std::optional<QStringList> readListFile(const QString& path, QString* error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
        *error = QStringLiteral("%1: %2").arg(path, f.errorString());
        return std::nullopt;
    }
    QStringList lines;
    while (!f.atEnd()) {
        const QString line = QString::fromUtf8(f.readLine()).trimmed();
        if (!line.isEmpty() && !line.startsWith(QLatin1Char('#')))
            lines << line;
    }
    return lines;
}

bool writeFileAtomically(const QString& path, const QByteArray& bytes, QString* error)
{
    QSaveFile file(path);
    if (file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() && file.commit())
        return true;
    *error = QStringLiteral("%1: cannot be written: %2").arg(file.fileName(), file.errorString());
    return false;
}

void printError(const QString& message)
{
    QTextStream err(stderr);
    err << message << Qt::endl;
}

void printLine(const QString& line)
{
    QTextStream out(stdout);
    out << line << Qt::endl;
}

} // namespace ml::cli

namespace {

void printUsage()
{
    QTextStream out(stdout);
    out << "Usage: malarialens-cli <command> [options]\n"
           "       malarialens-cli <command> --help\n"
           "       malarialens-cli --version\n\n"
           "MalariaLens, offline malaria microscopy assistant (headless).\n\nCommands:\n";
    for (const auto& c : ml::cli::commands())
        out << "  " << QString::fromLatin1(c.name).leftJustified(14) << c.summary << "\n";
    out << "\nMost commands take --json for machine-readable output.\n";
}

} // namespace

int main(int argc, char** argv)
{
    // Before anything else: OpenBLAS kernels that compute right on virtual machines.
    ml::ensureBlasKernels(argv);
    ml::keepBatchBuffersInTheHeap();
    // Grids and reports paint text: a GUI application with the offscreen platform needs
    // no display and gives QPainter its fonts.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    QGuiApplication::setApplicationName(QStringLiteral("malarialens"));
    QGuiApplication::setOrganizationName(QStringLiteral("MalariaLens"));
    QGuiApplication::setApplicationVersion(QStringLiteral(MALARIALENS_VERSION));

    const QStringList args = QGuiApplication::arguments();
    if (args.size() < 2 || args.at(1) == QLatin1String("--help") ||
        args.at(1) == QLatin1String("-h") || args.at(1) == QLatin1String("help")) {
        printUsage();
        return args.size() < 2 ? 2 : 0;
    }
    if (args.at(1) == QLatin1String("--version") || args.at(1) == QLatin1String("-v")) {
        ml::cli::printLine(
            QStringLiteral("malarialens-cli %1").arg(QStringLiteral(MALARIALENS_VERSION)));
        return 0;
    }
    for (const auto& c : ml::cli::commands()) {
        if (args.at(1) == QLatin1String(c.name)) {
            QStringList sub = args.mid(2);
            sub.prepend(QStringLiteral("malarialens-cli %1").arg(QLatin1String(c.name)));
            return c.run(sub);
        }
    }
    ml::cli::printError(
        QStringLiteral("unknown command '%1' (see malarialens-cli --help)").arg(args.at(1)));
    return 2;
}
