// Helpers shared by the compiled-plan tests (test_plan.cpp, test_plan_passes.cpp): smooth test
// values and an element-wise comparison that names the worst element.
#pragma once
#include "tide/core/tensor.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <vector>

namespace tide::test {

inline Tensor seq(const Shape& s, double scale, double shift, DType dt) {
  std::vector<double> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.7 * static_cast<double>(i) + shift);
  return Tensor::from_vector(v, s, dt);
}

inline void check_equal(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  const auto g = got.to_vector(), w = want.to_vector();
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    double d = std::fabs(g[i] - w[i]) / (1.0 + std::fabs(w[i]));
    if (std::isnan(d) && !(std::isnan(g[i]) && std::isnan(w[i]))) d = INFINITY;  // NaN on one side only
    if (d > worst) worst = d, at = i;
  }
  INFO("worst element " << at << ": got " << g[at] << ", want " << w[at]);
  CHECK(worst <= tol);
}

}  // namespace tide::test
