#pragma once
// The "Fields" page: whole thin-smear field images.
//
// Open one field (openField()) or a folder of fields from one slide (openFolder()). Each field
// is decoded, segmented (core/cellsegmenter.h) and its cells classified with the page's model
// (models/classifier.h) in the background (QtConcurrent::run + QFutureWatcher, with progress
// and Cancel); the GUI thread only renders results. The view colours every cell by its
// probability, hover/click shows the cell's crop (as the classifier saw it) and probability;
// the side panel gives counts and parasitemia with a Wilson 95 % interval; edge cells can be
// excluded; a folder gives a per-field table and the slide total.
//
// Cells to confirm: per field and per slide, the most suspicious cells (kCellsToConfirm, edge
// cells left out when they are excluded) open in a ConfirmCellsDialog; decisions go to the
// corrections database keyed by field and box (fieldCellKey()). A field or slide with a
// confirmed parasite is reported infected whatever the estimate (side panel, slide summary,
// the folder table and its CSV export).
//
// Model: setClassifier() (the main window passes its active model) or loadModel() (the
// Model... button); until then the embedded default model is loaded in the background on
// first use when the build has one, otherwise the page segments only and says so. A new model
// analyses the shown field and slide again, and each figure is corrected with the card of the
// model that counted it: never one model's counts with another's error rates.

#include "classifier.h"
#include "confirmcellsdialog.h"
#include "domaincheck.h"
#include "fieldanalysis.h"
#include "prevalence.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

#include <opencv2/core/mat.hpp>

class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace ml {

class FieldView;
class ProbabilityLegend;

/// Result of the background analysis of one field (internal to FieldPage, public for
/// QFuture's template).
struct FieldJob
{
    FieldResult result;
    cv::Mat image;         ///< decoded BGR, for crops
    QImage display;        ///< what the view shows (downscaled when very large)
    Classifier classifier; ///< the model used (loaded in the worker when it was not yet)
    std::vector<CellAppearance> appearances;    ///< per cell, for the domain check
    std::vector<FieldCellToConfirm> suspicious; ///< the cells to confirm (suspiciousCells())
};

/// One row of the folder summary (internal, public for QFuture's template).
struct FolderRow
{
    QString path;
    FieldCounts all;      ///< every cell
    FieldCounts interior; ///< edge cells excluded
    QString error;
    QStringList warnings;
    bool classified = false;                    ///< parasitized counts came from a model
    std::vector<CellAppearance> appearances;    ///< classified cells, for the slide's domain check
    std::vector<float> probabilities;           ///< the same cells' P(Parasitized)
    std::vector<FieldCellToConfirm> suspicious; ///< the field's cells to confirm
    Classifier model; ///< the model that classified it (not loaded when none did)
};

class FieldPage : public QWidget
{
    Q_OBJECT
public:
    explicit FieldPage(QWidget* parent = nullptr);
    /// Cancels running work and waits for it (workers check cancellation between batches).
    ~FieldPage() override;

    /// Analyses one field image in the background and shows it.
    void openField(const QString& path);
    /// Analyses every image of `dir` in the background and fills the slide summary.
    void openFolder(const QString& dir);
    /// Makes `classifier` the page's model (copies share the network) and analyses the shown
    /// field and slide again with it, so that every figure on the page is this model's.
    void setClassifier(const Classifier& classifier);
    /// Loads a model file in the background (the Model... button), then as setClassifier().
    /// A file that does not load leaves the model as it was and says why in the model line.
    void loadModel(const QString& path);
    /// Stops the running analyses (after their current batch).
    void cancel();
    bool isBusy() const;

