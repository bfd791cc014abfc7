// Internal: the arithmetic a Runge-Kutta step does besides calling f. With nothing recorded it runs
// the core's fused kernels (fused.hpp: one pass on any device); when the step is differentiated
// (discrete backprop) it composes Var ops. Every tensor made here lives on the operands' device;
// the only host reads are the per-row error measures the step-size controller needs.
#pragma once
#include "tide/autodiff/ops.hpp"
#include <vector>

namespace tide::detail {

// True when grad mode is on and one of `vars` requires a gradient.
bool recording(const std::vector<Var>& vars);

// Host values as a [n] tensor on `device` (per-row step sizes for row_combination and row_error:
// made once per step in the state's dtype, so the fused kernels use them as they are).
Tensor row_vector(const std::vector<double>& values, DType dtype, Device device);

// base + h_r * sum_j coeff[j] * vecs[j] row by row (base may be undefined: then zero). Rows of
// every operand are [n, D]; h is [n] on the operands' device (any floating dtype; the state's
// avoids a conversion), or undefined (no scaling).
// x in one contiguous block (x itself when it is), differentiable with the identity as its
// backward: a view that several combinations read is copied once instead of by each of them.
Var contiguous(const Var& x);

Var row_combination(const Var& base, const Tensor& h, const std::vector<double>& coeff,
                    const std::vector<Var>& vecs);

// out[q] = sum_v weight[q][v] * vecs[v][position[q]]: the dense outputs of several rows at
// several times from one step's vectors.
Var gathered_combination(const std::vector<Var>& vecs, const std::vector<std::int64_t>& position,
                         const std::vector<std::vector<double>>& weight);

// The per-state error scales of a solve on its device: atol, rtol and the controlled-state mask
// (1 or 0), each f64 [d], and the number of controlled states.
struct ErrorScale {
  Tensor atol, rtol, mask;
  std::int64_t count = 0;
};
ErrorScale error_scale(const std::vector<double>& atol, const std::vector<double>& rtol,
                       const std::vector<char>& controlled, Device device);

// Per-row error measures of err = h_r * sum_i e[i] k_i[r] scaled by atol + rtol * max(|y|, |y_new|)
// over the controlled states: sum of squares, maximum, and (DOP853) the second estimator's sum of
// squares. Non-finite candidates give infinity. h is [n] on the operands' device, as for
// row_combination.
struct RowError {
  std::vector<double> sumsq, maximum, sumsq3, maximum3;
  std::int64_t count = 0;  // controlled states per row
  bool second = false;     // sumsq3 holds a second estimator's measure
};
RowError row_error(const Tensor& y, const Tensor& y_new, const std::vector<Tensor>& k,
                   const std::vector<double>& e, const std::vector<double>& e3, const Tensor& h,
                   const ErrorScale& scale);

// Per-row RMS / max norm of x / (atol + rtol * |scale_by|) over the controlled states.
std::vector<double> row_norm(const Tensor& x, const Tensor& scale_by, const ErrorScale& scale, bool max_norm);

// False when any element is NaN or infinite; per row.
std::vector<char> rows_finite(const Tensor& x);

// Small dense helpers on host data (f64, row-major): LU with partial pivoting in place and the
// solves with it; false when the matrix is singular.
bool lu_factor(double* a, std::int64_t n, std::int64_t* pivot);
void lu_solve(const double* lu, const std::int64_t* pivot, std::int64_t n, double* x);
// The same factors solving the transposed system A^T x = b.
void lu_solve_transposed(const double* lu, const std::int64_t* pivot, std::int64_t n, double* x);

Tensor column(const std::vector<double>& values, DType dtype, Device device);  // [n, 1]

}  // namespace tide::detail
