#include "tablecsv.h"

#include "csvfield.h"

#include <QAbstractItemView>
#include <QAction>
#include <QFileDialog>
#include <QHeaderView>
#include <QMessageBox>
#include <QSaveFile>
#include <QTableView>

namespace ml {

QByteArray modelToCsv(const QAbstractItemModel& model, bool rowHeaders)
{
    QStringList lines;
    QStringList header;
    if (rowHeaders)
        header << QStringLiteral("row");
    for (int c = 0; c < model.columnCount(); ++c) {
        QString title = model.headerData(c, Qt::Horizontal).toString();
        if (title.isEmpty())
            title = QStringLiteral("column_%1").arg(c + 1);
        header << csvField(title);
    }
    lines << header.join(QLatin1Char(','));
    for (int r = 0; r < model.rowCount(); ++r) {
        QStringList cells;
        if (rowHeaders)
            cells << csvField(model.headerData(r, Qt::Vertical).toString());
        for (int c = 0; c < model.columnCount(); ++c)
            cells << csvField(model.index(r, c).data(Qt::DisplayRole).toString());
        lines << cells.join(QLatin1Char(','));
    }
    return (lines.join(QLatin1Char('\n')) + QLatin1Char('\n')).toUtf8();
}

bool writeModelCsv(const QAbstractItemModel& model, const QString& path, bool rowHeaders,
                   QString* error)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(modelToCsv(model, rowHeaders)) < 0 ||
        !f.commit()) {
        if (error)
            *error = QObject::tr("Cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

void addCsvExportAction(QAbstractItemView* view, const QString& suggestedName)
{
    auto* action = new QAction(QObject::tr("Export table as CSV..."), view);
    QObject::connect(action, &QAction::triggered, view, [view, suggestedName] {
        if (!view->model())
            return;
        const QString path = QFileDialog::getSaveFileName(
            view, QObject::tr("Export table as CSV"), suggestedName, QObject::tr("CSV (*.csv)"));
        if (path.isEmpty())
            return;
        auto* table = qobject_cast<QTableView*>(view);
        const bool rowHeaders = table && table->verticalHeader()->isVisible();
        QString error;
        if (!writeModelCsv(*view->model(), path, rowHeaders, &error))
            QMessageBox::warning(view, QObject::tr("Export failed"), error);
    });
    view->addAction(action);
    view->setContextMenuPolicy(Qt::ActionsContextMenu);
}

} // namespace ml
