#include "explorepage.h"

#include "hsvhistogramplot.h"
#include "imageio.h"
#include "imageops.h"
#include "imagepanel.h"
#include "matconvert.h"
#include "meanimageview.h"
#include "preprocess.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPixmap>
#include <QProgressBar>
#include <QPromise>
#include <QPushButton>
#include <QRandomGenerator>
#include <QScrollArea>
#include <QSpinBox>
#include <QTabWidget>
#include <QThread>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <limits>

namespace ml {

namespace {

QProgressBar* makeProgressBar(QWidget* parent)
{
    auto* bar = new QProgressBar(parent);
    bar->setTextVisible(true);
    bar->setMinimumWidth(200);
    bar->setVisible(false);
    return bar;
}

} // namespace

ExplorePage::ExplorePage(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("exploreTabs"));
    m_tabs->addTab(buildMeanTab(), tr("Mean images"));
    m_tabs->addTab(buildHsvTab(), tr("HSV"));
    m_tabs->addTab(buildBlurTab(), tr("Gaussian blur"));
    m_tabs->addTab(buildGridTab(), tr("Grid && augmentation"));
    layout->addWidget(m_tabs);

    connect(&m_meanWatcher, &QFutureWatcher<MeanImageResult>::finished, this,
            &ExplorePage::onMeanFinished);
    connect(&m_meanWatcher, &QFutureWatcher<MeanImageResult>::progressRangeChanged, m_meanProgress,
            &QProgressBar::setRange);
    connect(&m_meanWatcher, &QFutureWatcher<MeanImageResult>::progressValueChanged, m_meanProgress,
            &QProgressBar::setValue);
    connect(&m_histWatcher, &QFutureWatcher<HsvHistogramResult>::finished, this,
            &ExplorePage::onHistogramsFinished);
    connect(&m_histWatcher, &QFutureWatcher<HsvHistogramResult>::progressRangeChanged,
            m_histProgress, &QProgressBar::setRange);
    connect(&m_histWatcher, &QFutureWatcher<HsvHistogramResult>::progressValueChanged,
            m_histProgress, &QProgressBar::setValue);
    connect(&m_sampleWatcher, &QFutureWatcher<SampleViews>::finished, this,
            &ExplorePage::onSampleFinished);
    connect(&m_gridWatcher, &QFutureWatcher<GridResult>::finished, this,
            &ExplorePage::onGridFinished);
    setDataset(nullptr);
}

ExplorePage::~ExplorePage()
{
    // The jobs hold their own shared_ptr to the dataset and cancel flag; waiting keeps
    // them from finishing into a destroyed page. Each checks its flag between images.
    if (m_meanCancelFlag)
        *m_meanCancelFlag = true;
    if (m_histCancelFlag)
        *m_histCancelFlag = true;
    m_meanWatcher.waitForFinished();
    m_histWatcher.waitForFinished();
    m_sampleWatcher.waitForFinished();
    m_gridWatcher.waitForFinished();
}

// ---------------------------------------------------------------------------------------
// Building the tabs

QWidget* ExplorePage::buildMeanTab()
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Image size:"), tab));
    m_meanSize = new QSpinBox(tab);
    m_meanSize->setObjectName(QStringLiteral("meanSize"));
    m_meanSize->setRange(8, 256);
    m_meanSize->setValue(64);
    m_meanSize->setSuffix(tr(" px"));
    m_meanSize->setToolTip(tr("Every image is resized to this square size (the model's input "
                              "size) before it is averaged."));
    bar->addWidget(m_meanSize);
    m_meanCompute = new QPushButton(tr("Compute"), tab);
    m_meanCompute->setObjectName(QStringLiteral("meanCompute"));
    bar->addWidget(m_meanCompute);
    m_meanProgress = makeProgressBar(tab);
    m_meanProgress->setObjectName(QStringLiteral("meanProgress"));
    bar->addWidget(m_meanProgress);
    m_meanCancel = new QPushButton(tr("Cancel"), tab);
    m_meanCancel->setObjectName(QStringLiteral("meanCancel"));
    m_meanCancel->setEnabled(false);
    bar->addWidget(m_meanCancel);
    m_meanStatus = new QLabel(tab);
    m_meanStatus->setObjectName(QStringLiteral("meanStatus"));
    bar->addWidget(m_meanStatus, 1);
    layout->addLayout(bar);
    m_meanView = new MeanImageView(tab);
    m_meanView->setObjectName(QStringLiteral("meanView"));
    layout->addWidget(m_meanView, 1);
    connect(m_meanCompute, &QPushButton::clicked, this, &ExplorePage::computeMeanImages);
    connect(m_meanCancel, &QPushButton::clicked, this, &ExplorePage::cancelMeanImages);
    return tab;
}

