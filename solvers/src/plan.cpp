// make_plan (integrate.hpp): the solve options checked once and resolved into the integration's
// pieces: the stepper, the controller, the error norm and the fixed-step schedule.
#include "integrate.hpp"
#include <algorithm>
#include <cmath>

namespace tide::detail {

namespace {

std::vector<double> per_state(const std::vector<double>& given, double scalar, std::int64_t D, const char* what) {
  if (given.empty()) return std::vector<double>(static_cast<std::size_t>(D), scalar);
  if (static_cast<std::int64_t>(given.size()) != D) fail("solve: {} has {} entries for a state of {}", what, given.size(), D);
  for (double v : given)
    if (!(v >= 0) || !std::isfinite(v)) fail("solve: {} has an entry {} (must be finite and >= 0)", what, v);
  return given;
}

void check_options(const SolveOptions& o) {
  if (!(o.rtol >= 0) || !(o.atol >= 0) || !std::isfinite(o.rtol) || !std::isfinite(o.atol))
    fail("solve: rtol = {} and atol = {} must be finite and >= 0", o.rtol, o.atol);
  if (o.max_steps < 1) fail("solve: max_steps = {} must be >= 1", o.max_steps);
  if (!(o.max_step > 0)) fail("solve: max_step = {} must be > 0", o.max_step);
  if (!(o.min_step >= 0) || !std::isfinite(o.min_step) || o.min_step > o.max_step)
    fail("solve: min_step = {} must be finite, >= 0 and <= max_step = {}", o.min_step, o.max_step);
  if (o.unfolds < 0) fail("solve: unfolds = {} must be >= 0", o.unfolds);
  if (!(o.step_size >= 0) || !std::isfinite(o.step_size)) fail("solve: step_size = {} must be finite and >= 0", o.step_size);
  if (o.checkpoint_budget < 0) fail("solve: checkpoint_budget = {} must be >= 0 (0: one stored state per step)", o.checkpoint_budget);
  if (o.max_record_bytes < 0) fail("solve: max_record_bytes = {} must be >= 0 (0: half the machine's memory)", o.max_record_bytes);
  if (!(o.first_step >= 0) || !std::isfinite(o.first_step)) fail("solve: first_step = {} must be finite and >= 0", o.first_step);
  // 0 turns R_K off; checked here, not only when the regularisers augment f, so that a negative
  // order alone is not silently taken as off
  if (o.regularisers.taylor_order < 0 || o.regularisers.taylor_order > 6)
    fail("solve: regularisers.taylor_order = {} is outside 0..6 (R_K for K = 1..6; 0 turns it off)", o.regularisers.taylor_order);
  if (!(o.adjoint_rtol >= 0) || !(o.adjoint_atol >= 0) || !std::isfinite(o.adjoint_rtol) || !std::isfinite(o.adjoint_atol))
    fail("solve: adjoint_rtol = {} and adjoint_atol = {} must be finite and >= 0 (0: the forward tolerances)", o.adjoint_rtol,
         o.adjoint_atol);
  if (o.newton_max_iterations < 1) fail("solve: newton_max_iterations = {} must be >= 1", o.newton_max_iterations);
  const ImplicitOptions& im = o.implicit;
  if (im.krylov_above < 0 || im.jacobian_max_age < 1 || !(im.refactor_ratio >= 0) || !(im.newton_tolerance > 0) ||
      !(im.newton_slow_rate > 0 && im.newton_slow_rate <= 1) || im.gmres_restart < 1 || im.gmres_max_iterations < 1 ||
      !(im.gmres_tolerance > 0 && im.gmres_tolerance < 1))
    fail("solve: implicit options need krylov_above >= 0, jacobian_max_age >= 1, refactor_ratio >= 0, newton_tolerance > 0, "
         "0 < newton_slow_rate <= 1, gmres_restart >= 1, gmres_max_iterations >= 1 and 0 < gmres_tolerance < 1 (got {}, {}, {}, {}, "
         "{}, {}, {}, {})",
         im.krylov_above, im.jacobian_max_age, im.refactor_ratio, im.newton_tolerance, im.newton_slow_rate, im.gmres_restart,
         im.gmres_max_iterations, im.gmres_tolerance);
  const StepController& c = o.controller;
  if (!(c.safety > 0 && c.safety <= 1) || !(c.factor_min > 0 && c.factor_min < 1) || !(c.factor_max > 1))
    fail("solve: controller {} needs 0 < safety <= 1, 0 < factor_min < 1 < factor_max (got {}, {}, {})", c.name, c.safety,
         c.factor_min, c.factor_max);
  // b1 weighs the present error: at 0 or below (or NaN, which the factor's clamp reads as factor_min)
  // every accepted step shrank the next until max_steps ran out
  if (!(c.b1 > 0 && std::isfinite(c.b1)) || !std::isfinite(c.b2) || !std::isfinite(c.b3))
    fail("solve: controller {} needs a finite b1 > 0 and finite b2, b3 (got {}, {}, {})", c.name, c.b1, c.b2, c.b3);
}

// fused_b is added to a [n, D] block: another shape would broadcast it into one (a [B, 1] taken as
// per sample) or fail inside the step without naming it.
void check_fused_b(const Tensor& b, std::int64_t D) {
  if (b.defined() && !(b.rank() == 1 && (b.size(0) == D || b.size(0) == 1)))
    fail("solve: fused_b {} must be [{}] (one per state) or [1] for a state of width {}", b.str(), D, D);
}

void check_bandwidth(int w, std::int64_t D) {
  if (w < -1 || w >= D)
    fail("solve: implicit.preconditioner_bandwidth = {} must be -1 (none) or a half-bandwidth 0 <= w < D = {}", w, D);
}

// The error norm over D states and `extra` integrand states (controlled only when asked).
ErrorNorm make_norm(const SolveOptions& o, std::int64_t D, std::int64_t extra) {
  std::vector<double> atol = per_state(o.atol_per_state, o.atol, D, "atol_per_state");
  std::vector<double> rtol = per_state(o.rtol_per_state, o.rtol, D, "rtol_per_state");
  std::vector<char> controlled(static_cast<std::size_t>(D), 1);
  for (std::int64_t i : o.seminorm) {
    if (i < 0 || i >= D) fail("solve: seminorm index {} is outside the state (0..{})", i, D - 1);
    controlled[static_cast<std::size_t>(i)] = 0;
  }
  // the log-density state is the last integrand state (regulariser_names' order)
  const Regularisers& reg = o.regularisers;
  const bool has_trace = reg.trace != Regularisers::Trace::none;
  for (std::int64_t i = 0; i < extra; ++i) {
    atol.push_back(o.atol);
    rtol.push_back(o.rtol);
    const bool trace_state = has_trace && i == extra - 1;
    controlled.push_back(reg.error_control || (trace_state && reg.trace_error_control) ? 1 : 0);
  }
  return ErrorNorm(o.norm, !o.per_sample, std::move(atol), std::move(rtol), std::move(controlled));
}

}  // namespace

Plan make_plan(const SolveOptions& options, std::int64_t D, std::int64_t extra) {
  check_options(options);
  check_bandwidth(options.implicit.preconditioner_bandwidth, D);
  check_fused_b(options.fused_b, D);
  Plan plan;
  plan.stepper = make_stepper(options);
  plan.controller = Controller(options, *plan.stepper);
  plan.norm = make_norm(options, D, extra);
  plan.fixed = FixedSteps{options.step_size, options.unfolds, options.max_step};
  if (plan.adaptive() && !plan.norm.controls_any())
    fail("solve: seminorm leaves none of the {} states under error control, so the adaptive steps would grow unchecked; "
         "keep at least one state out of seminorm, or use fixed steps (step_size)", D);
  plan.shared_step = !options.per_sample;
  plan.clip_to_end = options.clip_to_end;
  plan.representable_steps = !options.torchdiffeq_variant;
  plan.max_record_bytes = options.max_record_bytes;
  return plan;
}

namespace {
// Steps of at most `step` over `length`. Capped below int64's range (a step of 1e-20 over [0, 5]):
// max_steps then stops the solve.
std::int64_t steps_within(double length, double step) {
  return static_cast<std::int64_t>(std::clamp(std::ceil(length / step - 1e-9), 1.0, 0x1p62));
}
}  // namespace

// max_step bounds every step, fixed ones too: the largest step the user allows, as it is for
// adaptive steps (it was ignored here, silently: rk4 with max_step = 0.01 took one step over [0, 10]).
std::int64_t FixedSteps::per_interval(double length) const {
  const std::int64_t within_max = std::isfinite(max_step) ? steps_within(length, max_step) : 1;
  if (unfolds > 0) return std::max<std::int64_t>(unfolds, within_max);
  if (step_size > 0) return std::max(steps_within(length, step_size), within_max);
  return within_max;
}

}  // namespace tide::detail
