// The one rule every backend follows for an f32 tensor times a scalar factor (mul_scalar).
#pragma once
#include "tide/core/op_table.hpp"
#include <cmath>
#include <limits>

namespace tide {

// A factor outside float's normal range would be inf (x * 1e39 of 1e-30: inf, and 0 * inf NaN) or
// lose digits (clip_grad_norm's 5e-41 on exploding gradients) as a float: such a product is formed
// in double and rounded once, past float's range to inf as the float product would be.
inline bool float_factor_inexact(Op op, double p0) {
  const double m = std::fabs(p0);
  return op == Op::mul_scalar && m != 0.0 && std::isfinite(m) &&
         !(m >= std::numeric_limits<float>::min() && m <= std::numeric_limits<float>::max());
}

}  // namespace tide
