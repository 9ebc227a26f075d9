#include "torchthreads.h"

#include <torch/torch.h>

namespace ml {

void setTorchThreads(int n)
{
    at::set_num_threads(n < 1 ? 1 : n);
}

int torchThreads()
{
    return at::get_num_threads();
}

const char* torchVersion()
{
    return TORCH_VERSION;
}

} // namespace ml
