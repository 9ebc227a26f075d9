#include "classifypage.h"
#include "confirmcellsdialog.h"
#include "correctionstore.h"

#include "detailview.h"
#include "modelsession.h"
#include "pdfreport.h"
#include "resultstablemodel.h"
#include "tablecsv.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QSplitter>
#include <QTableView>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

ClassifyPage::ClassifyPage(ModelSession* session, QWidget* parent)
    : QWidget(parent), m_session(session), m_model(new ResultsTableModel(this)),
      m_proxy(new ResultsFilterProxy(this)), m_view(new QTableView(this)),
      m_patients(new QTableWidget(0, 7, this)), m_detail(new DetailView(this)),
      m_classify(new QPushButton(tr("&Classify folder"), this)),
      m_export(new QPushButton(tr("Export &CSV..."), this)),
      m_report(new QPushButton(tr("&PDF report..."), this)), m_modelLabel(new QLabel(this)),
      m_summary(new QLabel(this)), m_domainBanner(new QLabel(this)),
      m_confirm(new QPushButton(tr("Confirm &cells of the selected patient..."), this)),
      m_predicted(new QComboBox(this)), m_correctness(new QComboBox(this)),
      m_low(new QDoubleSpinBox(this)), m_high(new QDoubleSpinBox(this))
{
    m_classify->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_classify->setToolTip(tr("Classify every image of the folder with the active model (Ctrl+R)"));
    auto* load = new QPushButton(tr("Load &model..."), this);
    load->setToolTip(
        tr("Load a model file (native or TorchScript); the current one stays if it fails"));
    auto* embedded = new QPushButton(tr("Use &default"), this);
    embedded->setToolTip(tr("Return to the default model embedded in the application"));
    m_export->setEnabled(false);
    m_report->setEnabled(false);
    m_report->setToolTip(
        tr("Write a PDF report of this classification (parasitemia, model, evaluation, gallery)"));

    m_proxy->setSourceModel(m_model);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ResultsTableModel::ProbabilityColumn, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_view->horizontalHeader()->setSectionResizeMode(ResultsTableModel::FileColumn,
                                                     QHeaderView::Stretch);
    m_view->setAccessibleName(tr("Classification results"));

    m_predicted->addItem(tr("Any prediction"), -1);
    m_predicted->addItem(tr("Predicted Parasitized"), 0);
    m_predicted->addItem(tr("Predicted Uninfected"), 1);
    m_predicted->addItem(tr("Failed images"), 2);
    m_predicted->setAccessibleName(tr("Predicted class filter"));
    m_correctness->addItem(tr("Right and wrong"), 0);
    m_correctness->addItem(tr("Right only"), 1);
    m_correctness->addItem(tr("Wrong only"), 2);
    m_correctness->setAccessibleName(tr("Right or wrong filter"));
    for (QDoubleSpinBox* box : {m_low, m_high}) {
        box->setRange(0.0, 1.0);
        box->setSingleStep(0.05);
        box->setDecimals(2);
    }
    m_high->setValue(1.0);
    m_low->setAccessibleName(tr("Lowest probability shown"));
    m_high->setAccessibleName(tr("Highest probability shown"));

    m_patients->setHorizontalHeaderLabels({tr("Patient"), tr("Cells"), tr("Apparent"),
                                           tr("Corrected (95 % CI)"), tr("Decision"),
                                           tr("True infected"), tr("Cell accuracy")});
    m_patients->setToolTip(
        tr("Apparent: share of cells called parasitized. Corrected: the true share estimated "
           "from it with the model's sensitivity and specificity (Rogan-Gladen), 95 % CI "
           "including their uncertainty. Decision: infected when the corrected CI excludes 0."));
    m_patients->verticalHeader()->setVisible(false);
    m_patients->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_patients->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_patients->setSortingEnabled(true);
    m_patients->setAccessibleName(tr("Per-patient summary"));
    addCsvExportAction(m_view, QStringLiteral("classification-shown.csv"));
    addCsvExportAction(m_patients, QStringLiteral("patients.csv"));

    auto* top = new QHBoxLayout;
    top->addWidget(m_classify);
    top->addWidget(load);
    top->addWidget(embedded);
    top->addWidget(m_modelLabel, 1);
    top->addWidget(m_export);
    top->addWidget(m_report);
    auto* filters = new QHBoxLayout;
    filters->addWidget(new QLabel(tr("Show:"), this));
    filters->addWidget(m_predicted);
    filters->addWidget(new QLabel(tr("P(Parasitized) from"), this));
    filters->addWidget(m_low);
    filters->addWidget(new QLabel(tr("to"), this));
    filters->addWidget(m_high);
    filters->addWidget(m_correctness);
    filters->addStretch();

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(filters);
    leftLayout->addWidget(m_view, 1);
    leftLayout->addWidget(m_summary);
    auto* patientsBox = new QGroupBox(tr("Per patient / slide"), this);
    auto* pl = new QVBoxLayout(patientsBox);
    pl->addWidget(m_patients);
    m_confirm->setEnabled(false);
    m_confirm->setToolTip(tr("The 12 most suspicious cells of the selected patient with their "
                             "heatmaps: confirm or reject them (P / U / X / S / Z). A confirmed "
                             "parasite makes the patient infected."));
    pl->addWidget(m_confirm);
    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(m_detail);
    right->addWidget(patientsBox);
    auto* split = new QSplitter(this);
    split->addWidget(left);
    split->addWidget(right);
    // The patient table (apparent, corrected with its CI, decision) needs about half the width.
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    m_domainBanner->setWordWrap(true);
    connect(m_domainBanner, &QLabel::linkActivated, this, [this] { Q_EMIT calibrateRequested(); });
    m_domainBanner->setVisible(false);
    m_domainBanner->setAccessibleName(tr("Domain warning"));
    m_domainBanner->setStyleSheet(QStringLiteral("QLabel { background: #fff3cd; color: #664d03; "
                                                 "border: 1px solid #ffda6a; padding: 6px; }"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_domainBanner);
    layout->addWidget(split, 1);
    m_summary->setWordWrap(true);

    connect(m_classify, &QPushButton::clicked, this, &ClassifyPage::classify);
    connect(m_export, &QPushButton::clicked, this, &ClassifyPage::chooseCsv);
    connect(m_report, &QPushButton::clicked, this, &ClassifyPage::chooseReport);
    connect(this, &ClassifyPage::reportWritten, this,
            [this](const QString& path, bool ok, const QString& error) {
                m_report->setEnabled(m_session->results() != nullptr);
                if (ok)
                    m_summary->setText(tr("Report written to %1.").arg(path));
                else
                    QMessageBox::warning(this, tr("Report failed"), error);
            });
    connect(load, &QPushButton::clicked, this, &ClassifyPage::loadModel);
    connect(m_confirm, &QPushButton::clicked, this, &ClassifyPage::confirmCells);
    connect(m_patients, &QTableWidget::itemSelectionChanged, this, [this] {
        m_confirm->setEnabled(m_session->results() && !m_patients->selectedItems().isEmpty());
    });
    connect(embedded, &QPushButton::clicked, this, [this] {
        QString error;
        if (!m_session->useEmbedded(&error))
            QMessageBox::warning(this, tr("Default model"), error);
    });
    connect(m_predicted, &QComboBox::currentIndexChanged, this, &ClassifyPage::updateFilters);
    connect(m_correctness, &QComboBox::currentIndexChanged, this, &ClassifyPage::updateFilters);
    connect(m_low, &QDoubleSpinBox::valueChanged, this, &ClassifyPage::updateFilters);
    connect(m_high, &QDoubleSpinBox::valueChanged, this, &ClassifyPage::updateFilters);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &ClassifyPage::showSelected);

    connectSession();
    updateModelLabel();
}

