#include "fieldpage.h"
#include "domainprofile.h"

#include "tablecsv.h"

#include "confirmcellsdialog.h"
#include "correctionstore.h"
#include "cropclassifier.h"
#include "fieldview.h"
#include "matconvert.h"
#include "probabilitylegend.h"
#include "torchthreads.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPromise>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <opencv2/imgproc.hpp>

namespace ml {

namespace {

// A worker's field options for `c`: one libtorch thread (the other core stays free for the
// GUI), the card's threshold and, for a lab's model, its pale-cell rule.
void classifyWith(FieldOptions& o, const Classifier& c)
{
    setTorchThreads(1);
    o.classifier = cellCropClassifier(c);
    o.threshold = c.cardThreshold();
    o.paleCells = PaleCellRule::fromCard(c.card());
}

// The view never needs more pixels than a large screen shows; a huge field is shown downscaled
// (crops still come from the full-resolution image).
constexpr int kMaxDisplaySide = 4096;
constexpr int kCropSide = 160;

QString percent(double p)
{
    return QString::number(p * 100.0, 'f', 2);
}

// The field's cells to confirm: the kCellsToConfirm most suspicious cells with edge cells
// included and those without them (the checkbox may change after the run), each with its
// crop exactly as the classifier saw it. A dozen or two small crops per field, so a slide
// keeps every field's and needs no second pass over its images.
std::vector<FieldCellToConfirm> suspiciousCells(const cv::Mat& image, const FieldResult& r,
                                                const FieldOptions& o)
{
    std::vector<size_t> order;
    for (size_t i = 0; i < r.cells.size(); ++i)
        if (r.cells[i].probability >= 0)
            order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&r](size_t a, size_t b) {
        return r.cells[a].probability > r.cells[b].probability;
    });
    std::vector<size_t> which;
    int interior = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        const bool edge = r.cells[order[k]].cell.touchesEdge;
        interior += edge ? 0 : 1;
        if (int(k) < kCellsToConfirm || (!edge && interior <= kCellsToConfirm))
            which.push_back(order[k]);
        if (int(k) >= kCellsToConfirm && interior >= kCellsToConfirm)
            break;
    }
    const std::vector<cv::Mat> crops = classifierCrops(image, r.cells, which, o);
    const QString field = QFileInfo(r.path).absoluteFilePath();
    std::vector<FieldCellToConfirm> out;
    for (size_t k = 0; k < which.size() && k < crops.size(); ++k) {
        const FieldCell& c = r.cells[which[k]];
        FieldCellToConfirm t;
        t.fieldPath = field;
        t.box = c.cell.detectionBox;
        t.probability = c.probability;
        t.crop = crops[k];
        t.original = cellCrop(image, c.cell, o.cropPadding);
        t.edge = c.cell.touchesEdge;
        out.push_back(std::move(t));
    }
    return out;
}

// "Infected (2 parasites confirmed by ana)" / "Not shown infected": the one line a clinician
// reads, with what decided it.
QString decisionText(const InfectionDecision& d, const Confirmations& confirmed)
{
    if (!d.decided)
        return QObject::tr("Undecided");
    if (!d.infected)
        return QObject::tr("Not shown infected");
    if (confirmed.parasites == 0)
        return QObject::tr("Infected");
    return QObject::tr("Infected (%1 confirmed by %2)")
        .arg(confirmed.parasites == 1 ? QObject::tr("1 parasite")
                                      : QObject::tr("%1 parasites").arg(confirmed.parasites))
        .arg(confirmed.reviewers.join(QStringLiteral(", ")));
}

} // namespace

QString FieldPage::foundSummary(const FieldCounts& c, bool classified)
{
    // What was found, and what was not looked at: touching cells the segmenter could not split
    // are neither counted as cells nor classified, and on a crowded field they are many.
    // Plurals by hand: tr("%n ...(s)") needs a loaded translation to drop the "(s)".
    const QString cells = c.cells == 1 ? tr("1 cell") : tr("%1 cells").arg(c.cells);
    QString text =
        QStringLiteral("<b>%1</b>")
            .arg(classified ? tr("%1 classified").arg(cells) : tr("%1 found").arg(cells));
    if (c.unsplitRegions > 0) {
        const QString clumps =
            c.unsplitRegions == 1 ? tr("1 clump") : tr("%1 clumps").arg(c.unsplitRegions);
        text += QStringLiteral(";<br><span style=\"color:#b000b0\">%1</span>")
                    .arg(tr("%1 of touching cells (~%2 cells) not %3")
                             .arg(clumps)
                             .arg(c.unsplitCellsEstimate)
                             .arg(classified ? tr("classified") : tr("counted")));
    }
    return text;
}

