#pragma once

#include <QString>

namespace ml {

/// Patient/slide id from an NIH-style cell file name, or an empty string when the name
/// does not follow that scheme. `C33P1thinF_IMG_..._cell_179.png` -> `C33P1`,
/// `C1_thinF_IMG_..._cell_9.png` -> `C1`, `C100P61ThinF_...` -> `C100P61`,
/// `C59aP20thinF...` (letter after the C number) -> `C59aP20`.
QString patientIdFromFileName(const QString& fileName);

} // namespace ml
