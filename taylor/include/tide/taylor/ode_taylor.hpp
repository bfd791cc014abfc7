// Taylor coefficients of ODE solutions: for z' = f(z, t), the total derivatives d^k z/dt^k at
// (z, t), k = 1..K, as TayNODE's R_K regulariser needs them. Three forms, same result:
//   incremental  the dynamics are traced once; each round raises every op by one order, keeping
//                the lower coefficients (O(K^2) elementwise work, K evaluations of the linear algebra);
//   rerun        K full jet passes of growing order (O(K^3)), what the public reference code does;
//   nested_jvp   g_1 = f, g_{k+1} = jvp(g_k, (z, t), (f(z, t), 1)), the first-order-forward baseline
//                (exponential in K).
// Time enters as a series t0 + 1 * s (dt/dt = 1); it has the state's dtype inside the dynamics.
// A non-finite highest coefficient (dynamics whose derivatives overflow at z), a derivative k! z_k that
// overflows where z_k does not, and for an f32 state a coefficient z^(k)/k! below f32's smallest
// normal (an f64 state holds it), is an error naming the order, except inside a function being compiled (autodiff/compile.hpp), which cannot read values:
// there the incremental and rerun forms return it, for the caller to check. A solver's regulariser
// (detail::ode_taylor_coefficients_unchecked) returns it too: its step control rejects the step.
#pragma once
#include "tide/taylor/forward.hpp"
#include <algorithm>

namespace tide {

enum class TaylorForm { incremental, rerun, nested_jvp };
const char* taylor_form_name(TaylorForm form);

using JetDynamics = std::function<Jet(const Jet& z, const Jet& t)>;

// The highest nested_jvp order for a state of the given rank (t's, if t has more axes): its K - 1
// levels over those axes fit in one tensor, max_rank axes.
constexpr int max_nested_ode_order(int state_rank) { return std::min(max_nested_jvp + 1, max_rank - state_rank + 1); }

// Normalised coefficients z_0 .. z_K (z_k = z^(k)/k!) stacked [K+1, ...]; 0 <= K <= max_taylor_order
// (nested_jvp: K <= max_nested_ode_order(rank of z and of t)).
Var ode_taylor_coefficients(const JetDynamics& f, const Var& z, const Var& t, int K,
                            TaylorForm form = TaylorForm::incremental);
// d^k z/dt^k for k = 1..K (element k-1).
std::vector<Var> ode_taylor(const JetDynamics& f, const Var& z, const Var& t, int K,
                            TaylorForm form = TaylorForm::incremental);
// d^K z/dt^K alone (for nested_jvp, the K-th derivative without the lower ones).
Var ode_derivative(const JetDynamics& f, const Var& z, const Var& t, int K, TaylorForm form = TaylorForm::incremental);

namespace detail {
// ode_taylor_coefficients (incremental) without the finiteness check, for R_K inside a solve: a
// trial step that leaves f's domain gives non-finite coefficients, which the solver rejects (shrinking
// the step) as it does a non-finite f.
Var ode_taylor_coefficients_unchecked(const JetDynamics& f, const Var& z, const Var& t, int K);
}  // namespace detail

}  // namespace tide