// The page follows the model session: model, runs, streamed results, threshold.
void ClassifyPage::connectSession()
{
    connect(m_session, &ModelSession::modelChanged, this, &ClassifyPage::updateModelLabel);
    connect(m_session, &ModelSession::classificationStarted, this, [this](int) {
        m_model->setResults(m_session->results().get());
        m_classify->setEnabled(false);
        m_export->setEnabled(false);
        m_report->setEnabled(false);
        m_report->setToolTip(tr(
            "Write a PDF report of this classification (parasitemia, model, evaluation, gallery)"));
        m_summary->setText(tr("Classifying ..."));
    });
    connect(m_session, &ModelSession::resultsUpdated, m_model, &ResultsTableModel::rowsUpdated);
    connect(m_session, &ModelSession::classificationFinished, this,
            [this](bool cancelled, const QString& error, double seconds, double perSecond) {
                m_classify->setEnabled(true);
                m_export->setEnabled(m_session->results() != nullptr);
                m_report->setEnabled(m_session->results() != nullptr);
                updatePatients();
                updateSummary();
                updateDomainBanner();
                QString note;
                if (!error.isEmpty())
                    note = tr("Classification failed: %1").arg(error);
                else if (cancelled)
                    note = tr(
                        "Cancelled: the table holds only the images classified before the cancel.");
                else
                    note = tr("%1 s, %2 images per second.")
                               .arg(seconds, 0, 'f', 1)
                               .arg(perSecond, 0, 'f', 0);
                m_summary->setText(m_summary->text() + QStringLiteral("  ") + note);
            });
    connect(m_session, &ModelSession::thresholdChanged, this, [this] {
        m_model->allUpdated();
        updatePatients();
        updateSummary();
        updateModelLabel();
    });
    connect(m_session, &ModelSession::resultsCleared, this, [this] {
        m_model->setResults(nullptr);
        m_patients->setRowCount(0);
        m_summary->clear();
        m_domainBanner->setVisible(false);
        m_export->setEnabled(false);
        m_report->setEnabled(false);
        m_report->setToolTip(tr(
            "Write a PDF report of this classification (parasitemia, model, evaluation, gallery)"));
    });
}

void ClassifyPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    m_session->clearResults();
    m_detail->clear();
    m_classify->setEnabled(m_dataset && !m_dataset->images.isEmpty());
}

void ClassifyPage::classify()
{
    if (!m_dataset)
        return;
    if (!m_session->hasModel()) {
        QMessageBox::warning(this, tr("No model"),
                             tr("No model is loaded. Load a model file or use the default."));
        return;
    }
    m_session->classify(m_dataset);
}

void ClassifyPage::updateModelLabel()
{
    m_modelLabel->setText(tr("Model: <b>%1</b>, threshold %2")
                              .arg(m_session->modelName().toHtmlEscaped())
                              .arg(m_session->threshold(), 0, 'f', 2));
}

void ClassifyPage::loadModel()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Load a model"), QString(), tr("Models (*.pt *.pth *.ts);;All files (*)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!m_session->loadFile(path, &error))
        QMessageBox::warning(this, tr("Cannot load the model"),
                             tr("%1\n\nThe previous model stays active.").arg(error));
}

void ClassifyPage::updateFilters()
{
    m_proxy->setPredictedFilter(m_predicted->currentData().toInt());
    m_proxy->setProbabilityRange(m_low->value(), m_high->value());
    m_proxy->setCorrectness(ResultsFilterProxy::Correctness(m_correctness->currentData().toInt()));
    updateSummary();
}

