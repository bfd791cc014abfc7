// Optimizer updates in tensor ops (no recording), PyTorch's formulas.
#include "tide/autodiff/optim.hpp"
#include "tide/core/ops.hpp"
#include <cmath>

namespace tide {

Optimizer::Optimizer(std::vector<Var> params) : params_(std::move(params)) {
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].requires_grad() || !params_[i].is_leaf())
      fail("optimizer: parameter {} ({}) is not a leaf created with Var::parameter", i, params_[i].str());
}
void Optimizer::zero_grad() {
  for (Var& p : params_) p.zero_grad();
}
void Optimizer::set_learning_rate(double lr) {
  if (!std::isfinite(lr) || lr < 0) fail("optimizer: learning rate must be finite and >= 0, got {}", lr);
  lr_ = lr;
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

double clip_grad_norm(const std::vector<Var>& params, double max_norm, double norm_type) {
  if (!(max_norm > 0) || std::isnan(max_norm)) fail("clip_grad_norm: max_norm must be > 0, got {}", max_norm);
  const bool inf_norm = std::isinf(norm_type);
  if (!inf_norm && norm_type != 2.0) fail("clip_grad_norm: norm_type must be 2 or infinity, got {}", norm_type);
  double total = 0.0;
  for (const Var& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (inf_norm) total = std::max(total, max(abs(g)).item());
    else total += sum(square(g.to(DType::f64))).item();
  }
  if (!inf_norm) total = std::sqrt(total);
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1.0)
    for (const Var& p : params)
      if (p.grad().defined()) {
        Tensor g = p.grad();
        g.mul_(scale);
      }
  return total;
}

void clip_grad_value(const std::vector<Var>& params, double clip) {
  if (!(clip > 0) || std::isnan(clip)) fail("clip_grad_value: clip must be > 0, got {}", clip);
  for (const Var& p : params)
    if (p.grad().defined()) {
      Tensor g = p.grad();
      g.copy_(tide::clamp(g, -clip, clip));
    }
}

}  // namespace tide
