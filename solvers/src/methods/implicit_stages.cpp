// ESDIRK stages by simplified Newton (implicit_stages.hpp).
#include "implicit_stages.hpp"
#include "../integrate.hpp"
#include "tide/autodiff/grad.hpp"
#include <cmath>

namespace tide::detail {

// Per-row Jacobians J[r] (D x D, row-major, f64) of the system at (z, t), from D vector-Jacobian
// products of one recorded evaluation (exact for any dynamics written in Var ops).
std::vector<double> ImplicitStages::row_jacobians(StepContext& ctx, const Var& z, const Var& t) {
  const std::int64_t n = z.size(0), d = z.size(1);
  EnableGrad enable;
  const Var leaf = Var::parameter(z.value().contiguous());
  const Var out = ctx.system.eval(leaf, t, ctx.rows);  // counted by the caller, as one evaluation
  std::vector<double> jac(static_cast<std::size_t>(n * d * d), 0.0);
  GradOptions o;
  o.allow_unused = true;
  for (std::int64_t i = 0; i < d; ++i) {
    Tensor e = Tensor::zeros(z.shape(), z.dtype(), z.device());
    e.slice(1, i, i + 1).fill_(1.0);
    const std::vector<double> g = grad({out}, {leaf}, {Var(e)}, o)[0].value().to_vector();  // row i of J
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t j = 0; j < d; ++j) jac[static_cast<std::size_t>((r * d + i) * d + j)] = g[static_cast<std::size_t>(r * d + j)];
  }
  return jac;
}

// (I - s_r J_r) factored per row; false rows are singular.
ImplicitStages::RowLU ImplicitStages::factor_rows(const std::vector<double>& jac, const std::vector<double>& s, std::int64_t n,
                                                  std::int64_t d) {
  RowLU f{jac, std::vector<std::int64_t>(static_cast<std::size_t>(n * d)), std::vector<char>(static_cast<std::size_t>(n), 1)};
  for (std::int64_t r = 0; r < n; ++r) {
    double* a = f.lu.data() + r * d * d;
    for (std::int64_t i = 0; i < d * d; ++i) a[i] *= -s[static_cast<std::size_t>(r)];
    for (std::int64_t i = 0; i < d; ++i) a[i * d + i] += 1.0;
    f.ok[static_cast<std::size_t>(r)] = lu_factor(a, d, f.pivot.data() + r * d);
  }
  return f;
}

// Solves k = f(z + s k, t) per row (s = h * gamma) by simplified Newton; returns the converged
// stage value (a constant) and marks rows that failed.
Tensor ImplicitStages::newton(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, Tensor k,
                              std::vector<char>& failed) const {
  NoGrad no_grad;
  const std::int64_t n = z.size(0), d = z.size(1);
  const Tensor s_col = column(s, z.dtype(), z.device());
  // the Newton updates are solved on the host with the per-row LU factors: the residual and the
  // stage start come over once per iteration, the correction goes back once
  const std::vector<double> zv = z.to_vector();
  for (int it = 0; it < newton_max_iterations_; ++it) {
    const Tensor arg = add(z, mul(s_col, k));
    const Tensor fk = ctx.eval(Var(arg), t).value();
    ++ctx.stats.newton_iterations;
    std::vector<double> res = sub(fk, k).to_vector();
    double worst = 0.0;
    for (std::int64_t r = 0; r < n; ++r) {
      double* x = res.data() + r * d;
      if (!lu_.ok[static_cast<std::size_t>(r)]) {
        failed[static_cast<std::size_t>(r)] = 1;
        continue;
      }
      lu_solve(lu_.lu.data() + r * d * d, lu_.pivot.data() + r * d, d, x);
      double acc = 0.0;
      for (std::int64_t i = 0; i < d; ++i) {
        const double scale = ctx.atol[static_cast<std::size_t>(i)] + ctx.rtol[static_cast<std::size_t>(i)] * std::fabs(zv[static_cast<std::size_t>(r * d + i)]);
        const double q = s[static_cast<std::size_t>(r)] * x[i] / scale;
        acc += q * q;
      }
      acc = std::sqrt(acc / static_cast<double>(d));
      if (!std::isfinite(acc)) failed[static_cast<std::size_t>(r)] = 1;
      else worst = std::max(worst, acc);
    }
    k = add(k, Tensor::from_vector(res, k.shape(), k.dtype(), k.device()));
    if (worst < 1e-2) return k;
  }
  // not converged within the iterations: every row still moving is rejected
  for (auto& f : failed) f = 1;
  return k;
}

// k = k* + L (f(z_i + s k*) - k*) with L = (I - s J*)^-1 at the converged stage. Its value is k*
// (plus one Newton correction) and its derivative is the implicit function theorem's.
Var ImplicitStages::implicit_function_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s,
                                            const Tensor& kstar) const {
  const std::int64_t n = y_.size(0), d = y_.size(1);
  const DType dtype = y_.dtype();
  const Device device = y_.device();
  const Var point = zi + Var(column(s, dtype, device)) * Var(kstar);
  const RowLU lstar = factor_rows(row_jacobians(ctx, point.detach(), ti), s, n, d);
  std::vector<double> inv(static_cast<std::size_t>(n * d * d), 0.0);  // L^T per row
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t col = 0; col < d; ++col) {
      std::vector<double> x(static_cast<std::size_t>(d), 0.0);
      x[static_cast<std::size_t>(col)] = 1.0;
      if (lstar.ok[static_cast<std::size_t>(r)]) lu_solve(lstar.lu.data() + r * d * d, lstar.pivot.data() + r * d, d, x.data());
      for (std::int64_t i2 = 0; i2 < d; ++i2) inv[static_cast<std::size_t>((r * d + col) * d + i2)] = x[static_cast<std::size_t>(i2)];
    }
  const Var residual = ctx.eval(point, ti) - Var(kstar);
  const Var lt = Var(Tensor::from_vector(inv, Shape{n, d, d}, dtype, device));
  return Var(kstar) + reshape(matmul(reshape(residual, Shape{n, 1, d}), lt), Shape{n, d});
}

ImplicitStages::Stage ImplicitStages::solve(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& h,
                                            double gamma, const Tensor& guess, std::vector<char>& failed) {
  const std::int64_t n = y_.size(0), d = y_.size(1);
  const DType dtype = y_.dtype();
  const Device device = y_.device();
  std::vector<double> s(h.size());
  for (std::size_t r = 0; r < h.size(); ++r) s[r] = h[r] * gamma;
  if (!factored_) {
    lu_ = factor_rows(row_jacobians(ctx, y_.detach(), Var(column(t_, dtype, device))), s, n, d);
    ctx.count();
    factored_ = true;
  }
  const Tensor kstar = newton(ctx, zi.value(), ti, s, guess.clone(), failed);
  Stage out;
  out.z = row_combination(Var(zi.value()), row_vector(s, dtype, device), {1.0}, {Var(kstar)});  // where f was evaluated
  // nothing can be recorded: the converged value is the stage
  out.k = grad_enabled() ? implicit_function_stage(ctx, zi, ti, s, kstar) : Var(kstar);
  return out;
}

}  // namespace tide::detail
