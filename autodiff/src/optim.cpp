// Optimizer updates in tensor ops (no recording), PyTorch's formulas.
#include "tide/autodiff/optim.hpp"
#include "tide/core/pointwise.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace tide {

Optimizer::Optimizer(std::vector<Var> params) : params_(std::move(params)) {
  std::map<const Node*, std::size_t> seen;  // a parameter given twice would take two steps per step()
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad() || !params_[i].is_leaf())
      fail("optimizer: parameter {} ({}) is not a leaf created with Var::parameter", i, params_[i].str());
    if (const auto [at, fresh] = seen.emplace(params_[i].node().get(), i); !fresh)
      fail("optimizer: parameters {} and {} are the same parameter ({}); give each once", at->second, i, params_[i].str());
  }
}
void Optimizer::zero_grad() {
  for (Var& p : params_) p.zero_grad();
}
void Optimizer::set_learning_rate(double lr) {
  if (!std::isfinite(lr) || lr < 0) fail("optimizer: learning rate must be finite and >= 0, got {}", lr);
  lr_ = lr;
}
std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  fail("optimizer: this optimizer does not implement state()");
}
void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>&) {
  fail("optimizer: this optimizer does not implement load_state()");
}

namespace {
void check_hyper(double v, const char* opt, const char* name, double lo, double hi) {
  if (!std::isfinite(v) || v < lo || v > hi) fail("{}: {} = {} is outside [{}, {}]", opt, name, v, lo, hi);
}
// The gradient with L2 weight decay folded in (undefined when the parameter has no gradient).
Tensor decayed_grad(const Var& p, double weight_decay) {
  const Tensor& g = p.grad();
  if (!g.defined() || weight_decay == 0.0) return g;
  return add(g, mul_scalar(p.value(), weight_decay));
}
std::vector<Tensor> zeros_like(const std::vector<Var>& params) {
  std::vector<Tensor> out;
  for (const Var& p : params) out.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  return out;
}
void update(const Var& p, const Tensor& delta) {  // p -= delta
  Tensor v = p.value();
  v.add_(delta, -1.0);
}
}  // namespace

SGD::SGD(std::vector<Var> params, SGDOptions o) : Optimizer(std::move(params)), o_(o) {
  set_learning_rate(o.lr);
  check_hyper(o.momentum, "SGD", "momentum", 0, 1e9);
  check_hyper(o.dampening, "SGD", "dampening", 0, 1);
  check_hyper(o.weight_decay, "SGD", "weight_decay", 0, 1e9);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) fail("SGD: nesterov needs momentum > 0 and dampening 0");
  momentum_.resize(params_.size());
}

void SGD::step() {
  NoGrad no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor g = decayed_grad(params_[i], o_.weight_decay);
    if (!g.defined()) continue;
    if (o_.momentum != 0.0) {
      Tensor& buf = momentum_[i];
      if (!buf.defined()) buf = g.clone();
      else buf = add(mul_scalar(buf, o_.momentum), mul_scalar(g, 1.0 - o_.dampening));
      g = o_.nesterov ? add(g, mul_scalar(buf, o_.momentum)) : buf;
    }
    update(params_[i], mul_scalar(g, lr_));
  }
}

Adam::Adam(std::vector<Var> params, AdamOptions o) : Optimizer(std::move(params)), o_(o) {
  set_learning_rate(o.lr);
  check_hyper(o.beta1, "Adam", "beta1", 0, 0.999999999);
  check_hyper(o.beta2, "Adam", "beta2", 0, 0.999999999);
  check_hyper(o.eps, "Adam", "eps", 0, 1);
  check_hyper(o.weight_decay, "Adam", "weight_decay", 0, 1e9);
  m_ = zeros_like(params_);
  v_ = zeros_like(params_);
  if (o.amsgrad) vmax_ = zeros_like(params_);
  param_steps_.assign(params_.size(), 0);
}

