#include "heatmapview.h"

#include "gradcam.h"
#include "heatmapimage.h"
#include "imageio.h"
#include "matconvert.h"
#include "preprocess.h"
#include "torchthreads.h"

#include <QCheckBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QSlider>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

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
    m_scaled = QImage();
    update();
}

QRect HeatmapCanvas::imageRect() const
{
    if (!m_message.isEmpty() || m_composed.isNull())
        return {};
    const QSize s = m_composed.size().scaled(size(), Qt::KeepAspectRatio);
    return QRect(QPoint((width() - s.width()) / 2, (height() - s.height()) / 2), s);
}

void HeatmapCanvas::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    const QRect target = imageRect();
    if (target.isEmpty()) {
        p.setPen(palette().color(QPalette::Text));
        p.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, m_message);
        return;
    }
    // Smooth scaling (the cells are ~130 px, the model's input 64 px, shown 3-6x larger): done
    // once per size and composition, not per paint.
    if (m_scaled.size() != target.size())
        m_scaled =
            m_composed.scaled(target.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    p.drawImage(target.topLeft(), m_scaled);
}

HeatmapView::HeatmapView(QWidget* parent)
    : QWidget(parent), m_original(new HeatmapCanvas(this)), m_canvas(new HeatmapCanvas(this)),
      m_originalTitle(new QLabel(tr("Original"), this)),
      m_seenTitle(new QLabel(tr("What the model sees"), this)),
      m_opacity(new QSlider(Qt::Horizontal, this)), m_enabled(new QCheckBox(tr("&Heatmap"), this)),
      m_caption(new QLabel(this))
{
    m_original->setAccessibleName(tr("Original cell"));
    m_canvas->setAccessibleName(tr("What the model sees, with heatmap"));
    for (QLabel* title : {m_originalTitle, m_seenTitle}) {
        title->setAlignment(Qt::AlignHCenter);
        title->setTextFormat(Qt::RichText);
    }
    m_originalTitle->setToolTip(tr("The image file as stored, smoothly scaled"));
    m_seenTitle->setToolTip(tr("The network's actual input: the cell resized to the model's "
                               "input size, then the model's own input normalisation"));
    m_opacity->setRange(0, 100);
    // The original is beside it, unobscured: the heatmap can be strong enough to read.
    m_opacity->setValue(45);
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

    auto* panes = new QGridLayout;
    panes->addWidget(m_originalTitle, 0, 0);
    panes->addWidget(m_seenTitle, 0, 1);
    panes->addWidget(m_original, 1, 0);
    panes->addWidget(m_canvas, 1, 1);
    panes->setColumnStretch(0, 1);
    panes->setColumnStretch(1, 1);
    panes->setRowStretch(1, 1);
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_enabled);
    controls->addWidget(new QLabel(tr("Opacity:"), this));
    controls->addWidget(m_opacity, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(panes, 1);
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
    m_modelInput = QImage();
    m_original->setCell({});
    m_original->setMessage(QString());
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
    if (m_canvas->composed().isNull()) {
        m_canvas->setMessage(tr("Loading ..."));
        m_original->setMessage(tr("Loading ..."));
    }
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
        // What the network receives: the resized cell after the model's own normalisation
        // (RGB float; matToQImage() reads 3-channel float as BGR).
        const cv::Mat input = preprocessImage(d.bgr);
        if (!input.empty()) {
            const cv::Mat seen = classifier.modelInput(input);
            r.normalised = seen.size() != input.size() || seen.type() != input.type() ||
                           cv::norm(seen, input, cv::NORM_INF) > 1e-6;
            cv::Mat seenBgr;
            cv::cvtColor(seen, seenBgr, cv::COLOR_RGB2BGR);
            r.seen = matToQImage(seenBgr).convertToFormat(QImage::Format_RGB32);
        }
        if (explain && !input.empty()) {
            setTorchThreads(1); // leave a core to the GUI
            const Explanation e = explainCell(classifier, input, options);
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
        m_modelInput = QImage();
        m_original->setCell({});
        m_canvas->setCell({});
        const QString message =
            tr("Cannot show %1:\n%2").arg(QFileInfo(r.path).fileName(), r.error);
        m_original->setMessage(message);
        m_canvas->setMessage(message);
        m_caption->clear();
    } else {
        m_modelInput = r.seen;
        m_original->setCell(r.cell);
        m_originalTitle->setText(
            tr("<b>Original</b> (%1 × %2 px)").arg(r.cell.width()).arg(r.cell.height()));
        m_seenTitle->setText(tr("<b>What the model sees</b> (%1 × %2 px, %3)")
                                 .arg(r.seen.width())
                                 .arg(r.seen.height())
                                 .arg(r.normalised ? tr("after the model's normalisation")
                                                   : tr("the model takes it as is")));
        m_canvas->setOpacity(m_opacity->value() / 100.0);
        m_canvas->setCell(r.seen);
        m_canvas->setHeatmap(m_enabled->isChecked() ? r.heatmap : cv::Mat());
        m_caption->setText(r.caption);
    }
    Q_EMIT cellShown(r.path, r.error);
}

} // namespace ml
