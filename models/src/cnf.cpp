// Continuous normalising flows (cnf.hpp): the density pass (data -> base with the log-density and
// regularisers as the solver's integrand states), sampling (base -> data), the image transform
// (dequantisation and logit) and the Model interface's loss and metrics.
#include "tide/models/cnf.hpp"
#include "flow_solve.hpp"
#include "tide/core/named.hpp"
#include "tide/data/vectors.hpp"
#include <cmath>
#include <fmt/format.h>

namespace tide::models {

using detail::add_regularisers;
using detail::next_seed;
using detail::regularisers_for;
using detail::solve_options;

namespace {

constexpr Named<CnfTrace> kTraces[] = {{"exact", CnfTrace::exact},
                                      {"hutchinson_jvp", CnfTrace::hutchinson_jvp},
                                      {"hutchinson_vjp", CnfTrace::hutchinson_vjp}};
constexpr double kLog2Pi = 1.8378770664093453;

Var add_defined(const Var& total, const Var& part) {
  if (!part.defined()) return total;
  return total.defined() ? total + part : part;
}

// log N(z; 0, I) per sample.
Var base_log_prob(const Var& z) {
  return sum(square(z), {1}) * -0.5 - 0.5 * kLog2Pi * static_cast<double>(z.size(1));
}


}  // namespace

std::vector<std::string> cnf_trace_names() { return names_of(kTraces); }

std::string CnfSolve::str() const {
  const std::int64_t fixed = steps > 0 ? steps : tableau(ode.method).adaptive() ? 0 : ode.unfolds;
  std::string out = fixed > 0 ? fmt::format("{} x{} steps", method_name(ode.method), fixed) : ode.str();
  if (fixed > 0 && ode.gradient != GradientKind::discrete) out += std::string(" ") + gradient_kind_name(ode.gradient);
  out += fmt::format(", {} trace", cnf_trace_names()[static_cast<std::size_t>(trace)]);
  if (trace != CnfTrace::exact) out += fmt::format(" ({})", noise_name(noise));
  return out;
}
CnfTrace cnf_trace_from_name(const std::string& name) { return lookup(kTraces, name, "CNF trace estimator"); }

CnfModel::CnfModel(const CnfOptions& options, Generator& gen) : options_(options) {
  if (options.blocks < 1) fail("cnf: blocks must be >= 1, got {}", options.blocks);
  if (!(options.time_length > 0)) fail("cnf: time_length must be > 0, got {}", options.time_length);
  if (!options.image.empty()) {
    std::int64_t n = 1;
    for (std::int64_t d : options.image) n *= d;
    if (options.image.size() != 3 || n != options.dims)
      fail("cnf: image shape must be {{channels, rows, cols}} with a product of dims = {}", options.dims);
    if (!(options.logit_alpha > 0 && options.logit_alpha < 0.5))
      fail("cnf: logit_alpha must be in (0, 0.5), got {} (at 0 a pixel 255 dequantises to 1, whose logit is infinite)",
           options.logit_alpha);
  }
  for (int b = 0; b < options.blocks; ++b) {
    blocks_.emplace_back(options.dims, options.hidden, options.layer, options.activation, gen, options.dtype);
    const Tensor s = Tensor::full(Shape{1}, std::sqrt(options.time_length), options.dtype);
    sqrt_end_time_.push_back(options.train_end_time ? Var::parameter(s) : Var(s));
  }
  for (const CnfDynamics& f : blocks_) solver_dynamics_.push_back(std::make_unique<SolverDynamics>(f));
}

void CnfModel::set_compiled(bool on) {
  for (const auto& d : solver_dynamics_) d->set_compiled(on);
}

std::string CnfModel::name() const {
  std::string widths = std::to_string(options_.dims);
  for (std::int64_t h : options_.hidden) widths += fmt::format("-{}", h);
  widths += fmt::format("-{}", options_.dims);
  const auto pick = [](const std::vector<std::string>& names, auto e) { return names[static_cast<std::size_t>(e)]; };
  const std::string train = options_.train.str(), test = options_.test.str();
  return fmt::format("CNF, {} block(s) of {} ({}, {}), T {:g}{}; {}{}", options_.blocks, widths,
                     pick(cnf_layer_names(), options_.layer), pick(cnf_activation_names(), options_.activation),
                     options_.time_length, options_.train_end_time ? " learned" : "", train,
                     test == train ? "" : "; evaluated with " + test);
}

Var CnfModel::end_time_var(int block) const {
  const Var& s = sqrt_end_time_[static_cast<std::size_t>(block)];
  return s * s;
}

double CnfModel::end_time(int block) const { return end_time_var(block).value().item(); }

FlowPass CnfModel::density_pass(const Var& x, const CnfSolve& how, const Regularisers& reg, double steer, Generator* gen,
                                double time_scale) const {
  if (!(time_scale > 0)) fail("cnf: time_scale must be > 0, got {}", time_scale);
  if (x.rank() != 2 || x.size(1) != options_.dims)
    fail("cnf: expected data [B, {}], got {}", options_.dims, x.shape().str());
  FlowPass out;
  out.z = x;
  for (int b = 0; b < options_.blocks; ++b) {
    const Var T = detail::steered_end_time(time_scale == 1.0 ? end_time_var(b) : end_time_var(b) * time_scale, steer, gen);
    const Var times = concat({Var(Tensor::zeros(Shape{1}, options_.dtype)), T}, 0);
    const Dynamics& dyn = solver_dynamics_[static_cast<std::size_t>(b)]->get();
    const Solution sol = solve(dyn, out.z, times, solve_options(how, reg, true, next_seed(gen)));
    out.z = select(sol.ys, 0, 1);
    out.logdet = add_defined(out.logdet, -sol.logp_change);
    out.kinetic = add_defined(out.kinetic, sol.kinetic);
    out.jacobian = add_defined(out.jacobian, sol.jacobian);
    out.taylor = add_defined(out.taylor, sol.taylor);
    out.nfe += sol.stats->calls;
    out.stats.push_back(sol.stats);
  }
  return out;
}

std::pair<Var, Var> CnfModel::to_model_space(const Var& x, Generator* gen) const {
  const Var xc = cast(x, options_.dtype);
  if (!is_image()) return {xc, Var(Tensor::zeros(Shape{x.size(0)}, options_.dtype))};
  const double a = options_.logit_alpha;
  const Tensor u = gen ? gen->uniform(x.shape(), 0.0, 1.0, options_.dtype) : Tensor::full(x.shape(), 0.5, options_.dtype);
  // s and 1 - s each as a + (non-negative), in f64: both stay >= a > 0 for any alpha, where
  // s = a + (1 - 2a) (255 + u) / 256 rounds to 1 in f32 at small alpha and 1 - s to 0 (an infinite logit)
  const Var x_u = cast(x, DType::f64) + Var(u.to(DType::f64));
  const Var s = x_u * ((1 - 2 * a) / 256.0) + a;               // in [a, 1 - a]
  const Var rest = (256.0 - x_u) * ((1 - 2 * a) / 256.0) + a;  // 1 - s
  const Var y = log(s) - log(rest);
  // dy/dx' = (1 - 2a) / (s (1 - s)) for the dequantised x' = (x + u) / 256
  const Var logdet = sum(log(s) + log(rest), {1}) * -1.0 + std::log(1 - 2 * a) * static_cast<double>(options_.dims);
  return {cast(y, options_.dtype), cast(logdet, options_.dtype)};
}

Var CnfModel::log_density(const Var& x, Generator* gen, double time_scale) const {
  const auto [y, transform] = to_model_space(x, gen);
  const FlowPass p = density_pass(y, options_.test, Regularisers{}, 0.0, gen, time_scale);
  return base_log_prob(p.z) + p.logdet + transform;
}

Var CnfModel::sample_from(const Var& z) const {
  Var y = cast(z, options_.dtype);
  for (int b = options_.blocks - 1; b >= 0; --b) {
    const Var times = concat({end_time_var(b), Var(Tensor::zeros(Shape{1}, options_.dtype))}, 0);
    const Dynamics& dyn = solver_dynamics_[static_cast<std::size_t>(b)]->get();
    y = select(solve(dyn, y, times, solve_options(options_.test, Regularisers{}, false, 0)).ys, 0, 1);
  }
  if (!is_image()) return y;
  const double a = options_.logit_alpha;
  return (sigmoid(y) - a) * (256.0 / (1 - 2 * a));
}

Tensor CnfModel::sample(std::int64_t n, Generator& gen) const {
  NoGrad no_grad;
  return sample_from(Var(gen.normal(Shape{n, options_.dims}, 0.0, 1.0, options_.dtype))).value();
}

Tensor CnfModel::trajectories(const Tensor& z, int points) const {
  if (points < 2) fail("cnf: trajectories need at least 2 points per block, got {}", points);
  NoGrad no_grad;
  std::vector<Var> parts{Var(z.to(options_.dtype).reshape(Shape{1, z.size(0), z.size(1)}))};
  Var y(z.to(options_.dtype));
  for (int b = options_.blocks - 1; b >= 0; --b) {
    const double T = end_time(b);
    std::vector<double> ts;
    for (int i = 0; i < points; ++i) ts.push_back(T * (1.0 - static_cast<double>(i) / (points - 1)));
    const Dynamics& dyn = solver_dynamics_[static_cast<std::size_t>(b)]->get();
    const Var ys = solve(dyn, y, Var(Tensor::from_vector(ts, Shape{points}, options_.dtype)),
                         solve_options(options_.test, Regularisers{}, false, 0)).ys;
    parts.push_back(slice(ys, 0, 1, points));
    y = select(ys, 0, points - 1);
  }
  return concat(parts, 0).value();
}

std::vector<std::pair<std::string, Var>> CnfModel::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    append_parameters(out, "block" + std::to_string(b), blocks_[b]);
    if (options_.train_end_time) out.emplace_back("block" + std::to_string(b) + ".sqrt_end_time", sqrt_end_time_[b]);
  }
  return out;
}

