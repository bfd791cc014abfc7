// Shared by the CUDA suites: the skip rule and CPU-vs-device comparisons.
#pragma once
#include "tide/core/cuda.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <string>

namespace tide::test {

// True (after a MESSAGE naming the reason) when no CUDA device can be used: the CUDA suites then
// report themselves skipped instead of failing on machines without a GPU.
inline bool no_gpu() {
  if (cuda::available()) return false;
  MESSAGE("CUDA test skipped: " << cuda::unavailable_reason());
  return true;
}

// max |a - b| / max(1, max |b|) over two tensors on any devices.
inline double relative_gap(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to(Device::cpu()).to_vector(), y = b.to(Device::cpu()).to_vector();
  double gap = 0, scale = 1;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) != std::isnan(y[i])) return INFINITY;
    if (std::isnan(x[i])) continue;
    if (std::isinf(x[i]) || std::isinf(y[i])) {
      if (x[i] != y[i]) return INFINITY;
      continue;
    }
    gap = std::max(gap, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return gap / scale;
}

}  // namespace tide::test