FieldPage::FieldPage(QWidget* parent) : QWidget(parent)
{
    m_openField = new QPushButton(tr("Open field…"), this);
    m_openFolder = new QPushButton(tr("Open folder…"), this);
    m_model = new QPushButton(tr("Model…"), this);
    m_model->setToolTip(tr("Load a model file (native or TorchScript) for the fields"));
    m_calibrate = new QPushButton(tr("Calibrate for this &lab…"), this);
    m_calibrate->setToolTip(tr("Make the model right for your microscope and stain: label "
                               "some of your own cells, adapt, compare before and after"));
    m_excludeEdge = new QCheckBox(tr("Exclude cells cut by the border"), this);
    m_excludeEdge->setChecked(true);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 100);
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(true);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_modelLabel = new QLabel(this);

    auto* bar = new QHBoxLayout;
    bar->addWidget(m_openField);
    bar->addWidget(m_openFolder);
    bar->addWidget(m_model);
    bar->addWidget(m_calibrate);
    bar->addWidget(m_excludeEdge);
    bar->addStretch(1);
    bar->addWidget(m_progress);
    bar->addWidget(m_cancel);

    m_view = new FieldView(this);
    m_view->setExcludeEdge(true);

    m_fieldLabel = new QLabel(tr("No field"), this);
    // Lines are broken explicitly (<br>): word-wrapped labels get too little height inside
    // the splitter, which does not propagate height-for-width.
    m_fieldLabel->setWordWrap(false);
    m_countsLabel = new QLabel(this);
    m_countsLabel->setWordWrap(false);
    m_countsLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_warningLabel = new QLabel(this);
    m_warningLabel->setWordWrap(true);
    m_warningLabel->setStyleSheet(QStringLiteral("color: #b35900;"));
    m_warningLabel->hide();
    m_domainBanner = new QLabel(this);
    m_domainBanner->setWordWrap(true);
    m_domainBanner->setVisible(false);
    m_domainBanner->setAccessibleName(tr("Domain warning"));
    m_domainBanner->setStyleSheet(QStringLiteral("QLabel { background: #fff3cd; color: #664d03; "
                                                 "border: 1px solid #ffda6a; padding: 6px; }"));
    m_legend = new ProbabilityLegend(this);
    auto* fieldBox = new QGroupBox(tr("Field"), this);
    auto* fieldLayout = new QVBoxLayout(fieldBox);
    fieldLayout->addWidget(m_fieldLabel);
    fieldLayout->addWidget(m_countsLabel);
    m_confirmField = new QPushButton(tr("Cells to confirm in this field…"), this);
    m_confirmField->setToolTip(
        tr("The %1 most suspicious cells of this field with their heatmaps: confirm or reject "
           "them (P / U / X / S / Z). A confirmed parasite makes the field and the slide "
           "infected.")
            .arg(kCellsToConfirm));
    fieldLayout->addWidget(m_confirmField);
    fieldLayout->addWidget(m_warningLabel);
    fieldLayout->addWidget(m_legend);
    fieldLayout->addWidget(m_modelLabel);
    // Not word-wrapped, for the reason above: a wrapped label given too little height centres
    // its lines over the legend above it ("Model: default.pt (se)" drawn over the legend's last
    // row). Lines are broken explicitly and long names elided (full text in the tooltip).
    m_modelLabel->setWordWrap(false);
    m_modelLabel->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_modelLabel->setObjectName(QStringLiteral("modelLabel"));
    m_legend->setObjectName(QStringLiteral("legend"));

    m_cropLabel = new QLabel(this);
    m_cropLabel->setFixedSize(kCropSide, kCropSide);
    m_cropLabel->setAlignment(Qt::AlignCenter);
    m_cropLabel->setStyleSheet(QStringLiteral("background: black;"));
    m_cellLabel = new QLabel(tr("Hover or click a cell"), this);
    m_cellLabel->setWordWrap(false);
    auto* cellBox = new QGroupBox(tr("Cell"), this);
    auto* cellLayout = new QHBoxLayout(cellBox);
    cellLayout->addWidget(m_cropLabel);
    cellLayout->addWidget(m_cellLabel, 1);

    m_folderTable = new QTableWidget(0, 7, this);
    addCsvExportAction(m_folderTable, QStringLiteral("slide-fields.csv"));
    // The decision next to the field's name: the side panel is narrow and the table scrolls
    // sideways, so what a clinician reads first must not be the last column.
    m_folderTable->setHorizontalHeaderLabels({tr("Field"), tr("Cells"), tr("Decision"),
                                              tr("Parasitized"), tr("Apparent %"),
                                              tr("Corrected %"), tr("Confirmed")});
    m_folderTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_folderTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_folderTable->verticalHeader()->hide();
    m_folderTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_folderTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_folderTable->setSelectionMode(QAbstractItemView::SingleSelection);
    m_folderLabel =
        new QLabel(tr("Open a folder of fields from one slide for a slide total"), this);
    m_folderLabel->setWordWrap(true);
    auto* folderBox = new QGroupBox(tr("Slide (folder)"), this);
    auto* folderLayout = new QVBoxLayout(folderBox);
    folderLayout->addWidget(m_folderLabel);
    m_confirmSlide = new QPushButton(tr("Cells to confirm in the slide…"), this);
    m_confirmSlide->setToolTip(tr("The %1 most suspicious cells of all the slide's fields with "
                                  "their heatmaps: confirm or reject them (P / U / X / S / Z).")
                                   .arg(kCellsToConfirm));
    folderLayout->addWidget(m_confirmSlide);
    folderLayout->addWidget(m_folderTable, 1);

    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(fieldBox);
    sideLayout->addWidget(cellBox);
    sideLayout->addWidget(folderBox, 1);
    side->setMinimumWidth(340);
    // The side panel scrolls rather than squeezing: below their minimum heights the layout
    // would overlap its widgets (the model label over the legend on a 700 px window).
    auto* sideScroll = new QScrollArea(this);
    sideScroll->setWidget(side);
    sideScroll->setWidgetResizable(true);
    sideScroll->setFrameShape(QFrame::NoFrame);
    sideScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    sideScroll->setMinimumWidth(side->minimumWidth() + 20);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_view);
    split->addWidget(sideScroll);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_domainBanner);
    layout->addWidget(split, 1);

    connectSignals();
}