void Adam::step() {
  NoGrad no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    if (!p.grad().defined()) continue;
    const double t = static_cast<double>(++param_steps_[i]);
    const double bc1 = 1.0 - std::pow(o_.beta1, t), bc2 = 1.0 - std::pow(o_.beta2, t);
    if (!o_.amsgrad) {
      fused_step(i, bc1, bc2);
      continue;
    }
    Tensor g = p.grad();
    if (o_.decoupled_weight_decay) update(p, mul_scalar(p.value(), lr_ * o_.weight_decay));
    else g = decayed_grad(p, o_.weight_decay);
    m_[i] = add(mul_scalar(m_[i], o_.beta1), mul_scalar(g, 1.0 - o_.beta1));
    v_[i] = add(mul_scalar(v_[i], o_.beta2), mul_scalar(square(g), 1.0 - o_.beta2));
    Tensor v = v_[i];
    if (o_.amsgrad) v = vmax_[i] = maximum(vmax_[i], v_[i]);
    const Tensor denom = add_scalar(mul_scalar(sqrt(v), 1.0 / std::sqrt(bc2)), o_.eps);
    update(p, mul_scalar(div(m_[i], denom), lr_ / bc1));
  }
}

// Adam's update of parameter i as one elementwise pass (Backend::elementwise) over m, v, the
// gradient and the parameter, with the composite's operations in its order (the same values, to
// the bit): 13 passes over the parameter and 9 temporaries became one pass and three outputs.
void Adam::fused_step(std::size_t i, double bc1, double bc2) {
  const Var& p = params_[i];
  PointwiseBuilder b(4);
  const Sym m = b.input(0), v = b.input(1), grad = b.input(2), w = b.input(3);
  const bool coupled_decay = !o_.decoupled_weight_decay && o_.weight_decay != 0.0;
  const Sym g = coupled_decay ? grad + w * o_.weight_decay : grad;
  const Sym m1 = m * o_.beta1 + g * (1.0 - o_.beta1);
  const Sym v1 = v * o_.beta2 + square(g) * (1.0 - o_.beta2);
  const Sym denom = b.unary(Op::sqrt, v1) * (1.0 / std::sqrt(bc2)) + o_.eps;
  const Sym decayed = o_.decoupled_weight_decay && o_.weight_decay != 0.0 ? w - w * (lr_ * o_.weight_decay) : w;
  const Sym w1 = decayed - (m1 / denom) * (lr_ / bc1);
  const Tensor& pv = p.value();
  const Tensor out[3] = {Tensor::empty(pv.shape(), pv.dtype(), pv.device()), Tensor::empty(pv.shape(), pv.dtype(), pv.device()),
                         Tensor::empty(pv.shape(), pv.dtype(), pv.device())};
  const Tensor in[4] = {m_[i], v_[i], p.grad(), pv};
  pv.backend().elementwise(b.program({m1, v1, w1}), in, out);
  m_[i] = out[0], v_[i] = out[1];
  Tensor target = pv;
  target.copy_(out[2]);
}

Adamax::Adamax(std::vector<Var> params, AdamaxOptions o) : Optimizer(std::move(params)), o_(o) {
  set_learning_rate(o.lr);
  check_hyper(o.beta1, "Adamax", "beta1", 0, 0.999999999);
  check_hyper(o.beta2, "Adamax", "beta2", 0, 0.999999999);
  check_hyper(o.eps, "Adamax", "eps", 0, 1);
  check_hyper(o.weight_decay, "Adamax", "weight_decay", 0, 1e9);
  m_ = zeros_like(params_);
  u_ = zeros_like(params_);
  param_steps_.assign(params_.size(), 0);
}

void Adamax::step() {
  NoGrad no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = decayed_grad(params_[i], o_.weight_decay);
    if (!g.defined()) continue;
    const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(++param_steps_[i]));
    m_[i] = add(mul_scalar(m_[i], o_.beta1), mul_scalar(g, 1.0 - o_.beta1));
    u_[i] = maximum(mul_scalar(u_[i], o_.beta2), add_scalar(abs(g), o_.eps));
    update(params_[i], mul_scalar(div(m_[i], u_[i]), lr_ / bc1));
  }
}

RMSprop::RMSprop(std::vector<Var> params, RMSpropOptions o) : Optimizer(std::move(params)), o_(o) {
  set_learning_rate(o.lr);
  check_hyper(o.alpha, "RMSprop", "alpha", 0, 1);
  check_hyper(o.eps, "RMSprop", "eps", 0, 1);
  check_hyper(o.momentum, "RMSprop", "momentum", 0, 1e9);
  check_hyper(o.weight_decay, "RMSprop", "weight_decay", 0, 1e9);
  square_avg_ = zeros_like(params_);
  if (o.centered) grad_avg_ = zeros_like(params_);
  if (o.momentum > 0) momentum_ = zeros_like(params_);
}

