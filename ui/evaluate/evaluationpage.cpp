#include "evaluationpage.h"

#include "classificationresults.h"
#include "gallerydialog.h"
#include "heatmapdialog.h"
#include "modelsession.h"
#include "qcustomplotinclude.h"
#include "tablecsv.h"
#include "validationsplit.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSlider>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ml {

namespace {
constexpr int kSliderSteps = 1000;

QCustomPlot* makePlot(const QString& title, const QString& x, const QString& y, QWidget* parent)
{
    auto* p = new QCustomPlot(parent);
    p->setMinimumSize(260, 220);
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(
        0, 0, new QCPTextElement(p, title, QFont(parent->font().family(), 10, QFont::Bold)));
    p->xAxis->setLabel(x);
    p->yAxis->setLabel(y);
    p->setAccessibleName(title);
    return p;
}

QTableWidgetItem* cell(const QString& text)
{
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}
} // namespace

EvaluationPage::EvaluationPage(ModelSession* session, ThumbnailService* thumbnails, QWidget* parent)
    : QWidget(parent), m_session(session), m_thumbnails(thumbnails), m_status(new QLabel(this)),
      m_figures(new QLabel(this)), m_slider(new QSlider(Qt::Horizontal, this)),
      m_spin(new QDoubleSpinBox(this)),
      m_save(new QPushButton(tr("Save threshold to model card"), this)),
      m_validationOnly(new QCheckBox(
          tr("Only the held-out patients of the model's training (its validation split)"), this)),
      m_matrix(makePlot(tr("Confusion matrix (click a cell)"), tr("Predicted"), tr("True"), this)),
      m_roc(makePlot(tr("ROC curve"), tr("False positive rate"), tr("True positive rate"), this)),
      m_pr(makePlot(tr("Precision-recall curve"), tr("Recall"), tr("Precision"), this)),
      m_calibration(makePlot(tr("Reliability diagram"), tr("Predicted P(Parasitized)"),
                             tr("Observed share Parasitized"), this)),
      m_report(new QTableWidget(5, 4, this)), m_patients(new QTableWidget(0, 6, this))
{
    m_slider->setRange(1, kSliderSteps - 1);
    m_slider->setAccessibleName(tr("Decision threshold"));
    m_spin->setRange(0.001, 0.999);
    m_spin->setDecimals(3);
    m_spin->setSingleStep(0.01);
    m_spin->setAccessibleName(tr("Decision threshold value"));
    m_save->setToolTip(tr("Classification will then use this threshold with this model"));
    m_status->setWordWrap(true);
    m_figures->setWordWrap(true);
    m_figures->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_report->setHorizontalHeaderLabels(
        {tr("precision"), tr("recall"), tr("f1-score"), tr("support")});
    m_report->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_report->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_report->setAccessibleName(tr("Classification report"));
    m_patients->setHorizontalHeaderLabels({tr("Patient"), tr("Cells"), tr("True infected"),
                                           tr("Predicted infected"), tr("Cell accuracy"),
                                           tr("Decision")});
    m_patients->verticalHeader()->setVisible(false);
    m_patients->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_patients->setAccessibleName(tr("Patient level"));
    addCsvExportAction(m_report, QStringLiteral("classification-report.csv"));
    addCsvExportAction(m_patients, QStringLiteral("patient-level.csv"));

    m_colorMap = new QCPColorMap(m_matrix->xAxis, m_matrix->yAxis);
    m_colorMap->data()->setSize(2, 2);
    m_colorMap->data()->setRange(QCPRange(0, 1), QCPRange(0, 1));
    QCPColorGradient blues;
    blues.setColorStopAt(0, QColor(247, 251, 255));
    blues.setColorStopAt(1, QColor(8, 69, 148));
    m_colorMap->setGradient(blues);
    m_colorMap->setDataRange(QCPRange(0, 1));
    m_colorMap->setInterpolate(false);
    for (int i = 0; i < 4; ++i) {
        auto* t = new QCPItemText(m_matrix);
        t->position->setType(QCPItemPosition::ptPlotCoords);
        t->position->setCoords(i % 2, 1 - i / 2);
        QFont f = font();
        f.setPointSize(f.pointSize() + 1);
        f.setBold(true);
        t->setFont(f);
        m_matrixLabels << t;
    }
    m_matrix->xAxis->setRange(-0.5, 1.5);
    m_matrix->yAxis->setRange(-0.5, 1.5);
    m_matrix->xAxis->grid()->setVisible(false);
    m_matrix->yAxis->grid()->setVisible(false);
    connect(m_matrix, &QCustomPlot::mousePress, this, &EvaluationPage::onMatrixClick);
    for (QCustomPlot* p : {m_roc, m_pr, m_calibration}) {
        p->xAxis->setRange(0, 1);
        p->yAxis->setRange(0, 1.02);
    }

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Threshold on P(Parasitized):"), this));
    bar->addWidget(m_slider, 1);
    bar->addWidget(m_spin);
    bar->addWidget(m_save);
    auto box = [this](const QString& title, QWidget* w) {
        auto* g = new QGroupBox(title, this);
        auto* l = new QVBoxLayout(g);
        l->setContentsMargins(4, 4, 4, 4);
        l->addWidget(w);
        return g;
    };
    auto* grid = new QGridLayout;
    grid->addWidget(m_matrix, 0, 0);
    grid->addWidget(m_roc, 0, 1);
    grid->addWidget(m_pr, 0, 2);
    grid->addWidget(box(tr("Classification report"), m_report), 1, 0);
    grid->addWidget(m_calibration, 1, 1);
    grid->addWidget(box(tr("Patient level"), m_patients), 1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_status);
    layout->addWidget(m_validationOnly);
    layout->addLayout(bar);
    layout->addWidget(m_figures);
    layout->addLayout(grid, 1);

    connect(m_slider, &QSlider::valueChanged, this,
            [this](int v) { m_session->setThreshold(double(v) / kSliderSteps); });
    connect(m_spin, &QDoubleSpinBox::valueChanged, this,
            [this](double v) { m_session->setThreshold(v); });
    connect(m_save, &QPushButton::clicked, this, [this] {
        QString error;
        if (m_session->saveThreshold(&error))
            m_status->setText(tr("Threshold %1 saved to the model card of %2.")
                                  .arg(m_session->threshold(), 0, 'f', 3)
                                  .arg(m_session->modelName()));
        else
            QMessageBox::warning(this, tr("Cannot save the threshold"), error);
    });
    connect(m_session, &ModelSession::thresholdChanged, this, &EvaluationPage::applyThreshold);
    m_validationOnly->setToolTip(
        tr("Cells of patients the model saw in training make its figures look better than "
           "they are; this keeps only the patients its training held out."));
    connect(m_validationOnly, &QCheckBox::toggled, this, &EvaluationPage::rebuild);
    connect(m_session, &ModelSession::classificationFinished, this, &EvaluationPage::rebuild);
    connect(m_session, &ModelSession::resultsCleared, this, &EvaluationPage::rebuild);
    applyThreshold(m_session->threshold());
    rebuild();
}

