#include "summarypage.h"

#include "qcustomplotinclude.h"
#include "tablecsv.h"

#include <QGridLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ml {

namespace {
QTableWidget* makeTable(const QStringList& headers, QWidget* parent)
{
    auto* t = new QTableWidget(0, int(headers.size()), parent);
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->setVisible(false);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->horizontalHeader()->setStretchLastSection(true);
    t->setAlternatingRowColors(true);
    t->setWordWrap(false);
    return t;
}

QGroupBox* group(const QString& title, QWidget* content, QWidget* parent)
{
    auto* box = new QGroupBox(title, parent);
    auto* l = new QVBoxLayout(box);
    l->addWidget(content);
    return box;
}

QTableWidgetItem* numberItem(int value)
{
    auto* item = new QTableWidgetItem;
    item->setData(Qt::DisplayRole, value); // sorts numerically
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}
} // namespace

SummaryPage::SummaryPage(QWidget* parent)
    : QWidget(parent), m_chart(new QCustomPlot(this)),
      m_figures(makeTable({tr("Figure"), tr("Value")}, this)),
      m_patients(makeTable({tr("Patient / slide"), tr("Images")}, this)),
      m_skipped(makeTable({tr("File"), tr("Reason")}, this)), m_status(new QLabel(this))
{
    m_chart->setMinimumHeight(220);
    m_chart->setAccessibleName(tr("Class distribution chart"));
    m_chart->plotLayout()->insertRow(0);
    m_chart->plotLayout()->addElement(0, 0,
                                      new QCPTextElement(m_chart, tr("Images per class"),
                                                         QFont(font().family(), 11, QFont::Bold)));
    m_chart->yAxis->setLabel(tr("Images"));
    m_figures->setAccessibleName(tr("Dataset figures"));
    m_patients->setAccessibleName(tr("Images per patient"));
    m_patients->setSortingEnabled(true);
    m_skipped->setAccessibleName(tr("Skipped files"));
    addCsvExportAction(m_figures, QStringLiteral("dataset-summary.csv"));
    addCsvExportAction(m_patients, QStringLiteral("images-per-patient.csv"));
    addCsvExportAction(m_skipped, QStringLiteral("skipped-files.csv"));

    auto* grid = new QGridLayout(this);
    grid->addWidget(group(tr("Class distribution"), m_chart, this), 0, 0);
    grid->addWidget(group(tr("Dataset summary"), m_figures, this), 0, 1);
    grid->addWidget(group(tr("Images per patient"), m_patients, this), 1, 0);
    grid->addWidget(group(tr("Skipped files"), m_skipped, this), 1, 1);
    grid->addWidget(m_status, 2, 0, 1, 2);
    grid->setColumnStretch(0, 3);
    grid->setColumnStretch(1, 2);
}

void SummaryPage::setFigure(int row, const QString& name, const QString& value)
{
    if (m_figures->rowCount() <= row)
        m_figures->setRowCount(row + 1);
    m_figures->setItem(row, 0, new QTableWidgetItem(name));
    m_figures->setItem(row, 1, new QTableWidgetItem(value));
}

void SummaryPage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    m_figures->setRowCount(0);
    m_patients->setRowCount(0);
    m_skipped->setRowCount(0);
    if (!m_dataset) {
        updateChart({});
        return;
    }
    updateChart(m_dataset->countPerClass());
    int row = 0;
    setFigure(row++, tr("Folder"), m_dataset->root);
    setFigure(row++, tr("Image files"), QString::number(m_dataset->images.size()));
    for (const auto& [name, count] : m_dataset->countPerClass().toStdMap())
        setFigure(row++, tr("Class %1").arg(name), QString::number(count));
    const auto perPatient = m_dataset->countPerPatientAndClass();
    setFigure(row++, tr("Patients / slides"), QString::number(perPatient.size()));
    m_figures->resizeColumnToContents(0);
    m_status->setText(tr("Decoding every image for sizes and pixel range ..."));

    QStringList headers{tr("Patient / slide"), tr("Images")};
    for (const QString& c : m_dataset->classNames)
        headers << c;
    m_patients->setSortingEnabled(false);
    m_patients->setColumnCount(int(headers.size()));
    m_patients->setHorizontalHeaderLabels(headers);
    m_patients->setRowCount(int(perPatient.size()));
    int r = 0;
    for (auto it = perPatient.cbegin(); it != perPatient.cend(); ++it, ++r) {
        int total = 0;
        for (int v : it.value())
            total += v;
        m_patients->setItem(r, 0, new QTableWidgetItem(it.key()));
        m_patients->setItem(r, 1, numberItem(total));
        for (int c = 0; c < m_dataset->classNames.size(); ++c)
            m_patients->setItem(r, 2 + c, numberItem(it.value().value(c)));
    }
    m_patients->setSortingEnabled(true);
    m_patients->resizeColumnsToContents();
    m_skipped->setRowCount(int(m_dataset->skipped.size()));
    for (int i = 0; i < m_dataset->skipped.size(); ++i) {
        m_skipped->setItem(i, 0, new QTableWidgetItem(m_dataset->skipped.at(i).path));
        m_skipped->setItem(i, 1, new QTableWidgetItem(m_dataset->skipped.at(i).reason));
    }
}