void RMSprop::step() {
  NoGrad no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = decayed_grad(params_[i], o_.weight_decay);
    if (!g.defined()) continue;
    square_avg_[i] = add(mul_scalar(square_avg_[i], o_.alpha), mul_scalar(square(g), 1.0 - o_.alpha));
    Tensor avg = square_avg_[i];
    if (o_.centered) {
      grad_avg_[i] = add(mul_scalar(grad_avg_[i], o_.alpha), mul_scalar(g, 1.0 - o_.alpha));
      avg = sub(avg, square(grad_avg_[i]));
    }
    avg = add_scalar(sqrt(avg), o_.eps);
    if (o_.momentum > 0) {
      momentum_[i] = add(mul_scalar(momentum_[i], o_.momentum), div(g, avg));
      update(params_[i], mul_scalar(momentum_[i], lr_));
    } else {
      update(params_[i], mul_scalar(div(g, avg), lr_));
    }
  }
}

// ---- saved state ----------------------------------------------------------------------------------
namespace {
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

Tensor int_scalar(std::int64_t value) { return Tensor::from_indices({value}, Shape{}, Device::cpu()); }
// A loaded buffer on the parameter's device, sharing no storage with the saved state.
Tensor copy_to(const Tensor& t, Device device) { return t.device() == device ? t.clone() : t.to(device); }

// What every optimizer saves: whose state it is, the learning rate and the step count.
NamedTensors base_state(const std::string& kind, double lr, std::int64_t steps) {
  return {{"kind." + kind, int_scalar(1)}, {"lr", Tensor::scalar(lr, DType::f64, Device::cpu())},
          {"steps", int_scalar(steps)}};
}

// Reads a saved state key by key; finish() reports every key that was not read, so a state saved
// with other options (amsgrad, centered, momentum) is an error rather than silently half-used.
class StateReader {
public:
  StateReader(const NamedTensors& state, const std::string& kind) : kind_(kind) {
    for (const auto& [key, value] : state)
      if (!entries_.emplace(key, &value).second) fail("{}.load_state: duplicate key '{}'", kind_, key);
    const std::string kind_key = "kind." + kind;
    if (!entries_.count(kind_key)) {
      for (const auto& [key, value] : entries_)
        if (key.starts_with("kind."))
          fail("{}.load_state: the state was saved by {} (key '{}'), not by {}", kind_, key.substr(5), key, kind_);
      fail("{}.load_state: missing key '{}' (not an optimizer state?)", kind_, kind_key);
    }
    if (const std::int64_t version = integer(kind_key); version != 1)
      fail("{}.load_state: key '{}' holds state format {}, this build reads 1", kind_, kind_key, version);
  }
  const Tensor& take(const std::string& key, DType dtype, const Shape& shape) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) fail("{}.load_state: missing key '{}'", kind_, key);
    const Tensor& t = *it->second;
    if (!t.defined()) fail("{}.load_state: key '{}' holds an undefined tensor", kind_, key);
    if (t.dtype() != dtype || t.shape() != shape)
      fail("{}.load_state: key '{}' is {} {}, expected {} {}", kind_, key, dtype_name(t.dtype()), t.shape().str(),
           dtype_name(dtype), shape.str());
    used_.insert(key);
    return t;
  }
  std::int64_t integer(const std::string& key) { return take(key, DType::i64, Shape{}).to_indices()[0]; }
  std::vector<std::int64_t> counts(const std::string& key, std::size_t n) {
    std::vector<std::int64_t> out = take(key, DType::i64, Shape{static_cast<std::int64_t>(n)}).to_indices();
    for (std::size_t i = 0; i < n; ++i)
      if (out[i] < 0) fail("{}.load_state: key '{}' has a negative count {} at {}", kind_, key, out[i], i);
    return out;
  }
  // Learning rate and step count, validated (the caller assigns them once everything is read).
  std::pair<double, std::int64_t> base() {
    const double lr = take("lr", DType::f64, Shape{}).item();
    if (!std::isfinite(lr) || lr < 0) fail("{}.load_state: key 'lr' holds {}, not a learning rate", kind_, lr);
    const std::int64_t steps = integer("steps");
    if (steps < 0) fail("{}.load_state: key 'steps' holds {}", kind_, steps);
    return {lr, steps};
  }
  void finish() const {
    for (const auto& [key, value] : entries_)
      if (!used_.count(key))
        fail("{}.load_state: unexpected key '{}' (was the state saved with other options?)", kind_, key);
  }
  const std::string& kind() const { return kind_; }

