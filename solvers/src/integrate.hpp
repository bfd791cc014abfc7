// Internal: the per-sample integration loop every solve runs (forward solves, the adjoint's
// backward solve, checkpoint replays). It composes named pieces: a Stepper (stepper.hpp), a
// Controller and an ErrorNorm (controller.hpp, error_norm.hpp), the output policy (interpolate with
// the stepper's dense output, or land on each output time) and the compaction of finished samples
// (ActiveRows). Each sample has its own grid, time, step size, controller history and accept/reject
// decisions; only running samples are evaluated, and the dynamics see which through Rows.
#pragma once
#include "controller.hpp"
#include "error_norm.hpp"
#include "stepper.hpp"
#include <cmath>
#include <functional>
#include <memory>
#include <string>

namespace tide::detail {

// Per-sample time grids in double precision; padded entries repeat the sample's last valid time.
struct Grid {
  std::int64_t B = 0, T = 0;
  std::vector<double> t;            // [B * T]
  std::vector<std::int64_t> count;  // valid times per sample, >= 1
  double at(std::int64_t b, std::int64_t j) const { return t[static_cast<std::size_t>(b * T + j)]; }
};

// v -> (df/dz) v at one point for the rows evaluated there ([n, D] -> [n, D], nothing recorded).
using JacobianAction = std::function<Tensor(const Tensor& v)>;

// What the integrator steps. eval() is f; the hooks let the adjoint accumulate parameter
// gradients by quadrature and add the output cotangents at the grid times.
class System {
public:
  virtual ~System() = default;
  virtual Var eval(const Var& z, const Var& t, const Rows& rows) = 0;
  // The Jacobian's action at (z, t) for ctx's rows (ctx.system is this system), for matrix-free
  // Newton-Krylov; an evaluation of f it makes is counted in ctx's statistics. This default
  // differentiates eval twice (J v = d/du <J^T u, v>: the double-vjp trick, exact for any system
  // written in Var ops; one evaluation per point); PlainSystem uses forward mode on Jets when the
  // dynamics run on them (no evaluation, a jvp per product: counted as GMRES iterations).
  virtual JacobianAction jacobian_action(StepContext& ctx, const Tensor& z, const Var& t);
  // After a step's accept/reject decisions: the stage inputs (z_i, t_i) of the step's rows.
  virtual void after_step(const std::vector<Var>& /*stage_z*/, const std::vector<Var>& /*stage_t*/,
                          const std::vector<std::int64_t>& /*samples*/, const std::vector<double>& /*h*/,
                          const std::vector<char>& /*accepted*/) {}
  // With Plan::stop_at_times: rows `position` (of z) reached grid index `index` of `samples`.
  virtual Var at_stop(const Var& z, const std::vector<std::int64_t>& /*position*/,
                      const std::vector<std::int64_t>& /*samples*/, const std::vector<std::int64_t>& /*index*/) {
    return z;
  }
  // A whole step compiled with the dynamics (compiled_variant, compile_dynamics.hpp): `make` turns
  // the plain dynamics into the step's function, kept under `key`. Empty (no var) where the system
  // is not the compiled dynamics alone, and the stepper then steps stage by stage.
  virtual Dynamics compiled_step(const std::string& /*key*/, const std::function<Dynamics(const Dynamics&)>& /*make*/) {
    return {};
  }
};

// Fails, saying what was expected, unless `out` (what the dynamics returned for state z) is `width`
// blocks of z's shape, in z's dtype and on its device.
void check_dynamics_output(const Var& out, const Var& z, std::int64_t width);

// A system that is just the user's (possibly augmented) dynamics, returning `width` blocks of the
// state's width (the stepper's output_width()).
class PlainSystem final : public System {
public:
  explicit PlainSystem(Dynamics f, int width = 1) : f_(std::move(f)), width_(width) {}
  Var eval(const Var& z, const Var& t, const Rows& rows) override;
  JacobianAction jacobian_action(StepContext& ctx, const Tensor& z, const Var& t) override;
  Dynamics compiled_step(const std::string& key, const std::function<Dynamics(const Dynamics&)>& make) override;

private:
  Dynamics f_;
  int width_;
};

// Fixed-step schedules: `unfolds` steps per output interval, or steps of at most `step_size`, or
// one step per interval; in each case at least as many as keep every step within `max_step`.
struct FixedSteps {
  double step_size = 0.0;
  int unfolds = 0;
  double max_step = HUGE_VAL;
  bool given() const { return step_size > 0 || unfolds > 0; }
  std::int64_t per_interval(double length) const;
};

// One integration's pieces, resolved once from the SolveOptions.
struct Plan {
  StepperPtr stepper;
  Controller controller;
  ErrorNorm norm;
  FixedSteps fixed;
  bool shared_step = false;      // one step size for the whole batch (per_sample = false)
  bool clip_to_end = true;       // never step past a sample's last time
  bool stop_at_times = false;    // land on every grid time and call System::at_stop
  bool keep_log = false;         // store each accepted step (checkpointing)
  bool log_states = true;        // ... with its start states (false: budgeted checkpointing)
  bool count_backward = false;   // statistics go to backward_calls
  // an adaptive step is fl(t + h) - t, what the time advances by (false: h as proposed, the time
  // drifting from the state by up to half an ulp a step: torchdiffeq's steps)
  bool representable_steps = true;
  std::int64_t max_record_bytes = 0;  // discrete gradient: the most one solve may record (0: half the memory)

  // an embedded pair given a step size or unfold count runs as a fixed-step method
  bool adaptive() const { return stepper->adaptive() && !fixed.given(); }
  // land on each output time (else interpolate inside steps)
  bool lands() const { return stop_at_times || (adaptive() && stepper->lands_on_outputs()); }
  bool clips() const { return clip_to_end || lands(); }
};

// The plan for a state of D columns followed by `extra` uncontrolled-unless-asked integrand states.
Plan make_plan(const SolveOptions& options, std::int64_t D, std::int64_t extra);

// One batched step's accepted rows, enough to recompute it (checkpointing).
struct StepLog {
  std::vector<std::int64_t> samples;
  std::vector<double> t, h;
  Tensor y;                                       // the rows' states at the step's start
  std::vector<std::int64_t> out_row, out_index;   // outputs inside the step: row in `samples`, grid index
  std::vector<double> out_theta;
  // Tableaus that reuse a last stage which is not f at the new state (reuse_last_stage): the rows'
  // first stage as the step used it (with `y`; a budgeted replay recomputes it), and per row whether
  // it was the sample's previous step's last stage (else f at this step's start). Replays take it
  // from here: f(y, t) would be another step.
  Tensor k1;
  std::vector<char> k1_reused;
};

struct Integration {
  Var ys;                    // [T, B, D]
  std::vector<StepLog> log;  // with keep_log
};

Integration integrate(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats);

// |h| * spectral radius of df/dz at one row, by power iteration with finite differences.
double stiffness_estimate(System& system, const Var& z_row, double t, const Rows& rows, double h);

// Throws the SolverError; with a stiffness hint when |h| * spectral radius (`stiffness`) is near the
// method's stability limit (a step held there by stability, not accuracy).
[[noreturn]] void solver_failure(const std::string& message, double t, double h, const Tensor& y_row,
                                 double stiffness, double stability_limit, const SolveStats& stats);

}  // namespace tide::detail
