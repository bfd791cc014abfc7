// Continuous normalising flows (FFJORD, Grathwohl et al. 2019) for vector data and flattened
// images: dz/dt = f(z, t) from the data (t = 0) to a standard normal base (t = T), with
//   log p(x) = log N(z(T); 0, I) + integral_0^T tr(df/dz) dt
// integrated alongside the state by the solver's trace plug-in (exact, or Hutchinson by a JVP or
// a VJP with noise fixed per solve). Several blocks stack (x -> z1 -> ... -> z); each may learn
// its end time T = s^2. Regularisers (RNODE's kinetic and Jacobian terms, TayNODE's R_K) are the
// solver's integrand states too, and STEER draws the end time.
#pragma once
#include "tide/models/cell.hpp"
#include "tide/models/model.hpp"
#include "tide/solvers/compile_dynamics.hpp"
#include "tide/solvers/solve.hpp"
#include <memory>

namespace tide::models {

// FFJORD's layers for vector data, each a map (x [n, in], t [n, 1]) -> [n, out]:
//   concat        Linear([t, x])
//   concatsquash  Linear(x) * sigmoid(Linear(t)) + Linear_nobias(t)
//   ignore        Linear(x)
//   blend         Linear0(x) + (Linear1(x) - Linear0(x)) * t
enum class CnfLayer { concat, concatsquash, ignore, blend };
// tanh, softplus, elu, swish (x sigmoid(x), FFJORD's swish with its beta fixed at 1), sigmoid
// (TayNODE's MNIST classifier).
enum class CnfActivation { tanh, softplus, elu, swish, sigmoid };
std::vector<std::string> cnf_layer_names();
CnfLayer cnf_layer_from_name(const std::string& name);
std::vector<std::string> cnf_activation_names();
CnfActivation cnf_activation_from_name(const std::string& name);

// The dynamics network: layers dims -> hidden... -> dims, the activation between layers. Runs on
// Vars and Jets alike (the exact trace, the JVP estimator and R_K need Jets).
class CnfDynamics : public Module {
public:
  CnfDynamics(std::int64_t dims, const std::vector<std::int64_t>& hidden, CnfLayer layer, CnfActivation activation,
              Generator& gen, DType dtype);
  Var operator()(const Var& z, const Var& t) const { return eval(z, t); }
  Jet operator()(const Jet& z, const Jet& t) const { return eval(z, t); }
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  struct Layer {
    std::vector<Linear> maps;  // per CnfLayer: concat 1, concatsquash 3 (x, gate, bias), ignore 1, blend 2
  };
  template <class T> T eval(const T& z, const T& t) const;
  template <class T> T layer(const Layer& l, const T& x, const T& t) const;
  std::vector<Layer> layers_;
  CnfLayer kind_;
  CnfActivation activation_;
};

// A CnfDynamics as the solvers take it (a Dynamics on Vars and Jets), compiled by default
// (compile_dynamics: every solve replays plans traced once per batch size, and its Runge-Kutta
// steps, adjoint and R_K / kinetic integrands compile with it); set_compiled(false) runs it
// eagerly, the same arithmetic. It refers to `f`, which must stay where it is: neither it nor its
// owner is copied or moved. Not thread-safe, like the plans it holds.
class SolverDynamics {
public:
  explicit SolverDynamics(const CnfDynamics& f);
  SolverDynamics(const SolverDynamics&) = delete;
  SolverDynamics& operator=(const SolverDynamics&) = delete;
  const Dynamics& get() const { return compiled_on_ ? compiled_ : plain_; }
  void set_compiled(bool on) { compiled_on_ = on; }
  CompiledDynamicsStats stats() const { return compiled_stats(compiled_); }  // its plans, all variants included

private:
  Dynamics plain_, compiled_;
  bool compiled_on_ = true;
};

enum class CnfTrace { exact, hutchinson_jvp, hutchinson_vjp };
std::vector<std::string> cnf_trace_names();
CnfTrace cnf_trace_from_name(const std::string& name);

// How one pass of the flow is solved: the method and tolerances (or fixed steps), the gradient
// kind, the trace estimator and its noise, whether the log-density state takes part in step
// control (FFJORD: it does; the regularisers' states never do, as in RNODE's and TayNODE's code).
struct CnfSolve {
  OdeSpec ode{Method::dopri5, 1, 1e-5, 1e-5, GradientKind::discrete};
  std::int64_t steps = 0;    // fixed-step methods: steps per block (0: `ode.unfolds`)
  CnfTrace trace = CnfTrace::exact;
  Noise noise = Noise::gaussian;
  bool trace_error_control = true;
  // The regularisers' integrand states (K, B, R_K) in step control too. Off for flows (RNODE's code
  // gives them a tolerance of 1e20); on for the ODE classifier: without it a spiky R_K integrand
  // can be integrated to a negative value, and training then drives it further down.
  bool regulariser_error_control = false;
  bool per_sample = true;    // every sample its own step size (false: one step for the batch, as torchdiffeq)
  std::string str() const;   // "dopri5 rtol 1e-05 atol 1e-05, exact trace", "rk4 x8 steps, hutchinson_vjp trace (rademacher)"
};

// A "solver" object: {"method", "rtol", "atol", "gradient", "steps", "per_sample",
// "regulariser_error_control"} and with
// `trace_keys` {"trace", "noise", "trace_error_control"}, each defaulting to `defaults`'s; errors
// name `where` and the key. "rtol" and "atol" are refused where nothing reads them (a fixed-step
// method, or an explicit adaptive one given "steps"). With `normal`, the object normalised (every
// key read, defaults filled in: what the model records, model.hpp).
CnfSolve parse_cnf_solve(const nlohmann::json& spec, const CnfSolve& defaults, const std::string& where,
                         bool trace_keys = true, nlohmann::json* normal = nullptr);

struct CnfOptions {
  std::int64_t dims = 2;
  std::vector<std::int64_t> hidden{64, 64, 64};
  CnfLayer layer = CnfLayer::concatsquash;
  CnfActivation activation = CnfActivation::tanh;
  int blocks = 1;
  double time_length = 0.5;  // T of each block at the start
  bool train_end_time = true;  // T = s^2 with s learned
  CnfSolve train, test;        // training passes, and evaluation / sampling
  // images: the data are bytes 0..255 of this {channels, rows, cols} shape; they are dequantised
  // (x + u) / 256 and logit-transformed, logit(alpha + (1 - 2 alpha) x), with the change of
  // variables counted, and bits/dim reported in the 256-level space
  std::vector<std::int64_t> image;
  double logit_alpha = 1e-6;  // in (0, 0.5): at 0 a pixel 255 would dequantise to 1, an infinite logit
  DType dtype = DType::f64;
};

// One pass's results per sample, and the solves' counts.
struct FlowPass {
  Var z;          // [B, D] the end state (the base side for density, data side for sampling)
  Var logdet;     // [B] sum over blocks of integral tr(df/dz) dt: log p(x) = log N(z) + logdet
  Var kinetic, jacobian, taylor;  // [B] summed over blocks (defined when asked)
  std::int64_t nfe = 0;           // batched dynamics evaluations, all blocks (forward)
  std::vector<std::shared_ptr<SolveStats>> stats;  // per block (the backward adds its counts)
};

class CnfModel : public Model {
public:
  CnfModel(const CnfOptions& options, Generator& gen);