QWidget* ExplorePage::buildSampleBar(QSpinBox*& spin)
{
    auto* bar = new QWidget;
    auto* layout = new QHBoxLayout(bar);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("Image:"), bar));
    spin = new QSpinBox(bar);
    spin->setRange(1, 1);
    spin->setToolTip(tr("Number of the image in the folder (class, then file name order)."));
    layout->addWidget(spin);
    auto* random = new QPushButton(tr("Random image"), bar);
    layout->addWidget(random);
    layout->addStretch(1);
    connect(spin, &QSpinBox::valueChanged, this, [this](int v) { setSampleIndex(v - 1); });
    connect(random, &QPushButton::clicked, this, [this] {
        if (m_dataset && !m_dataset->images.isEmpty())
            setSampleIndex(
                int(QRandomGenerator::global()->bounded(quint32(m_dataset->images.size()))));
    });
    return bar;
}

QWidget* ExplorePage::buildHsvTab()
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->addWidget(buildSampleBar(m_hsvSampleSpin));
    m_hsvSampleSpin->setObjectName(QStringLiteral("hsvSample"));
    auto* row = new QHBoxLayout;
    m_hsvOriginal = new ImagePanel(tab);
    m_hsvHue = new ImagePanel(tab);
    m_hsvSaturation = new ImagePanel(tab);
    m_hsvValue = new ImagePanel(tab);
    m_hsvOriginal->setObjectName(QStringLiteral("hsvOriginal"));
    m_hsvHue->setObjectName(QStringLiteral("hsvHue"));
    m_hsvSaturation->setObjectName(QStringLiteral("hsvSaturation"));
    m_hsvValue->setObjectName(QStringLiteral("hsvValue"));
    m_hsvHue->setToolTip(tr("Hue in a cyclic colour map (red = 0\u00b0 = 360\u00b0). Pixels "
                            "without a hue (black background, grey) are black."));
    for (ImagePanel* p : {m_hsvOriginal, m_hsvHue, m_hsvSaturation, m_hsvValue}) {
        p->setSmooth(false);
        row->addWidget(p);
    }
    m_hsvHue->setCaption(tr("Hue (cyclic colour map)"));
    m_hsvSaturation->setCaption(tr("Saturation"));
    m_hsvValue->setCaption(tr("Value"));
    layout->addLayout(row, 2);
    // Legend of the cyclic hue map: the hue planes and the grid's HSV mode use it.
    auto* legend = new QHBoxLayout;
    legend->addStretch(1);
    legend->addWidget(new QLabel(tr("Hue colour map: 0\u00b0"), tab));
    cv::Mat ramp(1, 180, CV_8UC1);
    for (int h = 0; h < 180; ++h)
        ramp.at<uchar>(0, h) = uchar(h);
    auto* bar = new QLabel(tab);
    bar->setPixmap(QPixmap::fromImage(matToQImage(hueColourMap(ramp)).scaled(360, 12)));
    legend->addWidget(bar);
    legend->addWidget(new QLabel(tr("360\u00b0 (black: no hue)"), tab));
    legend->addStretch(1);
    layout->addLayout(legend);

    auto* histBar = new QHBoxLayout;
    histBar->addWidget(new QLabel(tr("Per-class histograms over the folder:"), tab));
    m_histCompute = new QPushButton(tr("Compute"), tab);
    m_histCompute->setObjectName(QStringLiteral("histCompute"));
    histBar->addWidget(m_histCompute);
    m_histProgress = makeProgressBar(tab);
    m_histProgress->setObjectName(QStringLiteral("histProgress"));
    histBar->addWidget(m_histProgress);
    m_histCancel = new QPushButton(tr("Cancel"), tab);
    m_histCancel->setObjectName(QStringLiteral("histCancel"));
    m_histCancel->setEnabled(false);
    histBar->addWidget(m_histCancel);
    m_histStatus = new QLabel(tab);
    m_histStatus->setObjectName(QStringLiteral("histStatus"));
    histBar->addWidget(m_histStatus, 1);
    layout->addLayout(histBar);
    m_histPlot = new HsvHistogramPlot(tab);
    m_histPlot->setObjectName(QStringLiteral("histPlot"));
    layout->addWidget(m_histPlot, 3);
    connect(m_histCompute, &QPushButton::clicked, this, &ExplorePage::computeHistograms);
    connect(m_histCancel, &QPushButton::clicked, this, &ExplorePage::cancelHistograms);
    return tab;
}