    /// The field currently shown (empty when none); counts follow the edge checkbox.
    const FieldResult& currentResult() const { return m_current.result; }
    FieldCounts currentCounts() const;
    /// Slide total of the last folder (edge checkbox applied).
    FieldCounts folderCounts() const;
    /// The summary line of what was found: "104 cells classified; 12 clumps of touching cells
    /// (~45 cells) not classified" (rich text).
    static QString foundSummary(const FieldCounts& counts, bool classified);
    /// Where reviewers' confirmations go (empty: the user's corrections database, as the
    /// Review page).
    void setDatabasePath(const QString& path);
    /// Opens the gallery of the shown field's / the slide's most suspicious cells
    /// (window-modal, deleted on close; the page follows every decision). nullptr when
    /// nothing classified is shown (no field, no model, the slide still running).
    ConfirmCellsDialog* confirmFieldCells();
    ConfirmCellsDialog* confirmSlideCells();
    QPushButton* confirmFieldButton() const { return m_confirmField; }
    QPushButton* confirmSlideButton() const { return m_confirmSlide; }
    /// The decision for the shown field and for the slide (folder): the corrected estimate,
    /// overridden by a parasite a reviewer confirmed. Not decided without a classified field.
    InfectionDecision fieldDecision() const;
    InfectionDecision slideDecision() const;
    /// The folder table (one row per field; exported as CSV from its context menu).
    QTableWidget* folderTable() const { return m_folderTable; }
    /// The out-of-domain warning (hidden while the cells look like the training cells).
    QLabel* domainBanner() const { return m_domainBanner; }
    /// The domain verdict of the shown field, or of the slide once a folder ran.
    DomainVerdict domainVerdict() const;

Q_SIGNALS:
    /// A field finished (ok, failed or cancelled: see currentResult()).
    void fieldFinished(const QString& path);
    void folderFinished(const QString& dir);
    /// The user asked to calibrate the model for this lab (the button, or the domain
    /// banner's link); `folder` is the open folder of fields (empty when none).
    void calibrateRequested(const QString& folder);

private:
    void chooseField();
    void chooseFolder();
    void chooseModel();
    void onFieldFinished();
    void onFolderRows(int begin, int end);
    void onFolderFinished();
    void startFolder(const QString& dir);
    /// Analyses the field last asked for and the open slide again (after a model change).
    void reanalyse();
    /// The model behind the shown field's figures: the one that classified it, else the
    /// page's.
    const Classifier& fieldModel() const;
    /// The model behind the slide's figures: the one that classified its fields, else
    /// fieldModel().
    const Classifier& slideModel() const;
    void showCell(int index);
    void updateCounts();
    void updateFolderSummary();
    void updateBusy();
    void updateModelLabel();
    void updateDomainBanner();
    void connectSignals();
    FieldOptions makeOptions() const;
    /// Re-reads the reviewers' confirmed parasites per field and updates every figure.
    void reloadConfirmations();
    /// The shown field's / the slide's cells to confirm, edge checkbox applied.
    std::vector<FieldCellToConfirm> cellsToConfirm(bool slide) const;
    ConfirmCellsDialog* openConfirm(bool slide);
    /// Parasites confirmed in `fieldPath` (0 when none).
    Confirmations confirmedIn(const QString& fieldPath) const;
    /// Parasites confirmed in every field of the folder.
    Confirmations confirmedInSlide() const;
    /// The corrected parasitemia of `called` of `cells` with the error rates of `model` (the
    /// one that counted them); the reason in `error` when there are none.
    /// `countDesignEffect`: the count's spread between the fields it pools (estimatePrevalence()).
    PrevalenceEstimate corrected(int called, int cells, const Classifier& model,
                                 double countDesignEffect = 1.0) const;
    /// The folder's (slide's) corrected parasitemia, its fields' spread counted.
    PrevalenceEstimate slideCorrected() const;
    /// A folder row's counts, the edge checkbox applied.
    const FieldCounts& rowCounts(const FolderRow& r) const;

    FieldView* m_view = nullptr;
    ProbabilityLegend* m_legend = nullptr;
    QPushButton* m_openField = nullptr;
    QPushButton* m_openFolder = nullptr;
    QPushButton* m_model = nullptr;
    QPushButton* m_calibrate = nullptr;
    QPushButton* m_cancel = nullptr;
    QCheckBox* m_excludeEdge = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_modelLabel = nullptr;
    QLabel* m_fieldLabel = nullptr;
    QLabel* m_countsLabel = nullptr;
    QLabel* m_warningLabel = nullptr;
    QLabel* m_domainBanner = nullptr;
    QLabel* m_cropLabel = nullptr;
    QLabel* m_cellLabel = nullptr;
    QLabel* m_folderLabel = nullptr;
    QTableWidget* m_folderTable = nullptr;
    QPushButton* m_confirmField = nullptr;
    QPushButton* m_confirmSlide = nullptr;
    QString m_dbPath;
    QHash<QString, Confirmations> m_confirmed; ///< per field path

    Classifier m_classifier;
    QString m_modelError;
    QFutureWatcher<FieldJob> m_fieldWatcher;
    QFutureWatcher<FolderRow> m_folderWatcher;
    QFutureWatcher<Classifier> m_modelWatcher;
    // A job is awaited from its start until its finished handler has run on this thread. Not
    // the watchers' isRunning(): that turns false in the worker, before the result is taken,
    // and a caller told "not busy" in that gap would read the page's previous state.
    bool m_fieldAwaited = false;
    bool m_folderAwaited = false;
    bool m_modelAwaited = false;
    QString m_askedField;    ///< the field last asked for (running, pending or shown)
    QString m_pendingField;  ///< opened while another field was still running
    QString m_pendingFolder; ///< opened while another folder was still running
    QString m_folder;
    FieldJob m_current;
    std::vector<FolderRow> m_rows;
};

} // namespace ml
