#pragma once

#include <QWidget>

#include <vector>

class QGridLayout;
class QLabel;

namespace ml {

class ImagePanel;
struct MeanImageResult;

/// The per-class mean images side by side, the difference of the class means in a
/// diverging colour map with its scale (renderDifferenceFigure(), the CLI's figure), and
/// the per-class standard deviation on a common scale. Only complete results are shown:
/// anything else clears the view and shows a message. GUI thread only.
class MeanImageView : public QWidget
{
    Q_OBJECT
public:
    explicit MeanImageView(QWidget* parent = nullptr);

    /// Shows `result` (figures are drawn here; they are small: 64x64 per class by default).
    void setResult(const MeanImageResult& result);
    /// Removes every image and shows `message`.
    void clear(const QString& message);

    /// Panels currently shown, for tests: "mean:<class>", "std:<class>", "difference".
    ImagePanel* panel(const QString& key) const;

private:
    void removePanels();

    QGridLayout* m_grid;
    QLabel* m_message;
    std::vector<ImagePanel*> m_panels;
};

} // namespace ml
