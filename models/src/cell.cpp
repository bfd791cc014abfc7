#include "tide/models/cell.hpp"
#include "tide/solvers/step.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cmath>

namespace tide::models {

std::string OdeSpec::str() const {
  const Tableau& tab = tableau(method == Method::ltc_fused ? Method::euler : method);
  std::string out = method == Method::ltc_fused || !tab.adaptive()
                        ? fmt::format("{} x{}", method_name(method), unfolds)
                        : fmt::format("{} rtol {:g} atol {:g}", method_name(method), rtol, atol);
  if (gradient != GradientKind::discrete) out += std::string(" ") + gradient_kind_name(gradient);
  return out;
}

bool explicit_steps(const OdeSpec& spec) {
  if (spec.method == Method::ltc_fused) return true;
  const Tableau& tab = tableau(spec.method);
  return !tab.adaptive() && !tab.implicit && spec.gradient == GradientKind::discrete;
}

Regularisers OdeRegularisation::solver_terms() const {
  Regularisers r;
  r.kinetic = kinetic > 0;
  r.jacobian = jacobian > 0;
  r.taylor_order = taylor > 0 ? taylor_order : 0;
  return r;
}

Dynamics IntervalDynamics::rescaled(const Var& dt) const {
  Dynamics f;
  const std::function<Var(const Var&, const Rows&)> g = var;
  f.var = [g, dt](const Var& z, const Var&, const Rows& rows) { return rows.gather(dt) * g(z, rows); };
  if (jet) {
    const std::function<Jet(const Jet&, const Rows&)> gj = jet;
    f.jet = [gj, dt](const Jet& z, const Jet&, const Rows& rows) { return rows.gather(dt) * gj(z, rows); };
  }
  return f;
}

namespace {

void check_regularisable(const IntervalDynamics& g, const OdeRegularisation& weights) {
  if (weights.needs_jets() && !g.jet)
    fail("regularisers.{}: this cell's dynamics run on Vars only, and the term needs them on Jets",
         weights.taylor > 0 ? "taylor" : "jacobian");
}

// `integral` [B] over s in [0, 1] taken to real time: times 1 / |dt|^p per sample (0 where dt = 0,
// a padded step integrating nothing), in f64. The penalties integrate over |dt|: an interval
// stepped backwards (dt < 0) is penalised as the same interval forwards, never negatively. The rescaled integral of R_K is dt^(2K-1) times the
// real one: where that factor passes what the state's dtype resolves (1e30 in f32, 1e250 in f64:
// R_6 over dt < 1.9e-3 in f32) the integral has lost its digits or underflowed, and the solve is
// refused rather than returning a penalty that is silently too small (the factor was capped at
// 1e30 before: R_6 over dt = 1e-4 came out 1e-14 of its value).
Var to_real_time(const Var& integral, const Var& dt, int p, const char* term) {
  std::vector<double> f = dt.value().to(DType::f64).to_vector();
  const double limit = dt.dtype() == DType::f32 ? 1e30 : 1e250;
  for (double& v : f) {
    const double factor = v != 0 ? std::pow(std::fabs(v), -p) : 0.0;
    if (!(factor <= limit))
      fail("regularisers.{}: an interval of dt = {:.3g} needs the rescaled integral multiplied by dt^-{} = {:.3g} to reach "
           "real time, beyond what {} resolves; use dtype f64, a lower taylor_order, or longer intervals",
           term, v, p, factor, dtype_name(dt.dtype()));
    v = factor;
  }
  const Var factor(Tensor::from_vector(f, Shape{dt.size(0)}, DType::f64, dt.device()));
  return cast(cast(integral, DType::f64) * factor, integral.dtype());
}

// The solve's integrals over s back to real time, weighted. With h(t) = z(t / dt), d^K z/ds^K =
// dt^K h^(K) and ds = dt / dt: the kinetic and Jacobian integrals (K = 1) divide by dt, R_K by dt^(2K-1).
void add_solved(OdeRegulariser& r, const Solution& sol, const Var& dt) {
  const OdeRegularisation& w = r.weights();
  if (w.kinetic > 0) r.add("kinetic", to_real_time(sol.kinetic, dt, 1, "kinetic") * w.kinetic);
  if (w.jacobian > 0) r.add("jacobian", to_real_time(sol.jacobian, dt, 1, "jacobian") * w.jacobian);
  if (w.taylor > 0) r.add("taylor", to_real_time(sol.taylor, dt, 2 * w.taylor_order - 1, "taylor") * w.taylor);
}

// The interval through solve(): adaptive, implicit, non-discrete gradients, or regularised.
Var solve_interval(const IntervalDynamics& g, const Dynamics& f, const Var& h0, const Var& dt, const OdeSpec& spec,
                   OdeRegulariser* regulariser) {
  const bool regularised = regulariser && regulariser->weights().any();
  SolveOptions options;
  options.method = spec.method;
  options.rtol = spec.rtol;
  options.atol = spec.atol;
  options.unfolds = tableau(spec.method).adaptive() ? 0 : spec.unfolds;
  options.gradient = spec.gradient;
  if (regularised) {
    check_regularisable(g, regulariser->weights());
    options.regularisers = regulariser->weights().solver_terms();
    options.seed = regulariser->next_seed();
  }
  const Tensor times = Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64, h0.device());
  const Solution sol = solve(f, h0, Var(times), options);
  if (regulariser) regulariser->count(sol.stats->calls);
  if (regularised) add_solved(*regulariser, sol, dt);
  return select(sol.ys, 0, 1);
}

}  // namespace

