// The CNF dynamics network (cnf.hpp): FFJORD's time-dependent layers, written once for Vars and
// Jets so the exact trace, the JVP estimator and R_K see the same function as the plain solve.
#include "tide/core/named.hpp"
#include "tide/models/cnf.hpp"
#include "tide/taylor/jet_ops.hpp"

namespace tide::models {

namespace {

constexpr Named<CnfLayer> kLayers[] = {{"concat", CnfLayer::concat},
                                      {"concatsquash", CnfLayer::concatsquash},
                                      {"ignore", CnfLayer::ignore},
                                      {"blend", CnfLayer::blend}};
constexpr Named<CnfActivation> kActivations[] = {{"tanh", CnfActivation::tanh},
                                                 {"softplus", CnfActivation::softplus},
                                                 {"elu", CnfActivation::elu},
                                                 {"swish", CnfActivation::swish},
                                                 {"sigmoid", CnfActivation::sigmoid}};

// x W + b, on Vars through Linear (one dense call) and on Jets as a matmul of the coefficient stack.
template <class T> T linear(const Linear& l, const T& x) {
  if constexpr (std::is_same_v<T, Var>) {
    return l(x);
  } else {
    const T y = matmul(x, T(l.weight()));
    return l.bias().defined() ? y + l.bias() : y;
  }
}

template <class T> T activate(CnfActivation a, const T& x) {
  switch (a) {
    case CnfActivation::tanh: return tanh(x);
    case CnfActivation::softplus: return softplus(x);
    case CnfActivation::elu: return elu(x);
    case CnfActivation::swish: return silu(x);
    case CnfActivation::sigmoid: return sigmoid(x);
  }
  return x;
}

}  // namespace

std::vector<std::string> cnf_layer_names() { return names_of(kLayers); }
CnfLayer cnf_layer_from_name(const std::string& name) { return lookup(kLayers, name, "CNF layer"); }
std::vector<std::string> cnf_activation_names() { return names_of(kActivations); }
CnfActivation cnf_activation_from_name(const std::string& name) { return lookup(kActivations, name, "CNF activation"); }

CnfDynamics::CnfDynamics(std::int64_t dims, const std::vector<std::int64_t>& hidden, CnfLayer layer,
                         CnfActivation activation, Generator& gen, DType dtype)
    : kind_(layer), activation_(activation) {
  if (dims < 1) fail("CNF dynamics: dims must be >= 1, got {}", dims);
  std::vector<std::int64_t> sizes{dims};
  for (std::int64_t h : hidden) {
    if (h < 1) fail("CNF dynamics: hidden widths must be >= 1, got {}", h);
    sizes.push_back(h);
  }
  sizes.push_back(dims);
  LinearOptions o;
  o.dtype = dtype;
  LinearOptions no_bias = o;
  no_bias.bias = false;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    const std::int64_t in = sizes[i], out = sizes[i + 1];
    Layer l;
    switch (layer) {
      case CnfLayer::concat: l.maps = {Linear(in + 1, out, gen, o)}; break;
      case CnfLayer::concatsquash: l.maps = {Linear(in, out, gen, o), Linear(1, out, gen, o), Linear(1, out, gen, no_bias)}; break;
      case CnfLayer::ignore: l.maps = {Linear(in, out, gen, o)}; break;
      case CnfLayer::blend: l.maps = {Linear(in, out, gen, o), Linear(in, out, gen, o)}; break;
    }
    layers_.push_back(std::move(l));
  }
}

template <class T> T CnfDynamics::layer(const Layer& l, const T& x, const T& t) const {
  switch (kind_) {
    case CnfLayer::concat: return linear(l.maps[0], concat({t, x}, 1));
    case CnfLayer::concatsquash: return linear(l.maps[0], x) * sigmoid(linear(l.maps[1], t)) + linear(l.maps[2], t);
    case CnfLayer::ignore: return linear(l.maps[0], x);
    case CnfLayer::blend: {
      const T y0 = linear(l.maps[0], x);
      return y0 + (linear(l.maps[1], x) - y0) * t;
    }
  }
  return x;
}

template <class T> T CnfDynamics::eval(const T& z, const T& t) const {
  T h = z;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layer(layers_[i], h, t);
    if (i + 1 < layers_.size()) h = activate(activation_, h);
  }
  return h;
}

template Var CnfDynamics::eval(const Var&, const Var&) const;
template Jet CnfDynamics::eval(const Jet&, const Jet&) const;

std::vector<std::pair<std::string, Var>> CnfDynamics::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    for (std::size_t m = 0; m < layers_[i].maps.size(); ++m)
      append_parameters(out, "layer" + std::to_string(i) + ".map" + std::to_string(m), layers_[i].maps[m]);
  return out;
}

SolverDynamics::SolverDynamics(const CnfDynamics& f) {
  const CnfDynamics* p = &f;
  plain_ = Dynamics([p](const auto& z, const auto& t) { return (*p)(z, t); });
  compiled_ = compile_dynamics(plain_);
}

}  // namespace tide::models
