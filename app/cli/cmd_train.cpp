// malarialens-cli train: trains a base/gap/se classifier on a labelled folder and writes the
// model, its card (.json) and its history (.history.csv) beside each other.

#include "clicommand.h"
#include "modeloptions.h"

#include "csvfield.h"

#include "folderscanner.h"
#include "labelcorrections.h"
#include "trainer.h"
#include "validationsplit.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

namespace ml::cli {

namespace {

// Rewrites each entry of an --exclude-list as the trainer matches it (a path relative to
// `folder`, as classify --csv writes it), whether it was given relative, with "./" or
// absolute. Returns how many entries name no cell of `ds`, so a mistyped list is noticed.
int matchExclusionList(const Dataset& ds, const QString& folder, QSet<QString>& entries)
{
    const QDir root(folder);
    QSet<QString> cells;
    for (const ImageEntry& e : ds.images)
        cells.insert(e.relativePath);
    QSet<QString> matched;
    int unmatched = 0;
    for (const QString& entry : std::as_const(entries)) {
        const QString relative =
            QDir::cleanPath(QDir::isAbsolutePath(entry) ? root.relativeFilePath(entry) : entry);
        if (cells.contains(relative))
            matched.insert(relative);
        else
            ++unmatched;
    }
    entries = matched;
    return unmatched;
}

// The held-out patients listed by the card at `path` (a .json card, or a model whose card
// is beside it).
std::optional<QSet<QString>> heldOutPatientsOfCard(const QString& path, QString* error)
{
    const QString cardPath = cardPathForModel(path);
    QFile f(cardPath);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(cardPath, f.errorString());
        return std::nullopt;
    }
    const QSet<QString> patients = heldOutPatients(QJsonDocument::fromJson(f.readAll()).object());
    if (patients.isEmpty()) {
        *error = QStringLiteral("%1 lists no held-out patients (split.val_patients)").arg(cardPath);
        return std::nullopt;
    }
    return patients;
}

void printSourceFigures(const TrainingResult& r)
{
    auto line = [](const QString& what, const SourceFigures& f) {
        printLine(what + QLatin1Char(' ') + f.describe());
    };
    if (r.validationBySource.size() > 1) {
        for (const SourceFigures& f : r.validationBySource)
            line(QStringLiteral("validation, source"), f);
    }
    if (!r.config.holdoutSource.isEmpty())
        line(QStringLiteral("held-out source"), r.holdout);
}

// Adds train's options on where the cells come from and how they are split to `p`.
void addTrainDataOptions(QCommandLineParser* p)
{
    const QCommandLineOption split(QStringLiteral("split"),
                                   QStringLiteral("patient (default) or random"),
                                   QStringLiteral("MODE"), QStringLiteral("patient"));
    const QCommandLineOption valFraction(
        QStringLiteral("val-fraction"),
        QStringLiteral("share of cells for validation (default 0.2)"), QStringLiteral("F"),
        QStringLiteral("0.2"));
    const QCommandLineOption folds(
        QStringLiteral("folds"),
        QStringLiteral("k-fold cross-validation by patient: train K models, each validated on "
                       "one patient fold; prints per-fold, mean and pooled out-of-fold figures. "
                       "Then FILE is trained on every patient for the epochs and learning rates "
                       "of the fold with the median best epoch; its card carries the whole "
                       "cross-validation and the pooled figures (default 0: one split)"),
        QStringLiteral("K"), QStringLiteral("0"));
    const QCommandLineOption excludeList(
        QStringLiteral("exclude-list"),
        QStringLiteral("leave the cells listed in FILE (one path per line, relative to DIR or "
                       "absolute, '#' "
                       "comments) out of the training side; the split and the validation cells "
                       "are unchanged, the model card counts them"),
        QStringLiteral("FILE"));
    const QCommandLineOption valPatientsFrom(
        QStringLiteral("val-patients-from"),
        QStringLiteral("validate on exactly the patients a model card lists as held out "
                       "(split.val_patients of CARD, a .json card or the .pt beside it), e.g. "
                       "to train further from that model (--init-from) without ever learning "
                       "its held-out patients; replaces --val-fraction"),
        QStringLiteral("CARD"));
    const QCommandLineOption noCorrections(
        QStringLiteral("no-corrections"),
        QStringLiteral("train on the folder's own labels, without the reviewer's corrections"));
    const QCommandLineOption source(
        QStringLiteral("source"),
        QStringLiteral("one more labelled folder, named NAME (repeatable): every source's images "
                       "train one model, patient/slide/field ids are kept apart per source "
                       "(NAME:id) and the card reports the validation figures per source"),
        QStringLiteral("NAME=DIR"));
    const QCommandLineOption holdoutSource(
        QStringLiteral("holdout-source"),
        QStringLiteral("leave-one-source-out: train on the other sources (their own patient "
                       "split for early stopping), then test on source NAME; the card's "
                       "\"holdout\" has its cells, sensitivity, specificity, balanced accuracy "
                       "and AUC"),
        QStringLiteral("NAME"));
    const QCommandLineOption balanceClasses(
        QStringLiteral("balance-classes"),
        QStringLiteral("class-balanced sampling: each epoch draws half of its cells from each "
                       "class (the smaller class oversampled, seeded)"));
    p->addOptions({split, valFraction, folds, excludeList, valPatientsFrom, noCorrections, source,
                   holdoutSource, balanceClasses});
}

// Adds train's options to `p`.
void addTrainOptions(QCommandLineParser* p)
{
    const QCommandLineOption arch(QStringLiteral("arch"),
                                  QStringLiteral("base, gap or se (default se)"),
                                  QStringLiteral("ARCH"), QStringLiteral("se"));
    const QCommandLineOption epochs(QStringLiteral("epochs"),
                                    QStringLiteral("maximum epochs (default 20)"),
                                    QStringLiteral("N"), QStringLiteral("20"));
    const QCommandLineOption batch(QStringLiteral("batch-size"),
                                   QStringLiteral("batch size (default 100)"), QStringLiteral("N"),
                                   QStringLiteral("100"));
    const QCommandLineOption lr(QStringLiteral("learning-rate"),
                                QStringLiteral("Adam learning rate (default 0.001)"),
                                QStringLiteral("LR"), QStringLiteral("0.001"));
    const QCommandLineOption patience(QStringLiteral("patience"),
                                      QStringLiteral("early-stopping patience (default 5)"),
                                      QStringLiteral("N"), QStringLiteral("5"));
    const QCommandLineOption augment(
        QStringLiteral("augment"),
        QStringLiteral("augment: flips, brightness, contrast, hue/saturation (stain) jitter"));
    const QCommandLineOption noStain(
        QStringLiteral("no-stain-jitter"),
        QStringLiteral("with --augment: the study's augmentation only (no colour jitter)"));
    const AugmentConfig standardJitter = AugmentConfig::withStainJitter();
    const QString hueDefault = QString::number(double(standardJitter.hueShiftDegrees));
    const QString saturationDefault = QString::number(double(standardJitter.saturationJitter));
    const QCommandLineOption hueJitter(
        QStringLiteral("hue-jitter"),
        QStringLiteral("with --augment: hue shift drawn from [-DEG, +DEG] (default %1)")
            .arg(hueDefault),
        QStringLiteral("DEG"), hueDefault);
    const QCommandLineOption saturationJitter(
        QStringLiteral("saturation-jitter"),
        QStringLiteral("with --augment: saturation factor drawn from [1-S, 1+S] (default %1)")
            .arg(saturationDefault),
        QStringLiteral("S"), saturationDefault);
    const QCommandLineOption seed(QStringLiteral("seed"),
                                  QStringLiteral("random seed (default 42)"), QStringLiteral("S"),
                                  QStringLiteral("42"));
    const QCommandLineOption threads = torchThreadsOption();
    const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("model file to write"),
                                 QStringLiteral("FILE"));
    const QCommandLineOption resume(QStringLiteral("resume"),
                                    QStringLiteral("continue from FILE.checkpoint when it exists"));
    const QCommandLineOption initFrom(
        QStringLiteral("init-from"),
        QStringLiteral("fine-tune: start from the weights of this native model (same --arch)"),
        QStringLiteral("FILE"));
    const QCommandLineOption normalize(
        QStringLiteral("normalize"),
        QStringLiteral(
            "colour normalisation of each cell: none, foreground-median, canonical-grey "
            "or canonical-lab (default none); recorded in the model card and applied at inference"),
        QStringLiteral("MODE"), QStringLiteral("none"));
    const QCommandLineOption lrPatience(
        QStringLiteral("lr-patience"),
        QStringLiteral("halve the learning rate after N epochs without a better validation "
                       "loss (default 0: constant rate)"),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption batchNormCells(
        QStringLiteral("batchnorm-cells"),
        QStringLiteral("after every epoch, recompute the BatchNorm statistics over N clean "
                       "training cells (0, the default: keep the running averages of the "
                       "augmented batches)"),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption augmentPreset(
        QStringLiteral("augment-preset"),
        QStringLiteral("augmentation preset (implies --augment): study (flips, brightness, "
                       "contrast), stain (study + hue/saturation jitter, the default) or "
                       "cross-lab (wider stain jitter, exposure, gamma, defocus, scale, "
                       "surround colour, noise, JPEG)"),
        QStringLiteral("NAME"));
    const QCommandLineOption json(QStringLiteral("json"),
                                  QStringLiteral("print a JSON summary at the end"));
    p->addOptions({arch, epochs, batch, lr, patience, augment, noStain, hueJitter, saturationJitter,
                   seed, threads, out, resume, initFrom, normalize, lrPatience, augmentPreset,
                   batchNormCells, json});
    addTrainDataOptions(p);
}

// The training settings from the parsed options; an exit code when they are not valid.
std::optional<int> configFromOptions(const QCommandLineParser& p, TrainingConfig& config, int* k)
{
    const AugmentConfig standardJitter = AugmentConfig::withStainJitter();
    const auto a = parseArchitecture(p.value(QStringLiteral("arch")));
    if (!a) {
        printError(QStringLiteral("train: unknown --arch '%1' (base, gap or se)")
                       .arg(p.value(QStringLiteral("arch"))));
        return 2;
    }
    config.arch = *a;
    bool ok1 = false, ok2 = false, ok3 = false, ok4 = false, ok5 = false, ok6 = false, ok7 = false,
         ok8 = false, ok9 = false, ok10 = false;
    config.epochs = p.value(QStringLiteral("epochs")).toInt(&ok1);
    config.batchSize = p.value(QStringLiteral("batch-size")).toInt(&ok2);
    config.learningRate = p.value(QStringLiteral("learning-rate")).toDouble(&ok3);
    config.patience = p.value(QStringLiteral("patience")).toInt(&ok4);
    config.valFraction = p.value(QStringLiteral("val-fraction")).toDouble(&ok5);
    config.seed = p.value(QStringLiteral("seed")).toUInt(&ok6);
    config.threads = p.value(QStringLiteral("threads")).toInt(&ok7);
    config.lrPatience = p.value(QStringLiteral("lr-patience")).toInt(&ok8);
    *k = p.value(QStringLiteral("folds")).toInt(&ok10);
    config.normalization = inputNormalizationFromName(p.value(QStringLiteral("normalize")), &ok9);
    if (!ok9) {
        printError(QStringLiteral(
            "train: --normalize must be none, foreground-median, canonical-grey or canonical-lab"));
        return 2;
    }
    if (!(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok10) || *k < 0 || *k == 1 ||
        config.epochs < 1 || config.batchSize < 1 || config.threads < 1 || config.lrPatience < 0 ||
        config.valFraction <= 0 || config.valFraction >= 1) {
        printError(QStringLiteral("train: invalid number in the options (see --help)"));
        return 2;
    }
    if (p.value(QStringLiteral("split")) == QLatin1String("patient"))
        config.split = SplitMode::Patient;
    else if (p.value(QStringLiteral("split")) == QLatin1String("random"))
        config.split = SplitMode::Random;
    else {
        printError(QStringLiteral("train: --split must be patient or random"));
        return 2;
    }
    config.augment =
        p.isSet(QStringLiteral("augment")) || p.isSet(QStringLiteral("augment-preset"));
    config.augmentConfig =
        p.isSet(QStringLiteral("no-stain-jitter")) ? AugmentConfig::study() : standardJitter;
    if (p.isSet(QStringLiteral("augment-preset"))) {
        const QString preset = p.value(QStringLiteral("augment-preset"));
        if (preset != QLatin1String("study") && preset != QLatin1String("stain") &&
            preset != QLatin1String("cross-lab")) {
            printError(QStringLiteral("train: --augment-preset must be study, stain or cross-lab"));
            return 2;
        }
        if (p.isSet(QStringLiteral("no-stain-jitter"))) {
            printError(QStringLiteral("train: --augment-preset cannot go with --no-stain-jitter"));
            return 2;
        }
        config.augmentPreset = preset;
        config.augmentConfig = preset == QLatin1String("study")   ? AugmentConfig::study()
                               : preset == QLatin1String("stain") ? standardJitter
                                                                  : AugmentConfig::crossLab();
    }
    if (p.isSet(QStringLiteral("no-stain-jitter")) &&
        (p.isSet(QStringLiteral("hue-jitter")) || p.isSet(QStringLiteral("saturation-jitter")))) {
        printError(QStringLiteral(
            "train: --no-stain-jitter cannot go with --hue-jitter or --saturation-jitter"));
        return 2;
    }
    if (!p.isSet(QStringLiteral("no-stain-jitter")) &&
        (!p.isSet(QStringLiteral("augment-preset")) || p.isSet(QStringLiteral("hue-jitter")) ||
         p.isSet(QStringLiteral("saturation-jitter")))) {
        bool okHue = false, okSat = false;
        const double hue = p.value(QStringLiteral("hue-jitter")).toDouble(&okHue);
        const double sat = p.value(QStringLiteral("saturation-jitter")).toDouble(&okSat);
        if (!okHue || !okSat || hue < 0 || hue > 90 || sat < 0 || sat > 0.9) {
            printError(QStringLiteral("train: --hue-jitter must be 0..90 degrees and "
                                      "--saturation-jitter 0..0.9"));
            return 2;
        }
        config.augmentConfig.hueShiftDegrees = float(hue);
        config.augmentConfig.saturationJitter = float(sat);
    }
    config.decodeThreads = config.threads;
    config.checkpointPath = p.value(QStringLiteral("out")) + QStringLiteral(".checkpoint");
    config.resume = p.isSet(QStringLiteral("resume"));
    if (p.isSet(QStringLiteral("init-from")) &&
        !config.initialModel.load(p.value(QStringLiteral("init-from")))) {
        printError(QStringLiteral("train: %1").arg(config.initialModel.errorString()));
        return 1;
    }

    if (p.isSet(QStringLiteral("exclude-list"))) {
        QString error;
        const std::optional<QStringList> list =
            readListFile(p.value(QStringLiteral("exclude-list")), &error);
        if (!list) {
            printError(QStringLiteral("train: cannot read the exclusion list %1").arg(error));
            return 1;
        }
        for (const QString& line : *list)
            config.excludedFromTraining.insert(line);
        config.exclusionSource = QFileInfo(p.value(QStringLiteral("exclude-list"))).fileName();
    }

    if (p.isSet(QStringLiteral("val-patients-from"))) {
        QString error;
        const std::optional<QSet<QString>> given =
            heldOutPatientsOfCard(p.value(QStringLiteral("val-patients-from")), &error);
        if (!given) {
            printError(QStringLiteral("train: --val-patients-from: %1").arg(error));
            return 1;
        }
        if (*k > 1 || config.split != SplitMode::Patient) {
            printError(QStringLiteral("train: --val-patients-from gives the validation patients; "
                                      "it cannot go with --folds or --split random"));
            return 2;
        }
        config.validationPatients = *given;
    }
    return std::nullopt;
}

// Scans the labelled folders (the positional DIR and every --source) into one dataset,
// reviewer corrections applied unless --no-corrections; checks --holdout-source and the
// exclusion list against it. An exit code when they cannot be used.
std::optional<int> loadSources(const QCommandLineParser& p, TrainingConfig& config, Dataset* merged)
{
    // Reviewer corrections replace folder labels; the model card lists the ones used.
    QList<TrainingSource> sources;
    QStringList sourceDirs;
    if (!p.positionalArguments().isEmpty())
        sourceDirs << QStringLiteral("%1=%2").arg(
            sourceNameForFolder(p.positionalArguments().first()), p.positionalArguments().first());
    sourceDirs << p.values(QStringLiteral("source"));
    for (const QString& spec : std::as_const(sourceDirs)) {
        const int eq = spec.indexOf(QLatin1Char('='));
        const QString name = spec.left(eq).trimmed();
        const QString dir = spec.mid(eq + 1);
        if (eq <= 0 || dir.isEmpty() || !isValidSourceName(name)) {
            printError(QStringLiteral("train: --source needs NAME=DIR with a NAME without ':' "
                                      "(got '%1')")
                           .arg(spec));
            return 2;
        }
        sources.append({name, p.isSet(QStringLiteral("no-corrections"))
                                  ? scanFolder(dir)
                                  : scanFolderWithCorrections(dir)});
    }
    *merged = mergeSources(sources);
    const Dataset& ds = *merged;
    if (!ds.error.isEmpty()) {
        printError(QStringLiteral("train: %1").arg(ds.error));
        return 1;
    }
    const QString folder = ds.root;
    config.balanceClasses = p.isSet(QStringLiteral("balance-classes"));
    bool cellsOk = false;
    config.batchNormCells = p.value(QStringLiteral("batchnorm-cells")).toInt(&cellsOk);
    if (!cellsOk || config.batchNormCells < 0) {
        printError(QStringLiteral("train: --batchnorm-cells needs a whole number >= 0"));
        return 2;
    }
    if (p.isSet(QStringLiteral("holdout-source"))) {
        config.holdoutSource = p.value(QStringLiteral("holdout-source"));
        QStringList names;
        for (const TrainingSource& s : std::as_const(sources))
            names << s.name;
        if (!names.contains(config.holdoutSource)) {
            printError(QStringLiteral("train: --holdout-source %1 is not one of the sources (%2)")
                           .arg(config.holdoutSource, names.join(QLatin1String(", "))));
            return 2;
        }
    }
    if (!config.excludedFromTraining.isEmpty()) {
        const int unmatched = matchExclusionList(ds, folder, config.excludedFromTraining);
        if (unmatched > 0)
            printError(QStringLiteral("train: note: %1 listed path%2 not a cell of %3")
                           .arg(unmatched)
                           .arg(unmatched == 1 ? QStringLiteral(" is") : QStringLiteral("s are"))
                           .arg(folder));
    }
    return std::nullopt;
}

// train --folds K: the folds, their figures and out-of-fold probabilities, then the final
// fit on every patient (`*r`). An exit code when it failed.
std::optional<int> runCrossValidation(const Dataset& ds, const TrainingConfig& config, int k,
                                      const TrainingCallbacks& cb, const QString& outPath,
                                      TrainingResult* r, QJsonObject* crossValidation)
{
    if (config.split != SplitMode::Patient) {
        printError(QStringLiteral("train: --folds needs --split patient"));
        return 2;
    }
    const CrossValidationResult cv = crossValidate(
        ds, config, k, cb, nullptr,
        [](int fold, int total) {
            printLine(fold < total ? QStringLiteral("fold %1/%2").arg(fold + 1).arg(total)
                                   : QStringLiteral("final fit on every patient"));
        },
        true);
    if (!cv.ok) {
        printError(QStringLiteral("train: %1").arg(cv.error));
        return 1;
    }
    *crossValidation = cv.toJson();
    for (int i = 0; i < cv.folds.size(); ++i) {
        const ValidationReport& f = cv.folds.at(i).validation;
        printLine(QStringLiteral("fold %1: %2 cells, accuracy %3, AUC %4, worst patient %5, "
                                 "max healthy patient share %6")
                      .arg(i + 1)
                      .arg(f.cells.count)
                      .arg(f.cells.accuracy, 0, 'f', 4)
                      .arg(f.cells.auc, 0, 'f', 4)
                      .arg(f.worstPatientAccuracy, 0, 'f', 4)
                      .arg(f.maxHealthyParasitizedShare, 0, 'f', 4));
    }
    const ValidationReport& pooled = cv.pooled;
    printLine(QStringLiteral("pooled out-of-fold (%1 cells, %2 patients): accuracy %3, AUC %4, "
                             "worst patient %5 (%6), max healthy patient share %7 (%8)")
                  .arg(pooled.cells.count)
                  .arg(pooled.healthyPatients + pooled.infectedPatients)
                  .arg(pooled.cells.accuracy, 0, 'f', 4)
                  .arg(pooled.cells.auc, 0, 'f', 4)
                  .arg(pooled.worstPatientAccuracy, 0, 'f', 4)
                  .arg(pooled.worstPatient)
                  .arg(pooled.maxHealthyParasitizedShare, 0, 'f', 4)
                  .arg(pooled.maxHealthyPatient));
    // Every cell's out-of-fold probability, for threshold and per-patient analysis.
    QByteArray rows = "file,patient,true_label,fold,probability_parasitized\n";
    for (int i = 0; i < cv.folds.size(); ++i) {
        const TrainingResult& f = cv.folds.at(i);
        for (size_t j = 0; j < f.validationIndices.size(); ++j) {
            const ImageEntry& e = ds.images.at(f.validationIndices[j]);
            rows += QStringLiteral("%1,%2,%3,%4,%5\n")
                        .arg(csvField(e.relativePath), csvField(e.patient), ds.className(e.label))
                        .arg(i + 1)
                        .arg(double(f.validationCells[j].probability), 0, 'f', 6)
                        .toUtf8();
        }
    }
    QString why;
    if (!writeFileAtomically(outOfFoldPathFor(outPath), rows, &why)) {
        printError(QStringLiteral("train: %1").arg(why));
        return 1;
    }
    printLine(QStringLiteral("out-of-fold probabilities: %1").arg(outOfFoldPathFor(outPath)));
    *r = cv.final;
    return std::nullopt;
}

} // namespace

int runTrain(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Train a cell classifier on a labelled folder (two class subfolders, e.g. Parasitized and "
        "Uninfected). Adam, cross-entropy, early stopping on validation loss (patience 5, best "
        "weights restored). Writes FILE, FILE's model card (.json), its training history "
        "(.history.csv) and a checkpoint after every epoch (.checkpoint)."));
    p.addHelpOption();
    p.addPositionalArgument(QStringLiteral("DIR"),
                            QStringLiteral("labelled folder of cell images (one source, named "
                                           "after the folder; optional with --source)"),
                            QStringLiteral("[DIR]"));
    addTrainOptions(&p);
    if (const std::optional<int> exitCode = parseArguments(p, args))
        return *exitCode;
    if (p.positionalArguments().size() > 1 ||
        (p.positionalArguments().isEmpty() && !p.isSet(QStringLiteral("source")))) {
        printError(
            QStringLiteral("train: expected one folder and/or --source NAME=DIR (see --help)"));
        return 2;
    }
    if (!p.isSet(QStringLiteral("out"))) {
        printError(QStringLiteral("train: --out FILE is required"));
        return 2;
    }
    TrainingConfig config;
    int k = 0;
    if (const std::optional<int> exitCode = configFromOptions(p, config, &k))
        return *exitCode;
    const QString outPath = p.value(QStringLiteral("out"));
    Dataset ds;
    if (const std::optional<int> exitCode = loadSources(p, config, &ds))
        return *exitCode;
    if (config.split == SplitMode::Random)
        printError(
            QStringLiteral("train: note: a random split puts cells of one patient on both sides; "
                           "validation accuracy is then inflated (use --split patient)"));

