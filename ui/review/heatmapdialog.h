#pragma once

#include "classifier.h"

#include <QDialog>

namespace ml {

class HeatmapView;

/// One cell with its explanation heatmap and opacity slider, in a window of its own: opened
/// from the evaluation galleries (double-click a cell). The heatmap is computed in the
/// background.
class HeatmapDialog : public QDialog
{
    Q_OBJECT
public:
    /// `classifier` is copied; the predicted class at `threshold` is explained.
    HeatmapDialog(const QString& path, const Classifier& classifier, double threshold,
                  QWidget* parent = nullptr);
    HeatmapView* view() const { return m_view; }

private:
    HeatmapView* m_view;
};

} // namespace ml
