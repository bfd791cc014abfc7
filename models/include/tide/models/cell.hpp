// Recurrent cells for irregularly sampled sequences. A cell carries one state tensor [B, S] and
// advances it by one observation: state_k = step(x_k, state_{k-1}, dt_k), where dt_k [B, 1] is each
// sample's own elapsed time since its previous observation. Cells whose hidden state evolves in
// continuous time between observations integrate it with any method of the solver library
// (OdeSpec), over each sample's own dt.
#pragma once
#include "tide/autodiff/compile.hpp"
#include "tide/autodiff/nn.hpp"
#include "tide/solvers/solve.hpp"
#include "tide/taylor/jet_nn.hpp"
#include <functional>
#include <memory>
#include <string>

namespace tide::models {

// How a cell integrates its continuous-time part over one elapsed interval.
struct OdeSpec {
  Method method = Method::rk4;
  int unfolds = 1;               // fixed-step methods: steps per observation interval
  double rtol = 1e-3, atol = 1e-4;  // adaptive methods (per sample)
  GradientKind gradient = GradientKind::discrete;
  std::string str() const;       // "rk4 x1", "dopri5 rtol 1e-3 atol 1e-4 adjoint"
};

// Whether an interval integrated with `spec` runs as plain explicit steps: a fixed-step explicit
// method or the LTC's fused one, with the discrete gradient. Such steps read nothing back to the
// host, so a cell step using them can be traced into a compiled plan (CompiledStep); the others go
// through solve(), whose step control and checkpoints read values.
bool explicit_steps(const OdeSpec& spec);

// Regularisation of the cells' continuous-time parts, for training, each term an integral over
// every interval a cell integrates, in real time (over the interval's length |dt|, not the
// rescaled s in [0, 1]; an interval stepped backwards counts as forwards), per sample:
//   kinetic   RNODE's kinetic energy, the integral of ||dh/dt||^2;
//   jacobian  RNODE's Jacobian Frobenius norm, the integral of ||(dg/dh) e||^2 (Hutchinson, Gaussian
//             e drawn once per interval from `seed` and a counter);
//   taylor    TayNODE's R_K, the integral of ||d^K h/dt^K||^2 with K = taylor_order.
// A caller that wants them passes an OdeRegulariser down the call (Cell::step, SequenceModel,
// Model::loss do). integrate_interval then solves through solve() with those integrands; the LTC
// fused solver adds them by the rectangle rule at the state each unfold starts from
// (regularise_unfold). The jacobian and taylor terms need the interval dynamics on Jets
// (IntervalDynamics written as a generic callable). Cells with no integrated ODE part (CfC's closed
// form, the discrete cells) add nothing.
struct OdeRegularisation {
  double kinetic = 0.0;   // weights (0: off)
  double jacobian = 0.0;
  double taylor = 0.0;
  int taylor_order = 0;   // K of R_K, 1..6 (with taylor > 0)
  std::uint64_t seed = 0;
  bool any() const { return kinetic > 0 || jacobian > 0 || taylor > 0; }
  bool needs_jets() const { return jacobian > 0 || taylor > 0; }
  Regularisers solver_terms() const;  // the solver's integrands for the terms that are on
};

// Collects the weighted integrals of every interval integrated with it, per sample and per term,
// and counts the dynamics evaluations of those intervals (with the weights off too: passing one
// down in evaluation counts NFE without regularising).
class OdeRegulariser {
public:
  explicit OdeRegulariser(OdeRegularisation weights);
  // Sum over the terms and intervals so far of the weighted integrals, per sample [B] (undefined
  // when nothing was integrated).
  const Var& total() const { return total_; }
  // The same per term ("kinetic", "jacobian", "taylor"), weighted, in the order first added.
  const std::vector<std::pair<std::string, Var>>& terms() const { return terms_; }
  const OdeRegularisation& weights() const { return weights_; }
  void add(const std::string& term, const Var& weighted);
  // Batched dynamics evaluations of the intervals so far (forward; fixed steps: steps x stages).
  std::int64_t nfe() const { return nfe_; }
  void count(std::int64_t evaluations) { nfe_ += evaluations; }
  std::uint64_t next_seed() { return weights_.seed + 0x9E3779B97F4A7C15ULL * ++draws_; }  // one per interval

private:
  OdeRegularisation weights_;
  Var total_;
  std::vector<std::pair<std::string, Var>> terms_;
  std::uint64_t draws_ = 0;
  std::int64_t nfe_ = 0;
};

// A cell's continuous-time right-hand side h' = g(h) over one interval. g receives the Rows being
// evaluated so it can gather per-sample data (inputs) with rows.gather(x); it must own what it uses
// (capture by value): checkpointed and adjoint gradients call it again in backward. Written as a
// generic callable ([..](const auto& h, const Rows& rows) { ... }, with apply(layer, h) and
// lift<T>(data) from taylor/jet_nn.hpp) it also runs on Jets, which the jacobian and taylor terms
// need; a Var-only callable serves everything else.
struct IntervalDynamics {
  std::function<Var(const Var& h, const Rows& rows)> var;
  std::function<Jet(const Jet& h, const Rows& rows)> jet;  // empty when g runs on Vars only

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, IntervalDynamics>>>
  IntervalDynamics(F g) {  // implicit, like Dynamics
    var = [g](const Var& h, const Rows& rows) { return Var(g(h, rows)); };
    if constexpr (std::is_invocable_v<F&, const Jet&, const Rows&>)
      jet = [g](const Jet& h, const Rows& rows) { return Jet(g(h, rows)); };
  }
  // Real time to s in [0, 1]: dh/ds = dt g(h), with dt [B, 1] (gathered per Rows).
  Dynamics rescaled(const Var& dt) const;
};

// Integrates h' = g(h) over each sample's elapsed time dt [B, 1], from h0 [B, D]. The interval is
// rescaled to s in [0, 1], so one shared grid serves every sample, dt = 0 leaves a sample
// unchanged, and adaptive methods still step each sample on its own. Fixed-step explicit methods
// run as `unfolds` explicit steps (no host reads) unless regularised; the others go through
// solve(). With a regulariser whose weights are on, its integrals are added.
Var integrate_interval(const IntervalDynamics& g, const Var& h0, const Var& dt, const OdeSpec& spec,
                       OdeRegulariser* regulariser = nullptr);

// Adds to `regulariser` the rectangle rule's share of one fixed step of length h [B, 1] starting
// at state v: |h| times each integrand at v (for solvers that do not go through solve(), the LTC's
// fused one).
void regularise_unfold(const IntervalDynamics& g, const Var& v, const Var& h, OdeRegulariser& regulariser);

class Cell : public Module {
public:
  virtual std::string name() const = 0;
  virtual std::int64_t input_size() const = 0;
  virtual std::int64_t state_size() const = 0;   // width of the carried state
  virtual std::int64_t output_size() const = 0;  // width of output(state)
  virtual DType dtype() const = 0;
  // x [B, I], state [B, S], dt [B, 1] (state's dtype) -> the next state [B, S]; the ODE parts'
  // regularisation integrals go to `regulariser` when one is given.
  Var step(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser = nullptr) const {
    return advance(x, state, dt, regulariser);
  }
  // The features a read-out sees (default: the first output_size() columns of the state).
  virtual Var output(const Var& state) const;
  // The state before the first observation (default: zeros).
  virtual Var initial_state(std::int64_t batch) const;
  // Throws naming the cell and the shapes unless x [B, I], state [B, S], dt [B, 1].
  void check_step(const Var& x, const Var& state, const Var& dt) const;
  // How the cell integrates its continuous-time part; nullptr for cells without one (CfC's closed
  // form, the discrete cells).
  virtual const OdeSpec* ode() const { return nullptr; }

protected:
  // What step() runs: each cell's update.
  virtual Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const = 0;
};

using CellPtr = std::shared_ptr<Cell>;

// A cell's step traced into compiled plans (autodiff/compile.hpp): the first step of each batch
// size (and grad mode) traces it, the others replay; with gradients, a step is one tape node whose
// backward is a plan too. The arithmetic is the eager step's, so values and gradients agree with
// it (tests/models/test_cells.cpp). A step runs eagerly instead
//  - when compilation is off;
//  - when the regulariser's weights are on (its integrals go through solve() or Jets);
//  - for cells whose ODE part is not integrated by explicit steps (explicit_steps);
//  - from the first failed trace on (a step reading values back to the host or drawing noise;
//    untraceable() says why).
// The cell's parameters are read in place at every replay (optimizers and Model::load write them
// in place); call clear() after replacing one. Keep one per cell across batches; not thread-safe.
class CompiledStep {
public:
  explicit CompiledStep(CellPtr cell, bool enabled = true);
  // Cell::step(x, state, dt, regulariser), compiled where it can be.
  Var operator()(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser = nullptr) const;
  // Whether a step with this regulariser replays a plan.
  bool compiles(const OdeRegulariser* regulariser) const;
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  const CompileStats& stats() const { return fn_.stats(); }
  // Why steps run eagerly after a failed trace (empty while tracing works).
  const std::string& untraceable() const { return untraceable_; }
  void clear() { fn_.clear(); }

private:
  CellPtr cell_;
  bool enabled_ = true;
  std::shared_ptr<std::int64_t> nfe_;  // dynamics evaluations per step, counted when tracing
  CompiledFunction fn_;
  mutable std::string untraceable_;
};

// A cell described by its input width, hidden width and dtype: state and output are `hidden`
// wide unless a subclass says otherwise.
class WidthCell : public Cell {
public:
  std::int64_t input_size() const override { return input_; }
  std::int64_t state_size() const override { return hidden_; }
  std::int64_t output_size() const override { return hidden_; }
  DType dtype() const override { return dtype_; }

protected:
  WidthCell(std::int64_t input, std::int64_t hidden, DType dtype);
  std::int64_t input_, hidden_;
  DType dtype_;
};

// Linear-layer options for a cell's dtype (default initialisation, with bias).
LinearOptions linear_options(DType dtype);

// Prefixes every name of `module`'s parameters with `prefix` + "." and appends them to `out`.
void append_parameters(std::vector<std::pair<std::string, Var>>& out, const std::string& prefix,
                       const Module& module);

}  // namespace tide::models
