#include "calibrationpages.h"

#include "augment.h"
#include "calibrationwizard.h"
#include "celllabelsession.h"
#include "correctionstore.h"
#include "fieldanalysis.h"
#include "gradcam.h"
#include "heatmapimage.h"
#include "matconvert.h"
#include "preprocess.h"
#include "reviewsession.h"
#include "torchthreads.h"
#include "trainer.h"
#include "trainingcurves.h"

#include <algorithm>
#include <iterator>

#include <QCheckBox>
#include <QDate>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QShortcut>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

namespace {

constexpr int kView = 300; // side of the two cell views on the Label page

QLabel* wrapped(const QString& text, QWidget* parent)
{
    auto* l = new QLabel(text, parent);
    l->setWordWrap(true);
    return l;
}

QString percent(double v)
{
    return QStringLiteral("%1 %").arg(100.0 * v, 0, 'f', 1);
}

} // namespace

// ---- 1. Fields ------------------------------------------------------------------------------

FieldsChoicePage::FieldsChoicePage(CalibrationWizard* wizard, const QString& folder)
    : QWizardPage(wizard), m_wizard(wizard), m_folder(new QLineEdit(folder, this)),
      m_lab(new QLineEdit(this)), m_reviewer(new QLineEdit(defaultReviewerName(), this)),
      m_count(new QLabel(this))
{
    setTitle(tr("Step 1 of 5: your lab's field images"));
    setSubTitle(tr("Make the classifier right for your own microscope, camera and stain."));
    auto* intro = wrapped(
        tr("<p>This takes you through five steps:</p><ol>"
           "<li>choose a folder of field images from your lab (photos of thin blood smears "
           "through your microscope, 20 or more fields from several slides is best);</li>"
           "<li>the app finds and classifies every red blood cell (a few seconds per field);</li>"
           "<li>you label the cells the app asks about, as parasitized or not: it needs at "
           "least %1 parasitized cells;</li>"
           "<li>the model learns from your labels;</li>"
           "<li>you see how well it does on fields it did not learn from, before and after, "
           "and keep the new model if it is better.</li></ol>"
           "<p>Your image files are only read, never changed. Every label is saved at once, "
           "so you can stop at any time and continue later.</p>")
            .arg(wizard->minimumParasitized()),
        this);
    auto* browse = new QPushButton(tr("Choose…"), this);
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    folderRow->addWidget(browse);
    m_lab->setPlaceholderText(tr("e.g. St Mary's haematology, microscope 2"));
    auto* form = new QFormLayout;
    form->addRow(tr("Folder of field images:"), folderRow);
    form->addRow(QString(), m_count);
    form->addRow(tr("Lab name:"), m_lab);
    form->addRow(tr("Your name (reviewer):"), m_reviewer);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addStretch(1);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Folder of your lab's field images"), m_folder->text());
        if (!dir.isEmpty())
            m_folder->setText(dir);
    });
    connect(m_folder, &QLineEdit::textChanged, this, &FieldsChoicePage::updateCount);
    connect(m_lab, &QLineEdit::textChanged, this, &QWizardPage::completeChanged);
    connect(m_reviewer, &QLineEdit::textChanged, this, &QWizardPage::completeChanged);
    updateCount();
}

QString FieldsChoicePage::folder() const
{
    return m_folder->text().trimmed();
}

void FieldsChoicePage::updateCount()
{
    m_files = folder().isEmpty() ? QStringList() : fieldImagesInFolder(folder());
    if (folder().isEmpty())
        m_count->setText(tr("Choose the folder that holds your field images."));
    else if (!QFileInfo(folder()).isDir())
        m_count->setText(tr("<span style=\"color:#b00020\">This folder does not exist.</span>"));
    else if (m_files.size() < 2)
        m_count->setText(tr("<span style=\"color:#b00020\">%1 image(s) here: at least 2 fields "
                            "are needed (some to learn from, others to test on).</span>")
                             .arg(m_files.size()));
    else
        m_count->setText(tr("%1 field images found.").arg(m_files.size()));
    Q_EMIT completeChanged();
}

bool FieldsChoicePage::isComplete() const
{
    return m_files.size() >= 2 && !m_lab->text().trimmed().isEmpty() &&
           !m_reviewer->text().trimmed().isEmpty();
}

bool FieldsChoicePage::validatePage()
{
    return isComplete();
}