BatchLoss CnfModel::loss(const data::Examples& examples, Mode mode, const Training& training) const {
  const data::VectorSet& set = data::vectors_of(examples, "cnf");
  const bool train = mode == Mode::train;
  // the draws (dequantisation, Hutchinson noise, STEER) repeat for a (seed, step); eval draws are
  // fixed per batch start, so batches of a split do not repeat each other's noise
  Generator gen(train ? training.seed ^ 0x464c4f57ULL : 0x4556414cULL);
  gen.set_stream(training.first_stream(mode));
  const Regularisers reg = regularisers_for(train, report_regularisers, training);
  const auto [y, transform] = to_model_space(Var(set.x), &gen);
  const FlowPass p = density_pass(y, train ? options_.train : options_.test, reg, train ? training.steer : 0.0, &gen);
  const Var logp = base_log_prob(p.z) + p.logdet + transform;
  BatchLoss out;
  out.loss = mean(logp) * -1.0;
  // images: the NLL of the 256-level data, p(x) = p(x') / 256^D for the dequantised x' = (x + u) / 256
  // (the loss is the continuous NLL of x', smaller by D log 256)
  const double n = static_cast<double>(set.size()), D = static_cast<double>(options_.dims);
  const double nll_sum = -sum(logp.detach()).item() + (is_image() ? n * D * std::log(256.0) : 0.0);
  const double bpd_sum = nll_sum / (D * std::log(2.0));
  out.metrics.emplace_back(metric(), MetricSums{is_image() ? bpd_sum : nll_sum, n});
  out.metrics.emplace_back(is_image() ? "nll" : "bits_per_dim", MetricSums{is_image() ? nll_sum : bpd_sum, n});
  out.metrics.emplace_back("nfe", MetricSums{static_cast<double>(p.nfe), 1.0});
  add_regularisers(out, p, reg, train ? &training : nullptr, n);
  if (train) out.after_backward = backward_nfe(p.stats);
  return out;
}

}  // namespace tide::models
