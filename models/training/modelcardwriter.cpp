// The model card of a finished training run (TrainingResult::modelCard()).
#include "trainingresult.h"

#include "checkpoint.h"
#include "networks.h"
#include "torchthreads.h"

#include <QDateTime>
#include <QFileInfo>
#include <QJsonArray>

#include <cmath>

namespace ml {

namespace {

double round4(double v)
{
    return std::round(v * 10000.0) / 10000.0;
}

QJsonObject augmentJson(const TrainingConfig& c)
{
    if (!c.augment)
        return QJsonObject{{QStringLiteral("enabled"), false}};
    const AugmentConfig& a = c.augmentConfig;
    QJsonObject o{
        {QStringLiteral("enabled"), true},
        {QStringLiteral("horizontal_flip"), a.horizontalFlip},
        {QStringLiteral("vertical_flip"), a.verticalFlip},
        {QStringLiteral("brightness_delta"), round4(a.brightnessDelta)},
        {QStringLiteral("contrast_low"), round4(a.contrastLow)},
        {QStringLiteral("contrast_high"), round4(a.contrastHigh)},
        {QStringLiteral("hue_shift_degrees"), round4(a.hueShiftDegrees)},
        {QStringLiteral("saturation_jitter"), round4(a.saturationJitter)},
        {QStringLiteral("functions"), QStringLiteral("core/augment.h drawAugment + applyAugment")},
        {QStringLiteral("order"),
         QStringLiteral("augmentation of the preprocessed cell, then the input normalisation")}};
    if (!c.augmentPreset.isEmpty())
        o.insert(QStringLiteral("preset"), c.augmentPreset);
    if (a.crossLabEnabled()) {
        o.insert(QStringLiteral("gamma_jitter"), round4(a.gammaJitter));
        o.insert(QStringLiteral("exposure_jitter"), round4(a.exposureJitter));
        o.insert(QStringLiteral("blur_sigma_max"), round4(a.blurSigmaMax));
        o.insert(QStringLiteral("scale_jitter"), round4(a.scaleJitter));
        o.insert(QStringLiteral("surround_probability"), round4(a.surroundProbability));
        o.insert(QStringLiteral("noise_std_max"), round4(a.noiseStdMax));
        o.insert(QStringLiteral("jpeg_quality_low"), a.jpegQualityLow);
    }
    return o;
}

// The card's "training": optimizer, schedule, stopping, augmentation, sampling, origin.
QJsonObject trainingJson(const TrainingResult& r)
{
    const TrainingConfig& c = r.config;
    const bool finalFit = !c.fixedRates.isEmpty();
    QJsonArray fixedRates;
    for (double rate : c.fixedRates)
        fixedRates.append(rate);
    QJsonObject training = QJsonObject{
        {QStringLiteral("optimizer"), QStringLiteral("Adam")},
        {QStringLiteral("loss"), QStringLiteral("cross-entropy")},
        {QStringLiteral("learning_rate"), c.learningRate},
        {QStringLiteral("learning_rate_schedule"),
         finalFit ? QJsonValue(fixedRates)
         : c.lrPatience > 0
             ? QJsonValue(QStringLiteral("x%1 after %2 epochs without a better val loss")
                              .arg(c.lrFactor)
                              .arg(c.lrPatience))
             : QJsonValue(QStringLiteral("constant"))},
        {QStringLiteral("batch_size"), c.batchSize},
        {QStringLiteral("epochs_requested"), c.epochs},
        {QStringLiteral("epochs_run"), int(r.history.size())},
        {QStringLiteral("best_epoch"), r.bestEpoch},
        {QStringLiteral("early_stopping"),
         finalFit ? QStringLiteral("none: a final fit on every patient for the epochs and "
                                   "learning rates of %1 up to its best epoch")
                        .arg(c.fixedRatesSource)
                  : QStringLiteral("val loss, patience %1, best weights restored").arg(c.patience)},
        {QStringLiteral("stopped_early"), r.stoppedEarly},
        {QStringLiteral("augmentation"), augmentJson(c)},
        {QStringLiteral("threads"), c.threads},
        {QStringLiteral("initialized_from"),
         c.initialModel.isLoaded()
             ? QJsonValue(QJsonObject{
                   {QStringLiteral("source"), QFileInfo(c.initialModel.source()).fileName()},
                   {QStringLiteral("weights_sha256"), c.initialModel.weightsSha256()},
                   {QStringLiteral("card_training"),
                    c.initialModel.card().value(QStringLiteral("training"))},
                   {QStringLiteral("card_validation_cell_level"),
                    c.initialModel.card()
                        .value(QStringLiteral("validation"))
                        .toObject()
                        .value(QStringLiteral("cell_level"))}})
             : QJsonValue(QStringLiteral("scratch"))},
        {QStringLiteral("seconds"), round4(r.seconds)},
        {QStringLiteral("failed_images"), r.failedImages}};
    training.insert(QStringLiteral("class_balanced_sampling"),
                    c.balanceClasses
                        ? QJsonValue(QStringLiteral("each epoch draws as many cells as the "
                                                    "training side holds, half of each class "
                                                    "(the smaller class oversampled)"))
                        : QJsonValue(false));
    training.insert(QStringLiteral("batchnorm_statistics"),
                    c.batchNormCells > 0
                        ? QJsonValue(QStringLiteral("recomputed after every epoch over %1 clean "
                                                    "training cells")
                                         .arg(c.batchNormCells))
                        : QJsonValue(QStringLiteral("running averages of the training batches")));
    return training;
}

// Every source named in the run (validation sides and the held-out one).
QStringList sourcesOf(const QList<SourceFigures>& validation, const SourceFigures& holdout,
                      const TrainingConfig& c)
{
    QStringList names;
    for (const SourceFigures& f : validation)
        names << f.source;
    if (!c.holdoutSource.isEmpty() && !names.contains(holdout.source))
        names << c.holdoutSource;
    return names;
}

} // namespace

QJsonObject TrainingResult::modelCard() const
{
    const TrainingConfig& c = config;
    QJsonObject splitJson{{QStringLiteral("mode"), splitName(c.split)},
                          {QStringLiteral("val_fraction"), c.valFraction},
                          {QStringLiteral("seed"), double(c.seed)}};
    const bool finalFit = !c.fixedRates.isEmpty();
    if (finalFit) {
        // Nothing held out: validationMaskFromCard() then knows there is no split to rebuild.
        splitJson = QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")},
                                {QStringLiteral("seed"), double(c.seed)},
                                {QStringLiteral("folds"), c.folds}};
    } else if (c.folds > 1) {
        splitJson.insert(QStringLiteral("folds"), c.folds);
        splitJson.insert(QStringLiteral("fold"), c.fold);
    } else if (!c.validationPatients.isEmpty()) {
        // Given, not drawn: listed, so validationMaskFromCard() finds them in any folder.
        QStringList given(c.validationPatients.begin(), c.validationPatients.end());
        given.sort();
        splitJson.remove(QStringLiteral("val_fraction"));
        splitJson.insert(QStringLiteral("val_patients"), QJsonArray::fromStringList(given));
        splitJson.insert(QStringLiteral("val_patients_given"), true);
    }
    QJsonObject validationJson = validation.toJson(true);
    if (finalFit)
        validationJson.insert(
            QStringLiteral("source"),
            QStringLiteral("pooled out-of-fold predictions of the %1-fold cross-validation by "
                           "patient (this model trained on every patient)")
                .arg(c.folds));
    QJsonObject card{
        {QStringLiteral("name"),
         QStringLiteral("MalariaLens %1 cell classifier").arg(architectureName(c.arch))},
        {QStringLiteral("architecture"), architectureName(c.arch)},
        {QStringLiteral("parameters"), double(trainableParameterCount(c.arch))},
        // The input recipe, with the canonical cell's parameters when it is one, so that the
        // model keeps the input it was trained on whatever later versions default to.
        {QStringLiteral("input"), inputCardJson(c.normalization)},
        {QStringLiteral("classes"),
         QJsonArray{QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}},
        {QStringLiteral("positive_class"), QStringLiteral("Parasitized")},
        {QStringLiteral("threshold"), validation.threshold},
        {QStringLiteral("format"), QStringLiteral("native")},
        {QStringLiteral("training_data"), split.toJson()},
        {QStringLiteral("split"), splitJson},
        {QStringLiteral("training"), trainingJson(*this)},
        {QStringLiteral("validation"), validationJson},
        {QStringLiteral("libtorch_version"), QString::fromLatin1(torchVersion())},
        {QStringLiteral("date"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate)},
    };
    const QStringList sources = sourcesOf(validationBySource, holdout, c);
    if (!sources.isEmpty()) {
        QJsonArray perSource;
        for (const SourceFigures& f : validationBySource)
            perSource.append(f.toJson());
        card.insert(QStringLiteral("sources"), QJsonArray::fromStringList(sources));
        card.insert(QStringLiteral("validation_by_source"), perSource);
    }
    if (!c.holdoutSource.isEmpty())
        card.insert(QStringLiteral("holdout"), holdout.toJson());
    if (!crossValidation.isEmpty())
        card.insert(QStringLiteral("cross_validation"), crossValidation);
    if (!labelCorrections.isEmpty())
        card.insert(QStringLiteral("label_corrections"), labelCorrections);
    if (!excludedCells.isEmpty()) {
        QJsonObject perClass;
        for (auto it = excludedCells.cbegin(); it != excludedCells.cend(); ++it)
            perClass.insert(it.key(), it.value());
        QJsonObject training = card.value(QStringLiteral("training")).toObject();
        training.insert(QStringLiteral("excluded_from_training"),
                        QJsonObject{{QStringLiteral("cells"), leftOutCells()},
                                    {QStringLiteral("per_class"), perClass},
                                    {QStringLiteral("unsure_by_review"), unsureCells},
                                    {QStringLiteral("source"), c.exclusionSource}});
        card.insert(QStringLiteral("training"), training);
    }
    return card;
}

} // namespace ml
