#include "calibrationwizard.h"

#include "calibrationpages.h"
#include "celllabelsession.h"
#include "correctionstore.h"
#include "modelregistry.h"
#include "torchthreads.h"
#include "trainer.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QMessageBox>
#include <QSaveFile>
#include <QSet>
#include <QTemporaryDir>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

CalibrationWizard::CalibrationWizard(const Classifier& model, const QString& folder,
                                     QWidget* parent)
    : QWizard(parent), m_model(model), m_databasePath(CorrectionStore::defaultPath()),
      m_registryRoot(ModelRegistry::defaultRoot()), m_session(new CellLabelSession(this))
{
    // Fine-tuning, and keeping the starting weights, need fp32 weights: an int8 active model
    // (Models page) lends the fp32 model it was quantised from. Should that be missing, the
    // model stays int8 and adapting says it cannot fine-tune it.
    if (m_model.precision() == Precision::Int8)
        m_model.setPrecision(Precision::Fp32);
    setWindowTitle(tr("Calibrate for this lab"));
    setWizardStyle(QWizard::ClassicStyle);
    setOption(QWizard::NoBackButtonOnStartPage);
    setMinimumSize(900, 700);
    m_options.threads = 2;
    m_fieldsPage = new FieldsChoicePage(this, folder);
    m_findPage = new FindCellsPage(this);
    m_labelPage = new LabelCellsPage(this);
    m_adaptPage = new AdaptPage(this);
    m_reportPage = new ReportPage(this);
    setPage(FieldsPageId, m_fieldsPage);
    setPage(FindCellsPageId, m_findPage);
    setPage(LabelPageId, m_labelPage);
    setPage(AdaptPageId, m_adaptPage);
    setPage(ReportPageId, m_reportPage);
    setStartId(FieldsPageId);
    connect(&m_findWatcher, &QFutureWatcher<LabCells>::finished, this,
            &CalibrationWizard::onCellsFound);
    connect(&m_adaptWatcher, &QFutureWatcher<LabCalibrationResult>::finished, this,
            &CalibrationWizard::onAdapted);
}

CalibrationWizard::~CalibrationWizard()
{
    m_cancel = true;
    m_findWatcher.waitForFinished();
    m_adaptWatcher.waitForFinished();
}

bool CalibrationWizard::isWorking() const
{
    return m_findWatcher.isRunning() || m_adaptWatcher.isRunning();
}

void CalibrationWizard::stopWork()
{
    m_cancel = true;
}

void CalibrationWizard::startFindingCells()
{
    if (isWorking())
        return;
    m_cancel = false;
    m_options.lab = m_fieldsPage->labEdit()->text().trimmed();
    const QStringList files = m_fieldsPage->fieldFiles();
    LabCalibrationOptions o = m_options;
    o.cancel = &m_cancel;
    // Progress comes from the pool's threads: posted to the GUI thread, dropped if the
    // wizard is gone.
    o.fieldProgress = [this](int done, int total) {
        QMetaObject::invokeMethod(
            this, [this, done, total] { Q_EMIT fieldProgress(done, total); }, Qt::QueuedConnection);
    };
    const Classifier model = m_model;
    m_findWatcher.setFuture(
        QtConcurrent::run([files, model, o] { return analyseLabFields(files, model, o); }));
}

void CalibrationWizard::onCellsFound()
{
    LabCells lab = m_findWatcher.result();
    if (lab.cancelled || !lab.error.isEmpty()) {
        Q_EMIT cellsFound(false, lab.cancelled
                                     ? tr("Stopped. Nothing was changed.")
                                     : tr("The cells could not be found: %1").arg(lab.error));
        return;
    }
    if (lab.cells.empty()) {
        Q_EMIT cellsFound(false, tr("No cells were found in these images. Are they thin-smear "
                                    "field images?"));
        return;
    }
    int adaptFields = 0, testFields = 0;
    QSet<QString> seen;
    for (const CalibrationCell& c : lab.cells)
        if (!seen.contains(c.field)) {
            seen.insert(c.field);
            ++(c.adapt ? adaptFields : testFields);
        }
    if (adaptFields == 0 || testFields == 0) {
        Q_EMIT cellsFound(false, tr("The %1 fields with cells all fell on one side of the split "
                                    "(fields to adapt on, fields to test on). Add more field "
                                    "images to the folder and start again.")
                                     .arg(seen.size()));
        return;
    }
    m_session->setReviewer(m_fieldsPage->reviewerEdit()->text().trimmed());
    m_session->setLab(m_options.lab);
    if (m_session->databasePath() != m_databasePath)
        m_session->openStore(m_databasePath);
    const int cells = int(lab.cells.size());
    const int restored = m_session->setCells(std::move(lab.cells), lab.threshold, m_options.budget);
    QString message =
        tr("%1 cells found in %2 fields. %3 fields will be used to adapt the model and %4 "
           "other fields to test it (each field stays whole on one side).")
            .arg(cells)
            .arg(seen.size())
            .arg(adaptFields)
            .arg(testFields);
    if (restored > 0)
        message += QLatin1Char(' ') + tr("%1 cells you labelled before are restored from the "
                                         "corrections database.")
                                          .arg(restored);
    Q_EMIT cellsFound(true, message);
}

