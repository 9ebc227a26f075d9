#include "clicommand.h"

namespace ml::cli {

int runStats(const QStringList& args);
int runClassify(const QStringList& args);  // models
int runTrain(const QStringList& args);     // models
int runModelInfo(const QStringList& args); // models
int runMean(const QStringList& args);      // explore
int runGrid(const QStringList& args);      // explore
int runSegment(const QStringList& args);   // fields
int runEvaluate(const QStringList& args);
int runReport(const QStringList& args);
int runCorrections(const QStringList& args); // review
int runExplain(const QStringList& args);     // review
int runDomain(const QStringList& args);      // cell: the model's domain
int runCalibrate(const QStringList& args);   // calibration to one lab
int runInputs(const QStringList& args);      // the network's inputs, for outside tools

// Keep one line per command; new commands add their line here.
const std::vector<Command>& commands()
{
    static const std::vector<Command> list = {
        {"stats", "Summarise a folder: counts per class and patient, sizes, skipped files",
         runStats},
        {"classify", "Classify every cell image of a folder (probability of Parasitized)",
         runClassify},
        {"train", "Train a base/gap/se classifier on a labelled folder", runTrain},
        {"model-info", "Print the model card of the embedded or a given model", runModelInfo},
        {"mean", "Per-class mean, std and difference images of a folder (PNG)", runMean},
        {"grid", "Labelled 3x3/6x6 grid of cells: rgb, hsv, blur or augment mode (PNG)", runGrid},
        {"evaluate",
         "Confusion matrix, report, ROC AUC, calibration and patients of a labelled folder",
         runEvaluate},
        {"report",
         "Classify a folder and write a PDF report (parasitemia, model, evaluation, gallery)",
         runReport},
        {"segment", "Find, classify and count the cells of whole field images (parasitemia)",
         runSegment},
        {"corrections", "Export or import the reviewer's label corrections (CSV)", runCorrections},
        {"explain", "Heatmap of where the model found its evidence in one cell (PNG)", runExplain},
        {"domain", "Record a model's domain (how its training cells look) in its card", runDomain},
        {"calibrate", "Adapt the model to one lab's own fields; before/after on its test fields",
         runCalibrate},
        {"inputs", "Write what the network receives for listed cells (raw float32)", runInputs},
    };
    return list;
}

} // namespace ml::cli
