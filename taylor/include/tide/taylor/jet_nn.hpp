// The layers of autodiff/nn.hpp applied to Jets, and `apply` overloads taking Vars or Jets, so a
// model's dynamics written once as a template (apply(layer, x), activate(a, x)) run in plain
// evaluation and in Taylor mode (the R_K and Jacobian regularisers) alike.
#pragma once
#include "tide/autodiff/nn.hpp"
#include "tide/taylor/jet_ops.hpp"

namespace tide {

Jet activate(Activation a, const Jet& x);

// x W + b: on Vars the layer itself, on Jets one matmul of the coefficient stack.
inline Var apply(const Linear& l, const Var& x) { return l(x); }
Jet apply(const Linear& l, const Jet& x);
// act(x W + b): on Vars one recorded node (autodiff's dense), on Jets the layer then the activation.
inline Var apply(const Linear& l, const Var& x, Activation a) { return dense(x, l.weight(), l.bias(), a); }
inline Jet apply(const Linear& l, const Jet& x, Activation a) { return activate(a, apply(l, x)); }
inline Var apply(const MLP& m, const Var& x) { return m(x); }
Jet apply(const MLP& m, const Jet& x);

// A Var constant (inputs, data) in the type T of the values around it.
template <class T> T lift(const Var& v) { return T(v); }

}  // namespace tide
