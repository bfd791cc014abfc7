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
  std::vector<std::int64_t> index;
  const std::vector<double> given = rows.all() ? std::vector<double>() : rows.index().to_vector();
  for (std::int64_t c = 0; c < copies; ++c)
    for (std::int64_t r = 0; r < n; ++r) index.push_back(rows.all() ? r : static_cast<std::int64_t>(given[static_cast<std::size_t>(r)]));
  return Rows(Tensor::from_indices(index, Shape{n * copies}, device));
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

Dynamics augment(const Dynamics& f, std::int64_t D, const Regularisers& reg, const Tensor& noise) {
  if (reg.taylor_order < 0 || reg.taylor_order > 6)
    fail("solve: regularisers.taylor_order = {} is outside 0..6 (R_K for K = 1..6; 0 turns it off)", reg.taylor_order);
  const bool needs_jet = reg.taylor_order > 0 || (reg.jacobian && reg.trace != Regularisers::Trace::hutchinson_vjp) ||
                         reg.trace == Regularisers::Trace::hutchinson_jvp || reg.trace == Regularisers::Trace::exact;
  if (needs_jet && !f.taylor_capable())
    fail("solve: the requested regulariser needs dynamics that also run on Jets (write them as a generic lambda, "
         "[&](const auto& z, const auto& t) {{ ... }}); the hutchinson_vjp trace and kinetic energy work with Var-only dynamics");
  Dynamics out;
  out.var = [f, D, reg, noise](const Var& Z, const Var& t, const Rows& rows) {
    const Var z = slice(Z, 1, 0, D);
    const JetFn fj = [&](const Jet& x) { return f.jet ? f.jet(x, Jet(t), rows) : Jet(f.var(x.primal(), t, rows)); };
    Var fz, taylor, jacobian, trace;
    if (reg.taylor_order > 0) {
      const JetDynamics dyn = [&](const Jet& x, const Jet& tt) { return f.jet(x, tt, rows); };
      const Var c = ode_taylor_coefficients(dyn, z, t, reg.taylor_order);
      fz = select(c, 0, 1);
      taylor = row_sum_sq(select(c, 0, reg.taylor_order) * factorial(reg.taylor_order));
    }
    const Tensor e = noise.defined() ? rows.gather(noise) : Tensor();
    const bool vjp = reg.trace == Regularisers::Trace::hutchinson_vjp;  // then the VJP also gives the Jacobian term
    if ((reg.jacobian && !vjp) || reg.trace == Regularisers::Trace::hutchinson_jvp) {
      const DivergenceEstimate est = hutchinson_jvp(fj, z, e);
      if (!fz.defined()) fz = est.f;
      jacobian = column_of(est.jacobian_frobenius);
      trace = column_of(est.trace);
    }
    if (vjp) {
      const DivergenceEstimate est = hutchinson_vjp(fj, z, e);
      if (!fz.defined()) fz = est.f;
      trace = column_of(est.trace);
      jacobian = column_of(est.jacobian_frobenius);
    } else if (reg.trace == Regularisers::Trace::exact) {
      // exact_trace evaluates D copies of the rows at once: the times and the rows repeat with them
      const std::int64_t copies = z.size(1);
      const Var t_copies = concat(std::vector<Var>(static_cast<std::size_t>(copies), t), 0);
      const Rows rows_copies = repeated_rows(rows, z.size(0), copies, z.device());
      const JetFn f_copies = [&](const Jet& x) { return f.jet(x, Jet(t_copies), rows_copies); };
      const DivergenceEstimate est = exact_trace(f_copies, z);
      if (!fz.defined()) fz = est.f;
      trace = column_of(est.trace);
    }
    if (!fz.defined()) fz = f.var(z, t, rows);
    std::vector<Var> parts{fz};
    if (reg.taylor_order > 0) parts.push_back(taylor);
    if (reg.kinetic) parts.push_back(row_sum_sq(fz));
    if (reg.jacobian) parts.push_back(jacobian);
    if (reg.trace != Regularisers::Trace::none) parts.push_back(-trace);
    return concat(parts, 1);
  };
  return out;
}

}  // namespace tide::detail
