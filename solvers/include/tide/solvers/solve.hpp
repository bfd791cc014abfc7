// solve(): integrate z' = f(z, t) from y0 over the requested times and return the states there,
// the regularisers' integrals and the step statistics. The batch axis is 0; each sample may have
// its own time grid (times [B, T] plus options.mask), its own step size and its own accept/reject
// decisions, with results identical to solving it alone. Gradients flow to y0, the times and every
// parameter the dynamics close over, by the kind chosen in the options.
#pragma once
#include "tide/solvers/dynamics.hpp"
#include "tide/solvers/options.hpp"
#include <string>

namespace tide {

struct SolveStats {
  std::vector<std::int64_t> nfe;           // per sample: evaluations of f it took part in (forward)
  std::vector<std::int64_t> accepted;      // per sample
  std::vector<std::int64_t> rejected;      // per sample
  std::int64_t calls = 0;                  // batched dynamics calls (forward)
  std::int64_t backward_calls = 0;         // dynamics (or vjp) calls made by the backward pass so far
  std::int64_t newton_iterations = 0;      // implicit methods: batched Newton iterations
  std::int64_t jacobian_evaluations = 0;   // implicit, dense (or Krylov's band): per-sample Jacobians computed (summed over samples)
  std::int64_t factorisations = 0;         // implicit, dense: per-sample LU factorisations of I - h gamma J
  std::int64_t linear_iterations = 0;      // implicit, Krylov: batched GMRES iterations (one JVP call each)
  std::int64_t preconditioner_setups = 0;  // implicit, Krylov with a bandwidth: per-sample banded LU factorisations
  std::int64_t max_nfe() const;
  std::int64_t total_accepted() const;
  std::int64_t total_rejected() const;
  std::string summary() const;             // one line
};

// The shapes below are a batch's; for an unbatched y0 [D] each drops its B axis.
struct Solution {
  Var ys;             // [T, B, D]; padded entries (mask 0) repeat the sample's last valid state
  // The penalties integrate over |dt|: a sample whose times decrease gets them non-negative too.
  Var taylor;         // [B] R_K integral (regularisers.taylor_order > 0)
  Var kinetic;        // [B] integral of ||f||^2
  Var jacobian;       // [B] integral of ||J e||^2
  Var logp_change;    // [B] -integral of tr(df/dz): log p(z(t1)) = log p(z(t0)) + logp_change
  Tensor end_times;   // f64 [B, T]: the times actually used (differs from `times` under STEER)
  std::shared_ptr<SolveStats> stats;  // shared: the backward pass adds its counts after solve returns
};

// Thrown when a solve cannot go on: the step size underflowed, max_steps was reached, or the
// state stopped being finite. Carries where it happened and what the solver saw.
class SolverError : public Error {
public:
  SolverError(const std::string& message, double time, double step, double state_norm,
              double stiffness_estimate, SolveStats stats);
  double time, step, state_norm;
  double stiffness_estimate;  // |h| * spectral radius estimate of df/dz (power iteration); NaN if unknown
  SolveStats stats;
};

// y0 [B, D] (or [D]: one sample, whose results come without the batch axis: ys [T, D], the
// integrals [], end_times [T]); times f32/f64 [T] shared by the batch or [B, T] per sample,
// strictly monotone per sample (increasing or decreasing).
Solution solve(const Dynamics& f, const Var& y0, const Var& times, const SolveOptions& options = {});

// The regularisers' integrands at one point (z [n, D], t [n, 1]), per sample [n], each undefined
// when its term is off (the trace is not among them): what a solve integrates, for steppers
// outside solve() (the LTC fused solver). `noise` [n, D] feeds the Jacobian estimator.
struct RegulariserRates {
  Var taylor, kinetic, jacobian;
};
RegulariserRates regulariser_rates(const Dynamics& f, const Var& z, const Var& t, const Regularisers& reg,
                                   const Tensor& noise = {});

// The right-hand side -(a + b) z + c of a system written for the LTC fused solver (dynamics
// returning concat(a, c) along axis 1), so any other method can solve it.
Dynamics fused_rhs(const Dynamics& split, const Tensor& b);

}  // namespace tide
