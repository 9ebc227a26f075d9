#pragma once
// The user's trained models: one folder per finished training, in the user's data folder.
// No torch here (core): validating a model file is the caller's job (a loader callback).
//
// Layout under root() (default: QStandardPaths::AppDataLocation + "/models"):
//
//     registry.json                {"version": 1, "active": "<id>"|"embedded", "names": {id: name}}
//     <id>/model.pt                the model file (native or TorchScript)
//     <id>/model.json              its model card (same format as the trainer writes)
//     <id>/model.history.csv       its training history (may be missing for imports)
//     <id>.partial/, <id>.deleting/  transient: never listed, cleaned up by cleanStale()
//
// Every file is written with QSaveFile, and an entry appears only when its folder is renamed
// from <id>.partial to <id> after every file is complete, so a crash, `kill -9` or a full
// disk never leaves a half-written entry, and a failed add never touches another entry.
// Display names live in registry.json only: renaming never touches the model files.

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace ml {

/// Validation figures of a model as its card reports them (NaN when the card lacks one).
struct RegistryMetrics
{
    double cellAccuracy = qQNaN();
    double patientAccuracy = qQNaN();
    double sensitivity = qQNaN();
    double specificity = qQNaN();
    double auc = qQNaN();
    double worstPatientAccuracy = qQNaN();
    QString worstPatient;
    double maxHealthyShare = qQNaN(); ///< largest share called parasitized, healthy patient
    QString maxHealthyPatient;
    QString split; ///< "patient", "random" or empty
    int validationCells = 0;
    int epochsRun = 0;
    int bestEpoch = 0;

    /// Reads the figures of a model card (the trainer's "validation" and "training" keys).
    static RegistryMetrics fromCard(const QJsonObject& card);
};

/// One model of the registry.
struct RegistryEntry
{
    QString id;          ///< folder name, unique, stable (e.g. "20261129-101502-se")
    QString name;        ///< display name (registry.json, else derived from the card)
    QString folder;      ///< absolute folder of the entry
    QString modelPath;   ///< <folder>/model.pt
    QString cardPath;    ///< <folder>/model.json
    QString historyPath; ///< <folder>/model.history.csv (may not exist)
    QJsonObject card;    ///< empty when the card is missing or unreadable
    QString architecture;
    QDateTime created; ///< card "date", else the folder's time
    RegistryMetrics metrics;
    QString problem; ///< non-empty when the entry is damaged (model or card missing)

    bool isUsable() const { return problem.isEmpty(); }
};

/// Checks a model file before it is imported: returns false with a reason when the file
/// cannot be loaded; may fill `card` with the card the loader found (or made).
using ModelValidator =
    std::function<bool(const QString& modelPath, QJsonObject* card, QString* error)>;

/// The registry folder. A value class with no cache: every call reads the folder, so several
/// instances (pages, the training controller) on the same root always agree. Reads and
/// addEntry() with an empty name and importModel() are safe from any thread; whatever writes
/// registry.json (rename(), setActive(), remove(), addEntry() with a name) must be called
/// from one thread (the GUI thread).
class ModelRegistry
{
public:
    /// The id of the embedded default model in setActive()/activeId().
    static QString embeddedId() { return QStringLiteral("embedded"); }
    /// QStandardPaths::AppDataLocation + "/models".
    static QString defaultRoot();

    /// `root` empty = defaultRoot(). The folder is created on the first write.
    explicit ModelRegistry(const QString& root = QString());

    QString root() const { return m_root; }

    /// Every entry, newest first. Damaged entries are listed with `problem` set.
    QList<RegistryEntry> entries() const;
    /// The entry `id`, if it exists.
    std::optional<RegistryEntry> entry(const QString& id) const;

    /// Adds a finished training: writes the model bytes, card and history into a new entry.
    /// `name` (may be empty) becomes its display name. Returns the new entry, or nullopt with
    /// `error` ("<path>: <reason>") when the folder cannot be written (unwritable, disk full);
    /// then nothing of the new entry remains and no other entry is touched.
    std::optional<RegistryEntry> addEntry(const QByteArray& modelBytes, const QJsonObject& card,
                                          const QByteArray& historyCsv, const QString& name,
                                          QString* error);

    /// Imports a model file (and the card `<base>.json` and history `<base>.history.csv`
    /// beside it, when present). `validate` (may be empty) is called on the copy inside the
    /// registry before the entry appears; when it fails the copy is removed and `error` says
    /// why. A card returned by `validate` is written when the file came without one.
    /// Never writes registry.json (safe off the GUI thread): name it with rename() after.
    std::optional<RegistryEntry> importModel(const QString& modelPath,
                                             const ModelValidator& validate, QString* error);

    /// Copies the entry's model, card and history into `folder` as <base>.pt, <base>.json
    /// and <base>.history.csv (base = the display name made file-safe). Refuses to replace
    /// existing files unless `overwrite`. Returns the written model path, or empty + `error`.
    QString exportEntry(const QString& id, const QString& folder, bool overwrite,
                        QString* error) const;
    /// The model path exportEntry() would write (to ask before overwriting).
    QString exportPath(const QString& id, const QString& folder) const;

    /// Sets the display name (registry.json only; the files are untouched).
    bool rename(const QString& id, const QString& name, QString* error);
    /// Deletes the entry's folder. When it was the remembered active model, the embedded
    /// default becomes the remembered one.
    bool remove(const QString& id, QString* error);

    /// Remembers the active model: an entry id or embeddedId().
    bool setActive(const QString& id, QString* error);
    /// The remembered active model: an existing entry id, else embeddedId().
    QString activeId() const;

    /// Removes folders left by an interrupted add or delete (<id>.partial, <id>.deleting).
    /// Call when no other thread or process is adding (e.g. at application start).
    void cleanStale() const;

    /// Name a file-safe base for export ("se 29 Nov" -> "se_29_Nov").
    static QString fileSafe(const QString& name);

private:
    QJsonObject readIndex() const;
    bool writeIndex(const QJsonObject& index, QString* error) const;
    RegistryEntry readEntry(const QString& id) const;
    QString newId(const QString& arch) const;
    /// Creates the root and a fresh "<id>.partial" folder for a new entry (sets `id`);
    /// empty with `error` when a folder cannot be created.
    QString createStaging(const QString& arch, QString* id, QString* error) const;
    /// Renames a complete staging folder to its entry id (one rename: all or nothing).
    bool publishStaging(const QString& staging, const QString& id, QString* error) const;

    QString m_root;
};

} // namespace ml