private:
  std::string kind_;
  std::map<std::string, const Tensor*> entries_;
  std::set<std::string> used_;
};

// Per-parameter buffers as name.i. Lazily created ones (undefined until a parameter's first
// update) also save name.defined, a 0/1 mask, so "not created yet" round-trips.
void save_buffers(NamedTensors& out, const std::string& name, const std::vector<Tensor>& buffers, bool lazy) {
  std::vector<std::int64_t> mask;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    mask.push_back(buffers[i].defined() ? 1 : 0);
    if (buffers[i].defined()) out.emplace_back(name + "." + std::to_string(i), buffers[i]);
  }
  if (lazy) out.emplace_back(name + ".defined", Tensor::from_indices(mask, Shape{static_cast<std::int64_t>(mask.size())}, Device::cpu()));
}
// What a buffer's values may be. A NaN or infinity, or a negative second moment (its square root
// is taken), read from a damaged or hand-edited file would turn the parameters into NaN at the
// next step, where the divergence would be blamed on the learning rate: refused here instead.
enum class Values { finite, non_negative };
void check_values(const StateReader& in, const std::string& key, const Tensor& t, Values values) {
  const std::vector<double> x = t.to_vector();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || (values == Values::non_negative && x[i] < 0))
      fail("{}.load_state: key '{}' holds {} at index {}, expected {}", in.kind(), key, x[i], i,
           values == Values::non_negative ? "finite values >= 0 (a second moment)" : "finite values");
}
std::vector<Tensor> load_buffers(StateReader& in, const std::string& name, const std::vector<Var>& params, bool lazy,
                                 Values values) {
  std::vector<std::int64_t> mask(params.size(), 1);
  if (lazy) {
    mask = in.counts(name + ".defined", params.size());
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (mask[i] > 1) fail("{}.load_state: key '{}.defined' holds {} at {}, not 0 or 1", in.kind(), name, mask[i], i);
  }
  std::vector<Tensor> out(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!mask[i]) continue;
    const std::string key = name + "." + std::to_string(i);
    const Tensor& saved = in.take(key, params[i].dtype(), params[i].shape());
    check_values(in, key, saved, values);
    out[i] = copy_to(saved, params[i].device());
  }
  return out;
}
}  // namespace

NamedTensors SGD::state() const {
  NamedTensors out = base_state("SGD", lr_, steps_);
  save_buffers(out, "momentum", momentum_, true);
  return out;
}
void SGD::load_state(const NamedTensors& state) {
  StateReader in(state, "SGD");
  const auto [lr, steps] = in.base();
  std::vector<Tensor> momentum = load_buffers(in, "momentum", params_, true, Values::finite);
  in.finish();
  // Buffers exist only once a step with momentum ran: a state that has them is not this
  // optimizer's when it has none (the reverse, a state saved before any step, cannot be told apart).
  if (o_.momentum == 0.0 && std::any_of(momentum.begin(), momentum.end(), [](const Tensor& b) { return b.defined(); }))
    fail("SGD.load_state: the state holds momentum buffers, saved by an SGD with momentum; this one has momentum 0");
  lr_ = lr, steps_ = steps, momentum_ = std::move(momentum);
}

// AdamW (decoupled weight decay) saves as its own kind: its state does not fit Adam's update.
NamedTensors Adam::state() const {
  NamedTensors out = base_state(o_.decoupled_weight_decay ? "AdamW" : "Adam", lr_, steps_);
  out.emplace_back("param_steps", Tensor::from_indices(param_steps_, Shape{static_cast<std::int64_t>(param_steps_.size())}, Device::cpu()));
  save_buffers(out, "m", m_, false);
  save_buffers(out, "v", v_, false);
  save_buffers(out, "vmax", vmax_, false);  // empty without amsgrad
  return out;
}
void Adam::load_state(const NamedTensors& state) {
  StateReader in(state, o_.decoupled_weight_decay ? "AdamW" : "Adam");
  const auto [lr, steps] = in.base();
  std::vector<std::int64_t> param_steps = in.counts("param_steps", params_.size());
  std::vector<Tensor> m = load_buffers(in, "m", params_, false, Values::finite),
                      v = load_buffers(in, "v", params_, false, Values::non_negative), vmax;
  if (o_.amsgrad) vmax = load_buffers(in, "vmax", params_, false, Values::non_negative);
  in.finish();
  lr_ = lr, steps_ = steps, param_steps_ = std::move(param_steps);
  m_ = std::move(m), v_ = std::move(v), vmax_ = std::move(vmax);
}

