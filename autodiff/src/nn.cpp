// Initialisation schemes, activations, Linear and MLP.
#include "tide/autodiff/nn.hpp"
#include "backward.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/core/pointwise.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/named.hpp"
#include "tide/core/small_blocks.hpp"
#include <algorithm>
#include <array>
#include <set>
#include <optional>
#include <cmath>

namespace tide {

namespace {
const Named<Init> init_names[] = {
    {"torch_default", Init::torch_default}, {"xavier_uniform", Init::xavier_uniform},
    {"xavier_normal", Init::xavier_normal}, {"kaiming_uniform", Init::kaiming_uniform},
    {"kaiming_normal", Init::kaiming_normal}, {"normal", Init::normal}, {"zeros", Init::zeros}};
const Named<Activation> activation_names[] = {
    {"identity", Activation::identity}, {"tanh", Activation::tanh}, {"relu", Activation::relu},
    {"sigmoid", Activation::sigmoid}, {"softplus", Activation::softplus}, {"silu", Activation::silu},
    {"gelu", Activation::gelu}, {"elu", Activation::elu}, {"leaky_relu", Activation::leaky_relu},
    {"sin", Activation::sin}};

}  // namespace

Init parse_init(const std::string& name) { return lookup(init_names, name, "initialisation"); }
Activation parse_activation(const std::string& name) { return lookup(activation_names, name, "activation"); }
std::string activation_name(Activation a) {
  for (const auto& [n, v] : activation_names)
    if (v == a) return std::string(n);
  return "?";
}

Var activate(Activation a, const Var& x) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::tanh: return tanh(x);
    case Activation::relu: return relu(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::softplus: return softplus(x);
    case Activation::silu: return silu(x);
    case Activation::gelu: return gelu(x);
    case Activation::elu: return elu(x);
    case Activation::leaky_relu: return leaky_relu(x);
    case Activation::sin: return sin(x);
  }
  return x;
}

double init_gain(Activation a) {
  switch (a) {
    case Activation::relu: return std::sqrt(2.0);
    case Activation::tanh: return 5.0 / 3.0;
    case Activation::leaky_relu: return std::sqrt(2.0 / (1.0 + 0.01 * 0.01));
    default: return 1.0;
  }
}

Tensor init_tensor(Init init, const Shape& shape, std::int64_t fan_in, std::int64_t fan_out,
                   Generator& gen, double gain, double std, DType dtype, Device device) {
  if (fan_in <= 0 || fan_out <= 0) fail("init: fans must be positive (fan_in {}, fan_out {})", fan_in, fan_out);
  const double fi = static_cast<double>(fan_in), fo = static_cast<double>(fan_out);
  auto uniform = [&](double a) { return gen.uniform(shape, -a, a, dtype, device); };
  switch (init) {
    case Init::torch_default: return uniform(1.0 / std::sqrt(fi));
    case Init::xavier_uniform: return uniform(gain * std::sqrt(6.0 / (fi + fo)));
    case Init::xavier_normal: return gen.normal(shape, 0.0, gain * std::sqrt(2.0 / (fi + fo)), dtype, device);
    case Init::kaiming_uniform: return uniform(gain * std::sqrt(3.0 / fi));
    case Init::kaiming_normal: return gen.normal(shape, 0.0, gain / std::sqrt(fi), dtype, device);
    case Init::normal: return gen.normal(shape, 0.0, std, dtype, device);
    case Init::zeros: return Tensor::zeros(shape, dtype, device);
  }
  return Tensor();
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  std::set<const Node*> seen;  // a parameter shared by two submodules (tied weights) once
  for (auto& [name, p] : named_parameters())
    if (seen.insert(p.node().get()).second) out.push_back(p);
  return out;
}
std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (const Var& p : parameters()) n += p.numel();
  return n;
}
void Module::zero_grad() {
  for (auto& [name, p] : named_parameters()) p.zero_grad();
}

Linear::Linear(std::int64_t in, std::int64_t out, Generator& gen, LinearOptions o) {
  if (in <= 0 || out <= 0) fail("Linear: features must be positive, got in {} out {}", in, out);
  weight_ = Var::parameter(init_tensor(o.weight_init, Shape{in, out}, in, out, gen, o.gain, 0.01, o.dtype, o.device));
  if (o.bias) {
    // Bias fans follow PyTorch: bound 1/sqrt(fan_in) for the default scheme.
    const Init bi = o.bias_init;
    bias_ = Var::parameter(bi == Init::torch_default
                               ? init_tensor(bi, Shape{out}, in, out, gen, 1.0, 0.01, o.dtype, o.device)
                               : init_tensor(bi, Shape{out}, in, out, gen, o.gain, 0.01, o.dtype, o.device));
  }
}