// Buttons, the view, the folder table and the background jobs.
void FieldPage::connectSignals()
{
    connect(m_openField, &QPushButton::clicked, this, &FieldPage::chooseField);
    connect(m_openFolder, &QPushButton::clicked, this, &FieldPage::chooseFolder);
    connect(m_calibrate, &QPushButton::clicked, this,
            [this] { Q_EMIT calibrateRequested(m_folder); });
    connect(m_domainBanner, &QLabel::linkActivated, this,
            [this] { Q_EMIT calibrateRequested(m_folder); });
    connect(m_model, &QPushButton::clicked, this, &FieldPage::chooseModel);
    connect(m_cancel, &QPushButton::clicked, this, &FieldPage::cancel);
    connect(m_confirmField, &QPushButton::clicked, this, &FieldPage::confirmFieldCells);
    connect(m_confirmSlide, &QPushButton::clicked, this, &FieldPage::confirmSlideCells);
    connect(m_excludeEdge, &QCheckBox::toggled, this, [this](bool on) {
        m_view->setExcludeEdge(on);
        updateCounts();
        updateFolderSummary();
    });
    connect(m_view, &FieldView::cellHovered, this,
            [this](int i) { showCell(i >= 0 ? i : m_view->selectedCell()); });
    connect(m_view, &FieldView::cellClicked, this, &FieldPage::showCell);
    connect(m_folderTable, &QTableWidget::cellClicked, this, [this](int row, int) {
        if (row >= 0 && row < int(m_rows.size()) && m_rows[size_t(row)].error.isEmpty())
            openField(m_rows[size_t(row)].path);
    });

    connect(&m_fieldWatcher, &QFutureWatcher<FieldJob>::finished, this,
            &FieldPage::onFieldFinished);
    connect(&m_fieldWatcher, &QFutureWatcher<FieldJob>::progressValueChanged, m_progress,
            &QProgressBar::setValue);
    connect(&m_folderWatcher, &QFutureWatcher<FolderRow>::resultsReadyAt, this,
            &FieldPage::onFolderRows);
    connect(&m_folderWatcher, &QFutureWatcher<FolderRow>::finished, this,
            &FieldPage::onFolderFinished);
    connect(&m_folderWatcher, &QFutureWatcher<FolderRow>::progressValueChanged, this,
            &FieldPage::updateFolderSummary);
    connect(&m_modelWatcher, &QFutureWatcher<Classifier>::finished, this, [this] {
        m_modelAwaited = false;
        const QFuture<Classifier> f = m_modelWatcher.future();
        if (f.resultCount() > 0) {
            const Classifier c = f.result();
            if (c.isLoaded()) {
                setClassifier(c);
            } else {
                m_modelError = c.errorString();
            }
        }
        updateModelLabel();
        updateBusy();
    });

    updateCounts();
    updateFolderSummary();
    updateModelLabel();
    updateBusy();
}

FieldPage::~FieldPage()
{
    cancel();
    m_fieldWatcher.waitForFinished();
    m_folderWatcher.waitForFinished();
    m_modelWatcher.waitForFinished();
}

void FieldPage::setClassifier(const Classifier& classifier)
{
    m_classifier = classifier;
    m_modelError.clear();
    updateModelLabel();
    reanalyse();
}

void FieldPage::reanalyse()
{
    // The folder first: starting it shows its first field, which the field asked for last
    // then replaces (one field job at a time).
    const QString field = m_askedField;
    if (m_folderAwaited || !m_rows.empty())
        openFolder(m_folder);
    if (!field.isEmpty())
        openField(field);
}

const Classifier& FieldPage::fieldModel() const
{
    return m_current.classifier.isLoaded() ? m_current.classifier : m_classifier;
}

const Classifier& FieldPage::slideModel() const
{
    for (const FolderRow& r : m_rows)
        if (r.model.isLoaded())
            return r.model;
    return fieldModel();
}

bool FieldPage::isBusy() const
{
    return m_fieldAwaited || m_folderAwaited || m_modelAwaited;
}

void FieldPage::cancel()
{
    m_pendingField.clear();
    m_pendingFolder.clear();
    m_fieldWatcher.cancel();
    m_folderWatcher.cancel();
}

FieldOptions FieldPage::makeOptions() const
{
    FieldOptions o;
    o.threshold = 0.5;
    return o;
}

