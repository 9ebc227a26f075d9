#pragma once
// Subcommands of malarialens-cli. Each lives in its own cmd_<name>.cpp and is listed in
// commands.cpp. A command gets its own arguments (argv after the subcommand name, with
// the program name in front so QCommandLineParser can process them) and returns the
// process exit code: 0 success, 1 runtime failure, 2 usage error.

#include <QCommandLineParser>
#include <QJsonObject>
#include <QStringList>

#include <optional>
#include <vector>

namespace ml::cli {

struct Command
{
    const char* name;
    const char* summary;
    int (*run)(const QStringList& args);
};

/// Every subcommand, in the order --help lists them.
const std::vector<Command>& commands();

/// Parses a command's arguments: on a parse error prints it and gives 2, for --help prints
/// the help and gives 0; nullopt when the command should go on.
std::optional<int> parseArguments(QCommandLineParser& parser, const QStringList& args);

/// Prints `json` (indented) to stdout.
void printJson(const QJsonObject& json);
/// Prints a line to stderr.
void printError(const QString& message);
/// Prints a line to stdout.
void printLine(const QString& line);
/// Writes `bytes` to `path` atomically (QSaveFile: the old file stays whole on failure).
/// False, with "<file>: cannot be written: <reason>" in `error`, when it cannot.
bool writeFileAtomically(const QString& path, const QByteArray& bytes, QString* error);
/// The lines of a "one path per line" list file, trimmed, without empty lines and '#'
/// comments; nullopt (with "<file>: <reason>" in `error`) when it cannot be read.
std::optional<QStringList> readListFile(const QString& path, QString* error);

} // namespace ml::cli
