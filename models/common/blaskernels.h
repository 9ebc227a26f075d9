#pragma once
// OpenBLAS kernel choice on virtual machines.
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from the CPU model it reads with
// CPUID. Virtual machines often report a masked model ("Intel(R) Xeon(R) Processor"), and
// OpenBLAS then falls back to its "Prescott" kernels. Measured on this project's 2-core VMs
// (2026-12-01): with those kernels the SE block's small matrix products come out wrong now and
// then, the network's outputs in eval mode collapse to one class (tst_trainer trainsAndLearns:
// validation accuracy 0.5 instead of > 0.9, the same with the code of the previous release),
// and training oscillates. With OPENBLAS_CORETYPE=Haswell, or with the reference BLAS, the same
// test passes. OpenBLAS reads the variable when it is loaded, before main(), so the programs
// set it and re-execute themselves once.

namespace ml {

/// When OPENBLAS_CORETYPE is not set and the CPU has AVX2 and FMA, sets it to "Haswell" and
/// re-executes the program (/proc/self/exe) with the same arguments; returns normally when
/// nothing needs doing or the re-execution fails (the program then runs as before). Call
/// first thing in main(), before any thread starts.
void ensureBlasKernels(char** argv);

} // namespace ml
