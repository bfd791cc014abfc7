// Liquid time-constant networks (Hasani et al. 2021), in both parameterisations.
//
// Paper form (eq. 1):  dx/dt = -[1/tau + f(x, I)] x + f(x, I) A,   f = sigmoid([x, I] W + mu) >= 0
//   with tau = tau_min + softplus(raw) (a bounded-below time constant) and one A per neuron.
// Biophysical form (the authors' later library): per-synapse sigmoids
//   cm dv/dt = gleak (vleak - v) + sum_j w_ji sigma(s_ji (v_j - mu_ji)) (E_ji - v) + (same for inputs)
//   with w, cm, gleak > 0 (softplus), a wiring (fully connected, random sparse, NCP) masking w, and
//   an affine map of the inputs and of the motor outputs.
// Both are dx/dt = -a(x) x + c(x): the fused solver (algorithm 1) takes L unfolds per observation,
//   x <- (x + h c) / (1 + h a),  h = dt / L,
// and any other method of the solver library solves the same right-hand side.
#pragma once
#include "tide/models/cell.hpp"
#include "tide/models/wiring.hpp"

namespace tide::models {

struct LTCOptions {
  DType dtype = DType::f32;
  OdeSpec ode = {Method::ltc_fused, 6};  // any method; 6 fused unfolds is the usual default
  double tau_min = 0.0;             // paper form: lower bound of the time constant
};

// ltc_fused takes the discrete gradient only: its fixed unfolds are differentiated as they run,
// which is exact and the cheapest; checkpointed or adjoint with it is refused, naming `key`.
void check_fused_gradient(const OdeSpec& ode, const std::string& key);

// The split (a, c) of an LTC at state x (a [B, N] > 0, c [B, N]); the per-observation input terms
// are computed once in `prepare` and gathered per Rows.
class LTCBase : public Cell {
public:
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  DType dtype() const override { return options_.dtype; }
  const OdeSpec* ode() const override { return &options_.ode; }
  const LTCOptions& options() const { return options_; }
  template <class T> struct SplitOf { T a, c; };
  using Split = SplitOf<Var>;
  // Input-dependent terms of one observation, computed once per step.
  virtual std::vector<Var> prepare(const Var& input) const = 0;
  virtual Split split(const Var& x, const std::vector<Var>& prepared, const Rows& rows) const = 0;
  // The same on Jets (the Jacobian and R_K regularisers): equal to split() at order 0.
  virtual SplitOf<Jet> split(const Jet& x, const std::vector<Var>& prepared, const Rows& rows) const = 0;

protected:
  explicit LTCBase(LTCOptions options);
  // dx/dt = c - a x for one observation's prepared terms, on Vars and Jets.
  IntervalDynamics rhs(const std::vector<Var>& prepared) const;
  // The fused solver's L unfolds of size h [B, 1] from state (algorithm 1), through split(); with
  // a regulariser on, each unfold adds its rectangle-rule share at the state it starts from.
  virtual Var fused_unfolds(const Var& state, const std::vector<Var>& prepared, const Var& h,
                            OdeRegulariser* regulariser) const;
  LTCOptions options_;
};

class LTCCell : public LTCBase {
public:
  // f = sigmoid([x, I] W + mu) by default; `f` replaces it with any non-negative function of
  // (x, I) (its parameters are then the caller's).
  using FFn = std::function<Var(const Var& x, const Var& input)>;
  LTCCell(std::int64_t input, std::int64_t units, Generator& gen, LTCOptions options = {}, FFn f = {});
  std::string name() const override { return "ltc"; }
  std::int64_t input_size() const override { return input_; }
  std::int64_t state_size() const override { return units_; }
  std::int64_t output_size() const override { return units_; }
  std::vector<Var> prepare(const Var& input) const override { return {input}; }
  Split split(const Var& x, const std::vector<Var>& prepared, const Rows& rows) const override;
  SplitOf<Jet> split(const Jet& x, const std::vector<Var>& prepared, const Rows& rows) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  Var tau() const;                       // [N]
  Var f(const Var& x, const Var& input) const;
  const Var& A() const { return a_; }
  Var& raw_tau() { return tau_raw_; }
  Var& A() { return a_; }

private:
  std::int64_t input_, units_;
  Linear layer_;  // [x, I] -> N
  Var tau_raw_, a_;
  FFn f_;
};

class BiophysicalLTCCell : public LTCBase {
public:
  BiophysicalLTCCell(const Wiring& wiring, Generator& gen, LTCOptions options = {});
  std::string name() const override { return "ltc_biophysical"; }
  std::int64_t input_size() const override { return wiring_.inputs; }
  std::int64_t state_size() const override { return wiring_.units; }
  std::int64_t output_size() const override { return wiring_.motor; }
  Var output(const Var& state) const override;  // motor neurons * output_w + output_b
  std::vector<Var> prepare(const Var& input) const override;  // {sensory numerator, denominator}
  Split split(const Var& x, const std::vector<Var>& prepared, const Rows& rows) const override;
  // The synapse sums as a composite of Jet ops ([B, N, N] temporaries; the Var path is fused).
  SplitOf<Jet> split(const Jet& x, const std::vector<Var>& prepared, const Rows& rows) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const Wiring& wiring() const { return wiring_; }

protected:
  // Unrecorded: one synapse_sums kernel and the update (cm v + h num) / (cm + h den) per unfold.
  Var fused_unfolds(const Var& state, const std::vector<Var>& prepared, const Var& h,
                    OdeRegulariser* regulariser) const override;

public:

  // Raw parameters (positive ones pass through softplus): exposed for tests and mapping.
  struct Params {
    Var gleak, vleak, cm;                 // [N]
    Var w, mu, sigma, erev;               // [N, N]
    Var sensory_w, sensory_mu, sensory_sigma, sensory_erev;  // [I, N]
    Var input_w, input_b;                 // [I]
    Var output_w, output_b;               // [motor]
  };
  Params& params() { return p_; }
  const Params& params() const { return p_; }

private:
  bool records(std::initializer_list<const Var*> inputs) const;
  // The step's effective recurrent weights, sensory sums with the leak and 1 / cm, from either
  // form of prepare()'s result.
  struct Terms {
    Var w, num0, den0, inv_cm;
  };
  Terms terms(const std::vector<Var>& prepared, const Rows& rows) const;
  Wiring wiring_;
  Tensor mask_, sensory_mask_;  // |adjacency| in the cell's dtype
  Params p_;
};

}  // namespace tide::models
