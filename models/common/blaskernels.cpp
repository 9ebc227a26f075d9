#include "blaskernels.h"

#include <cstdlib>
#include <unistd.h>

namespace ml {

void ensureBlasKernels(char** argv)
{
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr)
        return;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    if (setenv("OPENBLAS_CORETYPE", "Haswell", 0) != 0)
        return;
    execv("/proc/self/exe", argv);
    // execv returns only on failure: go on with the kernels OpenBLAS chose.
#else
    (void)argv;
#endif
}

} // namespace ml