void EvaluationPage::rebuild()
{
    m_cells.clear();
    const auto results = m_session->results();
    if (!results) {
        m_eval = Evaluation();
        m_status->setText(tr("Open a labelled folder and classify it (Classify page, Ctrl+R) to "
                             "evaluate the active model."));
        refreshViews();
        return;
    }
    const Dataset& ds = *results->dataset();
    QString splitNote;
    ValidationMask mask;
    if (m_validationOnly->isChecked()) {
        mask = validationMaskFromCard(ds, m_session->classifier().card());
        splitNote = QStringLiteral(" ") + mask.note + QLatin1Char('.');
    }
    int unknownClass = 0;
    for (int i = 0; i < results->size(); ++i) {
        if (results->predicted(i) < 0)
            continue;
        if (mask.applied && !mask.keep[size_t(i)])
            continue;
        const int label = int(modelClassNames().indexOf(ds.className(ds.images.at(i).label)));
        if (label < 0) {
            ++unknownClass;
            continue;
        }
        m_cells.push_back({i, label, double(results->probability(i)), ds.images.at(i).patient});
    }
    if (!ds.isLabelled()) {
        m_status->setText(
            tr("This folder is unlabeled: there is nothing to compare the predictions with."));
    } else {
        m_status->setText(
            tr("Model %1 on %2 labelled cells of %3.%4%5")
                .arg(m_session->modelName())
                .arg(m_cells.size())
                .arg(ds.root)
                .arg(unknownClass
                         ? tr(" %1 cells of classes the model does not know were left out.")
                               .arg(unknownClass)
                         : QString())
                .arg(splitNote));
    }
    // Patients are decided from the parasitemia corrected for the model's own errors.
    m_eval = evaluate(m_cells, modelClassNames(), m_session->threshold(), 0.05,
                      errorRatesFromCard(m_session->classifier().card()));
    drawCurves();
    drawCalibration();
    refreshViews();
}

