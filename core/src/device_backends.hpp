// Optional device backends, created on first use. Each build links one definition: the CUDA
// backend's (cuda/cuda_api.cpp) or the stand-in for builds without it (cuda_off.cpp).
#pragma once
#include "tide/core/backend.hpp"
#include <string>

namespace tide::detail {
// The CUDA backend, or nullptr with `reason` saying why there is none.
Backend* cuda_backend(std::string& reason);
}  // namespace tide::detail