void FieldPage::chooseField()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open field image"), QString(),
        tr("Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.JPG *.PNG)"));
    if (!path.isEmpty())
        openField(path);
}

void FieldPage::chooseFolder()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open folder of fields"));
    if (!dir.isEmpty())
        openFolder(dir);
}

void FieldPage::chooseModel()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Load model"), QString(),
                                                      tr("Models (*.pt *.pth);;All files (*)"));
    if (!path.isEmpty())
        loadModel(path);
}

void FieldPage::loadModel(const QString& path)
{
    if (m_modelAwaited)
        return; // the button is disabled meanwhile
    // Loading reads and deserialises the weights: not on the GUI thread.
    m_modelWatcher.setFuture(QtConcurrent::run([path] {
        Classifier c;
        c.load(path);
        return c;
    }));
    m_modelAwaited = true;
    m_modelLabel->setText(tr("Loading model %1…").arg(QFileInfo(path).fileName()));
    updateBusy();
}

void FieldPage::openField(const QString& path)
{
    m_askedField = path;
    if (m_fieldAwaited) {
        // One field at a time: the running one stops after its current batch, then this starts.
        m_pendingField = path;
        m_fieldWatcher.cancel();
        return;
    }
    m_fieldLabel->setText(tr("Analysing %1…").arg(QFileInfo(path).fileName()));
    m_progress->setValue(0);
    const Classifier classifier = m_classifier;
    const FieldOptions base = makeOptions();
    m_fieldWatcher.setFuture(
        QtConcurrent::run([path, classifier, base](QPromise<FieldJob>& promise) {
            promise.setProgressRange(0, 100);
            FieldJob job;
            job.classifier = classifier;
            if (!job.classifier.isLoaded() && Classifier::hasEmbeddedModel())
                job.classifier.loadEmbedded();
            FieldOptions o = base;
            if (job.classifier.isLoaded())
                classifyWith(o, job.classifier);
            o.cancelled = [&promise] { return promise.isCanceled(); };
            o.progress = [&promise](int done, int total) {
                promise.setProgressValue(20 + 80 * done / std::max(1, total));
            };
            promise.setProgressValue(5);
            job.result = analyzeField(path, o, &job.image);
            if (promise.isCanceled())
                return;
            if (job.result.classified && !job.image.empty()) {
                job.appearances = fieldCellAppearances(job.image, job.result, o);
                job.suspicious = suspiciousCells(job.image, job.result, o);
            }
            if (!job.image.empty()) {
                const int side = std::max(job.image.cols, job.image.rows);
                if (side > kMaxDisplaySide) {
                    cv::Mat small;
                    const double k = double(kMaxDisplaySide) / side;
                    cv::resize(job.image, small, cv::Size(), k, k, cv::INTER_AREA);
                    job.display = matToQImage(small);
                } else {
                    job.display = matToQImage(job.image);
                }
            }
            promise.setProgressValue(100);
            promise.addResult(std::move(job));
        }));
    m_fieldAwaited = true;
    updateBusy();
}

void FieldPage::onFieldFinished()
{
    m_fieldAwaited = false;
    const QFuture<FieldJob> f = m_fieldWatcher.future();
    if (f.resultCount() > 0 && !f.isCanceled()) {
        m_current = f.result();
        if (!m_classifier.isLoaded() && m_current.classifier.isLoaded())
            m_classifier = m_current.classifier; // keep the embedded model loaded once
        const FieldResult& r = m_current.result;
        const double k = (m_current.display.isNull() || r.imageSize.width <= 0)
                             ? 1.0
                             : double(m_current.display.width()) / r.imageSize.width;
        std::vector<CellOverlay> overlays;
        overlays.reserve(r.cells.size());
        for (const FieldCell& c : r.cells) {
            CellOverlay o;
            o.contour.reserve(int(c.cell.contour.size()));
            for (const cv::Point& p : c.cell.contour)
                o.contour << QPointF((p.x + 0.5) * k, (p.y + 0.5) * k);
            // The reported box (with the annotation margin), as the CLI and overlays give it.
            const cv::Rect& b = c.cell.detectionBox;
            o.box = QRectF(b.x * k, b.y * k, b.width * k, b.height * k);
            o.probability = c.probability;
            o.parasitized = c.parasitized;
            o.touchesEdge = c.cell.touchesEdge;
            overlays.push_back(std::move(o));
        }
        std::vector<RegionOverlay> regions;
        regions.reserve(r.unsplit.size());
        for (const UnsplitRegion& u : r.unsplit) {
            RegionOverlay g;
            g.contour.reserve(int(u.contour.size()));
            for (const cv::Point& p : u.contour)
                g.contour << QPointF((p.x + 0.5) * k, (p.y + 0.5) * k);
            g.box = QRectF(u.box.x * k, u.box.y * k, u.box.width * k, u.box.height * k);
            g.estimatedCells = u.estimatedCells;
            g.touchesEdge = u.touchesEdge;
            regions.push_back(std::move(g));
        }
        m_view->setField(m_current.display, std::move(overlays), std::move(regions));
        if (r.error.isEmpty())
            m_fieldLabel->setText(
                tr("<b>%1</b><br>%2 × %3 px, cell diameter ≈ %4 px<br>segmented in %5 ms%6")
                    .arg(QFileInfo(r.path).fileName().toHtmlEscaped())
                    .arg(r.imageSize.width)
                    .arg(r.imageSize.height)
                    .arg(r.cellDiameter, 0, 'f', 0)
                    .arg(r.segmentMs, 0, 'f', 0)
                    .arg(r.classified ? tr(", classified in %1 ms").arg(r.classifyMs, 0, 'f', 0)
                                      : QString()));
        else
            m_fieldLabel->setText(
                tr("<b>%1</b>: %2")
                    .arg(QFileInfo(r.path).fileName().toHtmlEscaped(), r.error.toHtmlEscaped()));
        m_warningLabel->setText(r.warnings.join(QLatin1Char('\n')));
        m_warningLabel->setVisible(!r.warnings.isEmpty());
        showCell(-1);
        updateModelLabel();
    } else {
        m_fieldLabel->setText(tr("Cancelled"));
    }
    reloadConfirmations();
    updateDomainBanner();
    const QString finishedPath = m_current.result.path;
    if (!m_pendingField.isEmpty()) {
        const QString next = m_pendingField;
        m_pendingField.clear();
        openField(next);
    } else {
        updateBusy();
    }
    Q_EMIT fieldFinished(finishedPath);
}

