// Internal: restarted GMRES (Saad and Schultz 1986) for a batch of independent linear systems
// A_r x_r = b_r, the rows of [n, D] tensors: each row has its own Krylov basis, Hessenberg matrix,
// Givens rotations and stopping point, and the products A v are one batched call. The vectors stay
// on the operands' device; the small least-squares problems are solved on the host.
#pragma once
#include "tide/core/tensor.hpp"
#include <functional>
#include <vector>

namespace tide::detail {

struct GmresSettings {
  int restart = 30;          // basis vectors per row before a restart
  int max_iterations = 300;  // products A v in all, restarts included
};

struct GmresResult {
  Tensor x;                      // [n, D]; the best iterate where a row did not converge, NaN where
                                 // b is not finite or A proved singular
  std::vector<char> converged;   // per row: residual norm <= its tolerance
  std::int64_t products = 0;     // batched calls of A
};

// Solves A x = b from x = 0, row r until its residual norm is <= tolerance[r]. Norms and inner
// products are per row, <u, v> = mean_i(u_i v_i w2_i) (w2 [n, D] the squared weights, or undefined
// for plain RMS). Rows whose right-hand side is not finite (or whose weighted norm overflows) do not
// converge, and their x is NaN (NaN in, NaN out, as an LU's solve gives). A row whose Krylov space
// turns out invariant with a residual left (A singular there: a breakdown that is not a solution)
// does not converge either, and its x is NaN, as a singular LU's solve gives. `precondition` (P ~ A^-1,
// linear; empty: none) is applied on the right: GMRES solves A P u = b and returns x = P u, so the
// residual it measures is the true one.
using LinearMap = std::function<Tensor(const Tensor&)>;
GmresResult gmres(const LinearMap& apply, const Tensor& b, const Tensor& w2, const std::vector<double>& tolerance,
                  const GmresSettings& settings, const LinearMap& precondition = {});

}  // namespace tide::detail
