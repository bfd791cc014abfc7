// Fused kernels for the solvers' unrecorded paths: one pass over memory where the primitive ops
// would take one launch (and one temporary) per term. They are not on the op table and never
// recorded; differentiable code composes primitives instead. Every backend runs them (the Backend
// base class composes primitives; CPU and CUDA override with single loops / single kernels).
#pragma once
#include "tide/core/tensor.hpp"
#include "tide/core/op_table.hpp"
#include <optional>
#include <vector>

namespace tide {

// out[r, :] = base[r, :] + row_scale[r] * sum_j coeff[j] * xs[j][r, :]
// Rows are axis 0 of the [n, ...] operands. base may be undefined (zero); row_scale, [n] or
// undefined (one), is converted to the operands' dtype. All tensors on one device, one dtype.
Tensor linear_combination(const Tensor& base, const std::vector<Tensor>& xs,
                          const std::vector<double>& coeff, const Tensor& row_scale = {});

// Per-row scaled error norms, f64 [n, 2] on the operands' device: column 0 is
// sum_i q_i^2 and column 1 is max_i |q_i| over the entries with mask_i != 0, where
// q_i = err_i / (atol_i + rtol_i * max(|a_i|, |b_i|)), 0 where err_i is 0 (against a zero scale too: a
// state held at 0 under pure relative control), NaN in a kept. A row whose b holds a non-finite value, whose
// err does where mask_i is 0 (an error that is not finite is never left out: a seminorm state's
// NaN error accepted a step), or whose sum is not finite, gets +inf in both columns. err, a, b:
// [n, d]; atol, rtol, mask: f64 [d].
Tensor scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                        const Tensor& rtol, const Tensor& mask);

// scaled_row_norms(linear_combination({}, xs, coeff, row_scale), a, b, atol, rtol, mask) in one
// pass, the same values: a step's error estimate and its norm without the estimate in memory. The
// terms may be views whose rows are apart (stages sliced out of one packed tensor): on the CPU
// they are read where they are.
Tensor combination_row_norms(const std::vector<Tensor>& xs, const std::vector<double>& coeff, const Tensor& row_scale,
                             const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol, const Tensor& mask);

// A dense layer: act(x @ w + b) with x [..., K], w [K, N], b [N] (or undefined) and act a unary op of
// the op table applied with parameter p0 (none: the affine map). On the GPU, small layers (the
// widths of neural-ODE dynamics) run as one kernel that keeps w on chip instead of a GEMM and two
// elementwise passes.
Tensor dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act = std::nullopt, double p0 = 0.0);

// Dense layers applied one after another (an MLP's inference): the values of chained dense()
// calls, but on the CPU a large batch runs in blocks of rows whose intermediate activations stay in
// cache (no pass over a [rows, width] temporary in memory per layer). A block's products are
// those of a batch of its rows, so where a product's kernel depends on the row count (the narrow
// kernels of layers with 1-4 outputs: cpu/narrow_gemm.hpp) a row's last bits can differ from the
// whole batch's (6 rows of 521 in a [521, 64] x [64, 1] layer). Each layer's input features must
// match the previous layer's output.
struct DenseLayer {
  Tensor w, b;  // [K, N], [N] or undefined
  std::optional<Op> act;
  double p0 = 0.0;
};
Tensor dense_stack(const Tensor& x, const std::vector<DenseLayer>& layers);

// The synapse sums of a conductance-based layer (the biophysical LTC): for presynaptic values
// pre [B, P] and per-synapse weight, steepness, midpoint and reversal potential w, sigma, mu,
// erev [P, N],
//   a[b, j, i] = w[j, i] * sigmoid(sigma[j, i] * (pre[b, j] - mu[j, i]))
//   num[b, i] = num0[b, i] + sum_j a[b, j, i] * erev[j, i],   den[b, i] = den0[b, i] + sum_j a[b, j, i]
// without the [B, P, N] temporaries. num0, den0 [B, N] may be undefined (zero).
struct SynapseSums {
  Tensor num, den;
};
SynapseSums synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                         const Tensor& erev, const Tensor& num0 = {}, const Tensor& den0 = {});

// The vector-Jacobian product of synapse_sums for the cotangents gnum, gden [B, N] of num and den
// (those of num0 and den0 are gnum and gden themselves), in one pass that recomputes each synapse's
// sigmoid instead of reading [B, P, N] temporaries:
//   q = gnum[b, i] erev[j, i] + gden[b, i],  s = sigmoid(sigma (pre[b, j] - mu)),  dz = q w s (1 - s)
//   gerev = sum_b gnum a,  gw = sum_b q s,  gsigma = sum_b dz (pre - mu),  gmu = -sum_b dz sigma,
//   gpre[b, j] = sum_i dz sigma.
struct SynapseGrads {
  Tensor pre, w, sigma, mu, erev;
};
SynapseGrads synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                                   const Tensor& erev, const Tensor& gnum, const Tensor& gden);

}  // namespace tide
