// Internal: the Stepper seam (diffrax's AbstractSolver). A stepper takes one step of its method for
// a batch of rows, estimates the step's local error when it is adaptive, and gives the dense-output
// weights inside the step. A Runge-Kutta tableau (explicit or diagonally implicit) is one stepper,
// the LTC fused semi-implicit update another. The integration loop (integrate.cpp), the gradient
// kinds (gradients.cpp, adjoint.cpp) and solve() talk to methods only through this interface; the registry
// (methods/registry.cpp) is generated from TIDE_SOLVER_METHODS (tableau.hpp).
#pragma once
#include "combine.hpp"
#include "tide/solvers/solve.hpp"
#include <memory>

namespace tide::detail {

class System;
struct StepContext;

// What a stepper keeps between the steps of one integration (an implicit method's Jacobians and
// factorisations; an explicit one's packed-step inputs). The integrator owns it (Stepper::make_memory)
// and lends it to every step through StepContext; a step taken without it (checkpoint replays) keeps
// nothing across steps.
class StepperMemory {
public:
  virtual ~StepperMemory() = default;
};

// One step's result for its rows.
// How a row's iteration ended, in StepResult::failed (and methods/newton.hpp's NewtonOutcome): an adaptive step
// rejects any failure; a fixed step (which cannot shrink) retries a failed stage once by full
// Newton (ImplicitStages::retry_fixed) and ends the solve on one that still fails: unconverged,
// diverged, or whose Newton matrix I - h gamma J was singular or not finite (newton_singular).
enum NewtonFailure : char { newton_converged = 0, newton_unconverged = 1, newton_diverged = 2, newton_singular = 3 };

struct StepResult {
  Var y_new;
  std::vector<Var> k;                 // stages (empty for a stepper without Runge-Kutta stages)
  std::vector<Var> stage_z, stage_t;  // stage inputs (where f was evaluated)
  std::vector<char> failed;           // rows whose implicit stages did not converge (a NewtonFailure)
  Tensor h;                           // the rows' step sizes, [n] in the state's dtype and device
};

class Stepper {
public:
  virtual ~Stepper() = default;
  virtual Method method() const = 0;
  const char* name() const { return method_name(method()); }
  virtual int order() const = 0;
  virtual int error_order() const { return 0; }  // order of the embedded estimate; 0: fixed step only
  bool adaptive() const { return error_order() > 0; }
  // The dynamics this stepper solves return `output_width()` blocks of the state's width
  // (1: f itself; the LTC fused step: concat(a, c)).
  virtual int output_width() const { return 1; }
  // The first stage is f(y, t) (explicit): the loop may pass it in (FSAL, first-step selection).
  virtual bool first_stage_is_f() const { return false; }
  // A step from y given no first stage makes it itself in one piece with the rest (a compiled
  // packed step): the loop need not evaluate f(y, t) before it.
  virtual bool makes_first_stage(StepContext& /*ctx*/, const Var& /*y*/) const { return false; }
  // The last stage is f at the new state (first same as last).
  virtual bool fsal() const { return false; }
  // Outputs are landed on instead of interpolated: the default, for a method with no dense output
  // (dense_weights' default serves only the step's end); Runge-Kutta methods land where their
  // dense output is below their order.
  virtual bool lands_on_outputs() const { return true; }

  // One step of every row from (t_r, y_r) with step h_r. `k1`, when defined, is f(y, t).
  virtual StepResult step(StepContext& ctx, const Var& y, const Var& k1, const std::vector<double>& t,
                          const std::vector<double>& h) const = 0;
  // Per-row local error measures of an adaptive step (error_order() > 0).
  virtual RowError error(const Var& y, const StepResult& step, const ErrorScale& scale) const;
  // Weights of the vectors [y, y_new, k_1..k_S, f_new] at theta in (0, 1] of a step of size h;
  // sets *needs_f_new when f at the new state is one of them.
  virtual std::vector<double> dense_weights(double theta, double h, bool* needs_f_new) const;
  // The quadrature weights of the stages over one step (the adjoint's parameter integral).
  virtual std::vector<double> quadrature_weights() const { return {}; }
  virtual const Tableau* tableau() const { return nullptr; }
  // |h| * spectral radius of df/dz beyond which a step is unstable on a decaying mode (the stiffness
  // hint's scale); infinity for implicit and exponential steppers.
  double stability_limit() const { return tableau() ? tableau()->real_stability_limit() : HUGE_VAL; }
  // A fresh memory for one integration; null when the method keeps nothing between steps.
  virtual std::unique_ptr<StepperMemory> make_memory() const { return nullptr; }

  // The same system written as z' = f(z, t), for the parts that need a plain right-hand side (the
  // adjoint's backward solve, the gradient kinds' probe), and the stepper that solves it there.
  virtual Dynamics plain_rhs(const Dynamics& f) const { return f; }
  virtual std::shared_ptr<const Stepper> plain_stepper(const std::shared_ptr<const Stepper>& self) const { return self; }
};
using StepperPtr = std::shared_ptr<const Stepper>;

// The stepper of options.method, configured by the options it reads (Newton iterations, fused_b).
StepperPtr make_stepper(const SolveOptions& options);
// The method's stepper with the default options (its properties and tableau), made once.
const Stepper& default_stepper(Method method);

// What a step evaluates with: the system, the rows and their samples (for the statistics).
struct StepContext {
  System& system;
  const Rows& rows;
  const std::vector<std::int64_t>& samples;
  SolveStats& stats;
  bool count_backward = false;
  // per-state tolerances (implicit stages measure Newton's convergence with them)
  const std::vector<double>& atol;
  const std::vector<double>& rtol;
  StepperMemory* memory = nullptr;  // the integration's (null: nothing is kept across steps)
  Var eval(const Var& z, const Var& t);  // f(z, t) for the rows, counted
  void count();                          // counts one batched evaluation made another way
};

// The stepper of an explicit or diagonally implicit Runge-Kutta tableau (methods/runge_kutta.cpp).
StepperPtr runge_kutta_stepper(Method method, const Tableau& tableau, const SolveOptions& options);

// Per-method factories, one per TIDE_SOLVER_METHODS entry, each defined in its method's file.
#define TIDE_DECLARE_STEPPER_FACTORY(name) StepperPtr make_##name##_stepper(const SolveOptions& options);
TIDE_SOLVER_METHODS(TIDE_DECLARE_STEPPER_FACTORY)
#undef TIDE_DECLARE_STEPPER_FACTORY

}  // namespace tide::detail