void EvaluationPage::setValidationSplitOnly(bool on)
{
    m_validationOnly->setChecked(on);
}

void EvaluationPage::applyThreshold(double threshold)
{
    {
        const QSignalBlocker b1(m_slider), b2(m_spin);
        m_slider->setValue(qRound(threshold * kSliderSteps));
        m_spin->setValue(threshold);
    }
    if (m_eval.classNames.isEmpty())
        return;
    moveThreshold(m_eval, m_cells, threshold);
    refreshViews();
}

void EvaluationPage::refreshViews()
{
    drawMatrix();
    fillReport();
    fillPatients();
    // The operating point on both curves.
    const BinaryCounts& k = m_eval.counts;
    const double fpr = k.fp + k.tn ? double(k.fp) / (k.fp + k.tn) : 0,
                 tpr = k.tp + k.fn ? double(k.tp) / (k.tp + k.fn) : 0;
    const double precision = k.tp + k.fp ? double(k.tp) / (k.tp + k.fp) : 1;
    if (m_roc->graphCount() >= 2)
        m_roc->graph(1)->setData({fpr}, {tpr});
    if (m_pr->graphCount() >= 2)
        m_pr->graph(1)->setData({tpr}, {precision});
    m_roc->replot(QCustomPlot::rpQueuedReplot);
    m_pr->replot(QCustomPlot::rpQueuedReplot);
    const ClassificationReport& r = m_eval.report;
    QString text;
    if (!m_eval.classNames.isEmpty() && m_eval.cells > 0) {
        text = tr("Threshold %1: accuracy <b>%2 %</b>, sensitivity %3 %, specificity %4 %, "
                  "precision %5 %, F1 %6; "
                  "%7 false positives, %8 false negatives; AUC %9; ECE %10.")
                   .arg(m_eval.threshold, 0, 'f', 3)
                   .arg(r.accuracy * 100, 0, 'f', 2)
                   .arg(r.sensitivity * 100, 0, 'f', 2)
                   .arg(r.specificity * 100, 0, 'f', 2)
                   .arg(r.precision * 100, 0, 'f', 2)
                   .arg(r.f1, 0, 'f', 4)
                   .arg(r.falsePositives)
                   .arg(r.falseNegatives)
                   .arg(m_eval.roc.auc ? QString::number(*m_eval.roc.auc, 'f', 4) : tr("undefined"))
                   .arg(m_eval.calibration.ece, 0, 'f', 4);
        for (const QString& w : m_eval.warnings)
            text +=
                QStringLiteral("<br><span style='color:#b06000'>%1</span>").arg(w.toHtmlEscaped());
    }
    m_figures->setText(text);
    Q_EMIT updated();
}

void EvaluationPage::drawMatrix()
{
    const BinaryCounts& k = m_eval.counts;
    // Rows = true class (Parasitized on top), columns = predicted; colour = row share.
    const int counts[2][2] = {{k.tp, k.fn}, {k.fp, k.tn}};
    QSharedPointer<QCPAxisTickerText> xt(new QCPAxisTickerText), yt(new QCPAxisTickerText);
    const QStringList names = modelClassNames();
    xt->addTick(0, names.at(0));
    xt->addTick(1, names.at(1));
    yt->addTick(1, names.at(0));
    yt->addTick(0, names.at(1));
    m_matrix->xAxis->setTicker(xt);
    m_matrix->yAxis->setTicker(yt);
    for (int t = 0; t < 2; ++t) {
        const int rowTotal = counts[t][0] + counts[t][1];
        for (int p = 0; p < 2; ++p) {
            const double share = rowTotal ? double(counts[t][p]) / rowTotal : 0.0;
            m_colorMap->data()->setCell(p, 1 - t, share);
            QCPItemText* label = m_matrixLabels.at(t * 2 + p);
            label->position->setCoords(p, 1 - t);
            label->setText(
                m_eval.classNames.isEmpty()
                    ? QString()
                    : QStringLiteral("%1\n%2 %").arg(counts[t][p]).arg(share * 100, 0, 'f', 1));
            label->setColor(share > 0.5 ? Qt::white : Qt::black);
        }
    }
    m_matrix->replot(QCustomPlot::rpQueuedReplot);
}