QWidget* ExplorePage::buildBlurTab()
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->addWidget(buildSampleBar(m_blurSampleSpin));
    m_blurSampleSpin->setObjectName(QStringLiteral("blurSample"));
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Kernel:"), tab));
    m_blurKernel = new QSpinBox(tab);
    m_blurKernel->setObjectName(QStringLiteral("blurKernel"));
    m_blurKernel->setRange(1, 31);
    m_blurKernel->setSingleStep(2); // odd sizes only: 1, 3, 5, ...
    m_blurKernel->setValue(m_kernel);
    m_blurKernel->setToolTip(tr("Side of the square Gaussian kernel (odd; the study used 5)."));
    controls->addWidget(m_blurKernel);
    controls->addWidget(new QLabel(tr("Sigma:"), tab));
    m_blurSigma = new QDoubleSpinBox(tab);
    m_blurSigma->setObjectName(QStringLiteral("blurSigma"));
    m_blurSigma->setRange(0.0, 20.0);
    m_blurSigma->setSingleStep(0.25);
    m_blurSigma->setDecimals(2);
    m_blurSigma->setSpecialValueText(tr("auto (from kernel)"));
    m_blurSigma->setValue(m_sigma);
    controls->addWidget(m_blurSigma);
    controls->addStretch(1);
    layout->addLayout(controls);
    auto* row = new QHBoxLayout;
    m_blurOriginal = new ImagePanel(tab);
    m_blurBlurred = new ImagePanel(tab);
    m_blurOriginal->setObjectName(QStringLiteral("blurOriginal"));
    m_blurBlurred->setObjectName(QStringLiteral("blurBlurred"));
    row->addWidget(m_blurOriginal);
    row->addWidget(m_blurBlurred);
    layout->addLayout(row, 1);

    // Even values typed by hand are rounded up, as oddKernelSize() does in core.
    connect(m_blurKernel, &QSpinBox::valueChanged, this,
            [this](int k) { setBlur(oddKernelSize(k), m_sigma); });
    connect(m_blurSigma, &QDoubleSpinBox::valueChanged, this,
            [this](double s) { setBlur(m_kernel, s); });
    return tab;
}