void FieldPage::openFolder(const QString& dir)
{
    if (m_folderAwaited) {
        // The running slide stops after its current field; this one starts when it has.
        m_pendingFolder = dir;
        m_folderWatcher.cancel();
        return;
    }
    startFolder(dir);
}

void FieldPage::startFolder(const QString& dir)
{
    // Listing a folder is cheap next to analysing it (no decoding), so it stays here.
    const QStringList files = fieldImagesInFolder(dir);
    m_rows.clear();
    m_folderTable->setRowCount(0);
    m_folder = dir;
    if (files.isEmpty()) {
        m_folderLabel->setText(tr("No images in %1").arg(dir));
        return;
    }
    m_folderLabel->setText(tr("Analysing %n field(s)…", nullptr, int(files.size())));
    const Classifier classifier = m_classifier;
    const FieldOptions base = makeOptions();
    m_folderWatcher.setFuture(
        QtConcurrent::run([files, classifier, base](QPromise<FolderRow>& promise) {
            promise.setProgressRange(0, int(files.size()));
            Classifier c = classifier;
            if (!c.isLoaded() && Classifier::hasEmbeddedModel())
                c.loadEmbedded();
            FieldOptions o = base;
            if (c.isLoaded())
                classifyWith(o, c);
            o.cancelled = [&promise] { return promise.isCanceled(); };
            for (int i = 0; i < files.size(); ++i) {
                if (promise.isCanceled())
                    return;
                cv::Mat image;
                const FieldResult r = analyzeField(files.at(i), o, &image);
                if (r.cancelled)
                    return;
                FolderRow row;
                row.path = r.path;
                row.error = r.error;
                row.warnings = r.warnings;
                row.all = r.counts(false);
                row.interior = r.counts(true);
                row.classified = r.classified;
                if (r.classified && !image.empty()) {
                    const std::vector<CellAppearance> a = fieldCellAppearances(image, r, o);
                    for (size_t k = 0; k < r.cells.size() && k < a.size(); ++k) {
                        if (r.cells[k].probability < 0)
                            continue;
                        row.appearances.push_back(a[k]);
                        row.probabilities.push_back(r.cells[k].probability);
                    }
                    row.suspicious = suspiciousCells(image, r, o);
                    row.model = c;
                }
                promise.addResult(row, i);
                promise.setProgressValue(i + 1);
            }
        }));
    m_folderAwaited = true;
    // Show the first field while the slide runs.
    openField(files.first());
    updateBusy();
}

void FieldPage::onFolderRows(int begin, int end)
{
    for (int i = begin; i < end; ++i)
        m_rows.push_back(m_folderWatcher.resultAt(i));
    updateFolderSummary();
}

void FieldPage::onFolderFinished()
{
    m_folderAwaited = false;
    if (!m_pendingFolder.isEmpty()) {
        const QString next = m_pendingFolder;
        m_pendingFolder.clear();
        startFolder(next);
        return;
    }
    reloadConfirmations();
    updateDomainBanner();
    updateBusy();
    Q_EMIT folderFinished(m_folder);
}

FieldCounts FieldPage::currentCounts() const
{
    if (!m_current.result.error.isEmpty() || m_current.result.path.isEmpty())
        return {};
    return m_current.result.counts(m_excludeEdge->isChecked());
}

FieldCounts FieldPage::folderCounts() const
{
    FieldCounts total;
    for (const FolderRow& r : m_rows)
        if (r.error.isEmpty())
            total += rowCounts(r);
    return total;
}

const FieldCounts& FieldPage::rowCounts(const FolderRow& r) const
{
    return m_excludeEdge->isChecked() ? r.interior : r.all;
}

