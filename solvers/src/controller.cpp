// The step-size controller piece (controller.hpp).
#include "controller.hpp"
#include "integrate.hpp"
#include "tide/core/host_math.hpp"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

namespace tide::detail {

namespace {

// Hairer's bound makes the first step of a linear decay h * rate = 1 exactly; where a method's
// error estimate is blind there (bosh3's is 0 at that point, and the step is off by 0.035), its
// first step stays at half the distance. The zero is a scan of the tableau's error polynomial
// (~5 us), so each method's bound is computed once, not on every solve.
double first_change_of(const Stepper& stepper) {
  static const auto cache = [] {
    auto c = std::make_unique<std::atomic<double>[]>(all_methods().size());
    for (std::size_t i = 0; i < all_methods().size(); ++i) c[i] = -1.0;
    return c;
  }();
  std::atomic<double>& slot = cache[static_cast<std::size_t>(stepper.method())];
  double v = slot.load(std::memory_order_relaxed);
  if (v < 0) slot.store(v = std::min(1.0, 0.5 * stepper.tableau()->real_error_zero()), std::memory_order_relaxed);
  return v;
}

}  // namespace

Controller::Controller(const SolveOptions& o, const Stepper& stepper)
    : filter_(o.controller), exponent_(stepper.adaptive() ? std::min(stepper.order(), stepper.error_order()) + 1.0 : 1.0),
      error_order_(stepper.error_order()), first_step_(o.first_step), min_step_(o.min_step), max_step_(o.max_step),
      max_steps_(o.max_steps) {
  // torchdiffeq's steps are kept as they are (its bosh3 shares the blind spot)
  if (stepper.tableau() && stepper.adaptive() && !o.torchdiffeq_variant) first_change_ = first_change_of(stepper);
}

std::vector<double> Controller::ratio_powers(const std::vector<double>& ratios) const {
  std::vector<double> out(ratios.size(), 1.0);  // x^0 is exactly 1 for every x
  if (filter_.b1 != 0.0) pow_each(ratios, -filter_.b1 / exponent_, out);
  return out;
}

double Controller::next_factor(double ratio, double ratio_power, bool accepted, ControllerHistory& s) const {
  const StepController& c = filter_;
  const double k = exponent_;
  double f;
  if (ratio == 0.0) f = c.factor_max;
  else if (!std::isfinite(ratio)) f = c.factor_min;
  else {
    // x^0 is exactly 1 for every x: the I controller (b2 = b3 = 0) skips the history's powers
    const auto power = [](double x, double e) { return e == 0.0 ? 1.0 : std::pow(x, e); };
    f = c.safety * ratio_power * power(s.r1, -c.b2 / k) * power(s.r2, -c.b3 / k);
  }
  f = std::min(c.factor_max, std::max(c.factor_min, f));
  if (!accepted) f = std::min(f, 1.0);
  if (accepted && s.rejected_last && c.hold_after_reject) f = std::min(f, 1.0);
  if (accepted && c.never_shrink_accepted) f = std::max(f, 1.0);
  if (accepted) s.r2 = s.r1, s.r1 = std::max(ratio, 1e-10);
  s.rejected_last = !accepted;
  return f;
}

// After a rejection: the step to retry, or 0 when none can make progress. Underflow is a step
// that cannot move t in the time's precision (double), not an absolute size: problems on time
// scales far below 1 near t = 0 are solvable (y' = -k y, k = 1e18). A rejected step of min_step
// or less ends the solve; a longer one is retried at min_step at the least. Where a shrunk step
// rounds back to the rejected advance (near t = 1e15 times are 0.125 apart: 0.2 after 0.25 would
// advance 0.25 again), the next representable time short of it is tried.
double Controller::retry(double t, double h_next, double h_rejected) const {
  if (std::fabs(h_rejected) <= min_step_ || h_rejected == 0.0) return 0.0;
  const double h = std::copysign(std::max(std::fabs(h_next), min_step_), h_rejected);
  const double rejected = std::fabs((t + h_rejected) - t), advance = std::fabs((t + h) - t);
  if (advance > 0.0 && advance < rejected) return h;
  const double shorter = std::nextafter(t + h_rejected, t) - t;
  return std::fabs(shorter) > 0.0 && std::fabs(shorter) < rejected ? shorter : 0.0;
}

Controller::FirstSteps Controller::first_steps(StepContext& ctx, const Var& y, const std::vector<double>& tv,
                                               const std::vector<double>& dir, const ErrorNorm& norm, const ErrorScale& scale) const {
  const std::size_t n = tv.size();
  FirstSteps out;
  if (first_step_ > 0) {
    out.h.assign(n, limit(first_step_));
    return out;
  }
  const DType dtype = y.dtype();
  const Device device = y.device();
  const Tensor yv = y.value();
  // f(t0, y0) in the caller's grad mode, so the first step's stage 1 reuses it either way
  out.f0 = ctx.eval(y, Var(column(tv, dtype, device)));
  NoGrad no_grad;
  const Tensor f0 = out.f0.value();
  const std::vector<double> d0 = norm.norms(yv, yv, scale), d1 = norm.norms(f0, yv, scale);
  std::vector<double> h0(n), t1(n), hd(n);
  for (std::size_t r = 0; r < n; ++r) {
    h0[r] = d0[r] < 1e-5 || d1[r] < 1e-5 ? 1e-6 : 0.01 * d0[r] / d1[r];
    hd[r] = dir[r] * h0[r];
    t1[r] = tv[r] + hd[r];
  }
  const Tensor y1 = row_combination(Var(yv), row_vector(hd, dtype, device), {1.0}, {Var(f0)}).value();
  const Tensor f1 = ctx.eval(Var(y1), Var(column(t1, dtype, device))).value();
  const std::vector<double> d2 = norm.norms(sub(f1, f0), yv, scale);
  std::vector<double> dd(n), root(n);
  for (std::size_t r = 0; r < n; ++r) {
    dd[r] = std::max(d1[r], d2[r] / h0[r]);
    root[r] = dd[r] <= 1e-15 ? 1.0 : 0.01 / dd[r];
  }
  pow_each(root, 1.0 / (error_order_ + 1.0), root);
  out.h.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    const double h1 = dd[r] <= 1e-15 ? std::max(1e-6, h0[r] * 1e-3) : root[r];
    double h = std::min(100 * first_change_ * h0[r], h1);
    // a non-finite trial evaluation (f outside its domain at y0 + h0 f0) leaves h0, cautious
    if (!(h > 0) || !std::isfinite(h)) h = h0[r] > 0 && std::isfinite(h0[r]) ? h0[r] : 1e-6;
    out.h[r] = limit(h);
  }
  return out;
}

}  // namespace tide::detail
