// Newton's iteration for one implicit stage (newton.hpp).
#include "newton.hpp"
#include "tide/core/shared_count.hpp"
#include <algorithm>
#include <cmath>

namespace tide::detail {

namespace {

// Where each row stands: running, converged (slowly or not) or failed.
class NewtonState {
public:
  explicit NewtonState(std::size_t n) : previous_(n, 0.0), first_(n, 0.0), running_(n, 1), failed_(n, newton_converged), slow_(n, 0) {}

  // Takes one iteration's scaled correction norms; returns the rows whose correction is applied.
  // `floor`: per row, a norm that counts as converged whatever the tolerance (0: none).
  // `unsolved`: rows whose linear solve failed (unsolved_rows).
  std::vector<char> update(int iteration, const std::vector<double>& norms, const std::vector<double>& floor, const std::vector<char>& current,
                           const std::vector<char>& unsolved, const NewtonSettings& s) {
    std::vector<char> apply(norms.size(), 0);
    for (std::size_t r = 0; r < norms.size(); ++r) {
      if (!running_[r]) continue;
      const double norm = norms[r];
      const double rate = iteration > 0 ? norm / previous_[r] : 0.0;
      previous_[r] = norm;
      if (iteration == 0) first_[r] = norm;
      if (unsolved[r]) {
        // not applied: the iterate stays finite, the failure is the linear system's (reported as
        // such), and an adaptive step is rejected without a non-finite state to re-step around
        stop(r, newton_singular);
      } else if (!std::isfinite(norm)) {
        // applied all the same: a correction that is not finite (f left its domain at the iterate)
        // leaves the stage, and so the step, not finite, which is what the solve then reports
        apply[r] = 1;
        stop(r, newton_diverged);
      } else if (norm <= std::max(s.tolerance, floor[r]) || (iteration > 0 && rate < 1.0 && rate / (1.0 - rate) * norm <= s.tolerance)) {
        apply[r] = 1, slow_[r] = rate > s.slow_rate;
        stop(r, newton_converged);
      } else if (iteration > 0 && rate >= 1.0 && !s.relinearise) {
        // past the first correction: diverging; below it: stuck (at rounding's floor, say). Full
        // Newton from far off may grow its correction for a while before it converges
        // (z' = -50 z^3 in a step of 0.5): it runs on, up to the budget.
        stop(r, norm > first_[r] ? newton_diverged : newton_unconverged);
      } else if (iteration > 0 && !current[r] && rate > s.slow_rate) {
        stop(r, newton_unconverged);  // too slow with a Jacobian kept from an earlier step
      } else {
        apply[r] = 1;
      }
    }
    return apply;
  }
  const std::vector<char>& running_rows() const { return running_; }
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

// The weights Newton measures corrections in, 1 / (atol + rtol |z|) per entry. `newton` is the
// convergence test's: 0 for a state with no tolerance at all (atol = rtol = 0, which only a state
// outside error control may have: check_attainable refuses it elsewhere), and +inf for a state at
// exactly 0 with atol = 0 (pure relative control asks it to stay exact: correction_norms counts a
// zero correction there as 0 and any other as infinite). `solve` is the linear solve's, which must
// be finite: where Newton's is 0 or inf it is the row's largest finite one (1 for a row without
// one), so those states are solved as accurately as the tightest of the others.
struct NewtonWeight {
  Tensor newton, solve;
  bool unbounded = false;  // `newton` may hold +inf: 0 * inf must count 0
};

NewtonWeight newton_weight(const StepContext& ctx, const Tensor& z) {
  const Shape d{z.size(1)};
  const Tensor atol = Tensor::from_vector(ctx.atol, d, z.dtype(), z.device());
  const Tensor rtol = Tensor::from_vector(ctx.rtol, d, z.dtype(), z.device());
  const Tensor one = Tensor::ones(Shape{1}, z.dtype(), z.device());
  const Tensor scale = add(mul(abs(z), rtol), atol);
  NewtonWeight w;
  w.newton = div(one, scale);
  std::vector<double> measured(ctx.atol.size());
  for (std::size_t i = 0; i < measured.size(); ++i) {
    measured[i] = ctx.atol[i] > 0 || ctx.rtol[i] > 0 ? 1.0 : 0.0;
    w.unbounded = w.unbounded || ctx.atol[i] == 0;
  }
  w.solve = w.newton;
  if (!w.unbounded) return w;  // every scale is positive (the usual case)
  const Tensor zero = Tensor::zeros(Shape{1}, z.dtype(), z.device());
  const Tensor positive = gt(scale, zero);
  const Tensor finite = where(positive, w.newton, zero);
  const Tensor largest = max(finite, {1}, true);
  w.solve = where(positive, finite, where(gt(largest, zero), largest, one));
  w.newton = where(Tensor::from_vector(measured, d, z.dtype(), z.device()), w.newton, zero);
  return w;
}

// s_r * RMS(dk_r * weight_r) per row.
std::vector<double> correction_norms(const Tensor& dk, const NewtonWeight& weight, const std::vector<double>& s) {
  Tensor scaled = mul(dk, weight.newton);
  if (weight.unbounded) {
    const Tensor zero = Tensor::zeros(Shape{1}, dk.dtype(), dk.device());
    scaled = where(eq(dk, zero), zero, scaled);
  }
  std::vector<double> norm = mean(mul(scaled, scaled), {1}).to_vector();
  for (std::size_t r = 0; r < norm.size(); ++r) norm[r] = std::fabs(s[r]) * std::sqrt(norm[r]);
  return norm;
}

// Per row, 10 unit roundoffs of the iterate z + s k in Newton's norm: corrections that small are
// rounding (an f32 stage at rtol = 1e-7 cannot get below newton_tolerance's 1e-9).
std::vector<double> rounding_floors(const Tensor& point, const NewtonWeight& weight) {
  const double u = point.dtype() == DType::f64 ? 0x1p-53 : 0x1p-24;
  std::vector<double> floor = correction_norms(point, weight, std::vector<double>(static_cast<std::size_t>(point.size(0)), 10.0 * u));
  for (double& x : floor) x = std::isfinite(x) ? x : 0.0;
  return floor;
}

// Rows whose correction dk is not finite though the residual b it solves for is: (I - s J) dk = b
// has no finite solution there (I - s J singular, or J not finite at the point: sqrt at 0), which
// is the linear system's failure, not Newton's divergence. Read back only when a norm is not finite.
std::vector<char> unsolved_rows(const Tensor& b, const Tensor& dk, const std::vector<double>& norms) {
  std::vector<char> out(norms.size(), 0);
  if (std::all_of(norms.begin(), norms.end(), [](double x) { return std::isfinite(x); })) return out;
  const std::vector<char> rhs = rows_finite(b), solution = rows_finite(dk);
  for (std::size_t r = 0; r < out.size(); ++r) out[r] = rhs[r] && !solution[r];
  return out;
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
  const NewtonWeight weight = newton_weight(ctx, z);
  const Tensor s_col = column(s, z.dtype(), z.device());
  std::vector<char> current(n);
  for (std::size_t r = 0; r < n; ++r) current[r] = settings.relinearise || solver.current(ctx, r);
  NewtonState state(n);
  // |z| + |s k|, not |z + s k|: on a stiff stage the two terms are large and nearly cancel, and
  // their rounding, not the sum's, is the noise a correction cannot get below
  const std::vector<double> floor =
      settings.rounding_floor ? rounding_floors(add(abs(z), abs(mul(s_col, guess))), weight) : std::vector<double>(n, 0.0);
  for (int it = 0; it < settings.max_iterations && state.running(); ++it) {
    const Tensor point = add(z, mul(s_col, out.k));
    const Tensor fk = evaluate(ctx, point, t, it == 0, out.reads_recorded);
    NoGrad no_grad;
    count_shared(ctx.stats.newton_iterations);
    const Tensor b = sub(fk, out.k);
    if (settings.relinearise) solver.linearise(ctx, point, t, s, state.running_rows());
    const Tensor dk = solver.solve(ctx, point, t, b, s, weight.solve);
    const std::vector<double> norms = correction_norms(dk, weight, s);
    const std::vector<char> apply = state.update(it, norms, floor, current, unsolved_rows(b, dk, norms), settings);
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