void FieldPage::updateCounts()
{
    m_confirmField->setEnabled(!cellsToConfirm(false).empty());
    if (m_current.result.path.isEmpty()) {
        m_countsLabel->setText(tr("Cells: —"));
        return;
    }
    const FieldCounts c = currentCounts();
    QString text = foundSummary(c, m_current.result.classified) + QStringLiteral("<br>") +
                   tr("(%1 cells cut by the border, %2)")
                       .arg(c.edgeCells)
                       .arg(m_excludeEdge->isChecked() ? tr("excluded") : tr("included"));
    if (m_current.result.classified) {
        const Proportion p = c.parasitemia();
        text +=
            QStringLiteral("<br>") + tr("Parasitized: <b>%1</b><br>Apparent parasitemia %2 %<br>"
                                        "(95 % CI of the count %3–%4 %)")
                                         .arg(c.parasitized)
                                         .arg(percent(p.p), percent(p.low), percent(p.high));
        const PrevalenceEstimate e = corrected(c.parasitized, c.cells, fieldModel());
        text += QStringLiteral("<br>") +
                (e.ok ? tr("Corrected for the model's errors:<br><b>%1 %</b> (95 % CI %2–%3 %)")
                            .arg(percent(e.corrected), percent(e.low), percent(e.high))
                      : tr("Corrected: — (%1)").arg(e.error.toHtmlEscaped()));
        text += QStringLiteral("<br>") +
                tr("Field: <b>%1</b>")
                    .arg(decisionText(fieldDecision(), confirmedIn(m_current.result.path))
                             .toHtmlEscaped());
    } else {
        text += QStringLiteral("<br>") + tr("Parasitemia: — (no model, segmentation only)");
    }
    m_countsLabel->setText(text);
}

void FieldPage::updateFolderSummary()
{
    const bool exclude = m_excludeEdge->isChecked();
    m_folderTable->setRowCount(int(m_rows.size()));
    bool classified = false;
    for (int i = 0; i < int(m_rows.size()); ++i) {
        const FolderRow& r = m_rows[size_t(i)];
        const FieldCounts& c = exclude ? r.interior : r.all;
        auto item = [](const QString& t) {
            auto* it = new QTableWidgetItem(t);
            return it;
        };
        auto* name = item(QFileInfo(r.path).fileName());
        if (!r.error.isEmpty())
            name->setToolTip(r.error);
        else if (!r.warnings.isEmpty())
            name->setToolTip(r.warnings.join(QLatin1Char('\n')));
        m_folderTable->setItem(i, 0, name);
        if (!r.error.isEmpty()) {
            m_folderTable->setItem(i, 1, item(tr("error")));
            for (int column = 2; column < m_folderTable->columnCount(); ++column)
                m_folderTable->setItem(i, column, item(QString()));
            continue;
        }
        classified = classified || r.classified;
        m_folderTable->setItem(i, 1, item(QString::number(c.cells)));
        m_folderTable->setItem(i, 3, item(QString::number(c.parasitized)));
        m_folderTable->setItem(i, 4, item(percent(c.parasitemia().p)));
        const PrevalenceEstimate e = corrected(c.parasitized, c.cells, slideModel());
        auto* corr = item(e.ok ? QStringLiteral("%1 (%2–%3)")
                                     .arg(percent(e.corrected), percent(e.low), percent(e.high))
                               : QStringLiteral("—"));
        corr->setToolTip(e.explanation());
        m_folderTable->setItem(i, 5, corr);
        // A field with a confirmed parasite is infected whatever its estimate. Short in the
        // table ("Infected (confirmed)"), who confirmed in the last column (and the CSV).
        const Confirmations confirmed = confirmedIn(r.path);
        const InfectionDecision d =
            r.classified ? decideInfection(e, confirmed.parasites) : InfectionDecision{};
        auto* decision = item(!d.infected || confirmed.parasites == 0 ? decisionText(d, {})
                                                                      : tr("Infected (confirmed)"));
        decision->setToolTip(decisionText(d, confirmed) + QStringLiteral("\n") + d.reason);
        m_folderTable->setItem(i, 2, decision);
        m_folderTable->setItem(i, 6,
                               item(confirmed.parasites == 0 ? QStringLiteral("0")
                                                             : tr("%1 by %2")
                                                                   .arg(confirmed.parasites)
                                                                   .arg(confirmed.reviewers.join(
                                                                       QStringLiteral(", ")))));
    }
    m_confirmSlide->setEnabled(!cellsToConfirm(true).empty());
    if (m_rows.empty())
        return;
    const FieldCounts t = folderCounts();
    const Proportion p = t.parasitemia();
    QString text = tr("<b>%1</b>: %2 field(s), %3 cells")
                       .arg(QFileInfo(m_folder).fileName().toHtmlEscaped())
                       .arg(t.images)
                       .arg(t.cells);
    if (t.unsplitRegions > 0)
        text += tr(" (+ %1 clumps of touching cells, ~%2 cells, not split)")
                    .arg(t.unsplitRegions)
                    .arg(t.unsplitCellsEstimate);
    if (classified) {
        text += tr(", %1 parasitized — apparent slide parasitemia %2 % (count CI %3–%4 %)")
                    .arg(t.parasitized)
                    .arg(percent(p.p), percent(p.low), percent(p.high));
        const PrevalenceEstimate e = slideCorrected();
        const InfectionDecision d = slideDecision();
        const QString verdict =
            !d.infected ? tr("Not shown infected: confirm the most suspicious cells.")
                        : tr("Slide %1.").arg(decisionText(d, confirmedInSlide()).toLower());
        text += QStringLiteral("<br>") +
                (e.ok ? tr("Corrected for the model's errors: <b>%1 %</b> (95 % CI %2–%3 %).")
                            .arg(percent(e.corrected), percent(e.low), percent(e.high))
                      : tr("Corrected: — (%1).").arg(e.error.toHtmlEscaped()));
        text += QStringLiteral(" <b>%1</b>").arg(verdict.toHtmlEscaped());
    }
    if (m_folderAwaited)
        text += tr(" (running: %1 of %2 fields)")
                    .arg(m_folderWatcher.progressValue())
                    .arg(m_folderWatcher.progressMaximum());
    m_folderLabel->setText(text);
}

