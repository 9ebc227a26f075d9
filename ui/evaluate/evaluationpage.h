#pragma once

#include "metrics.h"

#include <QWidget>

#include <memory>
#include <vector>

class QCustomPlot;
class QCPItemText;
class QCPColorMap;
class QCPGraph;
class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSlider;
class QTableWidget;

namespace ml {

class ModelSession;
class ThumbnailService;
class ClassificationResults;

/// Evaluation of the active model on a labelled folder: confusion matrix heatmap (click a
/// cell for a gallery of exactly those images), classification report, ROC and
/// precision-recall curves with the operating point, a threshold slider that updates every
/// view live, calibration (reliability diagram, ECE) and the patient level. All figures come
/// from core/metrics, as in `malarialens-cli evaluate`.
class EvaluationPage : public QWidget
{
    Q_OBJECT
public:
    /// Neither argument is owned.
    EvaluationPage(ModelSession* session, ThumbnailService* thumbnails, QWidget* parent = nullptr);

    /// The evaluation shown (empty classNames before the first one).
    const Evaluation& evaluation() const { return m_eval; }
    /// Cells of the confusion matrix cell (row = true class, column = predicted), indices
    /// into the dataset.
    QList<int> imagesInCell(int trueClass, int predictedClass) const;
    /// Opens the gallery of one confusion matrix cell (what a click does).
    void openGallery(int trueClass, int predictedClass);

    QCustomPlot* matrixPlot() const { return m_matrix; }
    QCustomPlot* rocPlot() const { return m_roc; }
    QTableWidget* reportTable() const { return m_report; }
    QTableWidget* patientTable() const { return m_patients; }
    QSlider* thresholdSlider() const { return m_slider; }
    /// Restricts the evaluation to the validation split recorded in the active model's card
    /// (the held-out patients), when the open folder is the one the model was trained on.
    void setValidationSplitOnly(bool on);
    QCheckBox* validationSplitBox() const { return m_validationOnly; }

Q_SIGNALS:
    /// Every view shows the evaluation at the current threshold.
    void updated();

private:
    void rebuild();
    void applyThreshold(double threshold);
    void refreshViews();
    void drawMatrix();
    void drawCurves();
    void drawCalibration();
    void fillReport();
    void fillPatients();
    void onMatrixClick(QMouseEvent* event);

    ModelSession* m_session;
    ThumbnailService* m_thumbnails;
    std::vector<ScoredImage> m_cells;
    Evaluation m_eval;
    QLabel* m_status;
    QLabel* m_figures;
    QSlider* m_slider;
    QDoubleSpinBox* m_spin;
    QPushButton* m_save;
    QCheckBox* m_validationOnly;
    QCustomPlot* m_matrix;
    QCPColorMap* m_colorMap = nullptr;
    QList<QCPItemText*> m_matrixLabels;
    QCustomPlot* m_roc;
    QCustomPlot* m_pr;
    QCustomPlot* m_calibration;
    QTableWidget* m_report;
    QTableWidget* m_patients;
};

} // namespace ml
