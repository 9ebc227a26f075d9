#include "clicommand.h"

namespace ml::cli {

int runStats(const QStringList& args);

// Keep one line per command; new commands add their line here.
const std::vector<Command>& commands()
{
    static const std::vector<Command> list = {
        {"stats", "Summarise a folder: counts per class and patient, sizes, skipped files", runStats},
    };
    return list;
}

} // namespace ml::cli
