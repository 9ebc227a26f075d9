// malarialens-cli corrections export|import FILE: the reviewer's label corrections (the
// SQLite audit trail the Review page writes) as CSV, for sharing between reviewers and
// for spreadsheets.
#include "clicommand.h"

#include "correctionstore.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QJsonObject>
#include <QSaveFile>

namespace ml::cli {

int runCorrections(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Export the label corrections of the corrections database as CSV, or import a CSV "
        "(columns id,path,sha256,bytes,old_label,new_label,time,reviewer,note; path and "
        "new_label are required). Import appends: rows already in the database are skipped, "
        "so importing the same file twice adds nothing. Image files are never touched."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("ACTION"), QStringLiteral("export or import"));
    p.addPositionalArgument(QStringLiteral("FILE"),
                            QStringLiteral("CSV file ('-' = stdout for export)"));
    const QCommandLineOption db(
        QStringLiteral("db"),
        QStringLiteral("corrections database (default: %1)").arg(CorrectionStore::defaultPath()),
        QStringLiteral("FILE"));
    const QCommandLineOption batch(QStringLiteral("batch"),
                                   QStringLiteral("import: rows per transaction (default 500)"),
                                   QStringLiteral("N"), QStringLiteral("500"));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("print JSON"));
    p.addOptions({db, batch, json});
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    const QStringList pos = p.positionalArguments();
    if (pos.size() != 2 ||
        (pos.at(0) != QLatin1String("export") && pos.at(0) != QLatin1String("import"))) {
        printError(
            QStringLiteral("corrections: expected 'export FILE' or 'import FILE' (see --help)"));
        return 2;
    }
    bool okBatch = false;
    const int batchSize = p.value(batch).toInt(&okBatch);
    if (!okBatch || batchSize < 1) {
        printError(QStringLiteral("corrections: invalid --batch"));
        return 2;
    }
    const QString dbPath = p.isSet(db) ? p.value(db) : CorrectionStore::defaultPath();
    const QString file = pos.at(1);
    CorrectionStore store;
    // Another app instance may be writing: wait for its lock rather than fail at once.
    store.setBusyTimeout(15000);

    if (pos.at(0) == QLatin1String("export")) {
        if (!QFile::exists(dbPath)) {
            printError(QStringLiteral("corrections: no corrections database at %1").arg(dbPath));
            return 1;
        }
        if (!store.open(dbPath)) {
            printError(QStringLiteral("corrections: %1").arg(store.errorString()));
            return 1;
        }
        const QList<Correction> rows = store.all();
        const QByteArray csv = store.toCsv();
        if (file == QLatin1String("-")) {
            QFile out;
            out.open(stdout, QIODevice::WriteOnly);
            out.write(csv);
        } else {
            QSaveFile out(file);
            if (!out.open(QIODevice::WriteOnly) || out.write(csv) != csv.size() || !out.commit()) {
                printError(QStringLiteral("corrections: cannot write %1: %2")
                               .arg(file, out.errorString()));
                return 1;
            }
        }
        if (p.isSet(json))
            printJson({{QStringLiteral("exported"), int(rows.size())},
                       {QStringLiteral("database"), dbPath},
                       {QStringLiteral("file"), file}});
        else if (file != QLatin1String("-"))
            printLine(QStringLiteral("%1 corrections exported to %2").arg(rows.size()).arg(file));
        return 0;
    }

    QFile in(file);
    if (!in.open(QIODevice::ReadOnly)) {
        printError(QStringLiteral("corrections: cannot read %1: %2").arg(file, in.errorString()));
        return 1;
    }
    QString parseError;
    const std::optional<QList<Correction>> rows =
        CorrectionStore::parseCsv(in.readAll(), &parseError);
    if (!rows) {
        printError(QStringLiteral("corrections: %1: %2").arg(file, parseError));
        return 1;
    }
    if (!store.open(dbPath) || store.isReadOnly()) {
        printError(QStringLiteral("corrections: %1").arg(store.errorString()));
        return 1;
    }
    const std::optional<int> added = store.addAll(*rows, batchSize);
    if (!added) {
        printError(QStringLiteral("corrections: import stopped: %1 (rows of earlier batches "
                                  "are kept; importing again adds only the rest)")
                       .arg(store.errorString()));
        return 1;
    }
    if (p.isSet(json))
        printJson({{QStringLiteral("rows"), int(rows->size())},
                   {QStringLiteral("added"), *added},
                   {QStringLiteral("skipped"), int(rows->size()) - *added},
                   {QStringLiteral("database"), dbPath}});
    else
        printLine(QStringLiteral("%1 corrections imported into %2 (%3 already there)")
                      .arg(*added)
                      .arg(QDir::toNativeSeparators(dbPath))
                      .arg(rows->size() - *added));
    return 0;
}

} // namespace ml::cli