QWidget* ExplorePage::buildGridTab()
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Mode:"), tab));
    m_gridMode = new QComboBox(tab);
    m_gridMode->setObjectName(QStringLiteral("gridMode"));
    m_gridMode->addItem(tr("RGB"), gridModeName(GridMode::Rgb));
    m_gridMode->addItem(tr("HSV (hue)"), gridModeName(GridMode::Hsv));
    m_gridMode->addItem(tr("Gaussian blur"), gridModeName(GridMode::Blur));
    m_gridMode->addItem(tr("Augmentation preview"), gridModeName(GridMode::Augment));
    controls->addWidget(m_gridMode);
    m_gridSize = new QComboBox(tab);
    m_gridSize->setObjectName(QStringLiteral("gridSize"));
    m_gridSize->addItem(tr("3 \u00d7 3"), 3);
    m_gridSize->addItem(tr("6 \u00d7 6"), 6);
    controls->addWidget(m_gridSize);
    controls->addWidget(new QLabel(tr("Seed:"), tab));
    m_gridSeed = new QSpinBox(tab);
    m_gridSeed->setObjectName(QStringLiteral("gridSeed"));
    m_gridSeed->setRange(0, std::numeric_limits<int>::max());
    m_gridSeed->setValue(1);
    controls->addWidget(m_gridSeed);
    m_gridFixedSeed = new QCheckBox(tr("Fixed seed"), tab);
    m_gridFixedSeed->setObjectName(QStringLiteral("gridFixedSeed"));
    m_gridFixedSeed->setToolTip(tr("Keep this seed (same images, same augmentations) when the "
                                   "folder changes; re-roll is off."));
    controls->addWidget(m_gridFixedSeed);
    m_gridModelView = new QCheckBox(tr("What the model sees"), tab);
    m_gridModelView->setObjectName(QStringLiteral("gridModelView"));
    m_gridModelView->setToolTip(tr("Augmentation preview: beside each augmented cell, the same "
                                   "cell as the active model receives it (resized to its input "
                                   "and after its own input normalisation)"));
    controls->addWidget(m_gridModelView);
    m_gridReroll = new QPushButton(tr("Re-roll"), tab);
    m_gridReroll->setObjectName(QStringLiteral("gridReroll"));
    m_gridReroll->setToolTip(tr("New random seed: other images and, in augmentation mode, new "
                                "random flips, brightness and contrast."));
    controls->addWidget(m_gridReroll);
    controls->addWidget(new QLabel(tr("Kernel:"), tab));
    m_gridKernel = new QSpinBox(tab);
    m_gridKernel->setObjectName(QStringLiteral("gridKernel"));
    m_gridKernel->setRange(1, 31);
    m_gridKernel->setSingleStep(2);
    m_gridKernel->setValue(m_kernel);
    controls->addWidget(m_gridKernel);
    controls->addWidget(new QLabel(tr("Sigma:"), tab));
    m_gridSigma = new QDoubleSpinBox(tab);
    m_gridSigma->setObjectName(QStringLiteral("gridSigma"));
    m_gridSigma->setRange(0.0, 20.0);
    m_gridSigma->setSingleStep(0.25);
    m_gridSigma->setSpecialValueText(tr("auto"));
    m_gridSigma->setValue(m_sigma);
    controls->addWidget(m_gridSigma);
    controls->addStretch(1);
    layout->addLayout(controls);
    m_gridCommand = new QLabel(tab);
    m_gridCommand->setObjectName(QStringLiteral("gridCommand"));
    m_gridCommand->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_gridCommand->setWordWrap(true);
    layout->addWidget(m_gridCommand);
    m_gridPanel = new ImagePanel(tab);
    m_gridPanel->setObjectName(QStringLiteral("gridPanel"));
    m_gridPanel->setSmooth(true);
    layout->addWidget(m_gridPanel, 1);

    connect(m_gridMode, &QComboBox::currentIndexChanged, this, [this] {
        updateGridControls();
        requestGrid();
    });
    connect(m_gridSize, &QComboBox::currentIndexChanged, this, &ExplorePage::requestGrid);
    connect(m_gridSeed, &QSpinBox::valueChanged, this, &ExplorePage::requestGrid);
    connect(m_gridFixedSeed, &QCheckBox::toggled, this, &ExplorePage::updateGridControls);
    connect(m_gridModelView, &QCheckBox::toggled, this, &ExplorePage::requestGrid);
    connect(m_gridReroll, &QPushButton::clicked, this, &ExplorePage::reroll);
    connect(m_gridKernel, &QSpinBox::valueChanged, this,
            [this](int k) { setBlur(oddKernelSize(k), m_sigma); });
    connect(m_gridSigma, &QDoubleSpinBox::valueChanged, this,
            [this](double s) { setBlur(m_kernel, s); });
    updateGridControls();
    return tab;
}