Var integrate_interval(const IntervalDynamics& g, const Var& h0, const Var& dt, const OdeSpec& spec, OdeRegulariser* regulariser) {
  if (h0.rank() != 2 || dt.rank() != 2 || dt.size(0) != h0.size(0) || dt.size(1) != 1)
    fail("integrate_interval: state must be [B, D] and dt [B, 1], got {} and {}", h0.shape().str(), dt.shape().str());
  if (spec.method == Method::ltc_fused)
    fail("integrate_interval: ltc_fused solves only the LTC split form; pick a Runge-Kutta method for this cell");
  if (spec.unfolds < 1) fail("integrate_interval: unfolds must be >= 1, got {}", spec.unfolds);
  // Captured by value: checkpointed and adjoint gradients evaluate the dynamics again during backward.
  const Dynamics f = g.rescaled(dt);
  const bool regularised = regulariser && regulariser->weights().any();
  if (!explicit_steps(spec) || regularised) return solve_interval(g, f, h0, dt, spec, regulariser);
  const Tableau& tab = tableau(spec.method);
  Var h = h0;
  const double step = 1.0 / spec.unfolds;
  for (int i = 0; i < spec.unfolds; ++i) h = explicit_step(f, h, i * step, step, spec.method);
  if (regulariser) regulariser->count(static_cast<std::int64_t>(spec.unfolds) * tab.stages());
  return h;
}

void regularise_unfold(const IntervalDynamics& g, const Var& v, const Var& h, OdeRegulariser& regulariser) {
  const OdeRegularisation& w = regulariser.weights();
  if (!w.any()) return;
  check_regularisable(g, w);
  Dynamics f;
  f.var = [&g](const Var& z, const Var&, const Rows& rows) { return g.var(z, rows); };
  if (g.jet) f.jet = [&g](const Jet& z, const Jet&, const Rows& rows) { return g.jet(z, rows); };
  Tensor noise;
  if (w.jacobian > 0) {
    Generator gen(regulariser.next_seed());
    noise = sample_noise(gen, v.shape(), v.dtype(), Noise::gaussian).to(v.device());
  }
  const Var t(Tensor::zeros(Shape{v.size(0), 1}, v.dtype(), v.device()));
  const RegulariserRates rates = regulariser_rates(f, v, t, w.solver_terms(), noise);
  const Var step = abs(reshape(h, Shape{h.size(0)}));  // over |h|, as the solver's integrals
  if (w.kinetic > 0) regulariser.add("kinetic", rates.kinetic * step * w.kinetic);
  if (w.jacobian > 0) regulariser.add("jacobian", rates.jacobian * step * w.jacobian);
  if (w.taylor > 0) regulariser.add("taylor", rates.taylor * step * w.taylor);
}

OdeRegulariser::OdeRegulariser(OdeRegularisation weights) : weights_(weights) {
  if (!(weights.kinetic >= 0) || !(weights.jacobian >= 0) || !(weights.taylor >= 0))
    fail("regularisation: weights must be >= 0, got kinetic {}, jacobian {}, taylor {}", weights.kinetic,
         weights.jacobian, weights.taylor);
  if (weights.taylor > 0 && (weights.taylor_order < 1 || weights.taylor_order > 6))
    fail("regularisation: taylor_order must be 1..6 with the taylor term on, got {}", weights.taylor_order);
}

void OdeRegulariser::add(const std::string& term, const Var& weighted) {
  total_ = total_.defined() ? total_ + weighted : weighted;
  for (auto& [name, value] : terms_)
    if (name == term) {
      value = value + weighted;
      return;
    }
  terms_.emplace_back(term, weighted);
}

Var Cell::output(const Var& state) const {
  return output_size() == state_size() ? state : slice(state, 1, 0, output_size());
}

Var Cell::initial_state(std::int64_t batch) const {
  return Var(Tensor::zeros(Shape{batch, state_size()}, dtype()));
}

void Cell::check_step(const Var& x, const Var& state, const Var& dt) const {
  if (x.rank() != 2 || x.size(1) != input_size() || state.rank() != 2 || state.size(1) != state_size() ||
      state.size(0) != x.size(0) || dt.rank() != 2 || dt.size(0) != x.size(0) || dt.size(1) != 1)
    fail("{}: step expects x [B, {}], state [B, {}], dt [B, 1]; got {}, {}, {}", name(), input_size(),
         state_size(), x.shape().str(), state.shape().str(), dt.shape().str());
}

WidthCell::WidthCell(std::int64_t input, std::int64_t hidden, DType dtype) : input_(input), hidden_(hidden), dtype_(dtype) {
  if (input < 1 || hidden < 1) fail("cell: input and hidden widths must be >= 1, got {} and {}", input, hidden);
}

LinearOptions linear_options(DType dtype) {
  LinearOptions o;
  o.dtype = dtype;
  return o;
}

void append_parameters(std::vector<std::pair<std::string, Var>>& out, const std::string& prefix,
                       const Module& module) {
  for (auto& [name, v] : module.named_parameters()) out.emplace_back(prefix + "." + name, v);
}

}  // namespace tide::models
