// Vectorised math over arrays in host memory, for per-sample bookkeeping outside tensors (the
// solvers' step-size control raises every sample's error ratio to a power each step; a libm call
// per sample cost as much as the small solves' kernels).
#pragma once
#include <span>

namespace tide {

// out[i] = x[i]^e. Positive finite x[i]: exp(e log x[i]) at full vector width, the same value on
// every CPU, with a relative error of a few units of 2^-53 times (1 + |e log x[i]|) (std::pow's is
// below one unit: use it where |e log x| is large and the last digits matter); any other x[i],
// and every x[i] when e is not finite: std::pow's value. x and out must have the same size (out
// may be x).
void pow_each(std::span<const double> x, double e, std::span<double> out);

}  // namespace tide