NamedTensors Adamax::state() const {
  NamedTensors out = base_state("Adamax", lr_, steps_);
  out.emplace_back("param_steps", Tensor::from_indices(param_steps_, Shape{static_cast<std::int64_t>(param_steps_.size())}, Device::cpu()));
  save_buffers(out, "m", m_, false);
  save_buffers(out, "u", u_, false);
  return out;
}
void Adamax::load_state(const NamedTensors& state) {
  StateReader in(state, "Adamax");
  const auto [lr, steps] = in.base();
  std::vector<std::int64_t> param_steps = in.counts("param_steps", params_.size());
  std::vector<Tensor> m = load_buffers(in, "m", params_, false, Values::finite),
                      u = load_buffers(in, "u", params_, false, Values::non_negative);
  in.finish();
  lr_ = lr, steps_ = steps, param_steps_ = std::move(param_steps), m_ = std::move(m), u_ = std::move(u);
}

NamedTensors RMSprop::state() const {
  NamedTensors out = base_state("RMSprop", lr_, steps_);
  save_buffers(out, "square_avg", square_avg_, false);
  save_buffers(out, "grad_avg", grad_avg_, false);  // empty unless centered
  save_buffers(out, "momentum", momentum_, false);  // empty without momentum
  return out;
}
void RMSprop::load_state(const NamedTensors& state) {
  StateReader in(state, "RMSprop");
  const auto [lr, steps] = in.base();
  std::vector<Tensor> square_avg = load_buffers(in, "square_avg", params_, false, Values::non_negative), grad_avg, momentum;
  if (o_.centered) grad_avg = load_buffers(in, "grad_avg", params_, false, Values::finite);
  if (o_.momentum > 0) momentum = load_buffers(in, "momentum", params_, false, Values::finite);
  in.finish();
  lr_ = lr, steps_ = steps, square_avg_ = std::move(square_avg), grad_avg_ = std::move(grad_avg),
  momentum_ = std::move(momentum);
}

namespace {
// Each distinct parameter's gradient replaced by f(gradient), out of place: a tensor given to
// set_grad may be the caller's (or another parameter's) and is never written.
template <class F> void scale_gradients(const std::vector<Var>& params, const F& f) {
  std::set<const Node*> done;
  for (Var p : params)
    if (p.grad().defined() && done.insert(p.node().get()).second) p.set_grad(f(p.grad()));
}
// The joint 2-norm (in f64) or infinity norm of the parameters' gradients; NaN when any holds one.
double gradient_norm(const std::vector<Var>& params, bool inf_norm) {
  double total = 0.0;
  for (const Var& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined() || g.numel() == 0) continue;
    const double m = inf_norm ? max(abs(g)).item() : sum(square(g.to(DType::f64))).item();
    if (!inf_norm) total += m;
    else if (std::isnan(m) || m > total) total = m;  // NaN propagates, as in the 2-norm
  }
  return inf_norm ? total : std::sqrt(total);
}
}  // namespace

double clip_grad_norm(const std::vector<Var>& params, double max_norm, double norm_type) {
  if (!(max_norm > 0) || std::isnan(max_norm)) fail("clip_grad_norm: max_norm must be > 0, got {}", max_norm);
  const bool inf_norm = norm_type == std::numeric_limits<double>::infinity();  // -inf (PyTorch: the smallest |g|) is refused
  if (!inf_norm && norm_type != 2.0) fail("clip_grad_norm: norm_type must be 2 or infinity, got {}", norm_type);
  const double total = gradient_norm(params, inf_norm);
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1.0) scale_gradients(params, [scale](const Tensor& g) { return mul_scalar(g, scale); });
  return total;
}

void clip_grad_value(const std::vector<Var>& params, double clip) {
  if (!(clip > 0) || std::isnan(clip)) fail("clip_grad_value: clip must be > 0, got {}", clip);
  scale_gradients(params, [clip](const Tensor& g) { return tide::clamp(g, -clip, clip); });
}

}  // namespace tide
