// Comparing two tensors elementwise in tests: the largest |a - b| / (1 + |b|). A NaN on both sides
// agrees; a NaN on one side only is infinitely far (so a tolerance check fails).
#pragma once
#include "tide/core/tensor.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <limits>

namespace tide::test {

inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    const double d = std::fabs(x[i] - y[i]) / (1.0 + std::fabs(y[i]));
    worst = std::max(worst, std::isnan(d) ? std::numeric_limits<double>::infinity() : d);
  }
  return worst;
}

}  // namespace tide::test
