#include "calibrationlabels.h"

#include "correctionstore.h"
#include "fieldannotations.h"

#include <QCryptographicHash>
#include <QFileInfo>
#include <QHash>
#include <QRegularExpression>

namespace ml {

namespace {

const QString kCellMark = QStringLiteral("#cell=");

QString boxText(const cv::Rect& b)
{
    return QStringLiteral("%1,%2,%3,%4").arg(b.x).arg(b.y).arg(b.width).arg(b.height);
}

QString cellKey(const QString& field, const cv::Rect& b)
{
    return field + kCellMark + boxText(b);
}

// RFC 4180 fields of one line (quotes doubled inside quoted fields).
QStringList splitCsvLine(const QString& line)
{
    QStringList out;
    QString cur;
    bool quoted = false;
    for (int i = 0; i < line.size(); ++i) {
        const QChar ch = line.at(i);
        if (quoted) {
            if (ch == QLatin1Char('"') && i + 1 < line.size() && line.at(i + 1) == '"') {
                cur += ch;
                ++i;
            } else if (ch == QLatin1Char('"')) {
                quoted = false;
            } else {
                cur += ch;
            }
        } else if (ch == QLatin1Char('"')) {
            quoted = true;
        } else if (ch == QLatin1Char(',')) {
            out << cur;
            cur.clear();
        } else {
            cur += ch;
        }
    }
    out << cur;
    return out;
}

QString csvQuoted(const QString& s)
{
    if (!s.contains(QLatin1Char(',')) && !s.contains(QLatin1Char('"')) &&
        !s.contains(QLatin1Char('\n')))
        return s;
    return QLatin1Char('"') + QString(s).replace(QLatin1String("\""), QLatin1String("\"\"")) +
           QLatin1Char('"');
}

// "Parasitized", "Uninfected", unsureLabel(), notACellLabel(), "" (no label) or nullopt (not
// a label).
std::optional<QString> normalisedLabel(const QString& text)
{
    const QString t = text.trimmed().toLower();
    if (t.isEmpty())
        return QString();
    if (t == QLatin1String("parasitized") || t == QLatin1String("p") || t == QLatin1String("1"))
        return QStringLiteral("Parasitized");
    if (t == QLatin1String("uninfected") || t == QLatin1String("u") || t == QLatin1String("0"))
        return QStringLiteral("Uninfected");
    if (t == unsureLabel() || t == QLatin1String("x"))
        return unsureLabel();
    if (t == notACellLabel() || t == QLatin1String("n"))
        return notACellLabel();
    return std::nullopt;
}

} // namespace

int cellLabelValue(const QString& label)
{
    return label == QLatin1String("Parasitized")  ? 0
           : label == QLatin1String("Uninfected") ? 1
                                                  : -1;
}

Correction cellLabelCorrection(const CellLabel& label, const QString& fieldSha256,
                               const QString& oldLabel, const QString& lab)
{
    Correction c;
    const QString fieldPath = label.fieldPath.isEmpty() ? label.field : label.fieldPath;
    c.path = cellKey(fieldPath, label.box);
    c.sha256 = QString::fromLatin1(
        QCryptographicHash::hash((fieldSha256 + kCellMark + boxText(label.box)).toUtf8(),
                                 QCryptographicHash::Sha256)
            .toHex());
    c.bytes = 0;
    c.oldLabel = oldLabel;
    c.newLabel = label.label;
    c.time = label.time;
    c.reviewer = label.reviewer;
    c.note = QStringLiteral("calibration lab '%1': cell of %2 at %3,%4 %5x%6")
                 .arg(lab, label.field)
                 .arg(label.box.x)
                 .arg(label.box.y)
                 .arg(label.box.width)
                 .arg(label.box.height);
    return c;
}

std::optional<CellLabel> cellLabelFromCorrection(const Correction& row)
{
    const int at = row.path.lastIndexOf(kCellMark);
    if (at < 0)
        return std::nullopt;
    const QStringList parts = row.path.mid(at + kCellMark.size()).split(QLatin1Char(','));
    if (parts.size() != 4)
        return std::nullopt;
    int v[4];
    for (int i = 0; i < 4; ++i) {
        bool ok = false;
        v[i] = parts[i].toInt(&ok);
        if (!ok)
            return std::nullopt;
    }
    CellLabel l;
    l.fieldPath = row.path.left(at);
    l.field = QFileInfo(l.fieldPath).fileName();
    l.box = cv::Rect(v[0], v[1], v[2], v[3]);
    l.label = row.newLabel;
    l.reviewer = row.reviewer;
    l.time = row.time;
    return l;
}

QList<CellLabel> latestCellLabels(const QList<Correction>& rows)
{
    QHash<QString, int> at; // cell key -> index in `out`
    QList<CellLabel> out;
    for (const Correction& row : rows) {
        const std::optional<CellLabel> l = cellLabelFromCorrection(row);
        if (!l)
            continue;
        const QString key = cellKey(l->field, l->box);
        const auto it = at.constFind(key);
        if (it == at.constEnd()) {
            at.insert(key, int(out.size()));
            out << *l;
        } else {
            out[*it] = *l;
        }
    }
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](const CellLabel& l) { return l.label == unlabeledCellLabel(); }),
              out.end());
    return out;
}

