#pragma once
// A cell, large, in two panes side by side:
//  - "Original": the image file at its own resolution, smoothly scaled to the pane;
//  - "What the model sees": the model's actual input (preprocessImage(), then the model's own
//    input normalisation, Classifier::modelInput()), smoothly scaled, with the explanation
//    heatmap over it and an opacity slider.
// The heatmap is computed on the model's input, so it belongs over that image; the original
// stays unobscured beside it. Decoding, normalisation and the explanation (Grad-CAM or
// occlusion) run in the background.

#include "classifier.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

#include <opencv2/core/mat.hpp>

class QCheckBox;
class QLabel;
class QSlider;

namespace ml {

/// Paints the cell scaled to fit (aspect kept, Qt::SmoothTransformation) and the heatmap
/// blended over it.
class HeatmapCanvas : public QWidget
{
    Q_OBJECT
public:
    explicit HeatmapCanvas(QWidget* parent = nullptr);
    void setCell(const QImage& cell);
    void setHeatmap(const cv::Mat& heatmap); ///< empty: the cell alone
    void setOpacity(double opacity);
    void setMessage(const QString& message); ///< shown instead of the cell when not empty
    /// What is drawn (the cell with the heatmap at the current opacity), at the cell's size.
    QImage composed() const;
    /// The widget rectangle the image is drawn into (empty when there is none).
    QRect imageRect() const;
    QSize sizeHint() const override { return {320, 320}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    void recompose();
    QImage m_cell, m_composed;
    mutable QImage m_scaled; // m_composed smoothly scaled to the last imageRect()
    cv::Mat m_heatmap;
    double m_opacity = 0.5;
    QString m_message;
};

/// The two panes (original; what the model sees, with the heatmap), an opacity slider, a
/// "heatmap" switch and a caption (method, layer, probability). Owns its background job; a
/// new showCell() makes a running one stale.
class HeatmapView : public QWidget
{
    Q_OBJECT
public:
    explicit HeatmapView(QWidget* parent = nullptr);
    ~HeatmapView() override;

    /// Shows `path` and, when the heatmap switch is on, explains it with `classifier`
    /// (copied; the explanation targets the predicted class at `threshold`).
    void showCell(const QString& path, const Classifier& classifier, double threshold);
    void clear();
    bool heatmapEnabled() const;
    void setHeatmapEnabled(bool on);
    /// "What the model sees", with the heatmap.
    HeatmapCanvas* canvas() const { return m_canvas; }
    /// "Original": the cell image as stored, no heatmap.
    HeatmapCanvas* originalCanvas() const { return m_original; }
    /// The model input shown in canvas() before scaling and heatmap (kModelInputSize², RGB32);
    /// null when no model was loaded.
    QImage modelInputImage() const { return m_modelInput; }
    QSlider* opacitySlider() const { return m_opacity; }
    bool isBusy() const { return m_watcher.isRunning(); }

Q_SIGNALS:
    /// The cell (and its heatmap when enabled) is on screen; `error` when it failed.
    void cellShown(const QString& path, const QString& error);

private:
    struct Result
    {
        QString path;
        QImage cell;
        QImage seen;             // the model's input, kModelInputSize²
        bool normalised = false; // the model's normalisation changed it
        cv::Mat heatmap;
        QString caption;
        QString error;
    };
    void start();
    void onFinished();

    HeatmapCanvas* m_original;
    HeatmapCanvas* m_canvas;
    QLabel* m_originalTitle;
    QLabel* m_seenTitle;
    QImage m_modelInput;
    QSlider* m_opacity;
    QCheckBox* m_enabled;
    QLabel* m_caption;
    QFutureWatcher<Result> m_watcher;
    QString m_path;
    Classifier m_classifier;
    double m_threshold = 0.5;
    bool m_pending = false; // another request arrived while a job ran
};

} // namespace ml
