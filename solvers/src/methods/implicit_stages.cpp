// ESDIRK stages by Newton's iteration (implicit_stages.hpp).
#include "implicit_stages.hpp"
#include <algorithm>

namespace tide::detail {

namespace {

ImplicitMemory& memory_or(StepperMemory* given, std::unique_ptr<ImplicitMemory>& own) {
  if (auto* memory = dynamic_cast<ImplicitMemory*>(given)) return *memory;
  own = std::make_unique<ImplicitMemory>();
  return *own;
}

}  // namespace

ImplicitStages::ImplicitStages(const Var& y, const std::vector<double>& t, const ImplicitOptions& options, int newton_max_iterations,
                               bool fixed_steps, StepperMemory* memory)
    : y_(y), t_(column(t, y.dtype(), y.device())),
      settings_{newton_max_iterations, options.newton_tolerance, options.newton_slow_rate}, fixed_steps_(fixed_steps),
      memory_(memory_or(memory, own_memory_)), solver_(make_stage_linear_solver(options, y.size(1), memory_)) {
  ++memory_.step;  // a new step attempt: Jacobians made from here on are current
}

// Rows whose kept Jacobian failed get a new one (at the step's start) and Newton again, from the
// same guess; a second failure stands.
void ImplicitStages::retry(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess,
                           NewtonOutcome& out) {
  const std::vector<char> again = solver_->refresh(ctx, y_.value(), t_, s, out.failed, out.slow);
  const RowSubset sub(ctx, again, z.device());
  if (sub.empty()) return;
  StepContext sctx = sub.context(ctx);
  const NewtonOutcome second = newton(sctx, sub.take(z), Var(sub.take(t.value())), sub.take(s), sub.take(guess), *solver_, settings_);
  out.k = sub.merge(out.k, second.k);
  out.reads_recorded = out.reads_recorded || second.reads_recorded;
  for (std::size_t q = 0; q < sub.positions().size(); ++q) out.failed[static_cast<std::size_t>(sub.positions()[q])] = second.failed[q];
}

// A fixed step cannot shrink and try again, so rows whose Newton iteration failed get one more try
// by full Newton (a new Jacobian at every iterate, where the first tries kept one from the step's
// start, which may be far from the stage: z' = -2.2 t z has J = 0 at t = 0) with the full budget:
// - rows that ran out of iterations or stalled restart from their last iterate (a kept unconverged
//   stage gave values far from the method's: z' = -50 z^3 from 2 in 64 steps, 0.0585 for -0.0909);
// - rows that diverged or met a singular Newton matrix restart from the first guess (their last
//   iterate may be far off or not finite; z' = sin z from acos(1/2) with s = 2 has I - s J singular
//   at the step's start but not at the stage).
// A second failure stands (Integrator::decide ends the solve on it).
void ImplicitStages::retry_fixed(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess,
                                 const std::vector<char>& earlier, NewtonOutcome& out) {
  std::vector<char> again(out.failed.size(), 0), restart(out.failed.size(), 0);
  for (std::size_t r = 0; r < again.size(); ++r) {
    again[r] = out.failed[r] != newton_converged && !earlier[r];  // (a row failed at an earlier stage ends the solve anyway)
    restart[r] = out.failed[r] == newton_diverged || out.failed[r] == newton_singular;
  }
  const RowSubset sub(ctx, again, z.device());
  if (sub.empty()) return;
  const RowSubset from_guess(ctx, restart, z.device());
  const Tensor start = from_guess.empty() ? out.k : from_guess.merge(out.k, from_guess.take(guess));
  StepContext sctx = sub.context(ctx);
  NewtonSettings last = settings_;
  last.rounding_floor = true;
  last.relinearise = true;
  const NewtonOutcome second = newton(sctx, sub.take(z), Var(sub.take(t.value())), sub.take(s), sub.take(start), *solver_, last);
  out.k = sub.merge(out.k, second.k);
  out.reads_recorded = out.reads_recorded || second.reads_recorded;
  for (std::size_t q = 0; q < sub.positions().size(); ++q) out.failed[static_cast<std::size_t>(sub.positions()[q])] = second.failed[q];
}

// The converged stage k* with the implicit function theorem's derivative: Newton steps
// k <- k + (I - s J*)^-1 (f(z_i + s k) - k) from k = k*, each with its value subtracted again, so
// the value stays k* exactly. One step gives the exact first derivative ((I - s J*) dk = df);
// each further step, from a k whose derivatives are exact to order m, makes them exact to order
// m + 1 (the step's Jacobian in k vanishes at the solution): two when the solve's backward can be
// recorded, so that double backward through the stage is exact as well.
Var ImplicitStages::recorded_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s, const Tensor& kstar) {
  const Tensor s_row = row_vector(s, zi.dtype(), zi.device());
  const StageLinearSolver::StageSolve solve = solver_->sensitivity(ctx, row_combination(zi, s_row, {1.0}, {Var(kstar)}).value(), ti, s);
  Var k(kstar);
  for (int step = solver_->records_backward() ? 2 : 1; step > 0; --step) {
    const Var residual = ctx.eval(row_combination(zi, s_row, {1.0}, {k}), ti) - k;
    k = k + solve(residual - residual.detach());
  }
  return k;
}

// The stage with its derivative for the rows whose stages converged, a constant for the rest: a
// row whose stages failed is rejected (or ends a fixed-step solve) and needs none. Recorded, its
// evaluation at its last iterate, where df/dz may not be finite (the Jacobian that made Newton's
// matrix not finite: sqrt at 0), turned its zero cotangent into 0 * inf = NaN in the batch's
// parameter gradient.
Var ImplicitStages::derivative_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s, const Tensor& kstar,
                                     const std::vector<char>& failed) {
  std::vector<char> converged(failed.size());
  for (std::size_t r = 0; r < failed.size(); ++r) converged[r] = !failed[r];
  if (std::all_of(converged.begin(), converged.end(), [](char c) { return c != 0; })) return recorded_stage(ctx, zi, ti, s, kstar);
  const RowSubset sub(ctx, converged, zi.device());
  if (sub.empty()) return Var(kstar);
  StepContext sctx = sub.context(ctx);
  return sub.merge(Var(kstar), recorded_stage(sctx, sub.take(zi), sub.take(ti), sub.take(s), sub.take(kstar)));
}

ImplicitStages::Stage ImplicitStages::solve(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& h, double gamma,
                                            const Tensor& guess, std::vector<char>& failed) {
  std::vector<double> s(h.size());
  for (std::size_t r = 0; r < h.size(); ++r) s[r] = h[r] * gamma;
  solver_->prepare(ctx, y_.value(), t_, s);
  NewtonOutcome out = newton(ctx, zi.value(), ti, s, guess, *solver_, settings_);
  retry(ctx, zi.value(), ti, s, guess, out);
  if (fixed_steps_) retry_fixed(ctx, zi.value(), ti, s, guess, failed, out);
  // the first failing stage's failure: the cause (later stages start from its unconverged value)
  for (std::size_t r = 0; r < failed.size(); ++r) failed[r] = failed[r] ? failed[r] : out.failed[r];
  Stage stage;
  stage.z = row_combination(Var(zi.value()), row_vector(s, zi.dtype(), zi.device()), {1.0}, {Var(out.k)});  // where f was evaluated
  const bool needs_derivative = grad_enabled() && (zi.requires_grad() || out.reads_recorded);
  stage.k = needs_derivative ? derivative_stage(ctx, zi, ti, s, out.k, failed) : Var(out.k);
  return stage;
}

}  // namespace tide::detail
