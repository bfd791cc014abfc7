// Internal: the banded preconditioner of the Krylov stage solver (ImplicitOptions::
// preconditioner_bandwidth; CVODE's CVBANDPRE with exact products): each sample's Jacobian band of
// half-width w from 2w + 1 JVPs with coloured seeds, and the LU of I - s J_band in band storage.
#pragma once
#include "../integrate.hpp"

namespace tide::detail {

// The LU of I - s J_band for one sample, without pivoting: I - h gamma J is diagonally dominant for
// the problems a band preconditions (diffusion, stiff local coupling), and a preconditioner only
// has to be close, not exact (right preconditioning keeps GMRES's residual the true one). A zero or
// non-finite pivot leaves it unmade (ok false): that sample is then solved unpreconditioned.
struct BandFactors {
  std::vector<double> lu;  // d x (2w + 1): entry (i, j), |i - j| <= w, at i (2w + 1) + j - i + w
  std::int64_t w = 0;
  bool ok = false;
  void factor(const double* band, double s, std::int64_t d, std::int64_t w);
  void solve(double* x, std::int64_t d, bool transposed = false) const;  // identity when !ok
};

// One sample's kept band and its factors (the dense path's DenseRowState, for the band).
struct BandRowState {
  std::vector<double> band;  // d x (2w + 1), as BandFactors::lu
  BandFactors factors;
  double factored_s = 0.0;
  std::int64_t jacobian_step = -1;
  bool stale = false;
};

// The band of every row's Jacobian (n x d x (2w + 1), f64 on the host) from 2w + 1 products of
// `action` (at the rows' point): seed c has ones at columns j = c mod (2w + 1), and column j's
// entries are rows j - w .. j + w of its seed's product.
std::vector<double> band_jacobians(const JacobianAction& action, const Tensor& like, std::int64_t w);

// x -> P x with P the rows' (I - s J_band)^-1 (or its transpose), row r by *factors[r].
Tensor apply_band_factors(const std::vector<const BandFactors*>& factors, const Tensor& x, bool transposed);

}  // namespace tide::detail
