// What a solve is asked to do: the method, tolerances, step control, error norm, gradient kind,
// regularisers and STEER. Every field has the default a user of torchdiffeq or diffrax would
// expect; SolveOptions::torchdiffeq() reproduces torchdiffeq's choices so a user switching over
// gets the same steps on the same problem.
#pragma once
#include "tide/core/random.hpp"
#include "tide/solvers/tableau.hpp"
#include "tide/taylor/estimators.hpp"
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tide {

// Step-size controller (Soderlind's digital filters, written as in Hairer-Norsett-Wanner):
//   h_new = h * clamp(safety * r_n^(-b1/k) * r_{n-1}^(-b2/k) * r_{n-2}^(-b3/k), factor_min, factor_max)
// where r = error norm (accept when r <= 1) and k = the embedded order + 1. After a rejection the
// factor is also capped at 1.
struct StepController {
  double b1 = 1.0, b2 = 0.0, b3 = 0.0;
  double safety = 0.9;       // HNW II.4
  double factor_min = 0.2;   // shrink floor
  double factor_max = 10.0;  // growth cap
  bool never_shrink_accepted = false;  // torchdiffeq: an accepted step never shrinks the next one
  bool hold_after_reject = true;       // HNW: no growth on the step right after a rejection
  std::string name = "I";

  static StepController i();                 // b = (1, 0, 0): the classic controller
  static StepController pi(double b1, double b2, const std::string& name = "PI");
  static StepController pi34();              // (0.7, -0.4): Gustafsson's PI, a good default for nonstiff
  static StepController pi42();              // (0.6, -0.2)
  static StepController h211pi();            // (1/6, 1/6): Soderlind's smooth H211PI
  static StepController pid(double b1, double b2, double b3, const std::string& name = "PID");
  static StepController h312pid();           // (1/18, 1/9, 1/18): Soderlind's H312PID
};

enum class NormKind {
  rms,       // sqrt(mean over the state of (err / scale)^2), per sample
  max,       // max over the state of |err| / scale, per sample
};

// How a solve's gradient is computed (ENGINE.md rule 3).
enum class GradientKind {
  discrete,      // backprop through the accepted steps: the exact gradient of the computed solution (but
                 // the times': every kind gives the exact solution's sensitivity there, g . f(y(t), t))
  checkpointed,  // discrete's gradient (below), one stored state per accepted step, each step recomputed in reverse
  adjoint,       // the continuous adjoint solved backwards: O(1) memory in the number of steps, accurate to tolerance
};
// checkpointed equals discrete to rounding for explicit methods; for implicit ones (kvaerno3) only
// to the Newton tolerance: the replay solves each stage's Newton iteration afresh, with a new
// Jacobian, where the forward kept one across steps (1.6e-3 relative at rtol 1e-3, 7.5e-8 at 1e-7).
// The adjoint re-integrates y backwards alongside the adjoint and, with adaptive steps, checks it
// against the forward solution at every output time: a y that drifted by more than 3e3 x its
// tolerance (|y_back - y| / (atol + rtol |y|), the looser of the forward's and the adjoint's) where
// the drift also moves, over the interval, the adjoint (through -(df/dy)^T a) or the parameter
// gradient's integrand (a^T df/dtheta) by more than 1e2 x rtol of its own size is a SolverError
// naming checkpointed (van der Pol, whose limit cycle repels backwards; a fast mode feeding a
// parameter's term). Scaling the loss moves none of these measures. A drift that moves neither
// (a linear decay, growing backwards) is let through. This is a net, not a proof: it reads the
// drift at output times only (a path that strays and returns between two is not seen), estimates
// its effect from the interval's end, gates on the gap (a drift under 3e3 tolerances is never
// measured), and compares the parameter term summed over the rows past the gap limit that stop together with the
// whole gradient, so one parameter's small gradient can be wrong under a large other.
// With fixed steps (step_size, unfolds) nothing is checked and the adjoint is only as accurate as
// the step (the method's steps of the continuous adjoint are not the forward steps' gradient: euler
// h = 0.05 is 8e-2 off discrete), and ltc_fused's backward solve integrates its plain form
// -(a + b) z + c by rk4 on the forward's step schedule (9 % off discrete measured at 6 unfolds).
// checkpointed and adjoint are first order: grad(..., create_graph) through them is refused (their
// backward passes are not recorded); higher derivatives go through discrete.
// checkpointed and adjoint find the parameters the dynamics close over by one probe evaluation at
// the first times, and evaluate f again in the backward pass: dynamics that read a tensor requiring
// grad only on later calls (a piecewise control switching on t) are refused there with an error;
// use discrete for them, or read every parameter on every call. A parameter read both directly and
// through a value computed from it before the solve (G = W^T W) gets each path once. A parameter
// (or y0, with a checkpoint_budget) modified in place between the solve and its backward pass is
// refused, as the discrete gradient refuses it. Constant data the dynamics read (a tensor that
// requires no grad: a neural CDE's input path, a control signal, a buffer the next batch is
// written into) leaves no trace in the graph and is not checked: the backward pass reads it as it
// is then, so keep it unchanged until the backward pass has run (write the next batch into a new
// tensor), or use discrete, whose backward reads only what its record saved (and refuses a saved
// value modified since).
const char* gradient_kind_name(GradientKind kind);
// Every kind's name (the config spelling), and the inverse of gradient_kind_name: throws
// tide::Error listing the known names when `name` is not one of them.
std::vector<std::string> gradient_kind_names();
GradientKind gradient_kind_from_name(const std::string& name);

// Integrand states appended to the solve, each integrated from the first time to each sample's last.
struct Regularisers {
  int taylor_order = 0;        // R_K: integral of ||d^K z/dt^K||^2 (TayNODE), K = 1..6; 0 = off
  bool kinetic = false;        // RNODE: integral of ||f||^2
  // RNODE: integral of ||(df/dz) e||^2 (Hutchinson, noise fixed per solve); with the hutchinson_vjp
  // trace, ||e^T (df/dz)||^2 from the trace's own product and noise (RNODE's form, no extra pass)
  bool jacobian = false;
  enum class Trace { none, hutchinson_jvp, hutchinson_vjp, exact } trace = Trace::none;  // CNF: -integral of tr(df/dz)
  Noise noise = Noise::gaussian;  // for the jacobian and Hutchinson trace estimators
  bool error_control = false;  // let the integrand states take part in step-size control
  bool trace_error_control = false;  // let the log-density state take part (FFJORD: the whole state does)
  bool any() const { return taylor_order > 0 || kinetic || jacobian || trace != Trace::none; }
};

// STEER (Ghosh et al. 2020): while training, the last time t1 is drawn from U(t1 - b, t1 + b)
// (one draw per solve for a shared grid, one per sample for per-sample grids). The time-series
// form (per_interval) draws every interval's length instead, and the intervals follow one another,
// so the times stay monotone: each length |dt| is scaled by U(1 - r, 1 + r). With `relative` > 0,
// r is that constant (tide train's "steer": b); otherwise r = 1 - eps / |dt|, i.e. the paper's
// b_i = |dt| - eps and lengths from U(eps, 2|dt| - eps) (an interval shorter than eps is kept). Evaluation (enabled = false) uses the
// true times. Sequence models draw the same way on their elapsed times (steer_intervals).
// Per-sample times [B, T] get a draw per sample; [T] times, or per_sample = false (one grid for
// the batch), one draw for all.
struct Steer {
  bool enabled = false;
  double b = 0.0;              // half-width for a single interval [t0, t1]; must be < |t1 - t0|
  bool per_interval = false;   // time-series form, ignoring `b`
  double eps = 1e-3;
  double relative = 0.0;       // per_interval: r in [0, 1) for every interval (0: r = 1 - eps / |dt|)
};

// STEER's per-interval draw with a constant relative half-width: every entry of `lengths` (any
// shape) scaled by its own U(1 - relative, 1 + relative) from `gen`; 0 <= relative < 1.
Tensor steer_intervals(const Tensor& lengths, double relative, Generator& gen);

// How implicit (ESDIRK) methods solve their stage equations k = f(z + h gamma k, t): Newton's
// method with a linear solver chosen here. The dense solver keeps each sample's Jacobian and the LU
// of I - h gamma J across stages and steps (CVODE's rules: refactorise when h gamma moved by more
// than `refactor_ratio`, fetch a new Jacobian when Newton fails or contracts slowly with a kept one,
// or when it is `jacobian_max_age` steps old); Newton-Krylov needs no matrix at all: products
// (df/dz) v by forward mode (jvp) and restarted GMRES, memory O(batch x state x gmres_restart).
// Both treat each row as its own system: for dynamics whose rows mix (batch statistics, attention
// across the batch) the per-sample Jacobian and GMRES leave out the cross-row terms, so Newton may
// stop at a point that is not the stage solution and gradients through the stages miss those terms
// (0.1-0.5% measured on a batch-mean dynamics); use an explicit method with `per_sample = false` there.
struct ImplicitOptions {
  enum class Jacobian {
    automatic,  // dense up to `krylov_above` states per sample, Krylov above
    dense,      // per-sample D x D Jacobian from D reverse sweeps, factorised on the host
    krylov,     // matrix-free: JVPs of the dynamics and per-sample restarted GMRES
  };
  Jacobian jacobian = Jacobian::automatic;
  std::int64_t krylov_above = 256;  // automatic: states wider than this use Krylov (dense keeps 2 D^2 doubles per sample)
  bool jacobian_reuse = true;       // false: a new Jacobian at every step's start (as before issue 18)
  int jacobian_max_age = 50;        // step attempts a kept Jacobian serves at most (CVODE's MSBJ)
  double refactor_ratio = 0.3;      // refactorise when |h gamma / (h gamma at factorisation) - 1| > this (CVODE's DGMAX)
  double newton_tolerance = 1e-2;   // converged when the scaled correction h gamma |dk| / (atol + rtol |z|) is below this
  double newton_slow_rate = 0.5;    // a kept Jacobian whose Newton contracts slower than this is replaced
  int gmres_restart = 30;           // Krylov vectors per sample between restarts
  int gmres_max_iterations = 300;   // per linear solve, restarts included
  double gmres_tolerance = 0.05;    // linear residual allowed, relative to the Newton tolerance (CVODE's EPLIN)
  // Krylov: -1 none; w >= 0 (< D): GMRES is right-preconditioned by the banded LU of I - h gamma J_band, J_band the
  // Jacobian's half-bandwidth-w band from 2w + 1 coloured JVPs (CVODE's CVBANDPRE, exact); kept by the dense path's rules
  int preconditioner_bandwidth = -1;
};
const char* implicit_jacobian_name(ImplicitOptions::Jacobian jacobian);
std::vector<std::string> implicit_jacobian_names();
ImplicitOptions::Jacobian implicit_jacobian_from_name(const std::string& name);

struct SolveOptions {
  Method method = Method::dopri5;
  // torchdiffeq's defaults. With atol = 0 (pure relative control) a state may sit at exactly 0;
  // an implicit method cannot move one away from 0 (Newton measures its stage against
  // rtol |z| = 0, and the SolverError names it): give such a state an atol (atol_per_state).
  double rtol = 1e-7, atol = 1e-9;
  std::vector<double> rtol_per_state, atol_per_state;  // per state (size D) when given
  double first_step = 0.0;                   // 0: chosen by Hairer's algorithm
  // Adaptive steps are at least this long (in |h|; a step shortened to land on an output time or
  // the end may be shorter): a rejected longer step is retried at min_step at the least, and a
  // rejected step of min_step or less throws SolverError naming it.
  double min_step = 0.0;
  // Every step is at most this long, fixed steps too (each interval then takes at least
  // ceil(length / max_step) of them, more than step_size or unfolds would give where needed).
  double max_step = std::numeric_limits<double>::infinity();
  std::int64_t max_steps = 100000;           // per sample, accepted + rejected
  // Fixed steps: the largest step (0: one per interval), or a count per interval (overrides
  // step_size). An adaptive method given either runs with those fixed steps and no error control
  // (diffrax's ConstantStepSize); its tolerances then only set how far an implicit method's Newton
  // iteration is taken (up to newton_max_iterations). A stage whose iteration fails by then is
  // tried once more by full Newton (a new Jacobian at every iterate): from its last iterate when it
  // did not converge, from its first guess when it diverged or met a singular Newton matrix. A
  // fixed step whose stage still fails ends the solve with SolverError (raise
  // newton_max_iterations or take more steps), as a state that is no longer finite does.
  double step_size = 0.0;
  int unfolds = 0;
  StepController controller = StepController::i();
  NormKind norm = NormKind::rms;
  std::vector<std::int64_t> seminorm;        // state indices left out of error control
  // every sample its own step size and accept/reject; rows are then independent samples (the
  // adjoint's quadrature and the time gradients assume so): dynamics whose rows mix need false
  bool per_sample = true;
  bool clip_to_end = true;                   // never step past a sample's last time (false: interpolate)
  int newton_max_iterations = 8;             // implicit methods: per stage (and per retry with a new Jacobian)
  ImplicitOptions implicit;                  // implicit methods: Newton's linear solver and its reuse
  // The method as torchdiffeq implements it where that differs from the published method (set by
  // torchdiffeq()): dopri5's error estimate is 2/3 of Dormand-Prince's, and dopri5 and bosh3
  // interpolate with torchdiffeq's quartic through the step's midpoint instead of their own dense
  // output. For bosh3 that quartic is first order (its midpoint, y + h k2 / 2, is off by h^2 f'/8):
  // outputs between steps may be far less accurate than the steps. tide's defaults keep the
  // published forms.
  bool torchdiffeq_variant = false;
  GradientKind gradient = GradientKind::discrete;
  // checkpointed: at most this many stored full states, placed uniformly (two-level checkpointing:
  // one extra forward pass, each segment recomputed once in reverse); 0: one stored state per step
  std::int64_t checkpoint_budget = 0;
  // discrete: the most memory one solve's record may hold (its stages and the dynamics' tape, every
  // step); past it the solve throws SolverError naming checkpointed and adjoint. 0: half the
  // machine's physical memory
  std::int64_t max_record_bytes = 0;
  // The adjoint's backward solve's tolerances (0: the forward ones). Its state half keeps the
  // forward's error control (seminorm and regulariser states stay out); every adjoint state is
  // controlled, one whose state has no tolerance (atol = rtol = 0) with the loosest of the others'.
  // Tolerances below the rounding of the state's dtype are refused before the solve, as the forward's are.
  double adjoint_rtol = 0.0, adjoint_atol = 0.0;
  Regularisers regularisers;
  Steer steer;
  std::uint64_t seed = 0;                    // noise of the estimators and STEER draws
  Tensor mask;                               // [B, T] for per-sample grids: nonzero = valid time (a prefix per row)
  // LTC fused solver (Method::ltc_fused): the dynamics return the split (a, c) of
  // dz/dt = -(a(z, t) + b) z + c(z, t) (see ltc_fused in step.hpp); `b` is a constant [D] or [1].
  Tensor fused_b;

  // torchdiffeq's choices, so a solve takes torchdiffeq's steps and gives its answers (the same
  // NFE, outputs equal to rounding; checked on torchdiffeq's test problems by
  // tests/tools/test_torchdiffeq_parity.cpp): the method by torchdiffeq's name (dopri5, bosh3,
  // adaptive_heun, fehlberg2, dopri8; euler, midpoint, heun2, heun3, rk4 = Kutta's 3/8 rule),
  // rtol 1e-7, atol 1e-9, RMS norm over the whole batch with one shared step, I controller with
  // exponent 1 / order, safety 0.9, growth 10, shrink 0.2, accepted steps never shrink, steps run
  // past the last time and the outputs are interpolated with torchdiffeq's quartic. Throws
  // tide::Error for a name torchdiffeq does not have or tide does not reproduce (the Adams methods).
  static SolveOptions torchdiffeq(const std::string& method = "dopri5");
};

}  // namespace tide
