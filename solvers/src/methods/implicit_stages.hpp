// Internal: the diagonally implicit stages of an ESDIRK tableau, k_i = f(z_i + h gamma k_i, t_i),
// for one step of a batch of rows: Newton's iteration per stage (newton.hpp) with a stage linear
// solver (stage_linear_solver.hpp), a retry with a fresh Jacobian for rows whose kept one failed
// (with fixed steps, one more for rows still failing, by full Newton), and, only when something
// requires a gradient, the implicit function theorem's derivative.
#pragma once
#include "newton.hpp"

namespace tide::detail {

class ImplicitStages {
public:
  // y, t: the step's start. `fixed_steps`: the solve takes fixed steps (no error control to reject
  // a step whose stages did not converge). `memory`: the integration's (null: a fresh one, kept
  // for this step only).
  ImplicitStages(const Var& y, const std::vector<double>& t, const ImplicitOptions& options, int newton_max_iterations,
                 bool fixed_steps, StepperMemory* memory);

  // Stage i's value and where f was evaluated (z_i + s k_i). Marks rows that did not converge in
  // `failed` with their NewtonFailure (a row keeps its first failing stage's). When the stage
  // needs a derivative (grad mode on and z_i, or a value f reads, requires a gradient) its value
  // carries the implicit function theorem's, so discrete backprop through the
  // stage is exact at convergence; otherwise, and for rows marked in `failed` (this stage's or an
  // earlier one's), it is a constant and nothing is recorded.
  struct Stage {
    Var k, z;
  };
  Stage solve(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& h, double gamma, const Tensor& guess,
              std::vector<char>& failed);

private:
  void retry(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess, NewtonOutcome& out);
  void retry_fixed(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess,
                   const std::vector<char>& earlier, NewtonOutcome& out);
  Var recorded_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s, const Tensor& kstar);
  Var derivative_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s, const Tensor& kstar,
                       const std::vector<char>& failed);

  Var y_;
  Var t_;  // [n, 1] in the state's dtype
  NewtonSettings settings_;
  bool fixed_steps_;
  std::unique_ptr<ImplicitMemory> own_memory_;
  ImplicitMemory& memory_;
  std::unique_ptr<StageLinearSolver> solver_;
};

}  // namespace tide::detail
