#include "modelcardsummary.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QLocale>
#include <QStringList>

namespace ml {

namespace {
QString tr(const char* text)
{
    return QCoreApplication::translate("ModelCardSummary", text);
}

QString percent(double v)
{
    return QString::number(100.0 * v, 'f', 2) + QLatin1Char('%');
}
} // namespace

QString modelCardSummary(const QJsonObject& card)
{
    const QJsonObject v = card.value(QStringLiteral("validation")).toObject();
    const QJsonObject cells = v.value(QStringLiteral("cell_level")).toObject();
    if (cells.isEmpty())
        return {};
    QStringList lines;
    const QJsonObject split = card.value(QStringLiteral("split")).toObject();
    const QString mode = split.value(QStringLiteral("mode")).toString(QStringLiteral("?"));
    // A final fit on every patient has no split of its own: its figures are the pooled
    // out-of-fold ones of the cross-validation before it.
    const QString source =
        mode == QLatin1String("none")
            ? tr("pooled out-of-fold of the %1-fold cross-validation; the model trained on "
                 "every patient")
                  .arg(split.value(QStringLiteral("folds")).toInt())
            : tr("%1 split").arg(mode);
    lines << tr("Validation (%1, %2 cells): accuracy %3, AUC %4, sensitivity %5, "
                "specificity %6")
                 .arg(source)
                 .arg(cells.value(QStringLiteral("count")).toInt())
                 .arg(percent(cells.value(QStringLiteral("accuracy")).toDouble()))
                 .arg(cells.value(QStringLiteral("auc")).toDouble(), 0, 'f', 4)
                 .arg(percent(cells.value(QStringLiteral("sensitivity")).toDouble()))
                 .arg(percent(cells.value(QStringLiteral("specificity")).toDouble()));
    if (v.contains(QLatin1String("worst_patient")))
        lines
            << tr("Worst patient %1: accuracy %2. Largest share called parasitized in a healthy "
                  "patient: %3 (%4)")
                   .arg(v.value(QStringLiteral("worst_patient")).toString().toHtmlEscaped())
                   .arg(percent(v.value(QStringLiteral("worst_patient_accuracy")).toDouble()))
                   .arg(percent(
                       v.value(QStringLiteral("max_healthy_patient_parasitized_share")).toDouble()))
                   .arg(v.value(QStringLiteral("max_healthy_patient")).toString().toHtmlEscaped());
    // A cross-validation of this model's own run, or of the recipe that made it.
    for (const QString& key :
         {QStringLiteral("cross_validation"), QStringLiteral("recipe_cross_validation")}) {
        const QJsonObject cv = card.value(key).toObject();
        if (cv.isEmpty())
            continue;
        const QJsonObject mean = cv.value(QStringLiteral("mean")).toObject();
        const QJsonObject sd = cv.value(QStringLiteral("sd")).toObject();
        const QJsonObject pooled = cv.value(QStringLiteral("pooled_out_of_fold"))
                                       .toObject()
                                       .value(QStringLiteral("cell_level"))
                                       .toObject();
        lines << tr("%1-fold cross-validation by patient%2: accuracy %3 ± %4, pooled AUC %5")
                     .arg(cv.value(QStringLiteral("folds")).toInt())
                     .arg(key == QLatin1String("recipe_cross_validation")
                              ? tr(" of the training recipe")
                              : QString())
                     .arg(percent(mean.value(QStringLiteral("accuracy")).toDouble()))
                     .arg(percent(sd.value(QStringLiteral("accuracy")).toDouble()))
                     .arg(pooled.value(QStringLiteral("auc")).toDouble(), 0, 'f', 4);
    }
    // Each lab's own figures on the patients or fields the training held out: a two-lab
    // model's pooled figures hide a weaker lab.
    const QJsonArray perLab = card.value(QStringLiteral("validation_by_source")).toArray();
    for (const QJsonValue& v : perLab) {
        const QJsonObject o = v.toObject();
        lines << tr("Held out, lab %1 (%2 cells): sensitivity %3, specificity %4, AUC %5")
                     .arg(o.value(QStringLiteral("source")).toString().toHtmlEscaped())
                     .arg(QLocale::c().toString(o.value(QStringLiteral("cells")).toInt()))
                     .arg(percent(o.value(QStringLiteral("sensitivity")).toDouble()))
                     .arg(percent(o.value(QStringLiteral("specificity")).toDouble()))
                     .arg(o.value(QStringLiteral("auc")).toDouble(), 0, 'f', 4);
    }
    // The worst of the simulated stain and imaging shifts (scripts/stain-shift-eval.py).
    const QJsonArray shifts = card.value(QStringLiteral("stain_shift_robustness"))
                                  .toObject()
                                  .value(QStringLiteral("per_shift"))
                                  .toArray();
    if (!shifts.isEmpty()) {
        const auto accuracy = [](const QJsonObject& x) {
            return x.value(QStringLiteral("accuracy")).toDouble();
        };
        const auto share = [](const QJsonObject& x) {
            return x.value(QStringLiteral("max_healthy_patient_parasitized_share")).toDouble();
        };
        QJsonObject worst, sickest;
        for (const QJsonValue& s : shifts) {
            const QJsonObject o = s.toObject();
            if (worst.isEmpty() || accuracy(o) < accuracy(worst))
                worst = o;
            if (sickest.isEmpty() || share(o) > share(sickest))
                sickest = o;
        }
        lines << tr("Simulated stain shifts (%1): worst accuracy %2 (%3); largest healthy share "
                    "%4 (%5, %6)")
                     .arg(shifts.size())
                     .arg(percent(accuracy(worst)))
                     .arg(worst.value(QStringLiteral("shift")).toString().toHtmlEscaped())
                     .arg(percent(share(sickest)))
                     .arg(sickest.value(QStringLiteral("shift")).toString().toHtmlEscaped())
                     .arg(sickest.value(QStringLiteral("max_healthy_patient"))
                              .toString()
                              .toHtmlEscaped());
    }
    return lines.join(QStringLiteral("<br>"));
}

} // namespace ml