// ---- 2. Find cells --------------------------------------------------------------------------

FindCellsPage::FindCellsPage(CalibrationWizard* wizard)
    : QWizardPage(wizard), m_wizard(wizard), m_progress(new QProgressBar(this)),
      m_status(wrapped(QString(), this)), m_stop(new QPushButton(tr("Stop"), this)),
      m_again(new QPushButton(tr("Start again"), this))
{
    setTitle(tr("Step 2 of 5: finding the cells"));
    setSubTitle(tr("Every red blood cell of every field is found and classified by the "
                   "current model. You can stop at any time."));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_stop);
    buttons->addWidget(m_again);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_progress);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addStretch(1);
    connect(m_stop, &QPushButton::clicked, wizard, &CalibrationWizard::stopWork);
    connect(m_again, &QPushButton::clicked, this, &FindCellsPage::initializePage);
    connect(wizard, &CalibrationWizard::fieldProgress, this, [this](int done, int total) {
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_status->setText(tr("Field %1 of %2 done…").arg(done).arg(total));
    });
    connect(wizard, &CalibrationWizard::cellsFound, this, [this](bool ok, const QString& text) {
        m_done = ok;
        m_stop->setEnabled(false);
        m_again->setVisible(!ok);
        m_status->setText(ok ? text + QStringLiteral("<br><br>") +
                                   tr("Press <b>Next</b> to label cells.")
                             : text);
        Q_EMIT completeChanged();
    });
}

void FindCellsPage::initializePage()
{
    m_done = false;
    m_progress->setRange(0, 0); // busy until the first field is done
    m_status->setText(tr("Starting…"));
    m_stop->setEnabled(true);
    m_again->setVisible(false);
    Q_EMIT completeChanged();
    m_wizard->startFindingCells();
}

void FindCellsPage::cleanupPage()
{
    m_wizard->stopWork();
}

// ---- 3. Label -------------------------------------------------------------------------------

namespace {

// The labelling page's keys, each handled by LabelCellsPage::pressKey().
constexpr int kLabelKeys[] = {Qt::Key_P, Qt::Key_U, Qt::Key_X, Qt::Key_N, Qt::Key_S, Qt::Key_Z};

} // namespace