// ---------------------------------------------------------------------------------------
// Dataset

void ExplorePage::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = std::move(dataset);
    ++m_generation;
    const int count = m_dataset ? int(m_dataset->images.size()) : 0;
    for (QSpinBox* spin : {m_hsvSampleSpin, m_blurSampleSpin}) {
        const QSignalBlocker block(spin);
        spin->setRange(1, std::max(1, count));
        spin->setValue(1);
        spin->setEnabled(count > 0);
    }
    m_sampleIndex = 0;
    const bool usable = count > 0;
    m_meanCompute->setEnabled(usable);
    m_histCompute->setEnabled(usable);
    m_startPending = false;
    if (!usable) {
        const QString message = !m_dataset                    ? tr("Open a folder to explore it.")
                                : !m_dataset->error.isEmpty() ? m_dataset->error
                                                              : tr("This folder has no images.");
        cancelMeanImages();
        cancelHistograms();
        m_meanView->clear(message);
        m_meanStatus->clear();
        m_histPlot->clear(message);
        m_histStatus->clear();
        for (ImagePanel* p : {m_hsvOriginal, m_hsvHue, m_hsvSaturation, m_hsvValue, m_blurOriginal,
                              m_blurBlurred, m_gridPanel})
            p->clear(message);
        m_gridCommand->clear();
        return;
    }
    if (!m_gridFixedSeed->isChecked()) {
        const QSignalBlocker block(m_gridSeed);
        m_gridSeed->setValue(int(QRandomGenerator::global()->bounded(1, 1000000)));
    }
    // The old folder's passes would only compete for the cores.
    cancelMeanImages();
    cancelHistograms();
    m_meanView->clear(tr("The mean images are computed when this page is shown."));
    m_meanStatus->clear();
    m_histPlot->clear(tr("Histograms are computed after the mean images."));
    m_histStatus->clear();
    // Folder-wide work waits until the page is shown: on 2 cores it would otherwise slow
    // the browser's thumbnails while nobody looks at these views.
    m_startPending = true;
    if (isVisible())
        startPendingWork();
}

void ExplorePage::startPendingWork()
{
    if (!m_startPending)
        return;
    m_startPending = false;
    computeMeanImages();
    requestSample();
    requestGrid();
}

void ExplorePage::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    startPendingWork();
}

// ---------------------------------------------------------------------------------------
// Mean images

void ExplorePage::computeMeanImages()
{
    if (!m_dataset || m_dataset->images.isEmpty())
        return;
    if (m_meanWatcher.isRunning()) {
        // Start again (new size or folder) once the running job has stopped.
        m_meanRestart = true;
        if (m_meanCancelFlag)
            *m_meanCancelFlag = true;
        return;
    }
    m_meanRestart = false;
    m_meanCancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_meanGeneration = m_generation;
    MeanImageOptions options;
    options.size = m_meanSize->value();
    options.threads = QThread::idealThreadCount();
    auto dataset = m_dataset;
    auto cancel = m_meanCancelFlag;
    m_meanView->clear(
        tr("Computing the mean images of %n image(s)\u2026", nullptr, int(dataset->images.size())));
    m_meanStatus->setText(tr("Decoding and averaging\u2026"));
    m_meanProgress->setRange(0, int(dataset->images.size()));
    m_meanProgress->setValue(0);
    m_meanProgress->setVisible(true);
    m_meanCancel->setEnabled(true);
    m_meanWatcher.setFuture(
        QtConcurrent::run([dataset, cancel, options](QPromise<MeanImageResult>& promise) mutable {
            promise.setProgressRange(0, int(dataset->images.size()));
            options.cancel = cancel.get();
            options.progress = [&promise](int done, int) { promise.setProgressValue(done); };
            promise.addResult(ml::computeMeanImages(*dataset, options));
        }));
}

