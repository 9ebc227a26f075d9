#pragma once
// One CSV field as RFC 4180 writes it: shared by every CSV the application exports
// (classification tables, corrections, out-of-fold probabilities, table views).

#include <QString>

namespace ml {

/// `s` unchanged when it holds no comma, quote or line break; otherwise quoted, with
/// inner quotes doubled. Spreadsheet programs and parseRecords() read it back exactly.
QString csvField(const QString& s);

} // namespace ml
