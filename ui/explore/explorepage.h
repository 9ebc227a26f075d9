#pragma once

#include "classifier.h"
#include "gridrenderer.h"
#include "hsvhistogram.h"
#include "meanimage.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

#include <atomic>
#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace ml {

class HsvHistogramPlot;
class ImagePanel;
class MeanImageView;

/// The exploratory views of a folder, as tabs:
///  - Mean images: per-class mean and std images and the difference of the class means,
///    computed in the background (progress, cancel; cached per folder by core);
///  - HSV: one cell's hue (cyclic colour map), saturation and value, and the per-class
///    H/S/V histograms of the whole folder (background, progress, cancel);
///  - Blur: one cell original and Gaussian-blurred side by side (kernel, sigma);
///  - Grid: the labelled 3x3 / 6x6 grid in rgb, hsv, blur or augment mode with a seed,
///    re-roll and a fixed-seed option (renderGrid(), the same code as `malarialens-cli grid`);
///    in augment mode, "What the model sees" adds each augmented cell after the active model's
///    input normalisation beside it.
/// Every decode and computation runs on worker threads (QtConcurrent + QFutureWatcher);
/// results of a folder that is no longer shown are dropped. GUI thread only.
class ExplorePage : public QWidget
{
    Q_OBJECT
public:
    explicit ExplorePage(QWidget* parent = nullptr);
    /// Cancels running work and waits for it (each job stops within one image).
    ~ExplorePage() override;

    /// Shows `dataset` (nullptr clears the page). Once the page is visible (at once if it
    /// is), computes the mean images, then the HSV histograms, the sample views and the grid.
    /// The dataset is shared with the worker threads, read-only.
    void setDataset(std::shared_ptr<const Dataset> dataset);
    /// The active model: the augmentation grid's "What the model sees" column shows each
    /// augmented cell after this model's input normalisation (Classifier::modelInput()).
    /// Until one is set, the embedded default model is used when the build has one.
    void setClassifier(const Classifier& classifier);

Q_SIGNALS:
    /// A mean-image computation ended; `complete` false when cancelled or failed.
    void meanImagesFinished(bool complete);
    /// An HSV histogram computation ended.
    void histogramsFinished(bool complete);
    /// A grid was rendered and shown.
    void gridShown();
    /// The sample views (HSV planes, blur) of the current image were shown.
    void sampleShown();

public Q_SLOTS:
    /// (Re)computes the mean images at the size in the size box.
    void computeMeanImages();
    /// Stops the running mean-image computation; nothing partial is shown.
    void cancelMeanImages();
    void computeHistograms();
    void cancelHistograms();
    /// New seed (unless the seed is fixed) and a new grid.
    void reroll();

protected:
    void showEvent(QShowEvent* event) override;

private:
    /// What the HSV and blur tabs show of one image.
    struct SampleViews
    {
        QImage original, hue, saturation, value, blurred;
        QString caption;
        QString error;
    };

    QWidget* buildMeanTab();
    QWidget* buildHsvTab();
    QWidget* buildBlurTab();
    QWidget* buildGridTab();
    QWidget* buildSampleBar(QSpinBox*& spin);
    void setSampleIndex(int index);
    void setBlur(int kernel, double sigma);
    void requestSample();
    void requestGrid();
    void onMeanFinished();
    void onHistogramsFinished();
    void onSampleFinished();
    void onGridFinished();
    GridOptions currentGridOptions() const;
    void updateGridControls();
    /// Starts the work setDataset() deferred until the page is visible.
    void startPendingWork();

    std::shared_ptr<const Dataset> m_dataset;
    /// Bumped by setDataset(): results of an older folder are dropped.
    int m_generation = 0;
    /// setDataset() ran while hidden: start the folder's work on the next show.
    bool m_startPending = false;

    QTabWidget* m_tabs = nullptr;

    // Mean images
    QSpinBox* m_meanSize = nullptr;
    QPushButton* m_meanCompute = nullptr;
    QPushButton* m_meanCancel = nullptr;
    QProgressBar* m_meanProgress = nullptr;
    QLabel* m_meanStatus = nullptr;
    MeanImageView* m_meanView = nullptr;
    QFutureWatcher<MeanImageResult> m_meanWatcher;
    std::shared_ptr<std::atomic<bool>> m_meanCancelFlag;
    int m_meanGeneration = -1;
    bool m_meanRestart = false;

    // HSV
    QSpinBox* m_hsvSampleSpin = nullptr;
    ImagePanel* m_hsvOriginal = nullptr;
    ImagePanel* m_hsvHue = nullptr;
    ImagePanel* m_hsvSaturation = nullptr;
    ImagePanel* m_hsvValue = nullptr;
    HsvHistogramPlot* m_histPlot = nullptr;
    QPushButton* m_histCompute = nullptr;
    QPushButton* m_histCancel = nullptr;
    QProgressBar* m_histProgress = nullptr;
    QLabel* m_histStatus = nullptr;
    QFutureWatcher<HsvHistogramResult> m_histWatcher;
    std::shared_ptr<std::atomic<bool>> m_histCancelFlag;
    int m_histGeneration = -1;
    bool m_histRestart = false;

    // Blur
    QSpinBox* m_blurSampleSpin = nullptr;
    QSpinBox* m_blurKernel = nullptr;
    QDoubleSpinBox* m_blurSigma = nullptr;
    ImagePanel* m_blurOriginal = nullptr;
    ImagePanel* m_blurBlurred = nullptr;

    // One sample image shared by the HSV and blur tabs.
    int m_sampleIndex = 0;
    int m_kernel = 5;
    double m_sigma = 0.0;
    QFutureWatcher<SampleViews> m_sampleWatcher;
    int m_sampleGeneration = -1;
    bool m_samplePending = false;

    // Grid
    QComboBox* m_gridMode = nullptr;
    QComboBox* m_gridSize = nullptr;
    QSpinBox* m_gridSeed = nullptr;
    QCheckBox* m_gridFixedSeed = nullptr;
    QCheckBox* m_gridModelView = nullptr;
    Classifier m_classifier;
    bool m_classifierSet = false;
    QPushButton* m_gridReroll = nullptr;
    QSpinBox* m_gridKernel = nullptr;
    QDoubleSpinBox* m_gridSigma = nullptr;
    QLabel* m_gridCommand = nullptr;
    ImagePanel* m_gridPanel = nullptr;
    QFutureWatcher<GridResult> m_gridWatcher;
    int m_gridGeneration = -1;
    bool m_gridPending = false;
};

} // namespace ml