void EvaluationPage::drawCurves()
{
    auto draw = [](QCustomPlot* plot, const std::vector<CurvePoint>& points, const QString& title,
                   bool diagonal) {
        plot->clearGraphs();
        QVector<double> x, y;
        for (const CurvePoint& p : points) {
            x << p.x;
            y << p.y;
        }
        auto* curve = plot->addGraph();
        curve->setData(x, y, true);
        curve->setPen(QPen(QColor(30, 90, 170), 2));
        auto* point = plot->addGraph();
        point->setLineStyle(QCPGraph::lsNone);
        point->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(200, 30, 45),
                                               QColor(200, 30, 45), 10));
        if (diagonal) {
            auto* d = plot->addGraph();
            d->setData({0, 1}, {0, 1});
            d->setPen(QPen(Qt::gray, 1, Qt::DashLine));
        }
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0)))
            t->setText(title);
    };
    draw(m_roc, m_eval.roc.points,
         m_eval.roc.auc ? tr("ROC curve, AUC = %1").arg(*m_eval.roc.auc, 0, 'f', 4)
                        : tr("ROC curve (AUC undefined)"),
         true);
    std::vector<CurvePoint> pr = m_eval.pr.points;
    draw(m_pr, pr,
         m_eval.pr.averagePrecision
             ? tr("Precision-recall, AP = %1").arg(*m_eval.pr.averagePrecision, 0, 'f', 4)
             : tr("Precision-recall (undefined)"),
         false);
}

void EvaluationPage::drawCalibration()
{
    m_calibration->clearPlottables();
    auto* bars = new QCPBars(m_calibration->xAxis, m_calibration->yAxis);
    QVector<double> x, y;
    for (const CalibrationBin& b : m_eval.calibration.bins) {
        if (b.count == 0)
            continue;
        x << (b.lower + b.upper) / 2;
        y << b.positiveRate;
    }
    bars->setData(x, y);
    bars->setWidth(m_eval.calibration.bins.empty() ? 0.1
                                                   : 0.9 / double(m_eval.calibration.bins.size()));
    bars->setBrush(QColor(70, 130, 180, 170));
    auto* diag = m_calibration->addGraph();
    diag->setData({0, 1}, {0, 1});
    diag->setPen(QPen(Qt::gray, 1, Qt::DashLine));
    if (auto* t = qobject_cast<QCPTextElement*>(m_calibration->plotLayout()->element(0, 0)))
        t->setText(tr("Reliability diagram, ECE = %1").arg(m_eval.calibration.ece, 0, 'f', 4));
    m_calibration->replot(QCustomPlot::rpQueuedReplot);
}

void EvaluationPage::fillReport()
{
    const ClassificationReport& r = m_eval.report;
    m_report->setVerticalHeaderLabels({modelClassNames().at(0), modelClassNames().at(1),
                                       tr("accuracy"), tr("macro avg"), tr("weighted avg")});
    m_report->clearContents();
    if (m_eval.classNames.isEmpty())
        return;
    auto row = [this](int i, const ClassScores& s) {
        m_report->setItem(i, 0, cell(QString::number(s.precision, 'f', 4)));
        m_report->setItem(i, 1, cell(QString::number(s.recall, 'f', 4)));
        m_report->setItem(i, 2, cell(QString::number(s.f1, 'f', 4)));
        m_report->setItem(i, 3, cell(QString::number(s.support)));
    };
    row(0, r.perClass.at(0));
    row(1, r.perClass.at(1));
    m_report->setItem(2, 2, cell(QString::number(r.accuracy, 'f', 4)));
    m_report->setItem(2, 3, cell(QString::number(m_eval.counts.total())));
    row(3, r.macro);
    row(4, r.weighted);
}

