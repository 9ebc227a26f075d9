#include "allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ml {

void keepBatchBuffersInTheHeap()
{
#if defined(__GLIBC__)
    // Setting either disables glibc's dynamic adjustment of both, so both are set. Peak RSS
    // of classify stays under 300 MB with them (docs/BENCHMARKS.md).
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}

} // namespace ml
