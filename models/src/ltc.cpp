#include "tide/models/ltc.hpp"
#include "tide/autodiff/synapse.hpp"
#include "tide/core/fused.hpp"
#include "tide/solvers/step.hpp"
#include <cmath>
#include <optional>

namespace tide::models {
namespace {

// softplus^-1(y) = log(exp(y) - 1): raw values whose softplus is y.
Tensor inverse_softplus(const Tensor& y) { return tide::log(tide::expm1(y)); }

Var positive(const Var& raw) { return softplus(raw); }

}  // namespace

void check_fused_gradient(const OdeSpec& ode, const std::string& key) {
  if (ode.method == Method::ltc_fused && ode.gradient != GradientKind::discrete)
    fail("{}: gradient '{}' does not apply to ltc_fused: a fixed-step fused solver is differentiated through its "
         "unfolds (the discrete gradient, exact and the cheapest); use gradient 'discrete', or method rk4 or dopri5 "
         "for the {} gradient",
         key, gradient_kind_name(ode.gradient), gradient_kind_name(ode.gradient));
}

LTCBase::LTCBase(LTCOptions options) : options_(options) { check_fused_gradient(options_.ode, "ltc: LTCOptions::ode.gradient"); }

Var LTCBase::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  check_step(x, state, dt);
  const std::vector<Var> prepared = prepare(x);
  const OdeSpec& ode = options_.ode;
  if (ode.method != Method::ltc_fused) return integrate_interval(rhs(prepared), state, dt, ode, regulariser);
  if (ode.unfolds < 1) fail("{}: unfolds must be >= 1, got {}", name(), ode.unfolds);
  if (regulariser) regulariser->count(ode.unfolds);
  return fused_unfolds(state, prepared, dt * (1.0 / ode.unfolds), regulariser);
}

IntervalDynamics LTCBase::rhs(const std::vector<Var>& prepared) const {
  return [this, prepared](const auto& v, const Rows& rows) {
    const auto s = split(v, prepared, rows);
    return s.c - s.a * v;
  };
}

Var LTCBase::fused_unfolds(const Var& state, const std::vector<Var>& prepared, const Var& h, OdeRegulariser* regulariser) const {
  const bool regularised = regulariser && regulariser->weights().any();
  std::optional<IntervalDynamics> g;
  if (regularised) g = rhs(prepared);
  Var v = state;
  for (int i = 0; i < options_.ode.unfolds; ++i) {
    if (g) regularise_unfold(*g, v, h, *regulariser);
    const Split s = split(v, prepared, Rows());
    v = ltc_fused_update(v, s.a, s.c, h);  // algorithm 1's fused step, the solver's ltc_fused stepper
  }
  return v;
}

// ---- paper form ---------------------------------------------------------------------------------

LTCCell::LTCCell(std::int64_t input, std::int64_t units, Generator& gen, LTCOptions options, FFn f)
    : LTCBase(options), input_(input), units_(units),
      layer_(units + input, units, gen, linear_options(options.dtype)),
      f_(std::move(f)) {
  if (!(options.tau_min >= 0)) fail("ltc: tau_min must be >= 0, got {}", options.tau_min);
  tau_raw_ = Var::parameter(Tensor::full(Shape{units}, std::log(std::expm1(1.0)), options.dtype));  // tau = tau_min + 1
  a_ = Var::parameter(gen.uniform(Shape{units}, -1.0, 1.0, options.dtype));
}

Var LTCCell::tau() const { return softplus(tau_raw_) + options_.tau_min; }

Var LTCCell::f(const Var& x, const Var& input) const {
  return f_ ? f_(x, input) : sigmoid(layer_(concat({x, input}, 1)));
}

LTCBase::Split LTCCell::split(const Var& x, const std::vector<Var>& prepared, const Rows& rows) const {
  const Var fx = f(x, rows.gather(prepared[0]));
  return {fx + reciprocal(tau()), fx * a_};
}

LTCBase::SplitOf<Jet> LTCCell::split(const Jet& x, const std::vector<Var>& prepared, const Rows& rows) const {
  if (f_) fail("ltc: a custom f runs on Vars only; the Jacobian and R_K regularisers need it on Jets");
  const Jet fx = sigmoid(apply(layer_, concat({x, Jet(rows.gather(prepared[0]))}, 1)));
  return {fx + reciprocal(tau()), fx * a_};
}