void ClassifyPage::updatePatients()
{
    const auto results = m_session->results();
    m_patients->setSortingEnabled(false);
    m_patients->setRowCount(0);
    if (!results)
        return;
    struct Acc
    {
        int cells = 0, predicted = 0, truth = 0, right = 0, known = 0;
    };
    QMap<QString, Acc> acc;
    const Dataset& ds = *results->dataset();
    for (int i = 0; i < results->size(); ++i) {
        if (results->predicted(i) < 0)
            continue;
        Acc& a = acc[ds.images.at(i).patient];
        a.cells += 1;
        a.predicted += results->predicted(i) == 0;
        a.truth +=
            ds.isLabelled() && ds.className(ds.images.at(i).label) == modelClassNames().at(0);
        const int c = results->correct(i);
        if (c >= 0) {
            ++a.known;
            a.right += c;
        }
    }
    m_patients->setRowCount(int(acc.size()));
    int row = 0;
    auto number = [](double v, bool percent) {
        auto* item = new QTableWidgetItem;
        item->setData(Qt::DisplayRole,
                      percent ? QVariant(QString::number(v * 100, 'f', 1) + QStringLiteral(" %"))
                              : QVariant(v));
        item->setData(Qt::UserRole, v);
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        return item;
    };
    // The corrected figure needs the model's error rates at the threshold in use.
    QString ratesError;
    const std::optional<ErrorRates> rates =
        errorRatesAt(m_session->classifier().card(), m_session->threshold(), &ratesError,
                     m_session->domain().nearestSource);
    const QMap<QString, QPair<int, QStringList>> confirmed = confirmedPerPatient();
    for (auto it = acc.cbegin(); it != acc.cend(); ++it, ++row) {
        m_patients->setItem(row, 0, new QTableWidgetItem(it.key()));
        m_patients->setItem(row, 1, number(it->cells, false));
        m_patients->setItem(row, 2, number(double(it->predicted) / it->cells, true));
        if (rates) {
            const PrevalenceEstimate e = estimatePrevalence(it->predicted, it->cells, *rates);
            const InfectionDecision d = decideInfection(e, confirmed.value(it.key()).first);
            auto* corrected = number(e.ok ? e.corrected : -1.0, true);
            corrected->setText(e.ok ? QStringLiteral("%1 % (%2-%3)")
                                          .arg(e.corrected * 100, 0, 'f', 1)
                                          .arg(e.low * 100, 0, 'f', 1)
                                          .arg(e.high * 100, 0, 'f', 1)
                                    : tr("-"));
            corrected->setToolTip(e.explanation());
            m_patients->setItem(row, 3, corrected);
            auto* decision = new QTableWidgetItem(!d.decided   ? tr("undecided")
                                                  : d.infected ? tr("Infected")
                                                               : tr("Not shown"));
            decision->setToolTip(d.reason);
            m_patients->setItem(row, 4, decision);
        } else {
            auto* none = new QTableWidgetItem(tr("-"));
            none->setToolTip(tr("No corrected figure: %1").arg(ratesError));
            m_patients->setItem(row, 3, none);
            m_patients->setItem(row, 4, new QTableWidgetItem(tr("undecided")));
        }
        m_patients->setItem(row, 5,
                            it->known ? number(double(it->truth) / it->cells, true)
                                      : new QTableWidgetItem());
        m_patients->setItem(row, 6,
                            it->known ? number(double(it->right) / it->known, true)
                                      : new QTableWidgetItem());
    }
    m_patients->setSortingEnabled(true);
    m_patients->resizeColumnsToContents();
}

void ClassifyPage::updateSummary()
{
    const auto results = m_session->results();
    if (!results)
        return;
    QString text = tr("%1 classified, %2 failed; predicted Parasitized %3 %; showing %4 rows.")
                       .arg(results->classified())
                       .arg(results->failed())
                       .arg(results->predictedInfectedShare() * 100, 0, 'f', 1)
                       .arg(m_proxy->rowCount());
    const double acc = results->accuracy();
    if (acc >= 0)
        text += tr(" Accuracy against the folder labels: %1 %.").arg(acc * 100, 0, 'f', 2);
    m_summary->setText(text);
}

QMap<QString, QPair<int, QStringList>> ClassifyPage::confirmedPerPatient() const
{
    QMap<QString, QPair<int, QStringList>> out;
    const auto results = m_session->results();
    if (!results)
        return out;
    const Dataset& ds = *results->dataset();
    QHash<QString, QString> patientOf;
    for (int i = 0; i < ds.images.size(); ++i)
        patientOf.insert(ds.absolutePath(i), ds.images.at(i).patient);
    const QHash<QString, Confirmations> confirmed = confirmedParasites(
        m_dbPath, [&patientOf](const QString& path) { return patientOf.value(path); });
    for (auto it = confirmed.cbegin(); it != confirmed.cend(); ++it)
        out.insert(it.key(), {it->parasites, it->reviewers});
    return out;
}

ConfirmCellsDialog* ClassifyPage::confirmCells()
{
    const auto results = m_session->results();
    const QList<QTableWidgetItem*> selected = m_patients->selectedItems();
    if (!results || selected.isEmpty())
        return nullptr;
    const QString patient = m_patients->item(selected.first()->row(), 0)->text();
    // Window-modal but not blocking (open(), not exec()): the table follows every decision.
    auto* dialog = new ConfirmCellsDialog(
        cellsOfPatient(*results, patient), m_session->classifier(),
        m_dbPath.isEmpty() ? CorrectionStore::defaultPath() : m_dbPath, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ConfirmCellsDialog::decisionsChanged, this, [this, patient] {
        updatePatients();
        selectPatient(patient);
    });
    dialog->open();
    return dialog;
}

