#include "registrypage.h"

#include "classifier.h"
#include "modelsession.h"
#include "registrytablemodel.h"
#include "trainingresult.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>

#include "tablecsv.h"
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace ml {

namespace {

// QSettings key of the precision chosen on this page.
const char kPrecisionKey[] = "model/precision";

struct FileJobResult
{
    bool ok = false;
    QString id;      // imported entry
    QString path;    // exported model path
    QString message; // error
};

} // namespace

RegistryPage::RegistryPage(ModelSession* models, QWidget* parent)
    : QWidget(parent), m_models(models), m_model(new RegistryTableModel(this)),
      m_proxy(new QSortFilterProxyModel(this)), m_watcher(new QFileSystemWatcher(this))
{
    buildUi();
    connect(m_models, &ModelSession::modelChanged, this, &RegistryPage::updateActive);
    connect(m_models, &ModelSession::modelChanged, this, &RegistryPage::showPrecisionNote);
    // Trainings finish in another object (the Train page's controller) and other processes
    // (the CLI) may add models: follow the folder instead of being told.
    connect(m_watcher, &QFileSystemWatcher::directoryChanged, this, &RegistryPage::refresh);
    setRegistryRoot(QString());
    if (Classifier::hasEmbeddedModel()) {
        // The embedded card comes from loading the model; do that off the GUI thread.
        auto* w = new QFutureWatcher<QJsonObject>(this);
        connect(w, &QFutureWatcher<QJsonObject>::finished, this, [this, w] {
            m_embeddedCard = w->result();
            w->deleteLater();
            refresh();
        });
        w->setFuture(QtConcurrent::run([] {
            Classifier c;
            return c.loadEmbedded() ? c.card() : QJsonObject();
        }));
    }
}

RegistryPage::~RegistryPage() = default;

void RegistryPage::buildUi()
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(Qt::UserRole);
    m_table = new QTableView;
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->sortByColumn(RegistryTableModel::Date, Qt::DescendingOrder);

    m_details = new QPlainTextEdit;
    m_details->setReadOnly(true);
    m_details->setFont(QFont(QStringLiteral("monospace"), 8));
    m_details->setPlaceholderText(tr("Select a model to see its model card."));

    m_setActive = new QPushButton(tr("Set active"));
    m_rename = new QPushButton(tr("Rename…"));
    m_delete = new QPushButton(tr("Delete…"));
    m_export = new QPushButton(tr("Export…"));
    m_import = new QPushButton(tr("Import…"));
    m_embedded = new QPushButton(tr("Use embedded default"));
    m_embedded->setEnabled(Classifier::hasEmbeddedModel());
    if (!Classifier::hasEmbeddedModel())
        m_embedded->setToolTip(tr("This build carries no embedded model"));
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {m_setActive, m_rename, m_delete, m_export, m_import})
        buttons->addWidget(b);
    buttons->addStretch(1);
    buttons->addWidget(m_embedded);
    buttons->addWidget(buildPrecisionChoice());

    m_status = new QLabel;
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* hint =
        new QLabel(tr("Every finished training lands here with its model card and history. "
                      "Figures are on each model's own validation split (pooled out-of-fold "
                      "for a cross-validated one): compare models trained on the same folder "
                      "and split (a random split inflates them)."));
    hint->setWordWrap(true);

    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_table);
    splitter->addWidget(m_details);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(hint);
    layout->addLayout(buttons);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_status);

    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        updateButtons();
        showDetails();
    });
    connect(m_table, &QTableView::doubleClicked, this, &RegistryPage::onSetActive);
    addCsvExportAction(m_table, QStringLiteral("models.csv"));
    connect(m_setActive, &QPushButton::clicked, this, &RegistryPage::onSetActive);
    connect(m_rename, &QPushButton::clicked, this, &RegistryPage::onRename);
    connect(m_delete, &QPushButton::clicked, this, &RegistryPage::onDelete);
    connect(m_export, &QPushButton::clicked, this, &RegistryPage::onExport);
    connect(m_import, &QPushButton::clicked, this, &RegistryPage::onImport);
    connect(m_embedded, &QPushButton::clicked, this, [this] {
        QString error;
        if (!activate(ModelRegistry::embeddedId(), &error))
            setStatus(error, true);
    });
}