std::vector<std::pair<std::string, Var>> LTCCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  if (!f_) append_parameters(out, "f", layer_);
  out.emplace_back("tau_raw", tau_raw_);
  out.emplace_back("A", a_);
  return out;
}

// ---- biophysical form ---------------------------------------------------------------------------

BiophysicalLTCCell::BiophysicalLTCCell(const Wiring& wiring, Generator& gen, LTCOptions options)
    : LTCBase(options), wiring_(wiring) {
  wiring_.validate();
  const DType dt = options.dtype;
  const std::int64_t N = wiring.units, I = wiring.inputs, M = wiring.motor;
  // The wiring is host data; the cell lives on the default device, like the generator's draws.
  const Tensor adjacency = wiring.adjacency.to(dt).to(default_device());
  const Tensor sensory_adjacency = wiring.sensory_adjacency.to(dt).to(default_device());
  mask_ = tide::abs(adjacency);
  sensory_mask_ = tide::abs(sensory_adjacency);
  auto param = [](Tensor t) { return Var::parameter(std::move(t)); };
  // The reference library's initial ranges; positive parameters are stored through softplus^-1.
  p_.gleak = param(inverse_softplus(gen.uniform(Shape{N}, 0.001, 1.0, dt)));
  p_.vleak = param(gen.uniform(Shape{N}, -0.2, 0.2, dt));
  p_.cm = param(inverse_softplus(gen.uniform(Shape{N}, 0.4, 0.6, dt)));
  p_.w = param(inverse_softplus(gen.uniform(Shape{N, N}, 0.001, 1.0, dt)));
  p_.sigma = param(gen.uniform(Shape{N, N}, 3.0, 8.0, dt));
  p_.mu = param(gen.uniform(Shape{N, N}, 0.3, 0.8, dt));
  p_.erev = param(adjacency.clone());
  p_.sensory_w = param(inverse_softplus(gen.uniform(Shape{I, N}, 0.001, 1.0, dt)));
  p_.sensory_sigma = param(gen.uniform(Shape{I, N}, 3.0, 8.0, dt));
  p_.sensory_mu = param(gen.uniform(Shape{I, N}, 0.3, 0.8, dt));
  p_.sensory_erev = param(sensory_adjacency.clone());
  p_.input_w = param(Tensor::ones(Shape{I}, dt));
  p_.input_b = param(Tensor::zeros(Shape{I}, dt));
  p_.output_w = param(Tensor::ones(Shape{M}, dt));
  p_.output_b = param(Tensor::zeros(Shape{M}, dt));
}

// When a gradient can flow, the synapse sums are the differentiable fused op (autodiff/synapse.hpp:
// one pass forward, one backward); otherwise core's synapse_sums with the leak and 1 / cm folded
// in once per observation.
bool BiophysicalLTCCell::records(std::initializer_list<const Var*> inputs) const {
  if (!grad_enabled()) return false;
  for (const Var* v : inputs)
    if (v->requires_grad()) return true;
  for (const Var* p : {&p_.gleak, &p_.vleak, &p_.cm, &p_.w, &p_.mu, &p_.sigma, &p_.erev, &p_.sensory_w, &p_.sensory_mu,
                       &p_.sensory_sigma, &p_.sensory_erev, &p_.input_w, &p_.input_b, &p_.output_w, &p_.output_b})
    if (p->requires_grad()) return true;
  return false;
}

std::vector<Var> BiophysicalLTCCell::prepare(const Var& input) const {
  if (!records({&input})) {
    // Unrecorded: the observation's sensory sums with the leak folded in, and the step's effective
    // recurrent weights and 1 / cm, all formed once per observation for the L unfolds.
    const Tensor in = tide::add(tide::mul(input.value(), p_.input_w.value()), p_.input_b.value());
    const Tensor gleak = tide::softplus(p_.gleak.value());
    const SynapseSums s = synapse_sums(in, tide::mul(tide::softplus(p_.sensory_w.value()), sensory_mask_),
                                       p_.sensory_sigma.value(), p_.sensory_mu.value(), p_.sensory_erev.value());
    return {Var(tide::add(s.num, tide::mul(gleak, p_.vleak.value()))), Var(tide::add(s.den, gleak)),
            Var(tide::mul(tide::softplus(p_.w.value()), mask_)), Var(tide::reciprocal(tide::softplus(p_.cm.value())))};
  }
  const Var in = input * p_.input_w + p_.input_b;  // [B, I]
  const SynapseSumVars s = synapse_sums(in, positive(p_.sensory_w) * Var(sensory_mask_), p_.sensory_sigma, p_.sensory_mu,
                                        p_.sensory_erev);  // one differentiable fused op: no [B, I, N] on the tape
  return {s.num, s.den};
}

