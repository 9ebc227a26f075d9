#include "meanimageview.h"

#include "explorefigures.h"
#include "imageops.h"
#include "imagepanel.h"
#include "matconvert.h"
#include "meanimage.h"

#include <QGridLayout>
#include <QLabel>
#include <QVBoxLayout>

namespace ml {

MeanImageView::MeanImageView(QWidget* parent) : QWidget(parent)
{
    auto* outer = new QVBoxLayout(this);
    m_message = new QLabel(this);
    m_message->setWordWrap(true);
    m_message->setObjectName(QStringLiteral("meanMessage"));
    // Fixed height: without panels the label would otherwise take (and centre in) the page.
    m_message->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
    m_message->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    outer->addWidget(m_message, 0, Qt::AlignTop);
    m_grid = new QGridLayout;
    outer->addLayout(m_grid, 1);
    clear(tr("Open a folder to see its mean images."));
}

ImagePanel* MeanImageView::panel(const QString& key) const
{
    for (ImagePanel* p : m_panels) {
        if (p->objectName() == key)
            return p;
    }
    return nullptr;
}

void MeanImageView::removePanels()
{
    for (ImagePanel* p : m_panels)
        delete p;
    m_panels.clear();
}

void MeanImageView::clear(const QString& message)
{
    removePanels();
    m_message->setText(message);
}

void MeanImageView::setResult(const MeanImageResult& result)
{
    if (!result.complete) {
        clear(result.cancelled ? tr("Cancelled: the mean images were not computed for the whole "
                                    "folder, so none are shown.")
                               : tr("Mean images not computed: %1").arg(result.error));
        return;
    }
    removePanels();
    const float maxStd = maxStandardDeviation(result);
    auto addPanel = [&](const QString& key, int row, int column, const QString& caption,
                        const QImage& image, bool smooth, const QString& placeholder = QString(),
                        int rowSpan = 1) {
        auto* p = new ImagePanel(this);
        p->setObjectName(key);
        p->setCaption(caption);
        p->setSmooth(smooth);
        p->setImage(image);
        p->setPlaceholder(placeholder);
        m_grid->addWidget(p, row, column, rowSpan, 1);
        m_panels.push_back(p);
    };
    const int n = int(result.classes.size());
    for (int i = 0; i < n; ++i) {
        const ClassMeanImage& c = result.classes[size_t(i)];
        const QString none = tr("No readable images in this class");
        addPanel(QStringLiteral("mean:") + c.className, 0, i,
                 tr("Mean: %1 (%n image(s))", nullptr, c.count).arg(c.className),
                 matToQImage(meanDisplayImage(c.mean)), false, none);
        addPanel(QStringLiteral("std:") + c.className, 1, i,
                 tr("Std: %1 (white = %2)").arg(c.className).arg(double(maxStd), 0, 'f', 3),
                 matToQImage(stdDisplayImage(c.stddev, maxStd)), false, none);
    }
    const auto [a, b] = differencePair(result);
    const cv::Mat diff = meanDifference(result, a, b);
    if (!diff.empty()) {
        const QImage figure = renderDifferenceFigure(
            diff, symmetricScale(diff), 256,
            tr("%1 \u2212 %2 (mean of R, G, B)")
                .arg(result.classes[size_t(a)].className, result.classes[size_t(b)].className));
        addPanel(QStringLiteral("difference"), 0, n, tr("Difference of the class means"), figure,
                 true, QString(), 2);
    } else {
        addPanel(QStringLiteral("difference"), 0, n, tr("Difference of the class means"), QImage(),
                 true, tr("Needs two classes with images"), 2);
    }
    QString text =
        tr("%1 images averaged at %2 \u00d7 %2 pixels").arg(result.decoded).arg(result.size);
    if (!result.failed.isEmpty())
        text += tr("; %n unreadable image(s) skipped", nullptr, int(result.failed.size()));
    if (result.fromCache)
        text += tr(" (from the cache: the folder has not changed)");
    m_message->setText(text + QLatin1Char('.'));
}

} // namespace ml