void SummaryPage::setSummary(std::shared_ptr<const DatasetSummary> s)
{
    if (!s || !m_dataset)
        return;
    updateChart(s->perClass);
    int row = 0;
    m_figures->setRowCount(0);
    setFigure(row++, tr("Folder"), m_dataset->root);
    setFigure(row++, tr("Usable images"), tr("%1 of %2 files").arg(s->images).arg(s->files));
    for (auto it = s->perClass.cbegin(); it != s->perClass.cend(); ++it)
        setFigure(row++, tr("Class %1").arg(it.key()), QString::number(it.value()));
    setFigure(row++, tr("Patients / slides"), QString::number(s->perPatient.size()));
    setFigure(
        row++, tr("Width (min / median / max)"),
        QStringLiteral("%1 / %2 / %3 px").arg(s->minWidth).arg(s->medianWidth).arg(s->maxWidth));
    setFigure(
        row++, tr("Height (min / median / max)"),
        QStringLiteral("%1 / %2 / %3 px").arg(s->minHeight).arg(s->medianHeight).arg(s->maxHeight));
    setFigure(row++, tr("Pixel values (min / max)"),
              QStringLiteral("%1 / %2").arg(s->minPixel).arg(s->maxPixel));
    QStringList channels;
    for (auto it = s->channelCounts.cbegin(); it != s->channelCounts.cend(); ++it)
        channels << tr("%1 channel(s): %2 images").arg(it.key()).arg(it.value());
    setFigure(row++, tr("Channels"), channels.join(QStringLiteral("; ")));
    setFigure(row++, tr("Skipped files"), QString::number(s->skipped.size()));
    m_figures->resizeColumnToContents(0);
    m_skipped->setRowCount(int(s->skipped.size()));
    for (int i = 0; i < s->skipped.size(); ++i) {
        m_skipped->setItem(i, 0, new QTableWidgetItem(s->skipped.at(i).path));
        m_skipped->setItem(i, 1, new QTableWidgetItem(s->skipped.at(i).reason));
    }
    m_skipped->resizeColumnToContents(0);
    m_status->setText(s->skipped.isEmpty() ? tr("Every image decoded.")
                                           : tr("%n file(s) cannot be used; see the list above.",
                                                nullptr, int(s->skipped.size())));
}

void SummaryPage::updateChart(const QMap<QString, int>& perClass)
{
    m_chart->clearPlottables();
    QVector<double> ticks, values;
    QVector<QString> labels;
    int i = 1;
    double maxValue = 1;
    for (auto it = perClass.cbegin(); it != perClass.cend(); ++it, ++i) {
        ticks << i;
        values << it.value();
        labels << QStringLiteral("%1\n%2").arg(it.key()).arg(it.value());
        maxValue = std::max(maxValue, double(it.value()));
    }
    auto* bars = new QCPBars(m_chart->xAxis, m_chart->yAxis);
    bars->setData(ticks, values);
    bars->setWidth(0.6);
    bars->setBrush(QColor(70, 130, 180));
    bars->setPen(QPen(QColor(40, 80, 120)));
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    ticker->addTicks(ticks, labels);
    m_chart->xAxis->setTicker(ticker);
    m_chart->xAxis->setRange(0.3, std::max(1, int(ticks.size())) + 0.7);
    m_chart->yAxis->setRange(0, maxValue * 1.15);
    m_chart->replot();
}

} // namespace ml
