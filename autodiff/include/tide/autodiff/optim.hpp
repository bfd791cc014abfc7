// Optimizers and gradient clipping. Each step() reads every parameter's accumulated grad() and
// updates its value in place (bumping its version, so a stale graph cannot be back-propagated).
// Update formulas follow PyTorch's torch.optim so that results can be compared with it.
// state() / load_state() carry everything a step depends on besides the options, so that a run
// saved after k steps (archive.hpp) and resumed in a fresh optimizer continues bit for bit.
#pragma once
#include "tide/autodiff/var.hpp"
#include <string>
#include <utility>
#include <vector>

namespace tide {

class Optimizer {
public:
  explicit Optimizer(std::vector<Var> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr);
  const std::vector<Var>& params() const { return params_; }
  std::int64_t step_count() const { return steps_; }

  // The optimizer's state as named tensors: "kind.<Kind>" (marks whose state it is), "lr",
  // "steps" and the per-parameter buffers as "<buffer>.<index>"; buffers created lazily also have
  // "<buffer>.defined", a 0/1 mask per parameter (Adam with decoupled weight decay saves as
  // "kind.AdamW"). The tensors may share storage with the optimizer's own (archive.hpp's
  // add_optimizer copies them). The base class's state() and load_state() throw.
  virtual std::vector<std::pair<std::string, Tensor>> state() const;
  // Restores a state() saved by an optimizer of the same kind and options over parameters of the
  // same shapes and dtypes. A missing, unexpected or mis-shaped key, another optimizer's state, or
  // a buffer holding a NaN, an infinity or a negative second moment (Adam's v and vmax, Adamax's u,
  // RMSprop's square_avg) is an error naming the key (and the index of the first bad value);
  // nothing changes unless the whole state is valid.
  virtual void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

protected:
  std::vector<Var> params_;
  double lr_ = 1e-3;
  std::int64_t steps_ = 0;
};

struct SGDOptions { double lr = 1e-2, momentum = 0.0, dampening = 0.0, weight_decay = 0.0; bool nesterov = false; };
class SGD : public Optimizer {
public:
  SGD(std::vector<Var> params, SGDOptions options = {});
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;
private:
  SGDOptions o_;
  std::vector<Tensor> momentum_;
};

// decoupled_weight_decay = true gives AdamW (Loshchilov & Hutter).
struct AdamOptions { double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0; bool decoupled_weight_decay = false; bool amsgrad = false; };
class Adam : public Optimizer {
public:
  Adam(std::vector<Var> params, AdamOptions options = {});
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;
private:
  void fused_step(std::size_t i, double bc1, double bc2);
  AdamOptions o_;
  std::vector<Tensor> m_, v_, vmax_;
  std::vector<std::int64_t> param_steps_;  // bias correction counts each parameter's own updates
};

struct AdamaxOptions { double lr = 2e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0; };
class Adamax : public Optimizer {
public:
  Adamax(std::vector<Var> params, AdamaxOptions options = {});
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;
private:
  AdamaxOptions o_;
  std::vector<Tensor> m_, u_;
  std::vector<std::int64_t> param_steps_;
};

struct RMSpropOptions { double lr = 1e-2, alpha = 0.99, eps = 1e-8, momentum = 0.0, weight_decay = 0.0; bool centered = false; };
class RMSprop : public Optimizer {
public:
  RMSprop(std::vector<Var> params, RMSpropOptions options = {});
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;
private:
  RMSpropOptions o_;
  std::vector<Tensor> square_avg_, grad_avg_, momentum_;
};

// Scales all gradients so that their joint norm is at most max_norm; returns the norm before
// clipping (NaN when any gradient holds one). norm_type is 2 (Euclidean) or infinity. Like
// clip_grad_value, it replaces each parameter's gradient once (a parameter listed twice is scaled
// once) and never writes the tensors the gradients were: one given to set_grad stays as it was.
double clip_grad_norm(const std::vector<Var>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient element to [-clip, clip].
void clip_grad_value(const std::vector<Var>& params, double clip);

}  // namespace tide
