// Internal: Newton's iteration for one implicit stage, k = f(z + s k, t) row by row (s = h gamma),
// with a StageLinearSolver for the corrections. Each row converges, fails or is still running on
// its own (Hairer-Wanner IV.8): converged when the scaled correction s |dk| / (atol + rtol |z|)
// (RMS over the state) is below the tolerance, or when the contraction rate predicts it will be
// (rate / (1 - rate) |dk| below it); failed when it stops contracting (rate >= 1: diverged when
// the correction is past the first one or not finite, else stuck; under relinearise, full Newton,
// a growing correction stops it only when not finite), when a Jacobian kept from an
// earlier step contracts slower than newton_slow_rate, when the iterations run out, or when the
// linear system gives no finite correction for a finite residual (singular: I - s J singular or
// not finite; that correction is not applied, so the iterate stays finite). A state
// with no tolerance (atol = rtol = 0) is left out of the norm; one at exactly 0 with atol = 0
// counts a zero correction as 0 and any other as infinite (newton.cpp's newton_weight).
#pragma once
#include "stage_linear_solver.hpp"

namespace tide::detail {

struct NewtonSettings {
  int max_iterations = 8;
  double tolerance = 1e-2;
  double slow_rate = 0.5;
  // a correction within 10 unit roundoffs of the iterate counts as converged, however far below
  // it the tolerance is (fixed steps' last try at a stage, which has no step to shrink instead)
  bool rounding_floor = false;
  // each iteration's linear system is made at its iterate (full Newton, with a new Jacobian per
  // iteration on the dense path), and a growing correction does not stop it (full Newton from far
  // off may grow before it converges): fixed steps' last try at a stage (ImplicitStages::retry_fixed)
  bool relinearise = false;
};

struct NewtonOutcome {
  Tensor k;                     // the last iterate per row (the stage where it converged)
  std::vector<char> failed;     // a NewtonFailure per row
  std::vector<char> slow;       // converged, contracting slower than slow_rate
  bool reads_recorded = false;  // in grad mode, f read a value that requires a gradient
};

// Starts from `guess`; the first evaluation runs in the caller's grad mode (so that
// reads_recorded tells whether the stage needs its derivative), the rest record nothing.
NewtonOutcome newton(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess,
                     StageLinearSolver& solver, const NewtonSettings& settings);

}  // namespace tide::detail
