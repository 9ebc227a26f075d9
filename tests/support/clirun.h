#pragma once
// Runs the real malarialens-cli (MALARIALENS_CLI, set by tests/CMakeLists.txt) as a child
// process for the CLI tests: one helper instead of a copy per test file.

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace mltest {

/// What a CLI run gave back.
struct CliRun
{
    int exitCode = -1; ///< -1 when it crashed or was stopped at the timeout
    QByteArray out, err;
    QJsonObject json() const { return QJsonDocument::fromJson(out).object(); }
};

/// Runs malarialens-cli with `args`, this process's environment plus `extraEnv` (e.g. an
/// XDG folder that keeps the run away from the user's), and waits up to `timeoutMs`; a run
/// still going then is killed and reported with exitCode -1.
inline CliRun runCli(const QStringList& args, int timeoutMs = 90000,
                     const QList<QPair<QString, QString>>& extraEnv = {})
{
    QProcess p;
    if (!extraEnv.isEmpty()) {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const auto& [name, value] : extraEnv)
            env.insert(name, value);
        p.setProcessEnvironment(env);
    }
    p.start(QStringLiteral(MALARIALENS_CLI), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill(); // then exitStatus() is CrashExit: exitCode -1
        p.waitForFinished();
    }
    CliRun r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace mltest