  std::string name() const override;
  std::string metric() const override { return is_image() ? "bits_per_dim" : "nll"; }
  bool higher_is_better() const override { return false; }
  // Metrics: nll (nats per example; images: of the 256-level data), bits_per_dim (nll / (D log 2)),
  // nfe (forward, per batch); in train mode also the regularisers K, B, R_K (unweighted; their
  // weighted means are in the loss) and, after backward, nfe_backward. In eval mode with
  // `report_regularisers` set, kinetic, jacobian and R_2 (unweighted, TayNODE's table 2 K, B, R_2).
  BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const override;

  // x (model space: after the image transform) -> z, data side to base side, with what `reg` asks
  // for; `steer` > 0 draws each block's end time from U(T - b, T + b) with `gen`; `time_scale`
  // integrates each block to time_scale x T instead (STEER's figure 3 looks at earlier times).
  FlowPass density_pass(const Var& x, const CnfSolve& how, const Regularisers& reg, double steer = 0.0,
                        Generator* gen = nullptr, double time_scale = 1.0) const;
  // log p(x) per sample [B] of data-space x (images: bytes, dequantised by `gen` or by u = 0.5),
  // with the flow stopped at time_scale x T.
  Var log_density(const Var& x, Generator* gen = nullptr, double time_scale = 1.0) const;
  // z [B, D] (base side) -> data space (images: pixel values 0..256), with the test settings.
  Var sample_from(const Var& z) const;
  Tensor sample(std::int64_t n, Generator& gen) const;
  // The path of base samples z to the data side: `points` states per block, [blocks * (points - 1)
  // + 1, B, D], in model space.
  Tensor trajectories(const Tensor& z, int points) const;

  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const CnfOptions& options() const { return options_; }
  void set_compiled(bool on) override;
  const SolverDynamics& solver_dynamics(int block) const { return *solver_dynamics_.at(static_cast<std::size_t>(block)); }
  bool is_image() const { return !options_.image.empty(); }
  double end_time(int block) const;     // T of a block now
  bool report_regularisers = false;     // eval mode: K, B and R_2 for every batch (costs two more solves' worth)

private:
  // data-space x -> model-space y and the log-det of the transform per sample (0 for vectors).
  std::pair<Var, Var> to_model_space(const Var& x, Generator* gen) const;
  Var end_time_var(int block) const;
  CnfOptions options_;
  std::vector<CnfDynamics> blocks_;
  std::vector<std::unique_ptr<SolverDynamics>> solver_dynamics_;  // one per block, on blocks_
  std::vector<Var> sqrt_end_time_;  // [1] per block
};

// The flow a config's "model" section describes ({"type": "cnf", ...}; models/README.md lists
// the keys), for vector data of `dims` dimensions (and an image shape). Errors name `where`.
std::shared_ptr<CnfModel> make_cnf(const nlohmann::json& spec, std::int64_t dims, const std::vector<std::int64_t>& image,
                                   Generator& gen, DType dtype, const std::string& where);

}  // namespace tide::models
