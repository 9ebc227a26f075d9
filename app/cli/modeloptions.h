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

/// What --precision means when it is absent.
enum class PrecisionDefault {
    Fp32, ///< the card's own arithmetic: commands whose figures are the card's
    Auto  ///< int8 when the model has an int8 companion (classify: the speed path)
};

/// --precision fp32|int8|auto: the arithmetic the network runs in. int8 runs the model's int8
/// companion (Classifier::setPrecision()); when it has none, says so on stderr and runs fp32.
/// auto runs int8 when the companion is there and fp32 without a note when it is not.
QCommandLineOption precisionOption(PrecisionDefault byDefault = PrecisionDefault::Fp32);

/// Loads the --model file, or the embedded model when the option is absent. On failure
/// prints "<command>: <reason naming the file>" and returns false; `classifier` is unchanged.
/// With `precision` (a registered precisionOption()), then applies it with applyPrecision().
bool loadModel(const QCommandLineParser& parser, const QCommandLineOption& model,
               Classifier& classifier, const QString& command,
               const QCommandLineOption* precision = nullptr);

/// Applies --precision to a loaded classifier. A precision that is not available prints
/// "<command>: <Classifier::precisionNote()>" on stderr and keeps the model's own (never
/// silent; the note also goes into classify's JSON). Returns false only for a value other
/// than fp32, int8 or auto (a usage error, after printing it).
bool applyPrecision(const QCommandLineParser& parser, const QCommandLineOption& precision,
                    Classifier& classifier, const QString& command);

/// True when --precision holds fp32, int8 or auto (or is absent): checked before any work.
bool validPrecision(const QCommandLineParser& parser, const QCommandLineOption& precision);

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
