// Internal: the per-sample integration loop every solve runs (forward solves, the adjoint's
// backward solve, checkpoint replays). Each sample has its own grid, time, step size, controller
// history and accept/reject decisions; only running samples are evaluated (the batch is compacted
// as samples finish), and the dynamics see which samples through Rows.
#pragma once
#include "tide/solvers/solve.hpp"
#include <memory>

namespace tide::detail {

// Per-sample time grids in double precision; padded entries repeat the sample's last valid time.
struct Grid {
  std::int64_t B = 0, T = 0;
  std::vector<double> t;            // [B * T]
  std::vector<std::int64_t> count;  // valid times per sample, >= 1
  double at(std::int64_t b, std::int64_t j) const { return t[static_cast<std::size_t>(b * T + j)]; }
};

// What the integrator steps. eval() is f; the hooks let the adjoint accumulate parameter
// gradients by quadrature and add the output cotangents at the grid times.
class System {
public:
  virtual ~System() = default;
  virtual Var eval(const Var& z, const Var& t, const Rows& rows) = 0;
  // After a step's accept/reject decisions: the stage inputs (z_i, t_i) of the step's rows.
  virtual void after_step(const std::vector<Var>& /*stage_z*/, const std::vector<Var>& /*stage_t*/,
                          const std::vector<std::int64_t>& /*samples*/, const std::vector<double>& /*h*/,
                          const std::vector<char>& /*accepted*/) {}
  // With Config::stop_at_times: rows `position` (of z) reached grid index `index` of `samples`.
  virtual Var at_stop(const Var& z, const std::vector<std::int64_t>& /*position*/,
                      const std::vector<std::int64_t>& /*samples*/, const std::vector<std::int64_t>& /*index*/) {
    return z;
  }
};

// A system that is just the user's (possibly augmented) dynamics.
class PlainSystem final : public System {
public:
  // `width` = 2 for the LTC fused solver's split dynamics (they return concat(a, c))
  explicit PlainSystem(Dynamics f, int width = 1) : f_(std::move(f)), width_(width) {}
  Var eval(const Var& z, const Var& t, const Rows& rows) override {
    Var out = f_(z, t, rows);
    if (!out.defined() || out.rank() != 2 || out.size(0) != z.size(0) || out.size(1) != width_ * z.size(1))
      fail("solve: the dynamics returned {} for a state of shape {} (expected [{}, {}])", out.defined() ? out.shape().str() : "nothing",
           z.shape().str(), z.size(0), width_ * z.size(1));
    return out;
  }
private:
  Dynamics f_;
  int width_;
};

struct Config {
  Method method = Method::dopri5;
  const Tableau* tableau = nullptr;  // null for ltc_fused
  SolveOptions options;
  double rtol = 0, atol = 0;
  std::vector<double> atol_d, rtol_d;  // per state
  std::vector<char> controlled;        // per state: takes part in error control
  bool stop_at_times = false;          // land on every grid time and call System::at_stop
  bool keep_log = false;               // store each accepted step (checkpointing)
  bool log_states = true;              // ... with its start states (false: budgeted checkpointing)
  bool count_backward = false;         // statistics go to backward_calls
};

// One batched step's accepted rows, enough to recompute it (checkpointing).
struct StepLog {
  std::vector<std::int64_t> samples;
  std::vector<double> t, h;
  Tensor y;                                       // the rows' states at the step's start
  std::vector<std::int64_t> out_row, out_index;   // outputs inside the step: row in `samples`, grid index
  std::vector<double> out_theta;
};

struct Integration {
  Var ys;                    // [T, B, D]
  std::vector<StepLog> log;  // with keep_log
};

// Counts one batched evaluation for `samples` (forward statistics, or backward_calls).
void count_eval(SolveStats& stats, const Config& config, const std::vector<std::int64_t>& samples);

Integration integrate(System& system, const Var& y0, const Grid& grid, const Config& config, SolveStats& stats);

// One step of `config`'s method for rows at (t, h): the new states and the stage values. Used by
// the loop and by checkpoint replays (which record it).
struct StepResult {
  Var y_new;
  std::vector<Var> k;                 // stages (ltc_fused: empty)
  std::vector<Var> stage_z, stage_t;  // stage inputs
  std::vector<char> failed;           // rows whose implicit stages did not converge
  Tensor h;                           // the rows' step sizes, [n] in the state's dtype and device (not ltc_fused)
};
StepResult take_step(System& system, const Config& config, const Var& y, const Var& k1,
                     const std::vector<double>& t, const std::vector<double>& h, const Rows& rows,
                     SolveStats& stats, const std::vector<std::int64_t>& samples);

// Dense-output weights of the vectors [y, y_new, k_1..k_S, f_new] at theta in (0, 1].
std::vector<double> dense_weights(const Config& config, double theta, double h, bool* needs_f_new);

// |h| * spectral radius of df/dz at one row, by power iteration with finite differences.
double stiffness_estimate(System& system, const Var& z_row, double t, const Rows& rows, double h);

[[noreturn]] void solver_failure(const std::string& message, double t, double h, const Tensor& y_row,
                                 double stiffness, const SolveStats& stats);

}  // namespace tide::detail
