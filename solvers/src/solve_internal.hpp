// Internal: the pieces solve() assembles: the grids (grid.cpp), the regularisers' augmented
// dynamics (regularisers.cpp) and the checkpointed and adjoint gradient kinds (gradients.cpp, adjoint.cpp).
#pragma once
#include "integrate.hpp"
#include <string>

namespace tide::detail {

// The per-sample grids of `times` ([T] or [B, T]) for a batch of B, with the mask's valid prefixes.
Grid make_grid(const Var& times, std::int64_t B, const Tensor& mask);
// STEER: training-time draws of each interval's end (steer.per_interval) or of the last time.
void apply_steer(Grid& g, const Steer& steer, std::uint64_t seed, bool per_sample_grid);

// Names of the appended integrand states, in column order after the state.
std::vector<std::string> regulariser_names(const Regularisers& r);
// f extended by the regularisers' integrands: [n, D + m] -> [n, D + m]. `noise` [B, D] is fixed
// for the solve (undefined when no estimator needs it).
Dynamics augment(const Dynamics& f, std::int64_t D, const Regularisers& reg, const Tensor& noise);

// The checkpointed and adjoint kinds: y0 [B, D] (already augmented), the closed-over values found
// by probing the dynamics, and the forward integration run without a tape. `budget`: at most that
// many stored full states (0: one per step); the adjoint's tolerances replace the forward ones
// where > 0.
Var solve_checkpointed(const Dynamics& f, const Var& y0, const Grid& grid, const Plan& plan, std::int64_t budget,
                       const std::vector<Var>& params, const std::shared_ptr<SolveStats>& stats);
Var solve_adjoint(const Dynamics& f, const Var& y0, const Grid& grid, const Plan& plan, double adjoint_atol,
                  double adjoint_rtol, const std::vector<Var>& params, const std::shared_ptr<SolveStats>& stats);

}  // namespace tide::detail
