// Small helpers shared by the core-layer tests: element-wise comparison of a tensor against
// reference values computed independently in double, and tensor construction shorthands.
#pragma once
#include "tide/core/ops.hpp"
#include "tide/core/tensor.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace tide::test {

// Relative tolerance that fits a dtype's precision for results of a few rounded operations.
inline double tol_for(DType t) { return t == DType::f32 ? 2e-6 : 1e-14; }

// Values 0.5, 1.5, ... reshaped: distinct and exactly representable in f32.
inline Tensor iota(const Shape& shape, DType dtype = DType::f32, double start = 0.5, double step = 1.0) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + step * static_cast<double>(i);
  return Tensor::from_vector(v, shape, dtype);
}

// True when a and b agree to |a - b| <= atol + rtol |b| (NaN matches NaN, inf matches same inf).
inline bool close(double a, double b, double rtol, double atol = 0.0) {
  if (std::isnan(b)) return std::isnan(a);
  if (std::isinf(b)) return a == b;
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

// Checks every element; reports the first few mismatches with their index.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double rtol,
                         double atol = 0.0) {
  const std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == expected.size());
  int reported = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!close(got[i], expected[i], rtol, atol) && reported < 5) {
      ++reported;
      CHECK_MESSAGE(false, "element " << i << ": got " << got[i] << ", expected " << expected[i]);
    }
  }
  CHECK(reported == 0);
}

inline void check_exact(const Tensor& t, const std::vector<double>& expected) {
  check_values(t, expected, 0.0, 0.0);
}

// Row-major multi-index for a flat index into `shape`.
inline std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(shape.rank()));
  for (int i = shape.rank() - 1; i >= 0; --i) {
    idx[i] = shape[i] ? flat % shape[i] : 0;
    flat = shape[i] ? flat / shape[i] : 0;
  }
  return idx;
}
inline std::int64_t ravel(const std::vector<std::int64_t>& idx, const Shape& shape) {
  std::int64_t flat = 0;
  for (int i = 0; i < shape.rank(); ++i) flat = flat * shape[i] + idx[i];
  return flat;
}

// Message of the tide::Error thrown by fn ("" if none was thrown).
template <class Fn> std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Requires that fn throws tide::Error and that its message contains every fragment.
template <class Fn> void check_error(Fn&& fn, std::initializer_list<const char*> fragments) {
  CHECK_THROWS_AS(fn(), Error);
  const std::string msg = error_message(fn);
  INFO("message: ", msg);
  for (const char* f : fragments) CHECK_MESSAGE(msg.find(f) != std::string::npos, "missing \"" << f << "\"");
}

}  // namespace tide::test
