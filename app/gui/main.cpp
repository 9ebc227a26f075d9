#include "allocator.h"
#include "blaskernels.h"
#include "classifypage.h"
#include "datasetsession.h"
#include "mainwindow.h"
#include "modelsession.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QMessageBox>
#include <QTabWidget>
#include <QTimer>

int main(int argc, char** argv)
{
    // Before anything else: OpenBLAS kernels that compute right on virtual machines.
    ml::ensureBlasKernels(argv);
    ml::keepBatchBuffersInTheHeap();
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("malarialens"));
    QApplication::setApplicationDisplayName(QStringLiteral("MalariaLens"));
    QApplication::setOrganizationName(QStringLiteral("MalariaLens"));
    QApplication::setApplicationVersion(QStringLiteral(MALARIALENS_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("org.malarialens.MalariaLens"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/malarialens.svg")));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QApplication::translate("main", "Offline malaria microscopy assistant"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("folder"),
                                 QApplication::translate("main", "Folder of cell images to open"),
                                 QStringLiteral("[folder]"));
    // Documentation and review aids: show a page, wait, save a grab of the window, quit.
    const QCommandLineOption grabOption(
        QStringLiteral("grab"),
        QApplication::translate("main", "Save a screenshot of the window to FILE and quit"),
        QStringLiteral("FILE"));
    const QCommandLineOption pageOption(
        QStringLiteral("page"),
        QApplication::translate("main", "Page to show first (tab number, from 0)"),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption delayOption(
        QStringLiteral("grab-delay"),
        QApplication::translate("main", "Milliseconds to wait before --grab"), QStringLiteral("MS"),
        QStringLiteral("4000"));
    const QCommandLineOption modelOption(
        QStringLiteral("model"),
        QApplication::translate("main", "Model file to use instead of the embedded default"),
        QStringLiteral("FILE"));
    const QCommandLineOption classifyOption(
        QStringLiteral("classify"),
        QApplication::translate("main", "Classify the folder as soon as it is listed"));
    parser.addOption(modelOption);
    parser.addOption(classifyOption);
    parser.addOption(grabOption);
    parser.addOption(pageOption);
    parser.addOption(delayOption);
    parser.process(app);

    ml::MainWindow window;
    window.show();
    if (parser.isSet(modelOption)) {
        QString error;
        if (!window.modelSession()->loadFile(parser.value(modelOption), &error))
            QMessageBox::warning(&window, QApplication::translate("main", "Cannot load the model"),
                                 error);
    }
    if (parser.isSet(classifyOption))
        QObject::connect(
            window.session(), &ml::DatasetSession::datasetChanged, &window,
            [&window] { window.classifyPage()->classify(); }, Qt::QueuedConnection);
    if (!parser.positionalArguments().isEmpty())
        window.openFolder(parser.positionalArguments().first());
    window.tabs()->setCurrentIndex(parser.value(pageOption).toInt());
    if (parser.isSet(grabOption)) {
        const QString file = parser.value(grabOption);
        QTimer::singleShot(parser.value(delayOption).toInt(), &window, [&window, file] {
            window.grab().save(file);
            QApplication::quit();
        });
    }
    return app.exec();
}
