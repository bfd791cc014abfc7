#include "tide/taylor/jet_nn.hpp"

namespace tide {

Jet activate(Activation a, const Jet& x) {
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

Jet apply(const Linear& l, const Jet& x) {
  if (x.rank() == 0 || x.shape().back() != l.in_features())
    fail("Linear: input {} does not end in {} features", x.shape().str(), l.in_features());
  const Jet y = matmul(x, Jet(l.weight()));
  return l.bias().defined() ? y + l.bias() : y;
}

Jet apply(const MLP& m, const Jet& x) {
  Jet h = x;
  const std::vector<Linear>& layers = m.layers();
  for (std::size_t i = 0; i < layers.size(); ++i)
    h = activate(i + 1 < layers.size() ? m.hidden_activation() : m.output_activation(), apply(layers[i], h));
  return h;
}

}  // namespace tide
