#pragma once
// The comparison table of the model registry: one row per model (the embedded default
// first), its validation figures side by side. Qt Core/Gui only (core).

#include "modelregistry.h"

#include <QAbstractTableModel>

namespace ml {

/// Read-only table of registry entries. Lives in the GUI thread; refreshed with setEntries().
/// Qt::DisplayRole gives the formatted text, Qt::UserRole the raw value for sorting
/// (numbers as double, NaN for a missing figure), Qt::ToolTipRole the damage reason.
class RegistryTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        Name,
        Date,
        Architecture,
        Split,
        CellAccuracy,
        PatientAccuracy,
        Sensitivity,
        Specificity,
        Auc,
        WorstPatient,
        MaxHealthyShare, ///< largest share of cells called parasitized in a healthy patient
        Epochs,
        ColumnCount
    };

    explicit RegistryTableModel(QObject* parent = nullptr);

    /// Replaces the rows. `embeddedCard` is the card of the embedded default model, listed
    /// first with the id ModelRegistry::embeddedId() when `hasEmbedded`.
    void setEntries(const QList<RegistryEntry>& entries, bool hasEmbedded,
                    const QJsonObject& embeddedCard);
    /// Marks the model in use (an entry id, ModelRegistry::embeddedId(), or empty for none).
    void setActiveId(const QString& id);
    QString activeId() const { return m_activeId; }

    /// The id of a row (ModelRegistry::embeddedId() for the embedded row); empty if out of range.
    QString idAt(int row) const;
    /// The row of an id, -1 when absent.
    int rowOf(const QString& id) const;
    /// The entry of a row (the embedded row: id embeddedId(), no files).
    RegistryEntry entryAt(int row) const;

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    QList<RegistryEntry> m_rows;
    QString m_activeId;
};

} // namespace ml