void ExplorePage::cancelMeanImages()
{
    m_meanRestart = false;
    if (m_meanCancelFlag)
        *m_meanCancelFlag = true;
}

void ExplorePage::onMeanFinished()
{
    m_meanCancel->setEnabled(false);
    m_meanProgress->setVisible(false);
    if (m_meanRestart) {
        // A newer request (other folder or size) is waiting: this result is stale.
        m_meanRestart = false;
        computeMeanImages();
        return;
    }
    if (m_meanGeneration != m_generation)
        return; // an older folder's (cancelled) run; the new folder starts when shown
    const MeanImageResult result =
        m_meanWatcher.future().resultCount() > 0 ? m_meanWatcher.result() : MeanImageResult{};
    m_meanView->setResult(result);
    if (result.complete) {
        m_meanStatus->setText(result.fromCache ? tr("Done (cached).") : tr("Done."));
    } else if (result.cancelled) {
        m_meanStatus->setText(tr("Cancelled after %n image(s).", nullptr, result.decoded));
    } else {
        m_meanStatus->setText(tr("Failed: %1").arg(result.error));
    }
    Q_EMIT meanImagesFinished(result.complete);
    // Histograms next (one folder pass at a time keeps 2 cores usable for the GUI).
    if (result.complete && m_histGeneration != m_generation)
        computeHistograms();
}

// ---------------------------------------------------------------------------------------
// HSV histograms

void ExplorePage::computeHistograms()
{
    if (!m_dataset || m_dataset->images.isEmpty())
        return;
    if (m_histWatcher.isRunning()) {
        m_histRestart = true;
        if (m_histCancelFlag)
            *m_histCancelFlag = true;
        return;
    }
    m_histRestart = false;
    m_histCancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_histGeneration = m_generation;
    HsvHistogramOptions options;
    options.threads = QThread::idealThreadCount();
    auto dataset = m_dataset;
    auto cancel = m_histCancelFlag;
    m_histPlot->clear(tr("Counting hue, saturation and value of every pixel\u2026"));
    m_histStatus->setText(tr("Decoding\u2026"));
    m_histProgress->setRange(0, int(dataset->images.size()));
    m_histProgress->setValue(0);
    m_histProgress->setVisible(true);
    m_histCancel->setEnabled(true);
    m_histWatcher.setFuture(QtConcurrent::run(
        [dataset, cancel, options](QPromise<HsvHistogramResult>& promise) mutable {
            promise.setProgressRange(0, int(dataset->images.size()));
            options.cancel = cancel.get();
            options.progress = [&promise](int done, int) { promise.setProgressValue(done); };
            promise.addResult(ml::computeHsvHistograms(*dataset, options));
        }));
}

void ExplorePage::cancelHistograms()
{
    m_histRestart = false;
    if (m_histCancelFlag)
        *m_histCancelFlag = true;
}

void ExplorePage::onHistogramsFinished()
{
    m_histCancel->setEnabled(false);
    m_histProgress->setVisible(false);
    if (m_histRestart) {
        m_histRestart = false;
        computeHistograms();
        return;
    }
    if (m_histGeneration != m_generation)
        return; // the folder changed; its mean images will start the histograms again
    const HsvHistogramResult result =
        m_histWatcher.future().resultCount() > 0 ? m_histWatcher.result() : HsvHistogramResult{};
    m_histPlot->setResult(result);
    if (result.complete) {
        QString text =
            tr("%n image(s); black background pixels (V = 0) not counted", nullptr, result.decoded);
        if (!result.failed.isEmpty())
            text += tr("; %n unreadable image(s) skipped", nullptr, int(result.failed.size()));
        m_histStatus->setText(text + (result.fromCache ? tr(" (cached).") : tr(".")));
    } else {
        m_histStatus->setText(result.cancelled ? tr("Cancelled.")
                                               : tr("Failed: %1").arg(result.error));
    }
    Q_EMIT histogramsFinished(result.complete);
}

