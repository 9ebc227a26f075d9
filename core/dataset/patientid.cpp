#include "patientid.h"

#include <QRegularExpression>

namespace ml {

QString patientIdFromFileName(const QString& fileName)
{
    // Infected patients: C<digits>[letter]P<digits>; healthy ones: C<digits> followed by
    // a non-digit (so "C12" is not read from "C123..."); anchored at the start of the name.
    static const QRegularExpression infected(QStringLiteral("^(C\\d+[A-Za-z]?P\\d+)"));
    static const QRegularExpression healthy(QStringLiteral("^(C\\d+)(?=[^0-9]|$)"));
    auto m = infected.match(fileName);
    if (m.hasMatch())
        return m.captured(1);
    m = healthy.match(fileName);
    if (m.hasMatch())
        return m.captured(1);
    return {};
}

} // namespace ml
