#include "architecture.h"

#include "modelslog.h"

Q_LOGGING_CATEGORY(lcModels, "malarialens.models")

namespace ml {

QString architectureName(Architecture arch)
{
    switch (arch) {
    case Architecture::Base:
        return QStringLiteral("base");
    case Architecture::Gap:
        return QStringLiteral("gap");
    case Architecture::Se:
        return QStringLiteral("se");
    }
    return {};
}

std::optional<Architecture> parseArchitecture(const QString& name)
{
    const QString n = name.trimmed().toLower();
    for (Architecture a : {Architecture::Base, Architecture::Gap, Architecture::Se}) {
        if (n == architectureName(a))
            return a;
    }
    return std::nullopt;
}

QStringList architectureNames()
{
    return {QStringLiteral("base"), QStringLiteral("gap"), QStringLiteral("se")};
}

} // namespace ml