void ClassifyPage::selectPatient(const QString& patient)
{
    for (int row = 0; row < m_patients->rowCount(); ++row)
        if (m_patients->item(row, 0) && m_patients->item(row, 0)->text() == patient)
            m_patients->selectRow(row);
}

void ClassifyPage::updateDomainBanner()
{
    const DomainVerdict& v = m_session->domain();
    const bool warn = v.checked && !v.inDomain;
    m_domainBanner->setVisible(warn);
    if (warn)
        m_domainBanner->setText(
            tr("<b>These cells are unlike the model's training cells.</b> %1<br>Next step: "
               "<a href=\"calibrate\">Calibrate for this lab…</a> (on the lab's own field "
               "images: label a few hundred of its cells, adapt, compare before and after).")
                .arg(v.reasons.join(QStringLiteral("; ")).toHtmlEscaped()));
}

void ClassifyPage::showSelected()
{
    const QModelIndex idx = m_view->currentIndex();
    const auto results = m_session->results();
    if (!idx.isValid() || !results)
        return;
    const int i = idx.data(ResultsTableModel::IndexRole).toInt();
    const Dataset& ds = *results->dataset();
    QStringList meta;
    meta << tr("Patient: %1").arg(ds.images.at(i).patient);
    if (ds.isLabelled())
        meta << tr("True label: %1").arg(ds.className(ds.images.at(i).label));
    if (results->hasError(i))
        meta << tr("Not classified: %1").arg(results->error(i));
    else
        meta << tr("P(Parasitized) = %1 -> %2")
                    .arg(results->probability(i), 0, 'f', 3)
                    .arg(modelClassNames().value(results->predicted(i)));
    m_detail->showImage(ds.absolutePath(i), meta);
}

void ClassifyPage::chooseCsv()
{
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export results as CSV"), QStringLiteral("classification.csv"), tr("CSV (*.csv)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!exportCsv(path, &error))
        QMessageBox::warning(this, tr("Export failed"), error);
}

bool ClassifyPage::exportCsv(const QString& path, QString* error)
{
    const auto results = m_session->results();
    if (!results) {
        if (error)
            *error = tr("Nothing to export: classify the folder first.");
        return false;
    }
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(results->toCsv()) < 0 || !f.commit()) {
        if (error)
            *error = tr("Cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

} // namespace ml

namespace ml {

void ClassifyPage::chooseReport()
{
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Write a PDF report"),
                                     QStringLiteral("malarialens-report.pdf"), tr("PDF (*.pdf)"));
    if (!path.isEmpty())
        exportReport(path);
}

void ClassifyPage::exportReport(const QString& path)
{
    const auto results = m_session->results();
    if (!results) {
        Q_EMIT reportWritten(path, false, tr("Nothing to report: classify the folder first."));
        return;
    }
    m_report->setEnabled(false);
    m_summary->setText(tr("Writing the report ..."));
    // A copy of the results and card: the worker never touches the live session.
    ReportContent content =
        buildReport(*results, m_session->modelName(), m_session->classifier().weightsSha256(),
                    m_session->classifier().card());
    content.domain = m_session->domain();
    // Reviewers' confirmations override the estimate (a confirmed parasite is a parasite).
    const QMap<QString, QPair<int, QStringList>> confirmed = confirmedPerPatient();
    QStringList reviewers;
    for (ReportContent::Patient& p : content.patients) {
        const QPair<int, QStringList> c = confirmed.value(p.id);
        if (c.first == 0)
            continue;
        p.decision = decideInfection(p.corrected, c.first);
        content.confirmedParasites += c.first;
        for (const QString& r : c.second)
            if (!reviewers.contains(r))
                reviewers << r;
    }
    content.confirmedBy = reviewers.join(QStringLiteral(", "));
    content.decision = decideInfection(content.corrected, content.confirmedParasites);
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
        const QString error = watcher->result();
        watcher->deleteLater();
        Q_EMIT reportWritten(path, error.isEmpty(), error);
    });
    watcher->setFuture(QtConcurrent::run([content, path] {
        QString error;
        return writePdfReport(content, path, &error) ? QString() : error;
    }));
}

} // namespace ml
