// Internal: the per-op backward rules used by grad().
#pragma once
#include "tide/autodiff/node.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/error.hpp"
#include "tide/core/pointwise.hpp"
#include <cmath>
#include <vector>

namespace tide {

// The unary rules that are arithmetic on the cotangent g, the input x and the output y alone,
// written once over the value type: in Var ops they record under create_graph; in Sym they are the
// program that computes the gradient in one elementwise pass otherwise (pointwise_gradient). A rule
// reads only what its op saves (the op table's `saves`); other ops have none here. Dense's fused
// backward (nn.cpp) takes its tanh and sigmoid derivative programs from here too.
template <class V> V pointwise_rule(Op op, const V& g, const V& x, const V& y, double p0) {
  constexpr double two_over_sqrtpi = 1.1283791670955126, inv_sqrt2 = 0.7071067811865476,
                   inv_sqrt2pi = 0.3989422804014327;
  switch (op) {
    case Op::expm1: return g * (y + 1.0);
    case Op::log1p: return g / (x + 1.0);
    case Op::sqrt: return (g * 0.5) / y;
    case Op::rsqrt: return g * pow(y, 3.0) * -0.5;                         // -x^(-3/2) / 2
    case Op::square: return g * x * 2.0;
    case Op::reciprocal: return -(g * square(y));                          // -1/x^2
    case Op::tanh: return g * (1.0 - square(y));                           // 1 - tanh^2
    case Op::sigmoid: return g * (y * (1.0 - y));                          // s (1 - s)
    case Op::softplus: return g * sigmoid(x);
    case Op::silu: {                                                       // s (1 + x (1 - s))
      const V s = sigmoid(x);
      return g * (s * (1.0 + x * (1.0 - s)));
    }
    case Op::gelu: {                                                       // Phi(x) + x phi(x)
      // Phi = (1 + erf(x/sqrt2)) / 2 cancels in the left tail; there Phi = gelu(x) / x, whose kernel
      // is erfc (exact). left is x for x <= -1, else -1: finite and nonzero in the branch not taken
      const V left = unary(Op::clamp, x, -INFINITY, -1.0);
      const V in_tail = eq(x, left);
      const V cdf = in_tail * (gelu(left) / left) + (1.0 - in_tail) * ((erf(x * inv_sqrt2) + 1.0) * 0.5);
      const V pdf = exp(square(x) * -0.5) * inv_sqrt2pi;
      return g * (cdf + x * pdf);
    }
    case Op::erf: return g * exp(-square(x)) * two_over_sqrtpi;            // 2/sqrt(pi) e^-x^2
    case Op::sin: return g * cos(x);
    case Op::cos: return -(g * sin(x));
    case Op::pow_scalar: return g * pow(x, p0 - 1.0) * p0;                 // p x^(p-1)
    default: fail("internal error: {} has no pointwise backward rule", op_name(op));
  }
}

// Writes into gx[i] the gradient for input i given the output gradient g (left undefined where no
// gradient flows). Uses Var ops, so it records when grad mode is on.
void backward_rule(const NodePtr& node, const Var& g, std::vector<Var>& gx);

}  // namespace tide
