// The CPU synapse kernels at a chosen instruction set, for the tests that check each against the
// plain loop (CpuBackend::synapse_sums and synapse_sums_backward pick the widest the CPU has).
#pragma once
#include "tide/core/tensor.hpp"

namespace tide::cpu {

enum class SimdLevel { plain, avx2, avx512 };

// synapse_sums (fused.hpp) with the level's kernel for f32 (f64 always runs the plain loop);
// operands as the Backend method takes them. False, writing nothing, if this CPU lacks it.
bool synapse_sums_with(SimdLevel level, const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                       const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num, const Tensor& den);

// synapse_sums_backward (fused.hpp) with the level's kernel for f32 (f64 always runs the plain
// loop); operands as the Backend method takes them. False, writing nothing, if this CPU lacks it.
bool synapse_backward_with(SimdLevel level, const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                           const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre, const Tensor& gw,
                           const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev);

}  // namespace tide::cpu
