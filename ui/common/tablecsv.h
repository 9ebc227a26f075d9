#pragma once
// CSV export for every table the application shows: a context-menu action on the view and
// a function that writes what the view's model holds (header row with the column titles,
// then every row, sorted and filtered as shown).

#include <QString>

class QAbstractItemModel;
class QAbstractItemView;

namespace ml {

/// The model as CSV: a header row from the horizontal header titles, then one line per row
/// with the DisplayRole text (quoted when it holds a comma, quote or line break).
/// With `rowHeaders`, the vertical header titles form a first column.
QByteArray modelToCsv(const QAbstractItemModel& model, bool rowHeaders = false);

/// Writes modelToCsv() to `path` atomically. False with `error` on failure.
bool writeModelCsv(const QAbstractItemModel& model, const QString& path, bool rowHeaders = false,
                   QString* error = nullptr);

/// Adds "Export table as CSV..." to the view's context menu (ActionsContextMenu policy).
/// Row titles are exported when the view shows its vertical header.
void addCsvExportAction(QAbstractItemView* view, const QString& suggestedName);

} // namespace ml
