#pragma once
// A cell image, large, with its explanation heatmap over it and an opacity slider. The
// decoding and the explanation (Grad-CAM or occlusion) run in the background.

#include "classifier.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

#include <opencv2/core/mat.hpp>

class QCheckBox;
class QLabel;
class QSlider;

namespace ml {

/// Paints the cell scaled to fit (aspect kept) and the heatmap blended over it.
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
    QSize sizeHint() const override { return {420, 420}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    void recompose();
    QImage m_cell, m_composed;
    cv::Mat m_heatmap;
    double m_opacity = 0.5;
    QString m_message;
};

/// The canvas, an opacity slider, a "heatmap" switch and a caption (method, layer,
/// probability). Owns its background job; a new showCell() makes a running one stale.
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
    HeatmapCanvas* canvas() const { return m_canvas; }
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
        cv::Mat heatmap;
        QString caption;
        QString error;
    };
    void start();
    void onFinished();

    HeatmapCanvas* m_canvas;
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