QWidget* RegistryPage::buildPrecisionChoice()
{
    m_precision = new QComboBox;
    m_precision->addItem(tr("fp32"), precisionName(Precision::Fp32));
    m_precision->addItem(tr("int8 (quantised)"), precisionName(Precision::Int8));
    m_precision->setToolTip(
        tr("The arithmetic the active model runs in. int8 runs the model's quantised companion "
           "(<model>.int8.pt, made by scripts/quantize.py; the embedded model has one): it "
           "decides like fp32 on 99.9 % of the held-out cells. A model without one runs fp32 "
           "and this page says so."));
    // The saved choice applies before MainWindow restores the active model.
    const std::optional<Precision> saved =
        precisionFromName(QSettings().value(QLatin1String(kPrecisionKey)).toString());
    m_precision->setCurrentIndex(saved == Precision::Int8 ? 1 : 0);
    m_models->setPrecision(saved.value_or(Precision::Fp32));
    connect(m_precision, &QComboBox::currentIndexChanged, this, [this] {
        const Precision p =
            precisionFromName(m_precision->currentData().toString()).value_or(Precision::Fp32);
        if (!m_models->setPrecision(p)) {
            setStatus(tr("The precision can change when the running classification ends."), true);
            return;
        }
        QSettings().setValue(QLatin1String(kPrecisionKey), precisionName(p));
        showPrecisionNote();
    });
    auto* box = new QWidget;
    auto* row = new QHBoxLayout(box);
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(new QLabel(tr("Precision:")));
    row->addWidget(m_precision);
    return box;
}

void RegistryPage::showPrecisionNote()
{
    const QString note = m_models->precisionNote();
    if (!note.isEmpty())
        setStatus(note, true);
    else if (m_models->hasModel())
        setStatus(
            tr("Active model: %1, running %2.")
                .arg(m_models->modelName(), precisionName(m_models->classifier().precision())),
            false);
}

void RegistryPage::setRegistryRoot(const QString& root)
{
    if (!m_watcher->directories().isEmpty())
        m_watcher->removePaths(m_watcher->directories());
    m_registry = ModelRegistry(root);
    QDir().mkpath(m_registry.root());
    m_watcher->addPath(m_registry.root());
    refresh();
}

void RegistryPage::refresh()
{
    const QString selected = selectedId();
    m_model->setEntries(m_registry.entries(), Classifier::hasEmbeddedModel(), m_embeddedCard);
    updateActive();
    if (!selected.isEmpty())
        selectId(selected);
    updateButtons();
    showDetails();
}

void RegistryPage::updateActive()
{
    QString id;
    if (m_models->hasModel()) {
        const QString source = m_models->classifier().source();
        if (source.startsWith(QLatin1String(":/"))) {
            id = ModelRegistry::embeddedId();
        } else {
            // An int8 companion (X.int8.pt) stands for its fp32 entry (X.pt).
            QString fp32Source = source;
            if (fp32Source.endsWith(QLatin1String(".int8.pt")))
                fp32Source.chop(int(qstrlen(".int8.pt")));
            if (fp32Source != source)
                fp32Source += QLatin1String(".pt");
            const QString canonical = QFileInfo(fp32Source).canonicalFilePath();
            for (int row = 0; row < m_model->rowCount(); ++row) {
                const RegistryEntry e = m_model->entryAt(row);
                if (!e.modelPath.isEmpty() &&
                    QFileInfo(e.modelPath).canonicalFilePath() == canonical)
                    id = e.id;
            }
        }
    }
    m_model->setActiveId(id);
    // The active row is bold with a marker: wider than what the columns were sized for.
    m_table->resizeColumnsToContents();
    updateButtons();
}

QString RegistryPage::selectedId() const
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return m_model->idAt(m_proxy->mapToSource(rows.first()).row());
}

void RegistryPage::selectId(const QString& id)
{
    const int row = m_model->rowOf(id);
    if (row < 0) {
        m_table->clearSelection();
        return;
    }
    m_table->selectRow(m_proxy->mapFromSource(m_model->index(row, 0)).row());
}

QString RegistryPage::statusText() const
{
    return m_status->text();
}

void RegistryPage::setStatus(const QString& text, bool error)
{
    m_status->setStyleSheet(error ? QStringLiteral("color: #b71c1c;") : QString());
    m_status->setText(text);
}

void RegistryPage::updateButtons()
{
    const QString id = selectedId();
    const bool entry = !id.isEmpty() && id != ModelRegistry::embeddedId();
    const RegistryEntry e = m_model->entryAt(m_model->rowOf(id));
    m_setActive->setEnabled(!id.isEmpty() && id != m_model->activeId() &&
                            (entry ? e.isUsable() : true));
    m_rename->setEnabled(entry);
    m_delete->setEnabled(entry && id != m_model->activeId() && !m_busy);
    m_delete->setToolTip(entry && id == m_model->activeId()
                             ? tr("The active model cannot be deleted: "
                                  "make another model active first")
                             : QString());
    m_export->setEnabled(entry && e.isUsable() && !m_busy);
    m_import->setEnabled(!m_busy);
}