void EvaluationPage::fillPatients()
{
    m_patients->setRowCount(int(m_eval.patients.size()));
    int i = 0;
    for (const PatientRow& p : m_eval.patients) {
        m_patients->setItem(i, 0, new QTableWidgetItem(p.id));
        m_patients->setItem(i, 1, cell(QString::number(p.cells)));
        m_patients->setItem(i, 2,
                            cell(QStringLiteral("%1 %").arg(p.trueInfectedShare * 100, 0, 'f', 1)));
        m_patients->setItem(
            i, 3, cell(QStringLiteral("%1 %").arg(p.predictedInfectedShare * 100, 0, 'f', 1)));
        m_patients->setItem(i, 4,
                            cell(QStringLiteral("%1 %").arg(p.cellAccuracy * 100, 0, 'f', 1)));
        const bool right = p.trulyInfected == p.predictedInfected;
        auto* decision = new QTableWidgetItem(p.predictedInfected ? tr("infected") : tr("healthy"));
        decision->setForeground(right ? QColor(30, 130, 60) : QColor(200, 30, 45));
        decision->setToolTip(
            (right ? tr("agrees with the labels") : tr("disagrees with the labels")) +
            QStringLiteral("\n") + p.decisionRule +
            (p.prevalence.cells > 0 ? QStringLiteral("\n") + p.prevalence.explanation()
                                    : QString()));
        m_patients->setItem(i, 5, decision);
        ++i;
    }
    const BinaryCounts& k = m_eval.patientLevel;
    m_patients->setToolTip(
        tr("Patient level (%1): "
           "%2 infected found, %3 missed, %4 healthy called infected, %5 healthy cleared")
            .arg(m_eval.errorRates && ratesApplyAt(*m_eval.errorRates, m_eval.threshold)
                     ? tr("infected when the parasitemia corrected for the model's errors has a "
                          "95 % CI above 0")
                     : tr("infected when more than %1 % of cells are called Parasitized")
                           .arg(m_eval.patientThreshold * 100))
            .arg(k.tp)
            .arg(k.fn)
            .arg(k.fp)
            .arg(k.tn));
    m_patients->resizeColumnsToContents();
}

QList<int> EvaluationPage::imagesInCell(int trueClass, int predictedClass) const
{
    QList<int> out;
    for (const ScoredImage& c : m_cells) {
        const int predicted = c.probability >= m_eval.threshold ? 0 : 1;
        if (c.label == trueClass && predicted == predictedClass)
            out.append(c.index);
    }
    return out;
}

void EvaluationPage::openGallery(int trueClass, int predictedClass)
{
    const auto results = m_session->results();
    if (!results || m_eval.classNames.isEmpty())
        return;
    const QStringList names = modelClassNames();
    const QString kind = trueClass == predictedClass ? tr("correct")
                         : trueClass == 0            ? tr("false negatives")
                                                     : tr("false positives");
    auto* dialog = new GalleryDialog(
        tr("True %1, predicted %2 (%3)").arg(names.at(trueClass), names.at(predictedClass), kind),
        *results, imagesInCell(trueClass, predictedClass), m_thumbnails, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    // Why the model called a cell what it did: its heatmap on demand.
    connect(dialog, &GalleryDialog::imageActivated, dialog, [this, dialog](const QString& path) {
        auto* heat =
            new HeatmapDialog(path, m_session->classifier(), m_session->threshold(), dialog);
        heat->setAttribute(Qt::WA_DeleteOnClose);
        heat->show();
    });
    dialog->show();
}

void EvaluationPage::onMatrixClick(QMouseEvent* event)
{
    const double x = m_matrix->xAxis->pixelToCoord(event->pos().x());
    const double y = m_matrix->yAxis->pixelToCoord(event->pos().y());
    const int predicted = qRound(x), row = qRound(y);
    if (predicted < 0 || predicted > 1 || row < 0 || row > 1)
        return;
    openGallery(1 - row, predicted);
}

} // namespace ml
