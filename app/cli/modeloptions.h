#pragma once
// The options of the commands that run a classifier (classify, evaluate, report, explain,
// model-info), declared once so their names, defaults and help read the same everywhere.

#include <QCommandLineOption>
#include <QCommandLineParser>

#include <optional>

namespace ml {
class Classifier;
}

namespace ml::cli {

/// --model FILE: a model file; absent, the model embedded in the binary.
QCommandLineOption modelOption();
/// --threads N: libtorch threads, by default one per core.
QCommandLineOption torchThreadsOption();
/// --threshold T: P(Parasitized) from which a cell is called parasitized; absent, the
/// model card's threshold (the operating point saved on the Evaluate page), else 0.5.
QCommandLineOption thresholdOption();

/// Loads the --model file, or the embedded model when the option is absent. On failure
/// prints "<command>: <reason naming the file>" and returns false; `classifier` is unchanged.
bool loadModel(const QCommandLineParser& parser, const QCommandLineOption& model,
               Classifier& classifier, const QString& command);

/// The decision threshold: --threshold when given, else the card's, else 0.5. nullopt when
/// the given value is not a number in [0, 1].
std::optional<double> decisionThreshold(const QCommandLineParser& parser,
                                        const QCommandLineOption& threshold,
                                        const Classifier& classifier);

/// Cells measured per run for the domain check (evenly spread over the folder): enough for
/// stable medians, a small share of the work on a large folder.
constexpr int kDomainSample = 2000;

/// Prints the apparent and corrected parasitemia of a classify summary (ClassifyReport::
/// toJson()), the whole run and one line per patient with its decision.
void printParasitemia(const QJsonObject& summary);

} // namespace ml::cli
