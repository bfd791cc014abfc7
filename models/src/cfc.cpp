#include "tide/models/cfc.hpp"

namespace tide::models {
namespace {

Var lecun_tanh(const Var& x) { return tanh(x * 0.666) * 1.7159; }

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
  for (const Linear& layer : backbone_) z = lecun_tanh(layer(z));
  if (options_.mode == "minimal") {
    const Var f1 = ff1_(z);
    return a_ - a_ * exp(-dt * (abs(w_tau_) + abs(f1))) * f1;
  }
  const Var f1 = tanh(ff1_(z)), f2 = tanh(ff2_(z));
  const Var gate = sigmoid(time_a_(z) * dt + time_b_(z));
  return options_.mode == "no_gate" ? f1 + gate * f2 : f1 + gate * (f2 - f1);
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
