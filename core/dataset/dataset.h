#pragma once
// The listing of one folder of cell images: what the browser shows and every later stage
// (statistics, exploratory views, inference, training, evaluation) reads.

#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace ml {

/// One image file of the folder. Paths are relative to Dataset::root.
struct ImageEntry
{
    QString relativePath;
    int label = -1;  ///< index into Dataset::classNames, -1 for an unlabeled folder
    QString patient; ///< patient/slide id (from the file name, else the folder)
    qint64 bytes = 0;
    /// A reviewer's correction replaced the folder's label (see core/labelcorrections.h);
    /// `label` is then the corrected one and `folderLabel` the folder's.
    bool corrected = false;
    int folderLabel = -1;
    /// The reviewer's latest decision is "unsure": the label stays, but training leaves the
    /// cell out (a doubtful label teaches the model nothing reliable).
    bool unsure = false;
    /// The named source (lab, folder) of the image when several labelled folders train one
    /// model (malarialens-cli train --source NAME=DIR, models/training/multisource.h);
    /// empty for a folder scanned on its own.
    QString source;
};

/// A file that was seen but cannot be used, with the reason shown to the user.
struct SkippedFile
{
    QString path; ///< relative to Dataset::root when inside it
    QString reason;
};

/// Where the patient ids came from.
enum class PatientSource { FileName, Folder, Mixed };

/// A scanned folder. Classes are the immediate subfolders, sorted alphabetically, as
/// Keras' image_dataset_from_directory does (so Parasitized = 0, Uninfected = 1); a folder
/// with images and no subfolders is unlabeled (classNames empty, every label -1).
struct Dataset
{
    QString root;               ///< absolute, canonical path of the folder
    QStringList classNames;     ///< empty for an unlabeled folder
    QList<ImageEntry> images;   ///< sorted by class, then relative path
    QList<SkippedFile> skipped; ///< found during the scan (empty, unreadable, loops ...)
    PatientSource patientSource = PatientSource::FileName;
    QString error;          ///< non-empty when the folder itself could not be read
    bool cancelled = false; ///< the scan was cancelled; the listing is partial
    /// Row ids (corrections database) of the reviewer corrections applied to the labels.
    QList<qint64> appliedCorrections;

    bool isLabelled() const { return !classNames.isEmpty(); }
    QString absolutePath(int index) const;
    /// Class name of an image, or "unlabeled".
    QString className(int label) const;
    /// Image count per class name (every class present, possibly 0).
    QMap<QString, int> countPerClass() const;
    /// Image count per patient id.
    QMap<QString, int> countPerPatient() const;
    /// Image count per patient and class: result[patient][label] (label -1 for unlabeled).
    QMap<QString, QMap<int, int>> countPerPatientAndClass() const;
};

} // namespace ml
