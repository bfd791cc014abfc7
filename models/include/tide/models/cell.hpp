// Recurrent cells for irregularly sampled sequences. A cell carries one state tensor [B, S] and
// advances it by one observation: state_k = step(x_k, state_{k-1}, dt_k), where dt_k [B, 1] is each
// sample's own elapsed time since its previous observation. Cells whose hidden state evolves in
// continuous time between observations integrate it with any method of the solver library
// (OdeSpec), over each sample's own dt.
#pragma once
#include "tide/autodiff/nn.hpp"
#include "tide/solvers/solve.hpp"
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

// Regularisation of the cells' continuous-time parts, for training: RNODE's kinetic energy, the
// integral of ||dh/dt||^2. A caller that wants it passes an OdeRegulariser down the call (Cell::step,
// SequenceModel, Model::loss do); integrate_interval then solves through solve() with that
// integrand and adds weight x integral per sample, in real time (over the interval's length dt,
// not the rescaled s in [0, 1]). Cells whose state is not integrated by integrate_interval (the
// LTC fused solver, CfC's closed form, the discrete cells) add nothing. The Jacobian-norm and R_K
// integrands need the dynamics on Jets (Taylor mode), which the cells' interval functions are not
// written for yet.
struct OdeRegularisation {
  double kinetic = 0.0;  // weight (0: off)
  bool any() const { return kinetic > 0; }
};

// Collects the weighted integrals of every interval integrated with it, per sample.
class OdeRegulariser {
public:
  explicit OdeRegulariser(OdeRegularisation weights);
  // Sum over the intervals integrated so far of the weighted integrals, per sample [B] (undefined
  // when nothing was integrated).
  const Var& total() const { return total_; }
  const OdeRegularisation& weights() const { return weights_; }
  void add(const Var& per_sample);

private:
  OdeRegularisation weights_;
  Var total_;
};

// Integrates h' = g(h) over each sample's elapsed time dt [B, 1], from h0 [B, D]. The interval is
// rescaled to s in [0, 1] (dh/ds = dt g(h)), so one shared grid serves every sample, dt = 0 leaves
// a sample unchanged, and adaptive methods still step each sample on its own. g receives the
// Rows being evaluated so it can gather per-sample data (inputs) with rows.gather(x); it must own
// what it uses (capture by value): checkpointed and adjoint gradients call it again in backward.
// Fixed-step explicit methods run as `unfolds` explicit steps (no host reads) unless regularised;
// the others go through solve(). With a regulariser whose weights are on, its integrals are added.
using IntervalFn = std::function<Var(const Var& h, const Rows& rows)>;
Var integrate_interval(const IntervalFn& g, const Var& h0, const Var& dt, const OdeSpec& spec,
                       OdeRegulariser* regulariser = nullptr);

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

protected:
  // What step() runs: each cell's update.
  virtual Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const = 0;
};

using CellPtr = std::shared_ptr<Cell>;

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
