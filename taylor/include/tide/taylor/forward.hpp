// Forward mode on Jets: jvp (an order-1 jet on a new outermost level) and nested_jvp (K nested
// jvps, written as a user of a forward-mode engine writes them). Functions take and return Jets,
// so they may themselves call jvp: every call adds one level, above its arguments' levels and
// the duals of the jvp calls running around it, and values from enclosing calls are constants at
// the new level (a Taylor level made outside every jvp call and closed over by f is not known to
// it: pass such a value as an argument). A Taylor level f builds inside (Jet::from_series,
// from_coefficients, taylor_directional) sits above the running calls' duals, so it has one level
// more than the same call outside a jvp, and stays in the results.
#pragma once
#include "tide/taylor/jet_ops.hpp"
#include <functional>
#include <utility>

namespace tide {

using JetFn = std::function<Jet(const Jet&)>;
using MultiJetFn = std::function<Jet(const std::vector<Jet>&)>;

// Deepest nesting nested_jvp accepts (2^K copies of the value are carried); the K levels sit over
// x's own and the value's axes, so K + x's levels + x's rank <= max_rank too (checked, named).
inline constexpr int max_nested_jvp = max_rank;

// (f(x), df/dx . v).
std::pair<Jet, Jet> jvp(const JetFn& f, const Jet& x, const Jet& v);
// (f(x...), sum_i df/dx_i . v_i).
std::pair<Jet, Jet> jvp(const MultiJetFn& f, const std::vector<Jet>& x, const std::vector<Jet>& v);
// d^K f/dx^K [v, ..., v] by K nested jvps (K >= 1); K = 0 gives f(x).
Jet nested_jvp(const JetFn& f, const Jet& x, const Jet& v, int K);

// d^K/ds^K f(x + s v) at s = 0 for k = 0..K in one Taylor pass: the Taylor-mode counterpart.
Jet taylor_directional(const JetFn& f, const Var& x, const Var& v, int K);

}  // namespace tide
