// Internal: the step-size controller piece of an adaptive solve. Soderlind's digital filters as
// options.hpp describes them (I / PI / PID), each sample with its own history, the first-step
// choice (Hairer, Norsett & Wanner II.4, as torchdiffeq's _select_initial_step) and the limits
// (min / max step, max_steps) that end a solve with a SolverError.
#pragma once
#include <algorithm>
#include "error_norm.hpp"
#include "stepper.hpp"

namespace tide::detail {

// One sample's controller memory: the previous accepted error ratios and the last decision.
struct ControllerHistory {
  double r1 = 1, r2 = 1;
  bool rejected_last = false;
};

class Controller {
public:
  Controller() = default;
  Controller(const SolveOptions& options, const Stepper& stepper);

  // Every row's ratio^(-b1 / k), the first of next_factor's powers, in one vectorised pass.
  std::vector<double> ratio_powers(const std::vector<double>& ratios) const;
  // The factor the step size is multiplied by after a step with error ratio `ratio`, whose
  // ratio_powers entry is `ratio_power`; updates the sample's history.
  double next_factor(double ratio, double ratio_power, bool accepted, ControllerHistory& history) const;
  // After a rejected step of h_rejected: the step to retry instead of h_next (min_step at the
  // least, and advancing t less than the rejected step), or 0 when no step can make progress.
  double retry(double t, double h_next, double h_rejected) const;
  // |h| kept within [min_step, max_step] (a step shortened to land on a time may go below min_step)
  double limit(double h) const { return std::clamp(h, min_step_, max_step_); }
  double min_step() const { return min_step_; }
  std::int64_t max_steps() const { return max_steps_; }

  // Each row's first step size |h| (Hairer's algorithm, or first_step when given) and, when the
  // algorithm evaluated it, f(y, t) in the caller's grad mode (undefined otherwise): the first
  // step's stage 1. The rest of the heuristic is unrecorded.
  struct FirstSteps {
    std::vector<double> h;
    Var f0;
  };
  FirstSteps first_steps(StepContext& ctx, const Var& y, const std::vector<double>& t, const std::vector<double>& dir,
                         const ErrorNorm& norm, const ErrorScale& scale) const;

private:
  StepController filter_;
  double exponent_ = 1.0;  // k in r^(-b/k): the lower of the two orders + 1
  int error_order_ = 0;
  double first_step_ = 0, min_step_ = 0, max_step_ = 0;
  // The first step changes y by at most this times |y0| / |f0| (Hairer's bound 100 h0 is 1);
  // below 1 where the method's error estimate vanishes at h * rate = 1 (bosh3)
  double first_change_ = 1.0;
  std::int64_t max_steps_ = 0;
};

}  // namespace tide::detail
