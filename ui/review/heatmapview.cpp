#include "heatmapview.h"

#include "gradcam.h"
#include "heatmapimage.h"
#include "imageio.h"
#include "matconvert.h"
#include "torchthreads.h"

#include <QCheckBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QSlider>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ml {

HeatmapCanvas::HeatmapCanvas(QWidget* parent) : QWidget(parent)
{
    setMinimumSize(160, 160);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setAccessibleName(tr("Cell with heatmap"));
}

void HeatmapCanvas::setCell(const QImage& cell)
{
    m_cell = cell;
    m_message.clear();
    recompose();
}

void HeatmapCanvas::setHeatmap(const cv::Mat& heatmap)
{
    m_heatmap = heatmap;
    recompose();
}

void HeatmapCanvas::setOpacity(double opacity)
{
    m_opacity = opacity;
    recompose();
}

void HeatmapCanvas::setMessage(const QString& message)
{
    m_message = message;
    update();
}

QImage HeatmapCanvas::composed() const
{
    return m_composed;
}

void HeatmapCanvas::recompose()
{
    // Blending a ~150 px cell takes well under a millisecond: fine on the GUI thread.
    m_composed = m_heatmap.empty() ? m_cell : heatmapOverlay(m_cell, m_heatmap, m_opacity);
    update();
}

void HeatmapCanvas::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    if (!m_message.isEmpty() || m_composed.isNull()) {
        p.setPen(palette().color(QPalette::Text));
        p.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, m_message);
        return;
    }
    const QSize s = m_composed.size().scaled(size(), Qt::KeepAspectRatio);
    const QRect target(QPoint((width() - s.width()) / 2, (height() - s.height()) / 2), s);
    // Smooth scaling: the cells are ~130 px and shown 3-4x larger.
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(target, m_composed);
}

HeatmapView::HeatmapView(QWidget* parent)
    : QWidget(parent), m_canvas(new HeatmapCanvas(this)),
      m_opacity(new QSlider(Qt::Horizontal, this)), m_enabled(new QCheckBox(tr("&Heatmap"), this)),
      m_caption(new QLabel(this))
{
    m_opacity->setRange(0, 100);
    m_opacity->setValue(50);
    m_opacity->setAccessibleName(tr("Heatmap opacity"));
    m_opacity->setToolTip(tr("Heatmap opacity"));
    m_enabled->setChecked(true);
    m_enabled->setToolTip(tr("Show where the model found its evidence (Grad-CAM on the last "
                             "convolution layer; occlusion for TorchScript models)"));
    m_caption->setWordWrap(true);
    m_caption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    connect(m_opacity, &QSlider::valueChanged, this,
            [this](int v) { m_canvas->setOpacity(v / 100.0); });
    connect(m_enabled, &QCheckBox::toggled, this, [this](bool on) {
        if (!on) {
            m_canvas->setHeatmap({});
            m_caption->clear();
        } else if (!m_path.isEmpty()) {
            start();
        }
        m_opacity->setEnabled(on);
    });
    connect(&m_watcher, &QFutureWatcher<Result>::finished, this, &HeatmapView::onFinished);

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_enabled);
    controls->addWidget(new QLabel(tr("Opacity:"), this));
    controls->addWidget(m_opacity, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_canvas, 1);
    layout->addLayout(controls);
    layout->addWidget(m_caption);
}

HeatmapView::~HeatmapView()
{
    m_watcher.waitForFinished();
}

bool HeatmapView::heatmapEnabled() const
{
    return m_enabled->isChecked();
}

void HeatmapView::setHeatmapEnabled(bool on)
{
    m_enabled->setChecked(on);
}

void HeatmapView::showCell(const QString& path, const Classifier& classifier, double threshold)
{
    m_path = path;
    m_classifier = classifier;
    m_threshold = threshold;
    start();
}

void HeatmapView::clear()
{
    m_path.clear();
    m_canvas->setCell({});
    m_canvas->setHeatmap({});
    m_canvas->setMessage(QString());
    m_caption->clear();
}

void HeatmapView::start()
{
    if (m_watcher.isRunning()) {
        // One job at a time (inference is not cancellable mid-way); the latest request runs
        // when the current one finishes, requests in between are dropped.
        m_pending = true;
        return;
    }
    m_pending = false;
    if (m_canvas->composed().isNull())
        m_canvas->setMessage(tr("Loading ..."));
    m_caption->setText(m_enabled->isChecked() ? tr("Computing the heatmap ...") : QString());
    const QString path = m_path;
    const Classifier classifier = m_classifier;
    const bool explain = m_enabled->isChecked() && classifier.isLoaded();
    ExplainOptions options;
    options.threshold = m_threshold;
    m_watcher.setFuture(QtConcurrent::run([path, classifier, explain, options] {
        Result r;
        r.path = path;
        const DecodedImage d = decodeImage(path);
        if (!d.ok()) {
            r.error = d.error;
            return r;
        }
        r.cell = matToQImage(d.bgr);
        if (explain) {
            setTorchThreads(1); // leave a core to the GUI
            const Explanation e = explainFile(classifier, path, options);
            if (e.ok()) {
                r.heatmap = e.heatmap;
                r.caption =
                    QObject::tr("%1 on %2: evidence for %3; P(Parasitized) = %4")
                        .arg(e.method == ExplainMethod::GradCam ? QStringLiteral("Grad-CAM")
                                                                : QStringLiteral("Occlusion"),
                             e.layer,
                             e.targetClass == 0 ? QStringLiteral("Parasitized")
                                                : QStringLiteral("Uninfected"))
                        .arg(double(e.probability), 0, 'f', 3);
            } else {
                r.caption = QObject::tr("No heatmap: %1").arg(e.error);
            }
        }
        return r;
    }));
}

void HeatmapView::onFinished()
{
    const Result r = m_watcher.result();
    if (m_pending || r.path != m_path) {
        start(); // a newer cell was asked for meanwhile
        return;
    }
    if (!r.error.isEmpty()) {
        m_canvas->setCell({});
        m_canvas->setMessage(tr("Cannot show %1:\n%2").arg(QFileInfo(r.path).fileName(), r.error));
        m_caption->clear();
    } else {
        m_canvas->setOpacity(m_opacity->value() / 100.0);
        m_canvas->setCell(r.cell);
        m_canvas->setHeatmap(m_enabled->isChecked() ? r.heatmap : cv::Mat());
        m_caption->setText(r.caption);
    }
    Q_EMIT cellShown(r.path, r.error);
}

} // namespace ml