void FieldPage::setDatabasePath(const QString& path)
{
    m_dbPath = path;
    reloadConfirmations();
}

void FieldPage::reloadConfirmations()
{
    m_confirmed = confirmedParasites(m_dbPath, fieldOfCellKey);
    updateCounts();
    updateFolderSummary();
}

Confirmations FieldPage::confirmedIn(const QString& fieldPath) const
{
    return fieldPath.isEmpty() ? Confirmations{}
                               : m_confirmed.value(QFileInfo(fieldPath).absoluteFilePath());
}

Confirmations FieldPage::confirmedInSlide() const
{
    Confirmations total;
    for (const FolderRow& r : m_rows) {
        const Confirmations c = confirmedIn(r.path);
        total.parasites += c.parasites;
        for (const QString& name : c.reviewers)
            if (!total.reviewers.contains(name))
                total.reviewers << name;
    }
    return total;
}

InfectionDecision FieldPage::fieldDecision() const
{
    if (!m_current.result.classified || !m_current.result.ok())
        return {};
    const FieldCounts c = currentCounts();
    return decideInfection(corrected(c.parasitized, c.cells, fieldModel()),
                           confirmedIn(m_current.result.path).parasites);
}

InfectionDecision FieldPage::slideDecision() const
{
    bool classified = false;
    for (const FolderRow& r : m_rows)
        classified = classified || (r.classified && r.error.isEmpty());
    if (!classified)
        return {};
    return decideInfection(slideCorrected(), confirmedInSlide().parasites);
}

PrevalenceEstimate FieldPage::slideCorrected() const
{
    // The fields of a slide differ (parasites, debris, stain): its count is less certain
    // than a binomial on its cells says (estimatePrevalence()).
    std::vector<ClusterCount> byField;
    int called = 0, cells = 0;
    for (const FolderRow& r : m_rows) {
        if (!r.error.isEmpty())
            continue;
        const FieldCounts& c = rowCounts(r);
        byField.push_back({c.parasitized, c.cells});
        called += c.parasitized;
        cells += c.cells;
    }
    return corrected(called, cells, slideModel(), designEffect(byField));
}

std::vector<FieldCellToConfirm> FieldPage::cellsToConfirm(bool slide) const
{
    const bool exclude = m_excludeEdge->isChecked();
    std::vector<FieldCellToConfirm> cells;
    const auto add = [&cells, exclude](const std::vector<FieldCellToConfirm>& from) {
        for (const FieldCellToConfirm& c : from)
            if (!exclude || !c.edge)
                cells.push_back(c);
    };
    if (!slide) {
        if (m_current.result.ok())
            add(m_current.suspicious);
    } else if (!m_folderAwaited) {
        for (const FolderRow& r : m_rows)
            add(r.suspicious);
    }
    return cells;
}

ConfirmCellsDialog* FieldPage::confirmFieldCells()
{
    return openConfirm(false);
}

ConfirmCellsDialog* FieldPage::confirmSlideCells()
{
    return openConfirm(true);
}

ConfirmCellsDialog* FieldPage::openConfirm(bool slide)
{
    std::vector<FieldCellToConfirm> cells = cellsToConfirm(slide);
    if (cells.empty())
        return nullptr;
    const QString name =
        slide ? QFileInfo(m_folder).fileName() : QFileInfo(m_current.result.path).fileName();
    const QString title = slide ? tr("Cells to confirm in the slide %1").arg(name)
                                : tr("Cells to confirm in the field %1").arg(name);
    const Classifier& model = slide ? slideModel() : fieldModel();
    // Window-modal but not blocking (open(), not exec()): the page follows every decision.
    auto* dialog = new ConfirmCellsDialog(
        cellsOfFields(std::move(cells), title), model,
        m_dbPath.isEmpty() ? CorrectionStore::defaultPath() : m_dbPath, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ConfirmCellsDialog::decisionsChanged, this, &FieldPage::reloadConfirmations);
    dialog->open();
    return dialog;
}

