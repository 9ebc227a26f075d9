#pragma once
// glibc's allocator and the network's batch buffers.
//
// A forward pass of 32-256 cells allocates and frees tensors of tens of MB. glibc serves
// blocks above its mmap threshold (dynamic, at most 32 MB) with mmap and returns them with
// munmap, so every batch faults its buffers in again page by page. Measured on `classify`
// over the 14,015 NIH cells (2026-12-02, 2 cores): 1.54 million minor page faults and 3-4 s
// of system time in a run of about 37 CPU-seconds; with the threshold at 64 MB, 56,000 faults
// and 0.5 s (docs/BENCHMARKS.md, "Allocator").

namespace ml {

/// Makes glibc keep blocks up to 64 MB in its heap and not give freed memory back to the
/// system below 256 MB of free top, so the network's batch buffers are reused instead of
/// mapped and faulted in again on every batch. Call once at the start of main(), before
/// threads start. Does nothing on other C libraries.
void keepBatchBuffersInTheHeap();

} // namespace ml