// ---------------------------------------------------------------------------------------
// One sample image: HSV planes and blur

void ExplorePage::setSampleIndex(int index)
{
    if (!m_dataset || index < 0 || index >= m_dataset->images.size() || index == m_sampleIndex)
        return;
    m_sampleIndex = index;
    for (QSpinBox* spin : {m_hsvSampleSpin, m_blurSampleSpin}) {
        const QSignalBlocker block(spin);
        spin->setValue(index + 1);
    }
    requestSample();
}

void ExplorePage::setBlur(int kernel, double sigma)
{
    if (kernel == m_kernel && sigma == m_sigma)
        return;
    m_kernel = kernel;
    m_sigma = sigma;
    for (QSpinBox* spin : {m_blurKernel, m_gridKernel}) {
        const QSignalBlocker block(spin);
        spin->setValue(kernel);
    }
    for (QDoubleSpinBox* spin : {m_blurSigma, m_gridSigma}) {
        const QSignalBlocker block(spin);
        spin->setValue(sigma);
    }
    requestSample();
    if (m_gridMode->currentData().toString() == gridModeName(GridMode::Blur))
        requestGrid();
}

void ExplorePage::requestSample()
{
    if (!m_dataset || m_dataset->images.isEmpty())
        return;
    if (m_sampleWatcher.isRunning()) {
        m_samplePending = true; // coalesce: only the latest request runs next
        return;
    }
    m_samplePending = false;
    m_sampleGeneration = m_generation;
    auto dataset = m_dataset;
    const int index = m_sampleIndex;
    const int kernel = m_kernel;
    const double sigma = m_sigma;
    m_sampleWatcher.setFuture(QtConcurrent::run([dataset, index, kernel, sigma] {
        SampleViews v;
        const ImageEntry& e = dataset->images.at(index);
        v.caption = QStringLiteral("%1 \u00b7 %2").arg(dataset->className(e.label), e.relativePath);
        const DecodedImage d = decodeImage(dataset->absolutePath(index));
        if (!d.ok()) {
            v.error = d.error;
            return v;
        }
        const HsvPlanes planes = toHsvPlanes(d.bgr);
        v.original = matToQImage(d.bgr);
        v.hue = matToQImage(hueImage(d.bgr));
        v.saturation = matToQImage(planes.saturation);
        v.value = matToQImage(planes.value);
        v.blurred = matToQImage(gaussianBlur(d.bgr, kernel, sigma));
        return v;
    }));
}

void ExplorePage::onSampleFinished()
{
    if (m_samplePending || m_sampleGeneration != m_generation) {
        requestSample();
        return;
    }
    const SampleViews v = m_sampleWatcher.result();
    const QString unreadable = tr("Unreadable image: %1").arg(v.error);
    auto show = [&](ImagePanel* p, const QImage& img) {
        if (v.error.isEmpty())
            p->setImage(img);
        else
            p->clear(unreadable);
    };
    m_hsvOriginal->setCaption(v.caption);
    show(m_hsvOriginal, v.original);
    show(m_hsvHue, v.hue);
    show(m_hsvSaturation, v.saturation);
    show(m_hsvValue, v.value);
    m_blurOriginal->setCaption(tr("Original: %1").arg(v.caption));
    show(m_blurOriginal, v.original);
    m_blurBlurred->setCaption(
        tr("Gaussian blur %1 \u00d7 %1, sigma %2")
            .arg(m_kernel)
            .arg(m_sigma > 0 ? QString::number(m_sigma, 'g', 3) : tr("auto")));
    show(m_blurBlurred, v.blurred);
    Q_EMIT sampleShown();
}

