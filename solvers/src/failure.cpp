// What a failed solve reports: SolverError's message with the state norm and statistics, and the
// stiffness hint (|h| times the spectral radius of df/dz, by power iteration).
#include "integrate.hpp"
#include <cmath>

namespace tide::detail {

double stiffness_estimate(System& system, const Var& z_row, double t, const Rows& rows, double h) {
  try {
    NoGrad no_grad;
    const Tensor z = z_row.value().to(DType::f64);
    const Var tc = Var(Tensor::full(Shape{1, 1}, t, z_row.dtype(), z_row.device()));
    auto f = [&](const Tensor& x) { return system.eval(Var(x.to(z_row.dtype())), tc, rows).value().to(DType::f64); };
    const Tensor f0 = f(z);
    Generator gen(12345);
    Tensor v = gen.normal(z.shape(), 0.0, 1.0, DType::f64, z.device());
    double rho = 0.0;
    const double zn = std::sqrt(sum(square(z)).item());
    for (int it = 0; it < 12; ++it) {
      const double vn = std::sqrt(sum(square(v)).item());
      if (!(vn > 0) || !std::isfinite(vn)) return NAN;
      v = v / vn;
      const double eps = 1e-7 * std::max(1.0, zn);
      const Tensor w = (f(add(z, v * eps)) - f0) / eps;
      rho = std::sqrt(sum(square(w)).item());
      v = w;
    }
    return std::fabs(h) * rho;
  } catch (const Error&) {
    return NAN;
  }
}

void solver_failure(const std::string& message, double t, double h, const Tensor& y_row, double stiffness,
                    double stability_limit, const SolveStats& stats) {
  const double norm = std::sqrt(sum(square(y_row.to(DType::f64))).item());
  std::string hint;
  // an explicit method's step held by stability sits at its limit (it oscillates around it: dopri5
  // reports 2.98 .. 3.6 against 3.31, dop853 3.6 against 6.39 while it rejects often), so half the
  // limit counts; a step held by accuracy sits far below it
  if (std::isfinite(stiffness))
    hint = std::isfinite(stability_limit) && stiffness > 0.5 * stability_limit
               ? fmt::format("; |h| * spectral radius of df/dz is about {:.3g} (this method is stable up to {:.3g}): the "
                             "problem looks stiff, try an implicit method (kvaerno3)", stiffness, stability_limit)
               : fmt::format("; |h| * spectral radius of df/dz is about {:.3g}", stiffness);
  throw SolverError(fmt::format("{} at t = {:.17g} with step {:.3g} (state norm {:.3g}; {}){}", message, t, h, norm,
                                stats.summary(), hint),
                    t, h, norm, stiffness, stats);
}

}  // namespace tide::detail
