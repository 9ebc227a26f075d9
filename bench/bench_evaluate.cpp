// Evaluation benchmark: the cost of evaluating the 14,015 cells on top of classifying them,
// and the time one threshold move takes (metrics alone, and the whole evaluation page:
// matrix, report, patients, curves' operating point, replot).
//   ./build/bench/bench_evaluate [FOLDER] [--threads N]
#include "benchstats.h"
#include "classificationresults.h"
#include "classifier.h"
#include "evaluationpage.h"
#include "folderscanner.h"
#include "inference.h"
#include "metrics.h"
#include "modelsession.h"
#include "thumbnailservice.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSlider>
#include <QTest>
#include <QTextStream>

#include <algorithm>
#include <vector>

using ml::bench::median;

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QStringList args = app.arguments();
    const int threads = ml::bench::takeIntOption(args, QStringLiteral("--threads"), 2);
    const QString folder =
        args.size() > 1 ? args.at(1) : QStringLiteral(MALARIALENS_SHARED_DATA "/nih-cells");
    QTextStream out(stdout);
    const auto ds = std::make_shared<const ml::Dataset>(ml::scanFolder(folder));
    ml::Classifier classifier;
    if (!classifier.loadEmbedded()) {
        out << "no embedded model: " << classifier.errorString() << "\n";
        return 1;
    }
    ml::ClassifyOptions opts;
    opts.threads = threads;
    QElapsedTimer t;
    t.start();
    const ml::ClassifyReport report = ml::classifyDataset(*ds, classifier, opts);
    const double classifyS = t.nsecsElapsed() / 1e9;

    t.restart();
    std::vector<ml::ScoredImage> cells;
    cells.reserve(size_t(report.results.size()));
    for (const ml::CellResult& r : report.results)
        if (r.ok())
            cells.push_back(
                {r.index,
                 int(ml::modelClassNames().indexOf(ds->className(ds->images.at(r.index).label))),
                 double(r.probability), ds->images.at(r.index).patient});
    ml::Evaluation e = ml::evaluate(cells, ml::modelClassNames(), 0.5);
    const double evaluateS = t.nsecsElapsed() / 1e9;

    std::vector<double> moves;
    for (int i = 1; i < 100; ++i) {
        t.restart();
        ml::moveThreshold(e, cells, i / 100.0);
        moves.push_back(t.nsecsElapsed() / 1e6);
    }
    out << "cells: " << cells.size() << ", classify " << QString::number(classifyS, 'f', 2)
        << " s (" << QString::number(report.imagesPerSecond(), 'f', 0) << " images/s, " << threads
        << " threads)\n";
    out << "evaluate (all metrics, curves, calibration, patients): "
        << QString::number(evaluateS * 1000, 'f', 1)
        << " ms = " << QString::number(100 * evaluateS / classifyS, 'f', 2)
        << " % of classifying\n";
    out << "threshold move, metrics only: median " << QString::number(median(moves), 'f', 2)
        << " ms over 99 moves\n";

    // The evaluation page fed by a session that classifies the folder.
    ml::ModelSession session;
    session.useEmbedded();
    ml::ThumbnailService thumbs;
    ml::EvaluationPage page(&session, &thumbs);
    page.resize(1400, 900);
    page.show();
    QSignalSpy finished(&session, &ml::ModelSession::classificationFinished);
    session.classify(ds);
    if (!finished.wait(600000)) {
        out << "classification in the session did not finish\n";
        return 1;
    }
    QCoreApplication::processEvents();
    std::vector<double> pageMoves;
    for (int v = 100; v <= 900; v += 20) {
        t.restart();
        page.thresholdSlider()->setValue(v);
        QCoreApplication::processEvents(); // the queued replots
        pageMoves.push_back(t.nsecsElapsed() / 1e6);
    }
    out << "threshold move, whole evaluation page (" << page.evaluation().cells
        << " cells): median " << QString::number(median(pageMoves), 'f', 1) << " ms, max "
        << QString::number(*std::max_element(pageMoves.begin(), pageMoves.end()), 'f', 1)
        << " ms over " << pageMoves.size() << " moves\n";
    return 0;
}