Var Linear::operator()(const Var& x) const {
  if (x.rank() == 0 || x.shape().back() != in_features())
    fail("Linear: input {} does not end in {} features", x.shape().str(), in_features());
  return dense(x, weight_, bias_);
}

std::vector<std::pair<std::string, Var>> Linear::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out{{"weight", weight_}};
  if (bias_.defined()) out.emplace_back("bias", bias_);
  return out;
}

MLP::MLP(const std::vector<std::int64_t>& sizes, Activation hidden, Generator& gen,
         LinearOptions options, Activation output)
    : hidden_(hidden), output_(output) {
  if (sizes.size() < 2) fail("MLP: need at least input and output sizes, got {}", sizes.size());
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) layers_.emplace_back(sizes[i], sizes[i + 1], gen, options);
}

namespace {
// The op (and its parameter) an activation applies, for the fused dense layer; none for identity.
std::optional<std::pair<Op, double>> activation_op(Activation a) {
  switch (a) {
    case Activation::identity: return std::nullopt;
    case Activation::tanh: return std::pair{Op::tanh, 0.0};
    case Activation::relu: return std::pair{Op::relu, 0.0};
    case Activation::sigmoid: return std::pair{Op::sigmoid, 0.0};
    case Activation::softplus: return std::pair{Op::softplus, 0.0};
    case Activation::silu: return std::pair{Op::silu, 0.0};
    case Activation::gelu: return std::pair{Op::gelu, 0.0};
    case Activation::elu: return std::pair{Op::elu, 1.0};
    case Activation::leaky_relu: return std::pair{Op::leaky_relu, 0.01};
    case Activation::sin: return std::pair{Op::sin, 0.0};
  }
  return std::nullopt;
}
}  // namespace

namespace {

// dz = g * act'(y) as a program of (y, g), for the activations whose derivative is a function of
// their output; none for the others (and for identity, where dz is g).
std::optional<ElementwiseProgram> output_derivative(Activation a) {
  PointwiseBuilder p(2);
  const Sym y = p.input(0), g = p.input(1);
  switch (a) {
    case Activation::tanh: return p.program({pointwise_rule(Op::tanh, g, Sym{}, y, 0.0)});
    case Activation::sigmoid: return p.program({pointwise_rule(Op::sigmoid, g, Sym{}, y, 0.0)});
    case Activation::softplus: return p.program({-(p.unary(Op::expm1, -y)) * g});  // sigmoid(x) = 1 - e^-y
    case Activation::relu: return p.program({g * p.unary(Op::sign, y)});          // y > 0: 1, y = 0: 0
    case Activation::identity: case Activation::silu: case Activation::gelu: case Activation::elu:
    case Activation::leaky_relu: case Activation::sin: return std::nullopt;
  }
  return std::nullopt;
}

const std::optional<ElementwiseProgram>& derivative_program(Activation a) {
  static const std::vector<std::optional<ElementwiseProgram>> programs = [] {
    std::vector<std::optional<ElementwiseProgram>> v;
    for (int i = 0; i <= static_cast<int>(Activation::sin); ++i) v.push_back(output_derivative(static_cast<Activation>(i)));
    return v;
  }();
  return programs[static_cast<std::size_t>(a)];
}

bool fusable(Activation a) { return a == Activation::identity || derivative_program(a).has_value(); }

Var dense_composite(const std::vector<Var>& in, Activation act) {
  const Var affine = in.size() > 2 ? matmul(in[0], in[1]) + in[2] : matmul(in[0], in[1]);
  return activate(act, affine);
}

class DenseBackward final : public CustomBackward {
public:
  DenseBackward(std::vector<Var> inputs, Tensor y, Activation act)
      : inputs_(std::move(inputs)), y_(std::move(y)), act_(act), versions_(values()) {}
  const char* name() const override { return "dense"; }
  const std::vector<Var>& inputs() const { return inputs_; }

