// Regulariser plug-ins (ENGINE.md rule 3): integrand states appended to the solve's state, so they
// work with every method and gradient kind. R_K from the Taylor engine, RNODE's kinetic energy and
// Jacobian Frobenius norm and the CNF trace from the estimators of taylor/estimators.hpp.
#include "solve_internal.hpp"
#include "tide/taylor/ode_taylor.hpp"
#include <cmath>

namespace tide::detail {

namespace {
Var column_of(const Var& per_sample) { return reshape(per_sample, Shape{per_sample.size(0), 1}); }
Var row_sum_sq(const Var& x) { return sum(square(x), {1}, true); }
double factorial(int k) { double f = 1; for (int i = 2; i <= k; ++i) f *= i; return f; }

// `rows` (n of them) listed `copies` times over, for a call on the rows repeated that often.
Rows repeated_rows(const Rows& rows, std::int64_t n, std::int64_t copies, Device device) {
  if (rows.all()) {
    std::vector<std::int64_t> index;
    for (std::int64_t c = 0; c < copies; ++c)
      for (std::int64_t r = 0; r < n; ++r) index.push_back(r);
    return Rows(Tensor::from_indices(index, Shape{n * copies}, device));
  }
  // tensor ops, not the values on the host: a compiled plan replays this with each call's rows
  return Rows(concat(std::vector<Tensor>(static_cast<std::size_t>(copies), rows.index()), 0));
}
}  // namespace

std::vector<std::string> regulariser_names(const Regularisers& r) {
  std::vector<std::string> names;
  if (r.taylor_order > 0) names.push_back("taylor");
  if (r.kinetic) names.push_back("kinetic");
  if (r.jacobian) names.push_back("jacobian");
  if (r.trace != Regularisers::Trace::none) names.push_back("logp_change");
  return names;
}

// One evaluation's integrands: f itself and those the regularisers ask for (undefined otherwise).
struct Integrands {
  Var f, taylor, jacobian, trace;
  void take_f(const Var& value) { if (!f.defined()) f = value; }
};

// The exact trace over D copies of the rows at once (exact_trace): the times and rows repeat with them.
DivergenceEstimate exact_trace_of(const Dynamics& f, const Var& z, const Var& t, const Rows& rows) {
  const std::int64_t copies = z.size(1);
  const Var t_copies = concat(std::vector<Var>(static_cast<std::size_t>(copies), t), 0);
  const Rows rows_copies = repeated_rows(rows, z.size(0), copies, z.device());
  return exact_trace([&](const Jet& x) { return f.jet(x, Jet(t_copies), rows_copies); }, z);
}

// The divergence terms: RNODE's Jacobian norm and the CNF trace, by the estimator `reg` names
// (with the VJP trace, the Jacobian term comes from the same product).
void divergence_terms(Integrands& out, const Dynamics& f, const Var& z, const Var& t, const Rows& rows,
                      const Regularisers& reg, const Tensor& e) {
  const JetFn fj = [&](const Jet& x) { return f.jet ? f.jet(x, Jet(t), rows) : Jet(f.var(x.primal(), t, rows)); };
  const bool vjp = reg.trace == Regularisers::Trace::hutchinson_vjp;
  if ((reg.jacobian && !vjp) || reg.trace == Regularisers::Trace::hutchinson_jvp) {
    const DivergenceEstimate est = hutchinson_jvp(fj, z, e);
    out.take_f(est.f);
    out.jacobian = column_of(est.jacobian_frobenius), out.trace = column_of(est.trace);
  }
  if (!vjp && reg.trace != Regularisers::Trace::exact) return;
  const DivergenceEstimate est = vjp ? hutchinson_vjp(fj, z, e) : exact_trace_of(f, z, t, rows);
  out.take_f(est.f);
  out.trace = column_of(est.trace);
  if (vjp) out.jacobian = column_of(est.jacobian_frobenius);
}

Integrands integrands(const Dynamics& f, const Var& z, const Var& t, const Rows& rows, const Regularisers& reg, const Tensor& e) {
  Integrands out;
  if (reg.taylor_order > 0) {
    const JetDynamics dyn = [&](const Jet& x, const Jet& tt) { return f.jet(x, tt, rows); };
    // unchecked: a non-finite trial evaluation is the solver's to reject, as with f alone
    const Var c = ode_taylor_coefficients_unchecked(dyn, z, t, reg.taylor_order);
    out.f = select(c, 0, 1);
    out.taylor = row_sum_sq(select(c, 0, reg.taylor_order) * factorial(reg.taylor_order));
  }
  divergence_terms(out, f, z, t, rows, reg, e);
  if (!out.f.defined()) out.f = f.var(z, t, rows);
  return out;
}

Dynamics augment(const Dynamics& f, std::int64_t D, const Regularisers& reg, const Tensor& noise) {
  if (reg.taylor_order < 0 || reg.taylor_order > 6)
    fail("solve: regularisers.taylor_order = {} is outside 0..6 (R_K for K = 1..6; 0 turns it off)", reg.taylor_order);
  const bool needs_jet = reg.taylor_order > 0 || (reg.jacobian && reg.trace != Regularisers::Trace::hutchinson_vjp) ||
                         reg.trace == Regularisers::Trace::hutchinson_jvp || reg.trace == Regularisers::Trace::exact;
  if (needs_jet && !f.taylor_capable())
    fail("solve: regularisers{} needs dynamics that also run on Jets (write them as a generic lambda, "
         "[&](const auto& z, const auto& t) {{ ... }}, with apply(layer, z) for layers); the hutchinson_vjp trace and "
         "kinetic energy work with Var-only dynamics",
         reg.taylor_order > 0 ? fmt::format(".taylor_order = {}", reg.taylor_order)
         : reg.jacobian       ? std::string(".jacobian")
                              : std::string(".trace (hutchinson_jvp or exact)"));
  Dynamics out;
  out.var = [f, D, reg, noise](const Var& Z, const Var& t, const Rows& rows) {
    const Var z = slice(Z, 1, 0, D);
    // a copy of this call's noise: a compiled variant reads `noise` by reference (solve() refreshes it
    // per solve), and its backward must see the noise this call saw, kept as its own residual
    const Integrands in = integrands(f, z, t, rows, reg, noise.defined() ? rows.gather(noise).clone() : Tensor());
    std::vector<Var> parts{in.f};
    if (reg.taylor_order > 0) parts.push_back(in.taylor);
    if (reg.kinetic) parts.push_back(row_sum_sq(in.f));
    if (reg.jacobian) parts.push_back(in.jacobian);
    if (reg.trace != Regularisers::Trace::none) parts.push_back(-in.trace);
    return concat(parts, 1);
  };
  return out;
}

}  // namespace tide::detail

namespace tide {

RegulariserRates regulariser_rates(const Dynamics& f, const Var& z, const Var& t, const Regularisers& reg, const Tensor& noise) {
  Regularisers terms = reg;
  terms.trace = Regularisers::Trace::none;
  if (terms.jacobian && !noise.defined()) fail("regulariser_rates: the Jacobian term needs noise the shape of z {}", z.shape().str());
  detail::augment(f, z.size(1), terms, Tensor());  // validates the order and that f runs on Jets
  const detail::Integrands in = detail::integrands(f, z, t, Rows(), terms, noise);
  auto per_sample = [](const Var& column) { return column.defined() ? reshape(column, Shape{column.size(0)}) : Var(); };
  RegulariserRates out;
  out.taylor = per_sample(in.taylor);
  out.jacobian = per_sample(in.jacobian);
  if (terms.kinetic) out.kinetic = sum(square(in.f), {1});
  return out;
}

}  // namespace tide