LTCBase::Split BiophysicalLTCCell::split(const Var& v, const std::vector<Var>& prepared, const Rows& rows) const {
  if (prepared.size() == 4 && !records({&v})) {  // prepared unrecorded (above)
    const SynapseSums s = synapse_sums(v.value(), prepared[2].value(), p_.sigma.value(), p_.mu.value(), p_.erev.value(),
                                       rows.gather(prepared[0].value()), rows.gather(prepared[1].value()));
    const Tensor& inv_cm = prepared[3].value();
    return {Var(tide::mul(s.den, inv_cm)), Var(tide::mul(s.num, inv_cm))};
  }
  const Terms t = terms(prepared, rows);
  const SynapseSumVars s = synapse_sums(v, t.w, p_.sigma, p_.mu, p_.erev);
  return {(s.den + t.den0) * t.inv_cm, (s.num + t.num0) * t.inv_cm};
}

// An unrecorded prepare() already holds the leak and the step's weights and 1 / cm, a recorded
// one only the sensory sums (adding the leak to the first form too doubled it: bug hunt).
BiophysicalLTCCell::Terms BiophysicalLTCCell::terms(const std::vector<Var>& prepared, const Rows& rows) const {
  Terms t{Var(), rows.gather(prepared[0]), rows.gather(prepared[1]), Var()};
  if (prepared.size() == 4) {
    t.w = prepared[2], t.inv_cm = prepared[3];
    return t;
  }
  const Var gleak = positive(p_.gleak);
  t.w = positive(p_.w) * Var(mask_), t.inv_cm = reciprocal(positive(p_.cm));
  t.num0 = t.num0 + gleak * p_.vleak, t.den0 = t.den0 + gleak;
  return t;
}

LTCBase::SplitOf<Jet> BiophysicalLTCCell::split(const Jet& v, const std::vector<Var>& prepared, const Rows& rows) const {
  // The same sums and leak as split(), from either form of `prepared` (prepare()).
  const Terms t = terms(prepared, rows);
  const Jet s = t.w * sigmoid((unsqueeze(v, 2) - p_.mu) * p_.sigma);  // [B, pre j, post i]
  const Jet num = sum(s * p_.erev, {1}), den = sum(s, {1});
  return {(den + t.den0) * t.inv_cm, (num + t.num0) * t.inv_cm};
}

Var BiophysicalLTCCell::fused_unfolds(const Var& state, const std::vector<Var>& prepared, const Var& h,
                                      OdeRegulariser* regulariser) const {
  if (prepared.size() != 4 || records({&state, &h}) || (regulariser && regulariser->weights().any()))
    return LTCBase::fused_unfolds(state, prepared, h, regulariser);
  // (v + h c) / (1 + h a) with a = den / cm, c = num / cm, multiplied through by cm.
  const Tensor cm = tide::reciprocal(prepared[3].value()), hv = h.value();
  Tensor v = state.value();
  for (int i = 0; i < options_.ode.unfolds; ++i) {
    const SynapseSums s = synapse_sums(v, prepared[2].value(), p_.sigma.value(), p_.mu.value(), p_.erev.value(),
                                       prepared[0].value(), prepared[1].value());
    v = tide::div(tide::add(tide::mul(cm, v), tide::mul(hv, s.num)), tide::add(cm, tide::mul(hv, s.den)));
  }
  return Var(v);
}

Var BiophysicalLTCCell::output(const Var& state) const {
  return slice(state, 1, 0, wiring_.motor) * p_.output_w + p_.output_b;
}

std::vector<std::pair<std::string, Var>> BiophysicalLTCCell::named_parameters() const {
  return {{"gleak", p_.gleak}, {"vleak", p_.vleak}, {"cm", p_.cm}, {"w", p_.w}, {"sigma", p_.sigma},
          {"mu", p_.mu}, {"erev", p_.erev}, {"sensory_w", p_.sensory_w}, {"sensory_sigma", p_.sensory_sigma},
          {"sensory_mu", p_.sensory_mu}, {"sensory_erev", p_.sensory_erev}, {"input_w", p_.input_w},
          {"input_b", p_.input_b}, {"output_w", p_.output_w}, {"output_b", p_.output_b}};
}

}  // namespace tide::models
