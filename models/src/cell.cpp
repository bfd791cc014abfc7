#include "tide/models/cell.hpp"
#include "tide/solvers/step.hpp"
#include <fmt/format.h>

namespace tide::models {

std::string OdeSpec::str() const {
  const Tableau& tab = tableau(method == Method::ltc_fused ? Method::euler : method);
  std::string out = method == Method::ltc_fused || !tab.adaptive()
                        ? fmt::format("{} x{}", method_name(method), unfolds)
                        : fmt::format("{} rtol {:g} atol {:g}", method_name(method), rtol, atol);
  if (gradient != GradientKind::discrete) out += std::string(" ") + gradient_kind_name(gradient);
  return out;
}

Var integrate_interval(const IntervalFn& g, const Var& h0, const Var& dt, const OdeSpec& spec, OdeRegulariser* regulariser) {
  if (h0.rank() != 2 || dt.rank() != 2 || dt.size(0) != h0.size(0) || dt.size(1) != 1)
    fail("integrate_interval: state must be [B, D] and dt [B, 1], got {} and {}", h0.shape().str(), dt.shape().str());
  if (spec.method == Method::ltc_fused)
    fail("integrate_interval: ltc_fused solves only the LTC split form; pick a Runge-Kutta method for this cell");
  if (spec.unfolds < 1) fail("integrate_interval: unfolds must be >= 1, got {}", spec.unfolds);
  // Captured by value: checkpointed and adjoint gradients evaluate the dynamics again during backward.
  const Dynamics f = [g, dt](const Var& z, const Var&, const Rows& rows) { return rows.gather(dt) * g(z, rows); };
  const Tableau& tab = tableau(spec.method);
  const OdeRegularisation* reg = regulariser && regulariser->weights().any() ? &regulariser->weights() : nullptr;
  const bool regularised = reg != nullptr;
  if (!tab.adaptive() && !tab.implicit && spec.gradient == GradientKind::discrete && !regularised) {
    Var h = h0;
    const double step = 1.0 / spec.unfolds;
    for (int i = 0; i < spec.unfolds; ++i) h = explicit_step(f, h, i * step, step, spec.method);
    return h;
  }
  SolveOptions options;
  options.method = spec.method;
  options.rtol = spec.rtol;
  options.atol = spec.atol;
  options.unfolds = tab.adaptive() ? 0 : spec.unfolds;
  options.gradient = spec.gradient;
  if (reg) options.regularisers.kinetic = true;
  const Tensor times = Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64, h0.device());
  const Solution sol = solve(f, h0, Var(times), options);
  if (reg) {
    // In s the path is h(s dt): dh/ds = dt dh/dt, so the integral of ||dh/ds||^2 ds is dt times the
    // real-time one. A padded step has dt = 0 and integral 0; the floor keeps 0 / 0 out.
    const Var d = reshape(maximum(dt, Var(Tensor::scalar(1e-12, dt.dtype()))), Shape{dt.size(0)});
    regulariser->add(sol.kinetic / d * reg->kinetic);
  }
  return select(sol.ys, 0, 1);
}

OdeRegulariser::OdeRegulariser(OdeRegularisation weights) : weights_(weights) {
  if (!(weights.kinetic >= 0)) fail("regularisation: weights must be >= 0, got kinetic {}", weights.kinetic);
}

void OdeRegulariser::add(const Var& per_sample) { total_ = total_.defined() ? total_ + per_sample : per_sample; }

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
