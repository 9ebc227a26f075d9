#pragma once
// Thread budget of libtorch, without exposing torch headers.
//
// libtorch's intra-op (OpenMP) thread count is per calling thread and starts at 1 on these
// machines: every thread that runs a network must set its own budget first.

namespace ml {

/// Sets the intra-op thread count of libtorch *for the calling thread* (n < 1 -> 1).
void setTorchThreads(int n);
/// The intra-op thread count of the calling thread.
int torchThreads();
/// libtorch version string, e.g. "1.13.1".
const char* torchVersion();

} // namespace ml
