#pragma once
// The Models page: the model registry as a comparison table, and what can be done with it.

#include "modelregistry.h"

#include <QWidget>

class QComboBox;
class QFileSystemWatcher;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace ml {

class ModelSession;
class RegistryTableModel;

/// Table of the registry's models (the embedded default first) with their validation
/// figures side by side: cell and patient accuracy, sensitivity, specificity, AUC, worst
/// patient, date, architecture. Set active (ModelSession::loadFile / useEmbedded), rename,
/// delete, export, import (validated by loading the copy), use the embedded default. The
/// table follows the registry folder (file watcher) and the session's active model. Import
/// and export run off the GUI thread. The precision the models run in (fp32, int8: see
/// Classifier::setPrecision()) is chosen here, saved in QSettings ("model/precision") and
/// applied to the session at construction; a model that cannot run int8 is named in the
/// status line with the reason.
class RegistryPage : public QWidget
{
    Q_OBJECT
public:
    /// `models` is not owned and must outlive the page.
    explicit RegistryPage(ModelSession* models, QWidget* parent = nullptr);
    ~RegistryPage() override;

    /// Uses another registry folder (tests; default ModelRegistry::defaultRoot()).
    void setRegistryRoot(const QString& root);
    QString registryRoot() const { return m_registry.root(); }

    /// Re-reads the registry folder.
    void refresh();
    /// Activates the model remembered as active (at application start). False with `error`
    /// when it cannot be loaded; the session then keeps its model.
    bool restoreActiveModel(QString* error = nullptr);

    /// Makes the entry `id` (or ModelRegistry::embeddedId()) the active model.
    bool activate(const QString& id, QString* error = nullptr);
    /// Renames / deletes without dialogs (the buttons ask first).
    bool renameEntry(const QString& id, const QString& name, QString* error = nullptr);
    bool deleteEntry(const QString& id, QString* error = nullptr);
    /// Starts importing `path` in the background; importFinished() follows.
    void importFile(const QString& path);
    /// Starts exporting `id` into `folder` in the background; exportFinished() follows.
    void exportTo(const QString& id, const QString& folder, bool overwrite);

    RegistryTableModel* tableModel() const { return m_model; }
    QTableView* table() const { return m_table; }
    /// The precision choice (fp32 / int8).
    QComboBox* precisionChoice() const { return m_precision; }
    /// Id of the selected row, empty when none.
    QString selectedId() const;
    void selectId(const QString& id);
    /// The status line (last action's result or error).
    QString statusText() const;

Q_SIGNALS:
    void importFinished(bool ok, const QString& message);
    void exportFinished(bool ok, const QString& message);

private:
    void buildUi();
    QWidget* buildPrecisionChoice();
    void showPrecisionNote();
    void updateButtons();
    void updateActive();
    void showDetails();
    void setStatus(const QString& text, bool error);
    void onSetActive();
    void onRename();
    void onDelete();
    void onExport();
    void onImport();

    ModelSession* m_models;
    ModelRegistry m_registry;
    RegistryTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QFileSystemWatcher* m_watcher;
    QJsonObject m_embeddedCard;
    bool m_busy = false;

    QTableView* m_table;
    QPlainTextEdit* m_details;
    QLabel* m_status;
    QPushButton* m_setActive;
    QPushButton* m_rename;
    QPushButton* m_delete;
    QPushButton* m_export;
    QPushButton* m_import;
    QPushButton* m_embedded;
    QComboBox* m_precision = nullptr;
};

} // namespace ml