std::optional<QList<CellLabel>> cellLabelsFromDatabase(const QString& path, QString* error)
{
    if (!QFileInfo::exists(path)) {
        *error = QStringLiteral("%1 does not exist").arg(path);
        return std::nullopt;
    }
    CorrectionStore store;
    if (!store.open(path)) {
        *error = store.errorString();
        return std::nullopt;
    }
    const QList<Correction> rows = store.all();
    if (rows.isEmpty() && !store.errorString().isEmpty() && !store.isReadOnly()) {
        *error = store.errorString();
        return std::nullopt;
    }
    return latestCellLabels(rows);
}

std::optional<QList<CellLabel>> cellLabelsFromCsv(const QByteArray& csv, QString* error)
{
    const QStringList lines =
        QString::fromUtf8(csv).split(QRegularExpression(QStringLiteral("\r?\n")));
    if (lines.isEmpty() || lines.first().trimmed().isEmpty()) {
        *error = QStringLiteral("empty CSV");
        return std::nullopt;
    }
    const QStringList header = splitCsvLine(lines.first().trimmed());
    int col[6];
    const char* names[6] = {"field", "x", "y", "w", "h", "label"};
    for (int i = 0; i < 6; ++i) {
        col[i] = int(header.indexOf(QString::fromLatin1(names[i])));
        if (col[i] < 0) {
            *error = QStringLiteral("line 1: the header has no '%1' column (expected the "
                                    "segment --csv columns plus 'label')")
                         .arg(QString::fromLatin1(names[i]));
            return std::nullopt;
        }
    }
    QList<CellLabel> out;
    for (int n = 1; n < lines.size(); ++n) {
        if (lines[n].trimmed().isEmpty())
            continue;
        const QStringList f = splitCsvLine(lines[n]);
        const auto bad = [&](const QString& why) {
            *error = QStringLiteral("line %1: %2").arg(n + 1).arg(why);
            return std::nullopt;
        };
        if (f.size() < header.size())
            return bad(
                QStringLiteral("%1 columns, the header has %2").arg(f.size()).arg(header.size()));
        int v[4];
        for (int i = 0; i < 4; ++i) {
            bool ok = false;
            v[i] = f[col[i + 1]].trimmed().toInt(&ok);
            if (!ok)
                return bad(QStringLiteral("'%1' is not a whole number").arg(f[col[i + 1]]));
        }
        const std::optional<QString> label = normalisedLabel(f[col[5]]);
        if (!label)
            return bad(QStringLiteral("unknown label '%1' (Parasitized, Uninfected, unsure, "
                                      "not_a_cell or empty)")
                           .arg(f[col[5]]));
        if (label->isEmpty())
            continue;
        CellLabel l;
        l.field = QFileInfo(f[col[0]].trimmed()).fileName();
        l.box = cv::Rect(v[0], v[1], v[2], v[3]);
        l.label = *label;
        out << l;
    }
    return out;
}

int applyCellLabels(std::vector<CalibrationCell>& cells, const QList<CellLabel>& labels)
{
    QHash<QString, std::vector<size_t>> byField;
    for (size_t i = 0; i < cells.size(); ++i)
        byField[cells[i].field].push_back(i);
    int found = 0;
    for (const CellLabel& l : labels) {
        const auto it = byField.constFind(l.field);
        if (it == byField.constEnd())
            continue;
        // The exact box, else the best overlap of at least 0.5.
        size_t best = cells.size();
        double bestIoU = 0.5 - 1e-9;
        for (size_t i : *it) {
            const double iou = cells[i].box == l.box ? 2.0 : boxIou(cells[i].box, l.box);
            if (iou > bestIoU) {
                bestIoU = iou;
                best = i;
            }
        }
        if (best == cells.size())
            continue;
        cells[best].label = cellLabelValue(l.label);
        cells[best].notACell = l.label == notACellLabel();
        ++found;
    }
    return found;
}

QByteArray cellLabelsCsv(const QList<CellLabel>& labels)
{
    QString out = QStringLiteral("field,x,y,w,h,edge,probability_parasitized,called,label\n");
    for (const CellLabel& l : labels)
        out += QStringLiteral("%1,%2,%3,%4,%5,,,,%6\n")
                   .arg(csvQuoted(l.field))
                   .arg(l.box.x)
                   .arg(l.box.y)
                   .arg(l.box.width)
                   .arg(l.box.height)
                   .arg(csvQuoted(l.label));
    return out.toUtf8();
}

} // namespace ml
