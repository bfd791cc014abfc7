// Divergence estimators for continuous normalising flows and Jacobian regularisers, per sample
// (axis 0 is the batch; sums run over the other axes). The noise e is fixed by the caller, for a
// whole solve, from a seeded Generator.
//   hutchinson_jvp    e^T (df/dz) e from one order-1 jet (TayNODE's route), and ||(df/dz) e||^2
//                     (RNODE's Jacobian Frobenius term) from the same jvp;
//   hutchinson_vjp    e^T (df/dz) e from a vector-Jacobian product (FFJORD's route), differentiable
//                     by reverse over reverse, and ||e^T (df/dz)||^2 (RNODE's form of the Jacobian
//                     Frobenius term) from the same product;
//   exact_trace       tr(df/dz) from one jvp over the batch repeated D times, copy i with the unit
//                     tangent e_i (small D): f sees D x batch rows, row r of copy i being sample r.
#pragma once
#include "tide/core/random.hpp"
#include "tide/taylor/forward.hpp"

namespace tide {

enum class Noise { gaussian, rademacher };
const char* noise_name(Noise noise);
Tensor sample_noise(Generator& generator, const Shape& shape, DType dtype, Noise noise);

struct DivergenceEstimate {
  Var f;                      // f(z)
  Var trace;                  // per sample: e^T J e (or the exact trace)
  Var jacobian_frobenius;     // per sample: ||J e||^2 (jvp), ||e^T J||^2 (vjp); undefined for exact_trace
};

DivergenceEstimate hutchinson_jvp(const JetFn& f, const Var& z, const Tensor& e);
DivergenceEstimate hutchinson_vjp(const JetFn& f, const Var& z, const Tensor& e);
DivergenceEstimate exact_trace(const JetFn& f, const Var& z);

}  // namespace tide
