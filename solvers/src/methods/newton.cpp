// Newton's iteration for one implicit stage (newton.hpp).
#include "newton.hpp"
#include <cmath>

namespace tide::detail {

namespace {

// Where each row stands: running, converged (slowly or not) or failed.
class NewtonState {
public:
  explicit NewtonState(std::size_t n) : previous_(n, 0.0), first_(n, 0.0), running_(n, 1), failed_(n, newton_converged), slow_(n, 0) {}

  // Takes one iteration's scaled correction norms; returns the rows whose correction is applied.
  std::vector<char> update(int iteration, const std::vector<double>& norms, const std::vector<char>& current, const NewtonSettings& s) {
    std::vector<char> apply(norms.size(), 0);
    for (std::size_t r = 0; r < norms.size(); ++r) {
      if (!running_[r]) continue;
      const double norm = norms[r];
      const double rate = iteration > 0 ? norm / previous_[r] : 0.0;
      previous_[r] = norm;
      if (iteration == 0) first_[r] = norm;
      if (!std::isfinite(norm)) {
        stop(r, newton_diverged);
      } else if (norm <= s.tolerance || (iteration > 0 && rate < 1.0 && rate / (1.0 - rate) * norm <= s.tolerance)) {
        apply[r] = 1, slow_[r] = rate > s.slow_rate;
        stop(r, newton_converged);
      } else if (iteration > 0 && rate >= 1.0) {
        // past the first correction: diverging; below it: stuck (at rounding's floor, say)
        stop(r, norm > first_[r] ? newton_diverged : newton_unconverged);
      } else if (iteration > 0 && !current[r] && rate > s.slow_rate) {
        stop(r, newton_unconverged);  // too slow with a Jacobian kept from an earlier step
      } else {
        apply[r] = 1;
      }
    }
    return apply;
  }
  bool running() const {
    for (char r : running_)
      if (r) return true;
    return false;
  }
  // Rows still running when the iterations run out have failed.
  void give_up() {
    for (std::size_t r = 0; r < running_.size(); ++r)
      if (running_[r]) stop(r, newton_unconverged);
  }
  const std::vector<char>& failed() const { return failed_; }
  const std::vector<char>& slow() const { return slow_; }

private:
  void stop(std::size_t r, NewtonFailure how) { running_[r] = 0, failed_[r] = how; }
  std::vector<double> previous_, first_;
  std::vector<char> running_, failed_, slow_;
};

// 1 / (atol + rtol |z|) per entry: the scale Newton measures corrections in.
Tensor newton_weight(const StepContext& ctx, const Tensor& z) {
  const Shape d{z.size(1)};
  const Tensor atol = Tensor::from_vector(ctx.atol, d, z.dtype(), z.device());
  const Tensor rtol = Tensor::from_vector(ctx.rtol, d, z.dtype(), z.device());
  return div(Tensor::ones(Shape{1}, z.dtype(), z.device()), add(mul(abs(z), rtol), atol));
}

// s_r * RMS(dk_r * weight_r) per row.
std::vector<double> correction_norms(const Tensor& dk, const Tensor& weight, const std::vector<double>& s) {
  const Tensor scaled = mul(dk, weight);
  std::vector<double> norm = mean(mul(scaled, scaled), {1}).to_vector();
  for (std::size_t r = 0; r < norm.size(); ++r) norm[r] = std::fabs(s[r]) * std::sqrt(norm[r]);
  return norm;
}

// f at the iterate; the first evaluation in the caller's grad mode tells whether f reads a value
// that requires a gradient (its inputs here are constants).
Tensor evaluate(StepContext& ctx, const Tensor& point, const Var& t, bool probe, bool& reads_recorded) {
  if (probe && grad_enabled()) {
    const Var out = ctx.eval(Var(point), t.detach());
    reads_recorded = reads_recorded || out.requires_grad();
    return out.value();
  }
  NoGrad no_grad;
  return ctx.eval(Var(point), t.detach()).value();
}

}  // namespace

NewtonOutcome newton(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, const Tensor& guess,
                     StageLinearSolver& solver, const NewtonSettings& settings) {
  const std::size_t n = s.size();
  NewtonOutcome out;
  out.k = guess;
  const Tensor weight = newton_weight(ctx, z);
  const Tensor s_col = column(s, z.dtype(), z.device());
  std::vector<char> current(n);
  for (std::size_t r = 0; r < n; ++r) current[r] = solver.current(ctx, r);
  NewtonState state(n);
  for (int it = 0; it < settings.max_iterations && state.running(); ++it) {
    const Tensor point = add(z, mul(s_col, out.k));
    const Tensor fk = evaluate(ctx, point, t, it == 0, out.reads_recorded);
    NoGrad no_grad;
    ++ctx.stats.newton_iterations;
    const Tensor dk = solver.solve(ctx, point, t, sub(fk, out.k), s, weight);
    const std::vector<char> apply = state.update(it, correction_norms(dk, weight, s), current, settings);
    std::vector<double> mask(n);
    for (std::size_t r = 0; r < n; ++r) mask[r] = apply[r] ? 1.0 : 0.0;
    out.k = where(column(mask, z.dtype(), z.device()).broadcast_to(z.shape()), add(out.k, dk), out.k);
  }
  state.give_up();
  out.failed = state.failed();
  out.slow = state.slow();
  return out;
}

}  // namespace tide::detail
