#pragma once

#include <QSortFilterProxyModel>

namespace ml {

/// Filters an ImageListModel by class and by a text matched against file name and patient.
class ImageFilterProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit ImageFilterProxy(QObject* parent = nullptr);

    /// Show only images of class `label`; -2 shows every class.
    void setClassFilter(int label);
    int classFilter() const { return m_label; }
    /// Case-insensitive substring of the file name or the patient id; empty shows all.
    void setTextFilter(const QString& text);

    static constexpr int AllClasses = -2;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    int m_label = AllClasses;
    QString m_text;
};

} // namespace ml