  std::vector<Var> backward(const Var& g) override {
    static constexpr const char* names[] = {"input", "weight", "bias", "output"};
    versions_.check("dense", values(), names);
    if (grad_enabled())
      return composite_vjp([this](const std::vector<Var>& in) { return std::vector<Var>{dense_composite(in, act_)}; }, inputs_, {g});
    const Tensor dz = pre_activation_gradient(g.value());
    const Tensor& x = inputs_[0].value();
    const Tensor& w = inputs_[1].value();
    const std::int64_t n = w.shape()[1];
    std::vector<Var> out(inputs_.size());
    if (inputs_[0].requires_grad()) out[0] = Var(matmul(dz, w.transpose(0, 1)));
    if (inputs_[1].requires_grad()) {  // x^T dz over all leading axes as rows (a 2-d x: no views to make)
      std::int64_t rows = 1;  // the leading extents' product (numel / k is undefined for k = 0)
      for (int i = 0; i + 1 < x.rank(); ++i) rows *= x.shape()[i];
      const auto as_rows = [rows](const Tensor& t) {
        return t.rank() == 2 && t.is_contiguous() ? t : t.contiguous().reshape(Shape{rows, t.shape().back()});
      };
      out[1] = Var(matmul(as_rows(x).transpose(0, 1), as_rows(dz)));
    }
    if (inputs_.size() > 2 && inputs_[2].requires_grad()) out[2] = Var(sum_to(dz, Shape{n}));
    return out;
  }

private:
  Tensor pre_activation_gradient(const Tensor& g) const {
    if (act_ == Activation::identity) return g;
    Tensor dz = Tensor::empty(y_.shape(), y_.dtype(), y_.device());
    const Tensor in[2] = {y_, g};
    y_.backend().elementwise(*derivative_program(act_), in, std::span<const Tensor>(&dz, 1));
    return dz;
  }

  // x, W, b (when there is one), y: the values the backward reads, named where they are held
  std::array<const Tensor*, 4> values() const {
    return {&inputs_[0].value(), &inputs_[1].value(), inputs_.size() > 2 ? &inputs_[2].value() : nullptr, &y_};
  }

  std::vector<Var> inputs_;
  Tensor y_;
  Activation act_;
  SavedVersions versions_;
};

}  // namespace

Var dense(const Var& x, const Var& weight, const Var& bias, Activation act) {
  if (!fusable(act)) return activate(act, dense(x, weight, bias, Activation::identity));
  const auto op = activation_op(act);
  Tensor y = tide::dense(x.value(), weight.value(), bias.defined() ? bias.value() : Tensor(),
                         op ? std::optional<Op>(op->first) : std::nullopt, op ? op->second : 0.0);
  const bool record = grad_enabled() && (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  if (!record) return Var(std::move(y));
  std::vector<Var> inputs;  // filled in place: an initializer list would copy each Var twice
  inputs.reserve(3);
  inputs.push_back(x), inputs.push_back(weight);
  if (bias.defined()) inputs.push_back(bias);
  const Tensor saved = y;
  auto backward = make_pooled<DenseBackward>(std::move(inputs), saved, act);
  const std::vector<Var>& recorded = backward->inputs();  // owned by `backward`, which record_custom holds while it reads them
  return record_custom(std::move(y), recorded, std::move(backward));
}

namespace {

void check_features(const Var& h, const Linear& l) {
  if (h.rank() == 0 || h.shape().back() != l.in_features())
    fail("Linear: input {} does not end in {} features", h.shape().str(), l.in_features());
}

// Whether a call records on the tape: grad mode on, and the input or a parameter needs a gradient.
bool mlp_records(const MLP& mlp, const Var& x) {
  if (!grad_enabled()) return false;
  if (x.requires_grad()) return true;
  return std::ranges::any_of(mlp.layers(), [](const Linear& l) {
    return l.weight().requires_grad() || (l.bias().defined() && l.bias().requires_grad());
  });
}

// The layers as one dense_stack call: a large batch runs in row blocks that stay in cache.
Tensor mlp_inference(const MLP& mlp, const Var& x) {
  const std::vector<Linear>& layers = mlp.layers();
  check_features(x, layers[0]);
  std::vector<DenseLayer> stack;
  stack.reserve(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Linear& l = layers[i];
    const auto act = activation_op(i + 1 < layers.size() ? mlp.hidden_activation() : mlp.output_activation());
    stack.push_back({l.weight().value(), l.bias().defined() ? l.bias().value() : Tensor(),
                     act ? std::optional<Op>(act->first) : std::nullopt, act ? act->second : 0.0});
  }
  return dense_stack(x.value(), stack);
}

}  // namespace

Var MLP::operator()(const Var& x) const {
  // Nothing to record (inference, a NoGrad solve): each layer is one fused dense call.
  if (x.rank() > 0 && !mlp_records(*this, x)) return Var(mlp_inference(*this, x));
  Var h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    check_features(h, layers_[i]);
    h = dense(h, layers_[i].weight(), layers_[i].bias(), i + 1 < layers_.size() ? hidden_ : output_);
  }
  return h;
}

std::vector<std::pair<std::string, Var>> MLP::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    for (auto& [name, p] : layers_[i].named_parameters()) out.emplace_back(std::to_string(i) + "." + name, p);
  return out;
}

}  // namespace tide