LabelCellsPage::LabelCellsPage(CalibrationWizard* wizard)
    : QWizardPage(wizard), m_wizard(wizard), m_context(new QLabel(this)), m_seen(new QLabel(this)),
      m_caption(wrapped(QString(), this)), m_budget(wrapped(QString(), this)),
      m_store(wrapped(QString(), this)), m_undo(new QPushButton(tr("Undo (Z)"), this))
{
    setTitle(tr("Step 3 of 5: label the cells"));
    setSubTitle(tr("Look at each cell and say what it is. Keys: P parasitized, U uninfected, "
                   "X unsure, N not a cell (debris, a cut or merged cell), S skip, Z undo (or use "
                   "the buttons)."));
    setFocusPolicy(Qt::StrongFocus);
    for (QLabel* v : {m_context, m_seen}) {
        v->setFixedSize(kView, kView);
        v->setAlignment(Qt::AlignCenter);
        v->setStyleSheet(QStringLiteral("QLabel { background: #202020; color: white; }"));
    }
    auto* views = new QHBoxLayout;
    const auto column = [this](const QString& title, QLabel* view) {
        auto* box = new QVBoxLayout;
        box->addWidget(new QLabel(title, this));
        box->addWidget(view);
        return box;
    };
    views->addLayout(column(tr("The cell in its field (yellow box)"), m_context));
    views->addLayout(column(
        tr("What the model sees; red = where it sees a parasite (fainter the less sure)"), m_seen));
    views->addStretch(1);
    auto* buttons = new QHBoxLayout;
    const auto button = [this, buttons](const QString& text, int key, const QString& colour) {
        auto* b = new QPushButton(text, this);
        b->setFocusPolicy(Qt::NoFocus); // keys go to the page
        if (!colour.isEmpty())
            b->setStyleSheet(
                QStringLiteral("QPushButton { color: %1; font-weight: bold; }").arg(colour));
        connect(b, &QPushButton::clicked, this, [this, key] { pressKey(key); });
        buttons->addWidget(b);
        return b;
    };
    // Keys work wherever the focus is in the window (the wizard's own buttons are not in the
    // page), and only while this page is shown; keyPressEvent() takes them when the window
    // is not active (tests).
    for (const int key : kLabelKeys) {
        auto* shortcut = new QShortcut(QKeySequence(key), this);
        shortcut->setContext(Qt::WindowShortcut);
        connect(shortcut, &QShortcut::activated, this, [this, key] { pressKey(key); });
    }
    button(tr("Parasitized (P)"), Qt::Key_P, QStringLiteral("#b00020"));
    button(tr("Uninfected (U)"), Qt::Key_U, QStringLiteral("#1b7a3a"));
    button(tr("Unsure (X)"), Qt::Key_X, QString());
    button(tr("Not a cell (N)"), Qt::Key_N, QString());
    button(tr("Skip (S)"), Qt::Key_S, QString());
    m_undo->setFocusPolicy(Qt::NoFocus);
    connect(m_undo, &QPushButton::clicked, this, [this] { pressKey(Qt::Key_Z); });
    buttons->addWidget(m_undo);
    buttons->addStretch(1);
    m_budget->setStyleSheet(QStringLiteral("QLabel { background: #eef4ff; padding: 6px; }"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(views);
    layout->addWidget(m_caption);
    layout->addLayout(buttons);
    layout->addWidget(m_budget);
    layout->addWidget(m_store);
    layout->addStretch(1);
    CellLabelSession* s = wizard->session();
    connect(s, &CellLabelSession::changed, this, &LabelCellsPage::refresh);
    connect(s, &CellLabelSession::storeStatusChanged, this,
            [this](const QString& message, bool problem) {
                m_store->setStyleSheet(problem ? QStringLiteral("QLabel { color: #b00020; "
                                                                "font-weight: bold; }")
                                               : QStringLiteral("QLabel { color: #1b7a3a; }"));
                m_store->setText(message);
            });
    connect(&m_heatmap, &QFutureWatcher<QImage>::finished, this, [this] {
        const int current = m_wizard->session()->currentCell();
        if (m_heatmapCell == current && !m_heatmap.result().isNull())
            m_seen->setPixmap(QPixmap::fromImage(m_heatmap.result().scaled(
                kView, kView, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
        else if (current >= 0 && m_heatmapCell != current)
            startHeatmap(current);
    });
}

LabelCellsPage::~LabelCellsPage()
{
    m_heatmap.waitForFinished();
}

void LabelCellsPage::initializePage()
{
    refresh();
    setFocus();
}

void LabelCellsPage::keyPressEvent(QKeyEvent* event)
{
    const int k = event->key();
    if (std::find(std::begin(kLabelKeys), std::end(kLabelKeys), k) != std::end(kLabelKeys))
        pressKey(k);
    else
        QWizardPage::keyPressEvent(event);
}

void LabelCellsPage::pressKey(int key)
{
    CellLabelSession* s = m_wizard->session();
    switch (key) {
    case Qt::Key_P:
        s->decide(QStringLiteral("Parasitized"));
        break;
    case Qt::Key_U:
        s->decide(QStringLiteral("Uninfected"));
        break;
    case Qt::Key_X:
        s->decide(unsureLabel());
        break;
    case Qt::Key_N:
        // Debris is not a healthy cell: left out of the lab threshold's false-positive estimate
        // (chooseLabThreshold()), as the annotations' unmatched detections are.
        s->decide(notACellLabel());
        break;
    case Qt::Key_S:
        s->skip();
        break;
    case Qt::Key_Z:
        s->undo();
        break;
    default:
        break;
    }
}

bool LabelCellsPage::isComplete() const
{
    const CellLabelCounts n = m_wizard->session()->counts();
    return n.adaptParasitized >= m_wizard->minimumParasitized() &&
           n.adaptParasitized + n.adaptUninfected >= kMinCellsToAdapt && n.testParasitized > 0 &&
           n.testUninfected > 0;
}

void LabelCellsPage::refresh()
{
    const CellLabelSession* s = m_wizard->session();
    const CellLabelCounts n = s->counts();
    const int need = m_wizard->minimumParasitized();
    QString line = tr("<b>%1 labelled: %2 parasitized, %3 uninfected</b>%4%5. ")
                       .arg(n.labelled)
                       .arg(n.parasitized)
                       .arg(n.uninfected)
                       .arg(n.unsure > 0 ? tr(", %1 unsure (not used)").arg(n.unsure) : QString())
                       .arg(n.notACell > 0 ? tr(", %1 not a cell").arg(n.notACell) : QString());
    if (isComplete())
        line += tr("<span style=\"color:#1b7a3a\"><b>Enough to adapt: press Next.</b></span> "
                   "More labels make the result surer (%1 parasitized on the adapt fields, "
                   "%2 parasitized and %3 uninfected on the test fields).")
                    .arg(n.adaptParasitized)
                    .arg(n.testParasitized)
                    .arg(n.testUninfected);
    else
        line += tr("To adapt, the model needs at least <b>%1 parasitized</b> cells on the adapt "
                   "fields (now %2) among at least %3 labelled there (now %4), and both kinds "
                   "on the test fields (now %5 parasitized, %6 uninfected).")
                    .arg(need)
                    .arg(n.adaptParasitized)
                    .arg(kMinCellsToAdapt)
                    .arg(n.adaptParasitized + n.adaptUninfected)
                    .arg(n.testParasitized)
                    .arg(n.testUninfected);
    m_budget->setText(line);
    m_undo->setEnabled(s->canUndo());
    showCell();
    Q_EMIT completeChanged();
}

void LabelCellsPage::showCell()
{
    const CellLabelSession* s = m_wizard->session();
    const int cell = s->currentCell();
    if (cell < 0) {
        m_context->setText(tr("No more cells to ask about."));
        m_seen->clear();
        m_caption->setText(tr("You have seen every proposed cell (%1). Press Z to go back, or "
                              "Next to adapt when the line below allows it.")
                               .arg(s->queue().size()));
        return;
    }
    const CalibrationCell& c = s->cells()[size_t(cell)];
    if (m_fieldPath != c.fieldPath) {
        m_fieldPath = c.fieldPath;
        m_field = QImage(c.fieldPath); // one field image, read when the field changes
    }
    // The cell with one cell's width of its surround, so the reviewer sees its neighbours.
    const QRect box(c.box.x, c.box.y, c.box.width, c.box.height);
    const int m = std::max(box.width(), box.height());
    const QRect area = box.adjusted(-m, -m, m, m).intersected(m_field.rect());
    QImage context = m_field.copy(area).convertToFormat(QImage::Format_RGB32);
    if (!context.isNull()) {
        QPainter p(&context);
        p.setPen(QPen(QColor(255, 215, 0), std::max(2, m / 30)));
        p.drawRect(box.translated(-area.topLeft()));
        p.end();
        m_context->setPixmap(QPixmap::fromImage(
            context.scaled(kView, kView, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    } else {
        m_context->setText(tr("%1 cannot be read").arg(c.field));
    }
    const QString decided = s->labelOf(cell);
    m_caption->setText(
        tr("Cell %1 of %2 · field %3 (%4) · the model says <b>%5 parasitized</b>%6")
            .arg(s->position() + 1)
            .arg(s->queue().size())
            .arg(c.field.toHtmlEscaped(), c.adapt ? tr("used to adapt") : tr("used to test"),
                 percent(c.probability),
                 decided.isEmpty() ? QString() : tr(" · your label: %1").arg(decided)));
    m_seen->setText(tr("computing…"));
    if (!m_heatmap.isRunning())
        startHeatmap(cell);
}

void LabelCellsPage::startHeatmap(int cell)
{
    m_heatmapCell = cell;
    const cv::Mat crop = m_wizard->session()->cells()[size_t(cell)].crop;
    const Classifier model = m_wizard->startModel();
    // Grad-CAM of one cell over what the model sees (as the cells-to-confirm gallery shows
    // it), off the GUI thread.
    m_heatmap.setFuture(QtConcurrent::run([crop, model] {
        setTorchThreads(1);
        const cv::Mat rgb = preprocessImage(crop);
        const QImage seen = matToQImage(toBgr8(model.modelInput(rgb)));
        // The Parasitized class's evidence, as strong as the model's belief in it: the
        // predicted class's would paint a healthy cell's evidence of health red too.
        ExplainOptions o;
        o.targetClass = kParasitizedClass;
        const Explanation e = explainCell(model, rgb, o);
        return e.ok() ? heatmapOverlay(seen, e.heatmap, parasiteEvidenceOpacity(e.probability))
                      : seen;
    }));
}

// ---- 4. Adapt -------------------------------------------------------------------------------

AdaptPage::AdaptPage(CalibrationWizard* wizard)
    : QWizardPage(wizard), m_wizard(wizard), m_curves(new TrainingCurves(this)),
      m_progress(new QProgressBar(this)), m_status(wrapped(QString(), this)),
      m_log(new QPlainTextEdit(this)), m_stop(new QPushButton(tr("Stop"), this)),
      m_again(new QPushButton(tr("Adapt again"), this))
{
    setTitle(tr("Step 4 of 5: adapting the model to your lab"));
    setSubTitle(tr("The model learns from the cells you labelled on the adapt fields. The "
                   "test fields are kept apart to measure it afterwards."));
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(500);
    m_log->setMaximumHeight(90);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_progress, 1);
    buttons->addWidget(m_stop);
    buttons->addWidget(m_again);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(m_curves, 1);
    layout->addWidget(m_log);
    connect(m_stop, &QPushButton::clicked, wizard, &CalibrationWizard::stopWork);
    connect(m_again, &QPushButton::clicked, this, &AdaptPage::initializePage);
    connect(wizard, &CalibrationWizard::adaptLog, m_log, &QPlainTextEdit::appendPlainText);
    connect(wizard, &CalibrationWizard::batchDone, this,
            [this](int epoch, int batch, int batches, double loss) {
                m_curves->addBatch(epoch, batch, batches, loss);
                m_progress->setValue(epoch - 1);
                m_status->setText(tr("Epoch %1 of %2, batch %3 of %4")
                                      .arg(epoch)
                                      .arg(m_wizard->options().epochs)
                                      .arg(batch)
                                      .arg(batches));
            });
    connect(wizard, &CalibrationWizard::epochDone, this, [this](const EpochStats& s) {
        m_curves->addEpoch(s);
        m_progress->setValue(s.epoch);
    });
    connect(wizard, &CalibrationWizard::adaptFinished, this,
            [this](bool ok, const QString& message) {
                m_done = ok;
                m_stop->setEnabled(false);
                m_again->setVisible(!ok);
                m_status->setText(message);
                Q_EMIT completeChanged();
            });
}

void AdaptPage::initializePage()
{
    m_done = false;
    m_curves->clear();
    m_curves->setEpochCount(m_wizard->options().epochs);
    m_progress->setRange(0, m_wizard->options().epochs);
    m_progress->setValue(0);
    m_log->clear();
    m_status->setText(tr("Preparing the labelled cells…"));
    m_stop->setEnabled(true);
    m_again->setVisible(false);
    Q_EMIT completeChanged();
    m_wizard->startAdapting();
}

void AdaptPage::cleanupPage()
{
    m_wizard->stopWork();
}

// ---- 5. Report ------------------------------------------------------------------------------

ReportPage::ReportPage(CalibrationWizard* wizard)
    : QWizardPage(wizard), m_wizard(wizard), m_summary(wrapped(QString(), this)),
      m_figures(new QTableWidget(4, 2, this)), m_before(new QTableWidget(2, 2, this)),
      m_after(new QTableWidget(2, 2, this)), m_name(new QLineEdit(this)),
      m_activate(new QCheckBox(tr("Use the lab's model from now on (make it the active "
                                  "model; the Models page can switch back at any time)"),
                               this)),
      m_status(wrapped(QString(), this))
{
    setTitle(tr("Step 5 of 5: how well does it do on your lab's slides?"));
    setSubTitle(tr("Measured on your test fields, which the model did not learn from."));
    setFinalPage(true);
    m_figures->setHorizontalHeaderLabels({tr("Before (current model)"), tr("After (adapted)")});
    m_figures->setVerticalHeaderLabels({tr("Sensitivity (parasites found)"),
                                        tr("Specificity (healthy cells kept healthy)"),
                                        tr("Balanced accuracy"), tr("Corrected parasitemia")});
    m_figures->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_figures->setEditTriggers(QAbstractItemView::NoEditTriggers);
    // Tables as tall as their rows: no empty grey area under them.
    m_figures->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    m_figures->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_figures->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* matrices = new QHBoxLayout;
    for (QTableWidget* t : {m_before, m_after}) {
        t->setHorizontalHeaderLabels({tr("called parasitized"), tr("called uninfected")});
        t->setVerticalHeaderLabels({tr("parasitized (your label)"), tr("uninfected (your label)")});
        t->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
        t->setEditTriggers(QAbstractItemView::NoEditTriggers);
        t->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
        t->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
        t->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        auto* box = new QVBoxLayout;
        box->addWidget(new QLabel(
            t == m_before ? tr("Confusion matrix before") : tr("Confusion matrix after"), this));
        box->addWidget(t);
        matrices->addLayout(box);
    }
    auto* keep = new QFormLayout;
    keep->addRow(tr("Name in the Models list:"), m_name);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_figures);
    layout->addLayout(matrices);
    layout->addWidget(wrapped(tr("<b>Keep this model?</b> Press <b>Keep model</b> to save it "
                                 "in the Models list with these figures; Cancel discards it "
                                 "(your labels stay saved)."),
                              this));
    layout->addLayout(keep);
    layout->addWidget(m_activate);
    layout->addWidget(m_status);
    layout->addStretch(1);
    m_activate->setChecked(true);
}

void ReportPage::fillConfusion(QTableWidget* table, const CalibrationFigures& f)
{
    const int values[2][2] = {{f.truePositive, f.falseNegative}, {f.falsePositive, f.trueNegative}};
    for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) {
            auto* item = new QTableWidgetItem(QString::number(values[r][c]));
            item->setTextAlignment(Qt::AlignCenter);
            table->setItem(r, c, item);
        }
}

// Which weights the lab's model keeps, when adapting did not help: said before the threshold,
// because "after" then differs from "before" only by the threshold.
QString ReportPage::weightsSentence(const LabCalibrationResult& r)
{
    if (r.weights != LabWeights::Starting)
        return {};
    const LabThreshold& kept = r.labThreshold;
    const LabThreshold& adapted = r.otherThreshold;
    return tr("Adapting did not find more parasites on the fields held back from the learning "
              "than the model you had (%1 of %2 against %3), so the lab's model keeps the "
              "weights you had and only its threshold is set for your lab.")
               .arg(adapted.parasitesFoundWithinTarget())
               .arg(kept.parasitized)
               .arg(kept.parasitesFound()) +
           QStringLiteral("<br>");
}

// Why "after" may call more cells: the lab's own threshold, and how it was chosen.
QString ReportPage::thresholdSentence(const LabCalibrationResult& r, double maxFalsePositive)
{
    const LabThreshold& t = r.labThreshold;
    if (!t.chosen)
        return tr("A cell counts as parasitized from a probability of %1, as before (%2).")
            .arg(t.threshold)
            .arg(t.note.toHtmlEscaped());
    if (!t.meetsTarget)
        return tr("<b>Warning:</b> after adapting, even a probability of %1 calls %2 of the "
                  "healthy cells on the fields held back from the learning parasitized (the aim "
                  "is at most %3). Label more cells, or do not keep this model.")
            .arg(t.threshold)
            .arg(percent(t.falsePositiveRate))
            .arg(percent(maxFalsePositive));
    return tr("After: a cell counts as parasitized from a probability of <b>%1</b> instead of "
              "%2: the lowest setting that calls at most %3 of the other cells parasitized on "
              "the fields held back from the learning (measured there: %4 of the other cells "
              "called parasitized, %5 of %6 parasites found).")
               .arg(t.threshold)
               .arg(r.thresholdBefore)
               .arg(percent(maxFalsePositive))
               .arg(percent(t.falsePositiveRate))
               .arg(t.parasitesFound())
               .arg(t.parasitized) +
           // A setting of 0.02 looks like a mistake to a technician used to 0.5; say why it is not.
           (t.threshold < 0.1 ? tr(" A setting this low is not a fault: this model gives your "
                                   "lab's cells low probabilities overall, and the setting was "
                                   "measured on your own cells.")
                              : QString());
}

QString ReportPage::notACellSentence(const CalibrationFigures& f)
{
    if (f.notACell <= 0)
        return {};
    return tr(" The corrected parasitemia also counts the %n detection(s) marked as no red cell "
              "on the test fields, as a field's count does, and gives the parasitized share of "
              "the red cells; sensitivity, specificity and the matrices are the red cells'.",
              nullptr, f.notACell);
}

// The pale-cell rule, when the lab's labels turned it on: the after column counts its calls.
QString ReportPage::paleCellSentence(const LabCalibrationResult& r)
{
    if (!r.paleCells.enabled)
        return {};
    return tr("Pale cells: %1 of the %2 labelled cells that are clearly paler and less red "
              "than the other cells of their field were parasitized (as cells infected by "
              "<i>P. vivax</i> are), so the lab's model also counts such cells as parasitized, "
              "whatever probability the network gives them; the after column includes them.")
               .arg(r.paleCells.parasitized)
               .arg(r.paleCells.parasitized + r.paleCells.other) +
           QStringLiteral("<br>");
}

void ReportPage::initializePage()
{
    wizard()->setButtonText(QWizard::FinishButton, tr("Keep model"));
    const LabCalibrationResult& r = m_wizard->result();
    const int tests =
        r.after.truePositive + r.after.falseNegative + r.after.trueNegative + r.after.falsePositive;
    m_summary->setText(
        tr("Lab <b>%1</b>: the model learnt from %2 labelled cells (%3 parasitized) of %4 "
           "fields and was tested on %5 labelled cells of %6 other fields. The test cells are "
           "those you were asked about, not a random sample, so read sensitivity, specificity and "
           "the matrices as a guide. The parasitemia, and the rates kept to correct your slides' "
           "counts, count each labelled cell for as many of the test fields' cells as it stands "
           "for. All become surer with more labelled test cells.")
            .arg(m_wizard->options().lab.toHtmlEscaped())
            .arg(r.cellsUsed)
            .arg(r.parasitizedUsed)
            .arg(r.fieldsAdapt.size())
            .arg(tests)
            .arg(r.fieldsTest.size()) +
        notACellSentence(r.after) + QStringLiteral("<br>") + weightsSentence(r) +
        paleCellSentence(r) + thresholdSentence(r, m_wizard->options().maxFalsePositive));
    m_figures->setHorizontalHeaderLabels(
        {tr("Before (current model)"), r.weights == LabWeights::Starting
                                           ? tr("After (same weights, your lab's threshold)")
                                           : tr("After (adapted)")});
    const CalibrationFigures* sides[2] = {&r.before, &r.after};
    for (int c = 0; c < 2; ++c) {
        const CalibrationFigures& f = *sides[c];
        const QString parasitemia =
            f.parasitemia.ok
                ? tr("%1 (95 % CI %2 to %3; your labels: %4)")
                      .arg(percent(f.parasitemia.corrected), percent(f.parasitemia.low),
                           percent(f.parasitemia.high), percent(f.trueParasitemia))
                : tr("— (%1)").arg(f.parasitemia.error);
        const QStringList cells = {tr("%1 (%2 of %3)")
                                       .arg(percent(f.sensitivity))
                                       .arg(f.truePositive)
                                       .arg(f.truePositive + f.falseNegative),
                                   tr("%1 (%2 of %3)")
                                       .arg(percent(f.specificity))
                                       .arg(f.trueNegative)
                                       .arg(f.trueNegative + f.falsePositive),
                                   percent(f.balancedAccuracy), parasitemia};
        for (int row = 0; row < 4; ++row)
            m_figures->setItem(row, c, new QTableWidgetItem(cells[row]));
    }
    fillConfusion(m_before, r.before);
    fillConfusion(m_after, r.after);
    m_name->setText(tr("%1 (calibrated %2)")
                        .arg(m_wizard->options().lab, QDate::currentDate().toString(Qt::ISODate)));
    // A model that does worse on the lab's own test fields is not made active unasked.
    const bool worse = r.after.balancedAccuracy < r.before.balancedAccuracy;
    m_activate->setChecked(!worse);
    m_status->setText(
        worse ? tr("<span style=\"color:#b00020\"><b>The lab's model (%1) does not do better "
                   "than the current one on your test fields</b> (balanced accuracy %2 before, "
                   "%3 after): it is not made active. Label more cells (check the labels you "
                   "gave) and adapt again, or keep it only to compare.</span>")
                    .arg(r.weights == LabWeights::Starting
                             ? tr("the weights you had, with your lab's threshold")
                             : tr("adapted"),
                         percent(r.before.balancedAccuracy), percent(r.after.balancedAccuracy))
              : QString());
}

bool ReportPage::validatePage()
{
    QString error;
    const QString id = m_wizard->keepModel(m_name->text().trimmed(), &error);
    if (id.isEmpty()) {
        m_status->setText(tr("<span style=\"color:#b00020\">The model could not be saved: "
                             "%1</span>")
                              .arg(error.toHtmlEscaped()));
        return false;
    }
    if (m_activate->isChecked())
        Q_EMIT m_wizard->activateRequested(id);
    return true;
}

} // namespace ml
