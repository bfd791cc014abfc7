#include "tide/models/cfc.hpp"
#include "tide/autodiff/pointwise.hpp"

namespace tide::models {
namespace {

// The cell's pointwise parts as fused ops (autodiff/pointwise.hpp): one pass and one node each
// instead of ~4 (a backbone layer's bias and LeCun tanh) and ~10 (the heads' biases, activations,
// gate and mix) eager ops, forward and backward. Each is written with the composite's operations in
// the composite's order, so the values are the same as those of the Var ops.

// inputs: q = z W [B, U] and the bias b [U]: 1.7159 tanh(0.666 (q + b)).
template <class T> T lecun_of(const std::vector<T>& v) { return tanh((v[0] + v[1]) * 0.666) * 1.7159; }

const std::shared_ptr<const PointwiseOp>& lecun_op() {
  static const auto op = make_pointwise("cfc backbone", 2, [](const auto& v) { return lecun_of(v); },
                                               [](const std::vector<Sym>& v, Sym g) {
                                                 const Sym t = tanh((v[0] + v[1]) * 0.666);
                                                 const Sym d = g * (1.0 - square(t)) * (1.7159 * 0.666);
                                                 return std::vector<Sym>{d, d};
                                               });
  return op;
}

// inputs: the heads' products q1, q2, qa, qb = z W [B, H], their biases b1, b2, ba, bb [H], and dt [B, 1]:
//   f1 = tanh(q1 + b1), f2 = tanh(q2 + b2), s = sigmoid((qa + ba) dt + (qb + bb)),
//   gated: f1 + s (f2 - f1);  no_gate: f1 + s f2.
template <bool Gated, class T> T mix_of(const std::vector<T>& v) {
  const T f1 = tanh(v[0] + v[4]), f2 = tanh(v[1] + v[5]);
  const T s = sigmoid((v[2] + v[6]) * v[8] + (v[3] + v[7]));
  if constexpr (Gated) return f1 + s * (f2 - f1);
  else return f1 + s * f2;
}

template <bool Gated> std::vector<Sym> mix_vjp(const std::vector<Sym>& v, Sym g) {
  const Sym f1 = tanh(v[0] + v[4]), f2 = tanh(v[1] + v[5]);
  const Sym ta = v[2] + v[6];
  const Sym s = sigmoid(ta * v[8] + (v[3] + v[7]));
  const Sym d1 = (Gated ? g * (1.0 - s) : g) * (1.0 - square(f1));       // d/d(q1 + b1)
  const Sym d2 = g * s * (1.0 - square(f2));                            // d/d(q2 + b2)
  const Sym dg = g * (Gated ? f2 - f1 : f2) * (s * (1.0 - s));          // d/d of the gate's argument
  const Sym da = dg * v[8];
  return {d1, d2, da, dg, d1, d2, da, dg, dg * ta};
}

template <bool Gated> const std::shared_ptr<const PointwiseOp>& mix_op() {
  static const auto op = make_pointwise(Gated ? "cfc heads" : "cfc heads (no_gate)", 9,
                                               [](const auto& v) { return mix_of<Gated>(v); }, mix_vjp<Gated>);
  return op;
}

}  // namespace

CfCCell::CfCCell(std::int64_t input, std::int64_t hidden, Generator& gen, CfCOptions options)
    : WidthCell(input, hidden, options.dtype), options_(options),
      ff1_(options.backbone_layers > 0 ? options.backbone_units : input + hidden, hidden, gen, linear_options(options.dtype)),
      ff2_(ff1_.in_features(), hidden, gen, linear_options(options.dtype)),
      time_a_(ff1_.in_features(), hidden, gen, linear_options(options.dtype)),
      time_b_(ff1_.in_features(), hidden, gen, linear_options(options.dtype)) {
  if (options.mode != "default" && options.mode != "no_gate" && options.mode != "minimal")
    fail("cfc: unknown mode '{}' (default, no_gate, minimal)", options.mode);
  if (options.backbone_layers < 0 || (options.backbone_layers > 0 && options.backbone_units < 1))
    fail("cfc: backbone_layers must be >= 0 and backbone_units >= 1");
  std::int64_t in = input + hidden;
  for (int i = 0; i < options.backbone_layers; ++i) {
    backbone_.emplace_back(in, options.backbone_units, gen, linear_options(options.dtype));
    in = options.backbone_units;
  }
  if (options.mode == "minimal") {
    w_tau_ = Var::parameter(Tensor::zeros(Shape{hidden}, options.dtype));
    a_ = Var::parameter(Tensor::ones(Shape{hidden}, options.dtype));
  }
}

Var CfCCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* /*regulariser*/) const {
  check_step(x, state, dt);
  Var z = concat({x, state}, 1);
  for (const Linear& layer : backbone_) z = pointwise(lecun_op(), {matmul(z, layer.weight()), layer.bias()});
  if (options_.mode == "minimal") {
    const Var f1 = ff1_(z);
    return a_ - a_ * exp(-dt * (abs(w_tau_) + abs(f1))) * f1;
  }
  std::vector<Var> in;
  for (const Linear* head : {&ff1_, &ff2_, &time_a_, &time_b_}) in.push_back(matmul(z, head->weight()));
  for (const Linear* head : {&ff1_, &ff2_, &time_a_, &time_b_}) in.push_back(head->bias());
  in.push_back(dt);
  return pointwise(options_.mode == "no_gate" ? mix_op<false>() : mix_op<true>(), in);
}

std::vector<std::pair<std::string, Var>> CfCCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (std::size_t i = 0; i < backbone_.size(); ++i) append_parameters(out, "backbone" + std::to_string(i), backbone_[i]);
  append_parameters(out, "ff1", ff1_);
  if (options_.mode == "minimal") {
    out.emplace_back("w_tau", w_tau_);
    out.emplace_back("A", a_);
    return out;
  }
  append_parameters(out, "ff2", ff2_);
  append_parameters(out, "time_a", time_a_);
  append_parameters(out, "time_b", time_b_);
  return out;
}

}  // namespace tide::models
