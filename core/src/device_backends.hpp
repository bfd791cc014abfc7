// Optional device backends, created on first use. The CUDA one lives in a plugin that cuda_api.cpp
// loads then (cuda_loader.cpp); a build without it, or a machine without a GPU, gets the reason.
#pragma once
#include "tide/core/backend.hpp"
#include <string>

namespace tide::detail {
// The CUDA backend, or nullptr with `reason` saying why there is none.
Backend* cuda_backend(std::string& reason);
}  // namespace tide::detail
