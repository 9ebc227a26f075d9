// Browser benchmark: listing, first grid of thumbnails, thumbnail throughput, peak memory
// after scrolling through the whole folder. Run on demand:
//   ./build/bench/bench_browser [FOLDER] [--runs N]
// Prints one line per figure (medians over the runs) and a Markdown table row set.
#include "benchstats.h"
#include "browserpage.h"
#include "datasetsession.h"
#include "folderscanner.h"
#include "imagelistmodel.h"
#include "thumbnailservice.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QListView>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTest>
#include <QTextStream>

#include <algorithm>
#include <cstdio>
#include <vector>

using ml::bench::median;

namespace {

long peakRssKb()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toLong();
    return -1;
}

long currentRssKb()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLong();
    return -1;
}

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QStringList args = app.arguments();
    const int runs = std::max(1, ml::bench::takeIntOption(args, QStringLiteral("--runs"), 5));
    const QString folder =
        args.size() > 1 ? args.at(1) : QStringLiteral(MALARIALENS_SHARED_DATA "/nih-cells");
    QTextStream out(stdout);
    // The process before any work: Qt, OpenCV and libtorch (linked through the ui library)
    // loaded, nothing scanned or decoded.
    out << QStringLiteral("RSS at start %1 MB\n").arg(currentRssKb() / 1024.0, 0, 'f', 0);

    // 1. Listing and counting (scan only, no decoding).
    std::vector<double> listMs;
    int images = 0, patients = 0;
    for (int r = 0; r < runs; ++r) {
        QElapsedTimer t;
        t.start();
        const ml::Dataset ds = ml::scanFolder(folder);
        const auto perClass = ds.countPerClass();
        patients = int(ds.countPerPatient().size());
        listMs.push_back(t.nsecsElapsed() / 1e6);
        images = int(ds.images.size());
        if (!ds.error.isEmpty()) {
            out << "error: " << ds.error << "\n";
            return 1;
        }
    }
    out << "folder: " << folder << "\n";
    out << "images: " << images << ", patients: " << patients << "\n";
    out << QStringLiteral("list+count: median %1 ms over %2 runs\n")
               .arg(median(listMs), 0, 'f', 1)
               .arg(runs);

    const ml::Dataset ds = ml::scanFolder(folder);
    // 2. Peak memory after scrolling the browser through the whole folder. Measured first,
    // right after the listing, so the peak is the browser's own: the throughput pass below
    // queues every thumbnail of the folder at once (a load no view makes) and glibc keeps
    // much of that heap afterwards, which inflated this figure when it ran last.
    {
        const long before = currentRssKb();
        ml::ThumbnailService thumbs;
        ml::BrowserPage page(&thumbs);
        page.resize(1000, 900);
        page.show();
        page.setDataset(std::make_shared<const ml::Dataset>(ds));
        QScrollBar* bar = page.listView()->verticalScrollBar();
        QCoreApplication::processEvents();
        QElapsedTimer t;
        t.start();
        int steps = 0;
        while (bar->value() < bar->maximum()) {
            bar->setValue(bar->value() + bar->pageStep());
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
            ++steps;
        }
        // Let the last screenful decode.
        QTest::qWait(500);
        out << QStringLiteral("scrolled %1 pages in %2 s; thumbnail cache %3 MB; RSS %4 MB (before "
                              "%5 MB), peak RSS %6 MB\n")
                   .arg(steps)
                   .arg(t.elapsed() / 1000.0, 0, 'f', 1)
                   .arg(thumbs.cachedBytes() / 1e6, 0, 'f', 1)
                   .arg(currentRssKb() / 1024.0, 0, 'f', 0)
                   .arg(before / 1024.0, 0, 'f', 0)
                   .arg(peakRssKb() / 1024.0, 0, 'f', 0);
    }
    // 3. Time from "open folder" until the first 36 thumbnails are decoded and in the view.
    std::vector<double> firstGridMs;
    for (int r = 0; r < runs; ++r) {
        ml::ThumbnailService thumbs;
        ml::DatasetSession session;
        ml::BrowserPage page(&thumbs);
        page.resize(1000, 900);
        page.show();
        QObject::connect(&session, &ml::DatasetSession::datasetChanged, &page,
                         &ml::BrowserPage::setDataset);
        QElapsedTimer t;
        t.start();
        session.open(folder);
        auto ready36 = [&] {
            auto* m = page.model();
            if (m->rowCount() < 36)
                return false;
            for (int i = 0; i < 36; ++i)
                if (!m->index(i).data(ml::ImageListModel::ThumbnailReadyRole).toBool())
                    return false;
            return true;
        };
        while (!ready36() && t.elapsed() < 30000) {
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            page.listView()->viewport()->update();
        }
        firstGridMs.push_back(t.nsecsElapsed() / 1e6);
        session.cancel();
    }
    out << QStringLiteral("open -> first 36 thumbnails: median %1 ms over %2 runs\n")
               .arg(median(firstGridMs), 0, 'f', 1)
               .arg(runs);

    // 4. Thumbnail throughput on the service's own pool (2 threads).
    {
        ml::ThumbnailService::Options opts;
        opts.maxPending = images + 1;
        ml::ThumbnailService thumbs(opts);
        int done = 0;
        QObject::connect(&thumbs, &ml::ThumbnailService::thumbnailReady, [&] { ++done; });
        QObject::connect(&thumbs, &ml::ThumbnailService::thumbnailFailed, [&] { ++done; });
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < ds.images.size(); ++i)
            thumbs.thumbnail(ds.absolutePath(i));
        while (done < ds.images.size())
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        const double s = t.nsecsElapsed() / 1e9;
        out << QStringLiteral("thumbnails decoded: %1 in %2 s = %3 per second (2 threads)\n")
                   .arg(done)
                   .arg(s, 0, 'f', 2)
                   .arg(done / s, 0, 'f', 0);
    }

    out << QStringLiteral("peak RSS of the whole run (incl. the throughput pass) %1 MB\n")
               .arg(peakRssKb() / 1024.0, 0, 'f', 0);
    return 0;
}