// ---------------------------------------------------------------------------------------
// Grid

GridOptions ExplorePage::currentGridOptions() const
{
    GridOptions o;
    o.mode = gridModeFromName(m_gridMode->currentData().toString()).value_or(GridMode::Rgb);
    o.size = m_gridSize->currentData().toInt();
    o.seed = quint32(m_gridSeed->value());
    o.kernelSize = m_kernel;
    o.sigma = m_sigma;
    if (o.mode == GridMode::Augment && m_gridModelView->isChecked()) {
        // The model's input of each augmented cell: resized as for inference, then the model's
        // own normalisation. Classifier copies share the network; modelInput() is pure.
        Classifier classifier = m_classifier;
        const bool embedded = !m_classifierSet;
        o.modelView = [classifier, embedded](const cv::Mat& bgr8) mutable {
            if (embedded && !classifier.isLoaded() && Classifier::hasEmbeddedModel())
                classifier.loadEmbedded();
            return classifier.modelInput(preprocessImage(bgr8));
        };
    }
    return o;
}

void ExplorePage::setClassifier(const Classifier& classifier)
{
    m_classifier = classifier;
    m_classifierSet = true;
    if (m_gridModelView->isChecked() &&
        m_gridMode->currentData().toString() == gridModeName(GridMode::Augment))
        requestGrid();
}

void ExplorePage::updateGridControls()
{
    const bool blur = m_gridMode->currentData().toString() == gridModeName(GridMode::Blur);
    m_gridKernel->setEnabled(blur);
    m_gridSigma->setEnabled(blur);
    m_gridModelView->setEnabled(m_gridMode->currentData().toString() ==
                                gridModeName(GridMode::Augment));
    m_gridReroll->setEnabled(!m_gridFixedSeed->isChecked());
}

void ExplorePage::reroll()
{
    if (m_gridFixedSeed->isChecked())
        return;
    int seed = m_gridSeed->value();
    while (seed == m_gridSeed->value())
        seed = int(QRandomGenerator::global()->bounded(1, 1000000));
    m_gridSeed->setValue(seed); // valueChanged -> requestGrid()
}

void ExplorePage::requestGrid()
{
    if (!m_dataset || m_dataset->images.isEmpty())
        return;
    if (m_gridWatcher.isRunning()) {
        m_gridPending = true;
        return;
    }
    m_gridPending = false;
    m_gridGeneration = m_generation;
    const GridOptions options = currentGridOptions();
    QString command = QStringLiteral("malarialens-cli grid \"%1\" --mode %2 --size %3 --seed %4")
                          .arg(m_dataset->root, gridModeName(options.mode))
                          .arg(options.size)
                          .arg(options.seed);
    if (options.mode == GridMode::Blur)
        command +=
            QStringLiteral(" --kernel %1 --sigma %2").arg(options.kernelSize).arg(options.sigma);
    m_gridCommand->setText(
        options.modelView
            ? tr("Same grid, without the \"model sees\" column, from the command line: %1 "
                 "--out grid.png")
                  .arg(command)
            : tr("Same grid from the command line: %1 --out grid.png").arg(command));
    auto dataset = m_dataset;
    m_gridWatcher.setFuture(
        QtConcurrent::run([dataset, options] { return renderGrid(*dataset, options); }));
}

void ExplorePage::onGridFinished()
{
    if (m_gridPending || m_gridGeneration != m_generation) {
        requestGrid();
        return;
    }
    const GridResult r = m_gridWatcher.result();
    if (r.ok())
        m_gridPanel->setImage(r.image);
    else
        m_gridPanel->clear(tr("No grid: %1").arg(r.error));
    Q_EMIT gridShown();
}

} // namespace ml