namespace {

// The figures per source and of a held-out source (leave-one-lab-out), as readable lines
// above the card: the honest figures for an unseen lab.
QString sourceFiguresText(const QJsonObject& card)
{
    auto line = [](const QString& what, const SourceFigures& f) {
        return RegistryPage::tr("%1 %2: %3 cells (%4 parasitized), sensitivity %5, specificity "
                                "%6, balanced accuracy %7, AUC %8\n")
            .arg(what, f.source)
            .arg(f.cells)
            .arg(f.parasitized)
            .arg(f.sensitivity, 0, 'f', 4)
            .arg(f.specificity, 0, 'f', 4)
            .arg(f.balancedAccuracy, 0, 'f', 4)
            .arg(f.auc, 0, 'f', 4);
    };
    QString text;
    const QJsonObject holdout = card.value(QStringLiteral("holdout")).toObject();
    if (!holdout.isEmpty())
        text += line(RegistryPage::tr("Held-out source (never trained on)"),
                     SourceFigures::fromJson(holdout));
    const QJsonArray perSource = card.value(QStringLiteral("validation_by_source")).toArray();
    for (const QJsonValue& v : perSource)
        text += line(RegistryPage::tr("Validation, source"), SourceFigures::fromJson(v.toObject()));
    return text;
}

} // namespace

void RegistryPage::showDetails()
{
    const QString id = selectedId();
    if (id.isEmpty()) {
        m_details->clear();
        return;
    }
    const RegistryEntry e = m_model->entryAt(m_model->rowOf(id));
    QJsonObject card = e.card;
    // The per-patient table is long; the summary figures above it are what one compares.
    QJsonObject validation = card.value(QStringLiteral("validation")).toObject();
    if (validation.contains(QStringLiteral("per_patient"))) {
        validation.insert(
            QStringLiteral("per_patient"),
            tr("%n patient(s), see the card file", nullptr,
               int(validation.value(QStringLiteral("per_patient")).toObject().size())));
        card.insert(QStringLiteral("validation"), validation);
    }
    QString text;
    if (!e.folder.isEmpty())
        text += tr("Folder: %1\n").arg(QDir::toNativeSeparators(e.folder));
    if (!e.problem.isEmpty())
        text += tr("Damaged: %1\n").arg(e.problem);
    text += sourceFiguresText(card);
    text += QString::fromUtf8(QJsonDocument(card).toJson(QJsonDocument::Indented));
    m_details->setPlainText(text);
}

bool RegistryPage::activate(const QString& id, QString* error)
{
    QString why;
    bool ok = false;
    if (id == ModelRegistry::embeddedId()) {
        ok = m_models->useEmbedded(&why);
    } else {
        const auto e = m_registry.entry(id);
        if (!e)
            why = tr("The model is no longer in the registry.");
        else
            ok = m_models->loadFile(e->modelPath, &why);
    }
    if (ok) {
        QString saveWhy;
        if (!m_registry.setActive(id, &saveWhy))
            setStatus(tr("Model activated, but it will not be remembered: %1").arg(saveWhy), true);
        else
            setStatus(tr("Active model: %1")
                          .arg(id == ModelRegistry::embeddedId()
                                   ? m_models->modelName()
                                   : m_model->entryAt(m_model->rowOf(id)).name),
                      false);
    } else {
        // ModelSession keeps its previous model on failure.
        setStatus(tr("Cannot activate the model: %1").arg(why), true);
        if (error)
            *error = why;
    }
    updateActive();
    return ok;
}

bool RegistryPage::restoreActiveModel(QString* error)
{
    const QString id = m_registry.activeId();
    if (id == ModelRegistry::embeddedId() && !Classifier::hasEmbeddedModel())
        return m_models->hasModel();
    return activate(id, error);
}

bool RegistryPage::renameEntry(const QString& id, const QString& name, QString* error)
{
    QString why;
    const bool ok = m_registry.rename(id, name, &why);
    setStatus(ok ? tr("Renamed to %1").arg(name) : tr("Cannot rename: %1").arg(why), !ok);
    if (!ok && error)
        *error = why;
    refresh();
    return ok;
}