    TrainingCallbacks cb;
    cb.log = [](const QString& m) { printError(QStringLiteral("train: %1").arg(m)); };
    cb.epochDone = [](const EpochStats& s) { printLine(s.logLine()); };
    TrainingResult r;
    QJsonObject crossValidation;
    if (k > 1) {
        if (const std::optional<int> exitCode =
                runCrossValidation(ds, config, k, cb, outPath, &r, &crossValidation))
            return *exitCode;
    } else {
        r = trainClassifier(ds, config, cb);
        if (!r.ok) {
            printError(QStringLiteral("train: %1").arg(r.error));
            return 1;
        }
    }
    QString why;
    if (!r.classifier.save(outPath, &why)) {
        printError(QStringLiteral("train: %1").arg(why));
        return 1;
    }
    if (!writeFileAtomically(historyPathFor(outPath), r.historyCsv(), &why)) {
        printError(QStringLiteral("train: %1").arg(why));
        return 1;
    }
    // The final model is safe on disk: the checkpoint is no longer needed.
    QFile::remove(config.checkpointPath);
    for (int i = 0; i <= k; ++i) // the folds' and the final fit's
        QFile::remove(foldCheckpointPath(config.checkpointPath, i));

    const ValidationReport& v = r.validation;
    if (p.isSet(QStringLiteral("json"))) {
        QJsonObject summary{{QStringLiteral("model"), outPath},
                            {QStringLiteral("card"), cardPathForModel(outPath)},
                            {QStringLiteral("history"), historyPathFor(outPath)},
                            {QStringLiteral("epochs_run"), int(r.history.size())},
                            {QStringLiteral("best_epoch"), r.bestEpoch},
                            {QStringLiteral("seconds"), r.seconds},
                            {QStringLiteral("validation"), v.toJson(false)}};
        if (!crossValidation.isEmpty())
            summary.insert(QStringLiteral("cross_validation"), crossValidation);
        if (!r.validationBySource.isEmpty()) {
            QJsonArray perSource;
            for (const SourceFigures& f : r.validationBySource)
                perSource.append(f.toJson());
            summary.insert(QStringLiteral("validation_by_source"), perSource);
        }
        if (!config.holdoutSource.isEmpty())
            summary.insert(QStringLiteral("holdout"), r.holdout.toJson());
        printJson(summary);
    } else if (k > 1) {
        printLine(QStringLiteral("final model: trained on every patient for %1 epoch%2 at the "
                                 "learning rates of %3; its card's validation figures are the "
                                 "pooled out-of-fold ones above")
                      .arg(r.history.size())
                      .arg(r.history.size() == 1 ? QString() : QStringLiteral("s"))
                      .arg(r.config.fixedRatesSource));
        printLine(QStringLiteral("wrote %1, %2, %3")
                      .arg(outPath, cardPathForModel(outPath), historyPathFor(outPath)));
    } else {
        printSourceFigures(r);
        printLine(
            QStringLiteral("best epoch %1 of %2; validation (%3 split): cell accuracy %4, AUC %5, "
                           "sensitivity %6, specificity %7; worst patient accuracy %8 (%9)")
                .arg(r.bestEpoch)
                .arg(r.history.size())
                .arg(config.split == SplitMode::Patient ? QStringLiteral("patient")
                                                        : QStringLiteral("random"))
                .arg(v.cells.accuracy, 0, 'f', 4)
                .arg(v.cells.auc, 0, 'f', 4)
                .arg(v.cells.sensitivity, 0, 'f', 4)
                .arg(v.cells.specificity, 0, 'f', 4)
                .arg(v.worstPatientAccuracy, 0, 'f', 4)
                .arg(v.worstPatient));
        printLine(QStringLiteral("wrote %1, %2, %3")
                      .arg(outPath, cardPathForModel(outPath), historyPathFor(outPath)));
    }
    return 0;
}

} // namespace ml::cli
