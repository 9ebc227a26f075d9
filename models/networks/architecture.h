#pragma once
// The network architectures of the reference study and the fixed facts every model shares.
// No torch here: this header is safe for ui/ and app/.

#include <QString>
#include <QStringList>

#include <optional>

namespace ml {

/// The study's three CNNs (see networks.h for the layers).
enum class Architecture {
    Base, ///< 3 valid convs + dense 64: 646,338 parameters
    Gap,  ///< same-padded convs, global average pooling: 110,018 parameters
    Se,   ///< gap + BatchNorm, a fourth conv, squeeze-and-excite: 270,674 trainable parameters
};

/// Side of the square RGB input every model takes (64x64x3, values in [0,1]).
constexpr int kModelInputSize = 64;
/// Output index of the positive class. Classes are the folder names sorted alphabetically,
/// so for the NIH layout 0 = Parasitized, 1 = Uninfected.
constexpr int kParasitizedClass = 0;
/// Number of outputs of every model.
constexpr int kModelClassCount = 2;

/// "base", "gap" or "se".
QString architectureName(Architecture arch);
/// Parses "base" / "gap" / "se" (case-insensitive); nullopt for anything else.
std::optional<Architecture> parseArchitecture(const QString& name);
/// Every architecture name, for help texts.
QStringList architectureNames();
/// Trainable parameter count of a freshly built network of `arch` (builds one; ~ms).
qint64 trainableParameterCount(Architecture arch);

} // namespace ml
