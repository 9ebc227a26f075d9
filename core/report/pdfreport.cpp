#include "pdfreport.h"

#include "fieldannotations.h"
#include "thumbnailservice.h"

#include <QBuffer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QMap>
#include <QPageSize>
#include <QPainter>
#include <QPainterPath>
#include <QPdfWriter>
#include <QSaveFile>

#include <algorithm>

namespace ml {

ReportContent buildReport(const ClassificationResults& results, const QString& modelName,
                          const QString& modelSha256, const QJsonObject& modelCard, int maxGallery)
{
    ReportContent c;
    const Dataset& ds = *results.dataset();
    c.title = QStringLiteral("MalariaLens report");
    c.created = QDateTime::currentDateTime();
    c.folder = ds.root;
    c.images = int(ds.images.size());
    c.classified = results.classified();
    c.failed = results.failed();
    c.modelName = modelName;
    c.modelSha256 = modelSha256;
    c.modelCard = modelCard;
    c.threshold = results.threshold();
    if (ds.isLabelled())
        c.folderClasses = ds.countPerClass();

    QMap<QString, ReportContent::Patient> patients;
    std::vector<ScoredImage> scored;
    for (int i = 0; i < results.size(); ++i) {
        const int predicted = results.predicted(i);
        if (predicted < 0)
            continue;
        const ImageEntry& e = ds.images.at(i);
        ReportContent::Patient& p = patients[e.patient];
        p.id = e.patient;
        p.cells += 1;
        if (predicted == 0) {
            ++c.predictedParasitized;
            ++p.predictedParasitized;
            c.flagged.append({ds.absolutePath(i), e.patient, double(results.probability(i))});
        }
        const int label = int(modelClassNames().indexOf(ds.className(e.label)));
        if (label >= 0)
            scored.push_back({i, label, double(results.probability(i)), e.patient});
    }
    const Proportion all = wilsonInterval(c.predictedParasitized, c.classified);
    c.parasitemia = all.p;
    c.parasitemiaLow = all.low;
    c.parasitemiaHigh = all.high;
    QString ratesError;
    const std::optional<ErrorRates> rates = errorRatesAt(modelCard, c.threshold, &ratesError);
    const auto correct = [&](int called, int cells) {
        return estimateOrExplain(called, cells, rates, ratesError);
    };
    c.corrected = correct(c.predictedParasitized, c.classified);
    c.decision = decideInfection(c.corrected);
    for (ReportContent::Patient& p : patients) {
        const Proportion pr = wilsonInterval(p.predictedParasitized, p.cells);
        p.share = pr.p;
        p.low = pr.low;
        p.high = pr.high;
        p.corrected = correct(p.predictedParasitized, p.cells);
        p.decision = decideInfection(p.corrected);
        c.patients.append(p);
    }
    std::sort(c.flagged.begin(), c.flagged.end(),
              [](const ReportContent::Flagged& a, const ReportContent::Flagged& b) {
                  return a.probability > b.probability;
              });
    if (c.flagged.size() > maxGallery)
        c.flagged.resize(maxGallery);
    if (ds.isLabelled() && !scored.empty())
        c.evaluation = evaluate(scored, modelClassNames(), results.threshold());
    return c;
}

namespace {

// A simple flowing layout on A4 pages: y advances, a new page starts when needed.
class Page
{
public:
    Page(QPdfWriter& writer, QPainter& painter) : m_writer(writer), m_p(painter)
    {
        m_width = m_writer.width();
        m_height = m_writer.height();
    }
    int width() const { return m_width; }
    int y() const { return m_y; }
    void skip(int dy) { m_y += dy; }
    void need(int dy)
    {
        if (m_y + dy > m_height - footer()) {
            m_writer.newPage();
            m_y = 0;
        }
    }
    int footer() const { return m_p.fontMetrics().height() * 2; }
    int text(const QString& s, int size, bool bold = false, QColor colour = Qt::black,
             int indent = 0)
    {
        QFont f = m_p.font();
        f.setPointSizeF(size);
        f.setBold(bold);
        m_p.setFont(f);
        const QRect bounds = m_p.fontMetrics().boundingRect(
            QRect(indent, 0, m_width - indent, 100000), Qt::TextWordWrap, s);
        need(bounds.height());
        m_p.setPen(colour);
        m_p.drawText(QRect(indent, m_y, m_width - indent, bounds.height()), Qt::TextWordWrap, s);
        m_y += bounds.height() + m_p.fontMetrics().height() / 4;
        return bounds.height();
    }
    void table(const QStringList& header, const QList<QStringList>& rows, const QList<int>& widths,
               int size = 9)
    {
        QFont f = m_p.font();
        f.setPointSizeF(size);
        m_p.setFont(f);
        const int h = m_p.fontMetrics().height() + 6;
        auto drawRow = [&](const QStringList& cells, bool bold, QColor fill) {
            need(h);
            QFont rf = m_p.font();
            rf.setBold(bold);
            m_p.setFont(rf);
            int x = 0;
            for (int i = 0; i < cells.size() && i < widths.size(); ++i) {
                const QRect r(x, m_y, widths.at(i), h);
                if (fill.isValid())
                    m_p.fillRect(r, fill);
                m_p.setPen(QColor(180, 180, 180));
                m_p.drawRect(r);
                m_p.setPen(Qt::black);
                m_p.drawText(r.adjusted(4, 0, -4, 0),
                             Qt::AlignVCenter | (i == 0 ? Qt::AlignLeft : Qt::AlignRight),
                             cells.at(i));
                x += widths.at(i);
            }
            m_y += h;
        };
        drawRow(header, true, QColor(230, 236, 244));
        for (const QStringList& r : rows)
            drawRow(r, false, QColor());
        m_y += h / 2;
    }
    QPainter& painter() { return m_p; }
    void newPage()
    {
        m_writer.newPage();
        m_y = 0;
    }

private:
    QPdfWriter& m_writer;
    QPainter& m_p;
    int m_width = 0, m_height = 0, m_y = 0;
};

QString pct(double v)
{
    return QStringLiteral("%1 %").arg(v * 100, 0, 'f', 1);
}

void drawRoc(QPainter& p, const QRect& box, const Evaluation& e)
{
    p.save();
    p.setPen(QColor(120, 120, 120));
    p.drawRect(box);
    p.setPen(QPen(QColor(170, 170, 170), 1, Qt::DashLine));
    p.drawLine(box.bottomLeft(), box.topRight());
    QPainterPath path;
    bool first = true;
    for (const CurvePoint& pt : e.roc.points) {
        const QPointF q(box.left() + pt.x * box.width(), box.bottom() - pt.y * box.height());
        if (first)
            path.moveTo(q);
        else
            path.lineTo(q);
        first = false;
    }
    p.setPen(QPen(QColor(30, 90, 170), std::max(2, box.width() / 150)));
    p.drawPath(path);
    const BinaryCounts& k = e.counts;
    const double fpr = k.fp + k.tn ? double(k.fp) / (k.fp + k.tn) : 0,
                 tpr = k.tp + k.fn ? double(k.tp) / (k.tp + k.fn) : 0;
    const int r = std::max(4, box.width() / 60);
    p.setBrush(QColor(200, 30, 45));
    p.setPen(Qt::NoPen);
    p.drawEllipse(QPointF(box.left() + fpr * box.width(), box.bottom() - tpr * box.height()), r, r);
    p.setPen(Qt::black);
    p.drawText(
        box.adjusted(0, -p.fontMetrics().height() - 4, 0, 0), Qt::AlignTop | Qt::AlignHCenter,
        QStringLiteral("ROC, AUC %1")
            .arg(e.roc.auc ? QString::number(*e.roc.auc, 'f', 4) : QStringLiteral("undefined")));
    p.drawText(QRect(box.left(), box.bottom() + 4, box.width(), p.fontMetrics().height() + 4),
               Qt::AlignHCenter, QStringLiteral("false positive rate"));
    p.restore();
}

void drawMatrix(QPainter& p, const QRect& box, const Evaluation& e)
{
    p.save();
    const BinaryCounts& k = e.counts;
    const int counts[2][2] = {{k.tp, k.fn}, {k.fp, k.tn}};
    const int labelW = box.width() / 3, cw = (box.width() - labelW) / 2,
              ch = (box.height() - p.fontMetrics().height() * 2) / 2;
    const int top = box.top() + p.fontMetrics().height() * 2;
    p.drawText(QRect(box.left() + labelW, box.top(), 2 * cw, p.fontMetrics().height()),
               Qt::AlignCenter, QStringLiteral("predicted"));
    for (int c = 0; c < 2; ++c)
        p.drawText(QRect(box.left() + labelW + c * cw, box.top() + p.fontMetrics().height(), cw,
                         p.fontMetrics().height()),
                   Qt::AlignCenter, e.classNames.value(c));
    for (int t = 0; t < 2; ++t) {
        const int total = counts[t][0] + counts[t][1];
        p.setPen(Qt::black);
        p.drawText(QRect(box.left(), top + t * ch, labelW - 8, ch),
                   Qt::AlignVCenter | Qt::AlignRight,
                   QStringLiteral("true %1").arg(e.classNames.value(t)));
        for (int c = 0; c < 2; ++c) {
            const double share = total ? double(counts[t][c]) / total : 0;
            const QRect r(box.left() + labelW + c * cw, top + t * ch, cw, ch);
            const QColor fill =
                QColor::fromRgbF(1 - 0.9 * share, 1 - 0.7 * share, 1 - 0.35 * share);
            p.fillRect(r, fill);
            p.setPen(QColor(150, 150, 150));
            p.drawRect(r);
            p.setPen(share > 0.5 ? Qt::white : Qt::black);
            p.drawText(r, Qt::AlignCenter,
                       QStringLiteral("%1\n%2").arg(counts[t][c]).arg(pct(share)));
        }
    }
    p.restore();
}

// Title, disclaimer, folder and the patients / slides it holds.
void writeHeader(Page& page, const ReportContent& c)
{
    page.text(c.title, 18, true, QColor(20, 50, 90));
    page.text(QStringLiteral("Created %1").arg(c.created.toString(Qt::ISODate)), 9, false,
              Qt::darkGray);
    page.text(QStringLiteral("Decision support, research use only. Not a diagnostic device: "
                             "every result must be "
                             "confirmed by a qualified microscopist."),
              10, true, QColor(170, 40, 40));
    page.skip(10);
    page.text(QStringLiteral("Folder"), 12, true);
    page.text(c.folder, 10);
    QStringList ids;
    for (const auto& p : c.patients)
        ids << p.id;
    page.text(QStringLiteral("Patients / slides (%1): %2")
                  .arg(ids.size())
                  .arg(ids.join(QStringLiteral(", "))),
              9);
    page.skip(10);
}

// The result: counts, parasitemia (apparent and corrected), decision, domain, folder labels.
void writeResult(Page& page, const ReportContent& c)
{
    page.text(QStringLiteral("Result"), 12, true);
    page.text(
        QStringLiteral(
            "%1 cell images, %2 classified, %3 could not be read. %4 cells called parasitized: "
            "apparent parasitemia %5 (95 % confidence interval of the count %6 to %7).")
            .arg(c.images)
            .arg(c.classified)
            .arg(c.failed)
            .arg(c.predictedParasitized)
            .arg(pct(c.parasitemia), pct(c.parasitemiaLow), pct(c.parasitemiaHigh)),
        10);
    page.text(QStringLiteral("Corrected for the model's known errors: %1.")
                  .arg(c.corrected.explanation()),
              10);
    page.text(QStringLiteral("Decision: %1.").arg(c.decision.reason), 10, true);
    if (c.confirmedParasites > 0)
        page.text(QStringLiteral("%1 cell(s) confirmed parasitized by %2.")
                      .arg(c.confirmedParasites)
                      .arg(c.confirmedBy.isEmpty() ? QStringLiteral("a reviewer") : c.confirmedBy),
                  10);
    if (c.domain)
        page.text(c.domain->summary(), 10, c.domain->checked && !c.domain->inDomain,
                  c.domain->checked && !c.domain->inDomain ? QColor(160, 0, 0)
                                                           : QColor(Qt::darkGray));
    if (!c.folderClasses.isEmpty()) {
        QStringList parts;
        for (auto it = c.folderClasses.cbegin(); it != c.folderClasses.cend(); ++it)
            parts << QStringLiteral("%1: %2").arg(it.key()).arg(it.value());
        page.text(QStringLiteral("Folder labels: %1").arg(parts.join(QStringLiteral(", "))), 10);
    }
    page.skip(6);
}

// One row per patient / slide: cells, called, apparent and corrected parasitemia, decision.
void writePatientTable(Page& page, const ReportContent& c)
{
    const int W = page.width();
    QList<QStringList> rows;
    for (const auto& p : c.patients)
        rows << QStringList{p.id,
                            QString::number(p.cells),
                            QString::number(p.predictedParasitized),
                            pct(p.share),
                            p.corrected.ok ? QStringLiteral("%1 (%2 - %3)")
                                                 .arg(pct(p.corrected.corrected),
                                                      pct(p.corrected.low), pct(p.corrected.high))
                                           : QStringLiteral("-"),
                            !p.decision.decided   ? QStringLiteral("undecided")
                            : p.decision.infected ? QStringLiteral("infected")
                                                  : QStringLiteral("not shown")};
    page.table({QStringLiteral("Patient / slide"), QStringLiteral("Cells"),
                QStringLiteral("Called"), QStringLiteral("Apparent"),
                QStringLiteral("Corrected (95 % CI)"), QStringLiteral("Decision")},
               rows,
               {W * 22 / 100, W * 9 / 100, W * 10 / 100, W * 12 / 100, W * 29 / 100, W * 18 / 100});
}

// The model: name, weights, threshold and, from its card, how it was validated.
void writeModel(Page& page, const ReportContent& c)
{
    page.text(QStringLiteral("Model"), 12, true);
    const QJsonObject cv = c.modelCard.value(QStringLiteral("validation")).toObject();
    page.text(QStringLiteral("%1; weights SHA-256 %2; decision threshold %3.")
                  .arg(c.modelName, c.modelSha256.left(16))
                  .arg(c.threshold, 0, 'f', 3),
              10);
    if (!c.modelCard.isEmpty()) {
        const QJsonObject split = c.modelCard.value(QStringLiteral("split")).toObject();
        const QString validation =
            split.value(QStringLiteral("mode")).toString() == QLatin1String("none")
                ? QStringLiteral("trained on every patient; figures pooled out-of-fold from "
                                 "a %1-fold cross-validation by patient (seed %2)")
                      .arg(split.value(QStringLiteral("folds")).toInt())
                      .arg(split.value(QStringLiteral("seed")).toVariant().toString())
                : QStringLiteral("validation split by %1 (fraction %2, seed %3)")
                      .arg(split.value(QStringLiteral("mode")).toString())
                      .arg(split.value(QStringLiteral("val_fraction")).toDouble())
                      .arg(split.value(QStringLiteral("seed")).toVariant().toString());
        page.text(QStringLiteral("Architecture %1, %2 parameters, trained %3; %4.")
                      .arg(c.modelCard.value(QStringLiteral("architecture")).toString())
                      .arg(c.modelCard.value(QStringLiteral("parameters")).toVariant().toString())
                      .arg(c.modelCard.value(QStringLiteral("date")).toString(), validation),
                  9, false, Qt::darkGray);
        auto level = [](const QJsonObject& o) {
            return QStringLiteral("accuracy %1, sensitivity %2, specificity %3, AUC %4")
                .arg(pct(o.value(QStringLiteral("accuracy")).toDouble()),
                     pct(o.value(QStringLiteral("sensitivity")).toDouble()),
                     pct(o.value(QStringLiteral("specificity")).toDouble()))
                .arg(o.value(QStringLiteral("auc")).toDouble(), 0, 'f', 4);
        };
        if (cv.contains(QStringLiteral("cell_level")))
            page.text(QStringLiteral("Validation on held-out patients, cell level: %1.")
                          .arg(level(cv.value(QStringLiteral("cell_level")).toObject())),
                      9, false, Qt::darkGray);
        if (cv.contains(QStringLiteral("patient_level")))
            page.text(QStringLiteral("Patient level: %1.")
                          .arg(level(cv.value(QStringLiteral("patient_level")).toObject())),
                      9, false, Qt::darkGray);
    }
    page.skip(10);
}

// The evaluation against the folder labels: figures, confusion matrix, ROC, per-class table.
void writeEvaluation(Page& page, const Evaluation& e)
{
    const int W = page.width();
    QPainter& painter = page.painter();
    page.text(QStringLiteral("Evaluation against the folder labels"), 12, true);
    const ClassificationReport& r = e.report;
    page.text(
        QStringLiteral("Accuracy %1, sensitivity %2, specificity %3, precision %4, F1 %5; "
                       "%6 false positives, "
                       "%7 false negatives; AUC %8; expected calibration error %9.")
            .arg(pct(r.accuracy), pct(r.sensitivity), pct(r.specificity), pct(r.precision))
            .arg(r.f1, 0, 'f', 3)
            .arg(r.falsePositives)
            .arg(r.falseNegatives)
            .arg(e.roc.auc ? QString::number(*e.roc.auc, 'f', 4) : QStringLiteral("undefined"))
            .arg(e.calibration.ece, 0, 'f', 4),
        10);
    for (const QString& w : e.warnings)
        page.text(QStringLiteral("Note: %1").arg(w), 9, false, QColor(160, 90, 0));
    const int h = W * 36 / 100;
    page.need(h + 80);
    QFont f = painter.font();
    f.setPointSize(9);
    f.setBold(false);
    painter.setFont(f);
    const int top = page.y() + painter.fontMetrics().height() + 8;
    drawMatrix(painter, QRect(0, top, W * 48 / 100, h), e);
    drawRoc(painter, QRect(W * 58 / 100, top, W * 38 / 100, h), e);
    page.skip(h + painter.fontMetrics().height() * 3);
    QList<QStringList> rep;
    for (const ClassScores& s : r.perClass)
        rep << QStringList{s.name, QString::number(s.precision, 'f', 4),
                           QString::number(s.recall, 'f', 4), QString::number(s.f1, 'f', 4),
                           QString::number(s.support)};
    rep << QStringList{r.macro.name, QString::number(r.macro.precision, 'f', 4),
                       QString::number(r.macro.recall, 'f', 4), QString::number(r.macro.f1, 'f', 4),
                       QString::number(r.macro.support)};
    rep << QStringList{r.weighted.name, QString::number(r.weighted.precision, 'f', 4),
                       QString::number(r.weighted.recall, 'f', 4),
                       QString::number(r.weighted.f1, 'f', 4), QString::number(r.weighted.support)};
    page.table({QString(), QStringLiteral("precision"), QStringLiteral("recall"),
                QStringLiteral("f1-score"), QStringLiteral("support")},
               rep, {W * 28 / 100, W * 18 / 100, W * 18 / 100, W * 18 / 100, W * 18 / 100});
}

// Gallery of the cells called parasitized, six per row, with probability and patient.
void writeFlaggedGallery(Page& page, const ReportContent& c)
{
    const int W = page.width();
    QPainter& painter = page.painter();
    page.text(QStringLiteral("Cells called parasitized (highest probability first, %1 shown)")
                  .arg(c.flagged.size()),
              12, true);
    const int cols = 6, gap = 10;
    const int tile = (W - gap * (cols - 1)) / cols;
    QFont f = painter.font();
    f.setPointSize(8);
    f.setBold(false);
    painter.setFont(f);
    const int caption = painter.fontMetrics().height() * 2 + 4;
    for (int i = 0; i < c.flagged.size(); ++i) {
        if (i % cols == 0) {
            if (i > 0)
                page.skip(tile + caption + gap);
            page.need(tile + caption);
        }
        const auto& fl = c.flagged.at(i);
        const QRect r((i % cols) * (tile + gap), page.y(), tile, tile);
        const QImage img = loadThumbnail(fl.path, 256);
        painter.fillRect(r, Qt::black);
        if (!img.isNull()) {
            const QSize s = img.size().scaled(r.size(), Qt::KeepAspectRatio);
            painter.drawImage(QRect(r.center().x() - s.width() / 2, r.center().y() - s.height() / 2,
                                    s.width(), s.height()),
                              img);
        }
        painter.setPen(Qt::black);
        painter.drawText(
            QRect(r.left(), r.bottom() + 2, tile, caption), Qt::AlignHCenter | Qt::TextWordWrap,
            QStringLiteral("P = %1\n%2").arg(fl.probability, 0, 'f', 3).arg(fl.patient));
    }
    page.skip(tile + caption + gap);
}

} // namespace

bool writePdfReport(const ReportContent& c, const QString& path, QString* error)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    {
        QPdfWriter writer(&file);
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setResolution(150);
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
        writer.setTitle(c.title);
        writer.setCreator(QStringLiteral("MalariaLens"));
        QPainter painter(&writer);
        Page page(writer, painter);

        writeHeader(page, c);
        writeResult(page, c);
        writePatientTable(page, c);
        writeModel(page, c);
        if (c.evaluation)
            writeEvaluation(page, *c.evaluation);
        if (!c.flagged.isEmpty())
            writeFlaggedGallery(page, c);
        page.text(QStringLiteral("MalariaLens: decision support, research use only."), 8, false,
                  Qt::darkGray);
        if (!painter.end()) {
            if (error)
                *error = QStringLiteral("PDF rendering failed");
            file.cancelWriting();
            return false;
        }
    }
    if (!file.commit()) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

} // namespace ml
