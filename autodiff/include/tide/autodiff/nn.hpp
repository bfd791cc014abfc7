// Layers: parameter initialisation, Linear and MLP. Weights are stored [in, out] so a layer is
// x @ W + b, which keeps a Taylor stack [K+1, B, in] one GEMM (ENGINE.md rule 2).
#pragma once
#include "tide/autodiff/ops.hpp"
#include "tide/core/random.hpp"
#include <string>
#include <utility>
#include <vector>

namespace tide {

enum class Init {
  torch_default,    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear default
  xavier_uniform,   // U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio 2010)
  xavier_normal,    // N(0, gain^2 2 / (fan_in + fan_out))
  kaiming_uniform,  // U(-a, a), a = gain sqrt(3 / fan_in)  (He et al. 2015)
  kaiming_normal,   // N(0, gain^2 / fan_in)
  normal,           // N(0, std^2)
  zeros,
};
Init parse_init(const std::string& name);  // "xavier_uniform", ...; error lists the valid names

enum class Activation { identity, tanh, relu, sigmoid, softplus, silu, gelu, elu, leaky_relu, sin };
Activation parse_activation(const std::string& name);
std::string activation_name(Activation a);
Var activate(Activation a, const Var& x);
// The gain init schemes use for an activation (sqrt(2) for relu, 5/3 for tanh, 1 otherwise).
double init_gain(Activation a);

// A fresh tensor of `shape` drawn by `init` for a layer with the given fans.
Tensor init_tensor(Init init, const Shape& shape, std::int64_t fan_in, std::int64_t fan_out,
                   Generator& gen, double gain = 1.0, double std = 0.01, DType dtype = DType::f32,
                   Device device = default_device());

class Module {
public:
  virtual ~Module() = default;
  virtual std::vector<std::pair<std::string, Var>> named_parameters() const = 0;
  std::vector<Var> parameters() const;  // named_parameters()' values, a shared (tied) one once
  std::int64_t parameter_count() const;
  void zero_grad();
};

struct LinearOptions {
  bool bias = true;
  Init weight_init = Init::torch_default;
  Init bias_init = Init::torch_default;
  double gain = 1.0;
  DType dtype = DType::f32;
  Device device = default_device();
};

// act(x @ weight + bias), bias [N] or undefined, recorded as one node: the forward is core's dense
// (one GEMM, then bias and activation in place), the backward one pass for g * act'(y) from the
// output y, the bias's column sums and two GEMMs, instead of three nodes (product, bias, activation)
// and the activation's composite rule. identity, tanh, sigmoid, softplus (sigmoid(x) = -expm1(-y))
// and relu are fused; the other activations are applied after the fused affine map. Under
// create_graph the backward differentiates the composite, recorded.
Var dense(const Var& x, const Var& weight, const Var& bias, Activation act = Activation::identity);

class Linear : public Module {
public:
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, LinearOptions options = {});
  Var operator()(const Var& x) const;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const Var& weight() const { return weight_; }  // [in, out]
  const Var& bias() const { return bias_; }      // [out], undefined without bias
  std::int64_t in_features() const { return weight_.size(0); }
  std::int64_t out_features() const { return weight_.size(1); }

private:
  Var weight_, bias_;
};

// sizes = {in, hidden..., out}; `hidden` after every layer but the last, `output` after the last.
class MLP : public Module {
public:
  MLP(const std::vector<std::int64_t>& sizes, Activation hidden, Generator& gen,
      LinearOptions options = {}, Activation output = Activation::identity);
  Var operator()(const Var& x) const;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const std::vector<Linear>& layers() const { return layers_; }
  Activation hidden_activation() const { return hidden_; }
  Activation output_activation() const { return output_; }

private:
  std::vector<Linear> layers_;
  Activation hidden_, output_;
};

}  // namespace tide