bool RegistryPage::deleteEntry(const QString& id, QString* error)
{
    QString why;
    bool ok = false;
    if (id == m_model->activeId())
        why = tr("the model is in use; make another model active first");
    else
        ok = m_registry.remove(id, &why);
    setStatus(ok ? tr("Model deleted") : tr("Cannot delete: %1").arg(why), !ok);
    if (!ok && error)
        *error = why;
    refresh();
    return ok;
}

void RegistryPage::onSetActive()
{
    const QString id = selectedId();
    if (!id.isEmpty() && id != m_model->activeId())
        activate(id);
}

void RegistryPage::onRename()
{
    const QString id = selectedId();
    const RegistryEntry e = m_model->entryAt(m_model->rowOf(id));
    bool ok = false;
    const QString name = QInputDialog::getText(this, tr("Rename model"), tr("Name:"),
                                               QLineEdit::Normal, e.name, &ok);
    if (ok && !name.trimmed().isEmpty())
        renameEntry(id, name);
}

void RegistryPage::onDelete()
{
    const QString id = selectedId();
    const RegistryEntry e = m_model->entryAt(m_model->rowOf(id));
    if (QMessageBox::question(this, tr("Delete model"),
                              tr("Delete %1 with its model card and history?\n%2")
                                  .arg(e.name, QDir::toNativeSeparators(e.folder))) ==
        QMessageBox::Yes)
        deleteEntry(id);
}

void RegistryPage::onExport()
{
    const QString id = selectedId();
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Export model to folder"));
    if (folder.isEmpty())
        return;
    bool overwrite = false;
    const QString target = m_registry.exportPath(id, folder);
    if (QFileInfo::exists(target)) {
        if (QMessageBox::question(this, tr("Export model"),
                                  tr("%1 exists. Replace it?").arg(target)) != QMessageBox::Yes)
            return;
        overwrite = true;
    }
    exportTo(id, folder, overwrite);
}

void RegistryPage::onImport()
{
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Import model"), QString(),
                                     tr("Models (*.pt *.pth *.ptl *.torchscript);;All files (*)"));
    if (!path.isEmpty())
        importFile(path);
}

void RegistryPage::exportTo(const QString& id, const QString& folder, bool overwrite)
{
    m_busy = true;
    updateButtons();
    setStatus(tr("Exporting…"), false);
    auto* w = new QFutureWatcher<FileJobResult>(this);
    connect(w, &QFutureWatcher<FileJobResult>::finished, this, [this, w] {
        const FileJobResult r = w->result();
        w->deleteLater();
        m_busy = false;
        const QString message = r.ok ? tr("Exported to %1 (with its card and history)").arg(r.path)
                                     : tr("Cannot export: %1").arg(r.message);
        setStatus(message, !r.ok);
        updateButtons();
        Q_EMIT exportFinished(r.ok, message);
    });
    const ModelRegistry registry = m_registry;
    w->setFuture(QtConcurrent::run([registry, id, folder, overwrite] {
        FileJobResult r;
        r.path = registry.exportEntry(id, folder, overwrite, &r.message);
        r.ok = !r.path.isEmpty();
        return r;
    }));
}

void RegistryPage::importFile(const QString& path)
{
    m_busy = true;
    updateButtons();
    setStatus(tr("Importing %1…").arg(QDir::toNativeSeparators(path)), false);
    auto* w = new QFutureWatcher<FileJobResult>(this);
    connect(w, &QFutureWatcher<FileJobResult>::finished, this, [this, w, path] {
        const FileJobResult r = w->result();
        w->deleteLater();
        m_busy = false;
        QString message;
        if (r.ok) {
            QString why;
            m_registry.rename(r.id, QFileInfo(path).completeBaseName(), &why);
            message = tr("Imported %1").arg(QFileInfo(path).fileName());
        } else {
            message = tr("Cannot import: %1").arg(r.message);
        }
        setStatus(message, !r.ok);
        refresh();
        if (r.ok)
            selectId(r.id);
        Q_EMIT importFinished(r.ok, message);
    });
    const ModelRegistry registry = m_registry;
    w->setFuture(QtConcurrent::run([registry, path] {
        FileJobResult r;
        ModelRegistry target = registry;
        // Loading the copy is the validation: what the registry lists is known to load.
        const ModelValidator validate = [](const QString& model, QJsonObject* card,
                                           QString* error) {
            Classifier c;
            if (!c.load(model)) {
                *error = c.errorString();
                return false;
            }
            *card = c.card();
            return true;
        };
        const auto e = target.importModel(path, validate, &r.message);
        r.ok = e.has_value();
        if (e)
            r.id = e->id;
        return r;
    }));
}

} // namespace ml