PrevalenceEstimate FieldPage::corrected(int called, int cells, const Classifier& model,
                                        double countDesignEffect) const
{
    QString error;
    const std::optional<ErrorRates> rates =
        errorRatesAt(model.card(), model.cardThreshold(), &error, domainVerdict().nearestSource,
                     RatesFor::Fields);
    return estimateOrExplain(called, cells, rates, error, countDesignEffect);
}

DomainVerdict FieldPage::domainVerdict() const
{
    const bool slide = !m_rows.empty() && !m_folderAwaited;
    const DomainProfile profile =
        DomainProfile::fromCard((slide ? slideModel() : fieldModel()).card());
    std::vector<CellAppearance> cells;
    std::vector<float> probabilities;
    if (slide) {
        for (const FolderRow& r : m_rows) {
            cells.insert(cells.end(), r.appearances.begin(), r.appearances.end());
            probabilities.insert(probabilities.end(), r.probabilities.begin(),
                                 r.probabilities.end());
        }
    } else {
        const FieldResult& r = m_current.result;
        for (size_t i = 0; i < r.cells.size() && i < m_current.appearances.size(); ++i) {
            if (r.cells[i].probability < 0)
                continue;
            cells.push_back(m_current.appearances[i]);
            probabilities.push_back(r.cells[i].probability);
        }
    }
    if (cells.empty())
        return {};
    return checkDomain(profile, cells, probabilities);
}

void FieldPage::updateDomainBanner()
{
    const DomainVerdict v = domainVerdict();
    const bool warn = v.checked && !v.inDomain;
    m_domainBanner->setVisible(warn);
    if (warn)
        m_domainBanner->setText(
            tr("<b>These cells are unlike the model's training cells.</b> %1<br>The corrected "
               "figures assume the model's validated error rates, which may not hold here. "
               "Next step: <a href=\"calibrate\">Calibrate for this lab…</a> (label some of "
               "your own cells, adapt the model, compare before and after).")
                .arg(v.reasons.join(QStringLiteral("; ")).toHtmlEscaped()));
}

void FieldPage::showCell(int index)
{
    const FieldResult& r = m_current.result;
    if (index < 0 || index >= int(r.cells.size()) || m_current.image.empty()) {
        m_cropLabel->clear();
        m_cellLabel->setText(tr("Hover or click a cell"));
        return;
    }
    const FieldCell& c = r.cells[size_t(index)];
    // One small crop: cheap enough for the GUI thread.
    const QImage crop = matToQImage(cellCrop(m_current.image, c.cell));
    m_cropLabel->setPixmap(QPixmap::fromImage(
        crop.scaled(kCropSide, kCropSide, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    QString text = tr("Cell %1").arg(index + 1);
    if (c.probability >= 0)
        text +=
            QStringLiteral("<br>") +
            tr("P(parasitized) = <b>%1</b><br>→ %2")
                .arg(c.probability, 0, 'f', 3)
                .arg(c.parasitized ? tr("parasitized") : tr("healthy")) +
            // Short lines: the panel beside the crop is narrow.
            (c.pale ? QStringLiteral("<br>") + tr("a pale cell: called by<br>the lab's pale-cell "
                                                  "rule")
                    : QString());
    else
        text += QStringLiteral("<br>") + tr("not classified");
    text += QStringLiteral("<br>") + tr("box at %1, %2<br>%3 × %4 px, area %5 px²")
                                         .arg(c.cell.detectionBox.x)
                                         .arg(c.cell.detectionBox.y)
                                         .arg(c.cell.detectionBox.width)
                                         .arg(c.cell.detectionBox.height)
                                         .arg(c.cell.area, 0, 'f', 0);
    if (c.cell.touchesEdge)
        text += QStringLiteral("<br>") + tr("cut by the image border");
    m_cellLabel->setText(text);
}

void FieldPage::updateBusy()
{
    const bool busy = m_fieldAwaited || m_folderAwaited;
    m_cancel->setEnabled(busy);
    m_progress->setVisible(busy);
    m_model->setEnabled(!m_modelAwaited);
}

void FieldPage::updateModelLabel()
{
    if (m_modelAwaited)
        return;
    QString text;
    QString tip;
    const int maxTextWidth = 300;
    if (m_classifier.isLoaded()) {
        tip = m_classifier.source();
        text = tr("Model: %1 (%2)")
                   .arg(fontMetrics().elidedText(QFileInfo(m_classifier.source()).fileName(),
                                                 Qt::ElideMiddle, maxTextWidth - 100),
                        m_classifier.architecture());
    } else if (Classifier::hasEmbeddedModel())
        text = tr("Model: embedded default (loaded on first field)");
    else
        text = tr("Model: none — cells are found and counted\nbut not classified. "
                  "Load one with Model…");
    if (!m_modelError.isEmpty()) {
        const QString failed = tr("Last load failed: %1").arg(m_modelError);
        text +=
            QStringLiteral("\n") + fontMetrics().elidedText(failed, Qt::ElideMiddle, maxTextWidth);
        tip += (tip.isEmpty() ? QString() : QStringLiteral("\n")) + failed;
    }
    m_modelLabel->setText(text);
    m_modelLabel->setToolTip(tip);
}

} // namespace ml
