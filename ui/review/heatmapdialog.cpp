#include "heatmapdialog.h"

#include "heatmapview.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QVBoxLayout>

namespace ml {

HeatmapDialog::HeatmapDialog(const QString& path, const Classifier& classifier, double threshold,
                             QWidget* parent)
    : QDialog(parent), m_view(new HeatmapView(this))
{
    setWindowTitle(tr("Heatmap: %1").arg(QFileInfo(path).fileName()));
    auto* name = new QLabel(QDir::toNativeSeparators(path), this);
    name->setTextInteractionFlags(Qt::TextSelectableByMouse);
    name->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(name);
    layout->addWidget(m_view, 1);
    layout->addWidget(buttons);
    resize(860, 580);
    m_view->showCell(path, classifier, threshold);
}

} // namespace ml