void CalibrationWizard::startAdapting()
{
    if (isWorking())
        return;
    m_cancel = false;
    m_result = LabCalibrationResult();
    m_workDir = std::make_unique<QTemporaryDir>();
    if (!m_workDir->isValid()) {
        Q_EMIT adaptFinished(false, tr("Cannot create a temporary folder for the labelled cells."));
        return;
    }
    LabCalibrationOptions o = m_options;
    o.workDir = m_workDir->path();
    o.cancel = &m_cancel;
    // Every labelled adapt cell is used: the reviewer already chose the budget by labelling.
    o.budget = std::numeric_limits<int>::max();
    const auto post = [this](auto f) { QMetaObject::invokeMethod(this, f, Qt::QueuedConnection); };
    o.log = [this, post](const QString& s) { post([this, s] { Q_EMIT adaptLog(s); }); };
    o.batchDone = [this, post](int e, int b, int n, double loss) {
        post([this, e, b, n, loss] { Q_EMIT batchDone(e, b, n, loss); });
    };
    o.epochDone = [this, post](const EpochStats& s) { post([this, s] { Q_EMIT epochDone(s); }); };
    const std::vector<CalibrationCell> cells = m_session->cells();
    const double threshold = m_session->threshold();
    const Classifier model = m_model;
    m_adaptWatcher.setFuture(QtConcurrent::run([cells, threshold, model, o] {
        setTorchThreads(o.threads);
        return calibrateCells(cells, threshold, model, o);
    }));
}

void CalibrationWizard::onAdapted()
{
    m_result = m_adaptWatcher.result();
    m_workDir.reset();
    if (m_result.cancelled)
        Q_EMIT adaptFinished(false, tr("Stopped. Your labels are kept; press Adapt again or "
                                       "Back to label more cells."));
    else if (!m_result.error.isEmpty())
        Q_EMIT adaptFinished(false, tr("The model could not be adapted: %1").arg(m_result.error));
    else
        Q_EMIT adaptFinished(
            true, m_result.weights == LabWeights::Starting
                      ? tr("Done: adapting did not beat the model you had, so the lab's model "
                           "keeps its weights with your lab's threshold; it was measured on the "
                           "test fields. Press Next for the report.")
                      : tr("Done: the adapted model was measured on the test fields. "
                           "Press Next for the report."));
}

QString CalibrationWizard::keepModel(const QString& name, QString* error)
{
    if (!m_result.ok() || !m_result.model.isLoaded()) {
        *error = tr("there is no adapted model to keep");
        return {};
    }
    const QByteArray bytes = m_result.model.serialize(error);
    if (bytes.isEmpty())
        return {};
    QJsonObject card = m_result.model.card();
    QJsonObject lab = card.value(QStringLiteral("lab_calibration")).toObject();
    lab.insert(QStringLiteral("reviewer"), m_session->reviewer());
    lab.insert(QStringLiteral("corrections_database"), m_databasePath);
    lab.insert(QStringLiteral("date"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate));
    card.insert(QStringLiteral("lab_calibration"), lab);
    // The registry writes into a staging folder and renames it when complete: a crash or
    // kill -9 never leaves half a model.
    ModelRegistry registry(m_registryRoot);
    const auto entry = registry.addEntry(bytes, card, QByteArray(), name, error);
    if (!entry)
        return {};
    m_keptId = entry->id;
    Q_EMIT modelKept(m_keptId);
    return m_keptId;
}

void CalibrationWizard::done(int result)
{
    if (isWorking()) {
        stopWork();
        m_findWatcher.waitForFinished();
        m_adaptWatcher.waitForFinished();
    }
    // No label may be lost: the pending ones get one more try, then go to a CSV beside the
    // database that `calibrate --labels` and a later flow can read.
    if (!m_session->flushPending()) {
        const QString csv = QFileInfo(m_databasePath)
                                .absoluteDir()
                                .filePath(QStringLiteral("calibration-pending-%1.csv")
                                              .arg(QDateTime::currentDateTimeUtc().toString(
                                                  QStringLiteral("yyyyMMdd-hhmmss"))));
        QSaveFile f(csv);
        const bool saved =
            f.open(QIODevice::WriteOnly) && f.write(m_session->pendingCsv()) >= 0 && f.commit();
        QMessageBox::warning(
            this, tr("Labels not yet in the database"),
            saved ? tr("The corrections database is still locked: %1 label(s) could not be "
                       "written to it. They are saved in %2 (use it with malarialens-cli "
                       "calibrate --labels).")
                        .arg(m_session->pendingCount())
                        .arg(csv)
                  : tr("The corrections database is still locked and %1 could not be written "
                       "either: %2 label(s) are lost when this window closes. Try again later.")
                        .arg(csv)
                        .arg(m_session->pendingCount()));
        if (!saved)
            return;
    }
    QWizard::done(result);
}

} // namespace ml
