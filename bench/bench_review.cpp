// Review benchmark: what the corrections cost on a real folder (listing + applying N
// corrections, one decision written with FULL sync), building a review queue, and one
// explanation heatmap (Grad-CAM, occlusion) with the embedded model on one libtorch thread.
//   ./build-review/bench/bench_review [FOLDER] [--corrections N]
#include "benchstats.h"
#include "classifier.h"
#include "correctionstore.h"
#include "folderscanner.h"
#include "gradcam.h"
#include "labelcorrections.h"
#include "preprocess.h"
#include "reviewqueue.h"
#include "torchthreads.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTextStream>

#include <algorithm>
#include <vector>

using ml::bench::median;

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    const int nCorrections = ml::bench::takeIntOption(args, QStringLiteral("--corrections"), 500);
    const QString folder =
        args.isEmpty() ? QStringLiteral(MALARIALENS_SHARED_DATA) + QStringLiteral("/nih-cells")
                       : args.first();
    QTextStream out(stdout);
    QElapsedTimer t;

    t.start();
    const ml::Dataset scanned = ml::scanFolder(folder);
    const double scanMs = t.elapsed();
    if (!scanned.error.isEmpty() || scanned.images.isEmpty()) {
        out << "cannot scan " << folder << ": " << scanned.error << Qt::endl;
        return 1;
    }
    out << "folder: " << scanned.images.size() << " images, listed in " << scanMs << " ms"
        << Qt::endl;

    // N decisions, each one transaction (as the Review page writes them).
    QTemporaryDir dir;
    ml::CorrectionStore store;
    store.open(dir.filePath(QStringLiteral("bench.sqlite")));
    QRandomGenerator rng(7);
    std::vector<double> addMs;
    for (int k = 0; k < nCorrections; ++k) {
        const int i = int(rng.bounded(quint32(scanned.images.size())));
        ml::Correction c;
        c.path = scanned.absolutePath(i);
        t.restart();
        c.sha256 = ml::sha256OfFile(c.path);
        c.bytes = QFileInfo(c.path).size();
        c.oldLabel = scanned.className(scanned.images.at(i).label);
        c.newLabel = scanned.className(1 - scanned.images.at(i).label);
        c.reviewer = QStringLiteral("bench");
        if (!store.add(c)) {
            out << store.errorString() << Qt::endl;
            return 1;
        }
        addMs.push_back(t.nsecsElapsed() / 1e6);
    }
    out << "one decision (hash + INSERT + COMMIT, WAL, synchronous=FULL): median " << median(addMs)
        << " ms over " << nCorrections << Qt::endl;

    std::vector<double> applyMs;
    ml::CorrectionSummary s;
    for (int run = 0; run < 3; ++run) {
        ml::Dataset ds = scanned;
        t.restart();
        s = ml::applyCorrectionsFrom(ds, store.path());
        applyMs.push_back(t.nsecsElapsed() / 1e6);
    }
    out << "apply " << nCorrections << " corrections to the folder: median " << median(applyMs)
        << " ms (" << s.changed << " labels changed, " << s.hashed << " files hashed)" << Qt::endl;

    std::vector<float> p(size_t(scanned.images.size()));
    for (float& v : p)
        v = float(rng.generateDouble());
    std::vector<double> queueMs;
    for (int run = 0; run < 5; ++run) {
        t.restart();
        const auto q = ml::buildReviewQueue(scanned, p, 0.5, ml::ReviewOrder::Uncertainty);
        queueMs.push_back(t.nsecsElapsed() / 1e6);
    }
    out << "build an uncertainty queue of " << scanned.images.size() << " cells: median "
        << median(queueMs) << " ms" << Qt::endl;

    ml::Classifier model;
    if (!model.loadEmbedded()) {
        out << model.errorString() << Qt::endl;
        return 1;
    }
    ml::setTorchThreads(1);
    for (ml::ExplainMethod m : {ml::ExplainMethod::GradCam, ml::ExplainMethod::Occlusion}) {
        std::vector<double> ms;
        const int n = m == ml::ExplainMethod::GradCam ? 50 : 10;
        for (int k = 0; k < n; ++k) {
            const ml::PreprocessedImage img = ml::loadPreprocessed(
                scanned.absolutePath(int(rng.bounded(quint32(scanned.images.size())))));
            ml::ExplainOptions o;
            o.method = m;
            t.restart();
            const ml::Explanation e = ml::explainCell(model, img.rgb, o);
            if (!e.ok()) {
                out << e.error << Qt::endl;
                return 1;
            }
            ms.push_back(t.nsecsElapsed() / 1e6);
        }
        out << ml::explainMethodName(m) << " of one cell (embedded se model, 1 thread): median "
            << median(ms) << " ms over " << n << Qt::endl;
    }
    return 0;
}
