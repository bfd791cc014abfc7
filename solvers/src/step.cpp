// One step of any method: explicit Runge-Kutta from its tableau, diagonally implicit stages by
// simplified Newton (ESDIRK), and the LTC fused semi-implicit Euler step. Dense-output weights
// and the stiffness hint of SolverError live here too.
#include "combine.hpp"
#include "integrate.hpp"
#include "tide/autodiff/grad.hpp"
#include <cmath>

namespace tide::detail {

namespace {

Var time_column(const std::vector<double>& t, const std::vector<double>& h, double c, DType dtype, Device device) {
  std::vector<double> v(t.size());
  for (std::size_t r = 0; r < t.size(); ++r) v[r] = t[r] + c * h[r];
  return Var(column(v, dtype, device));
}

// Per-row Jacobians J[r] (D x D, row-major, f64) of the system at (z, t), from D vector-Jacobian
// products of one recorded evaluation (exact for any dynamics written in Var ops).
std::vector<double> row_jacobians(System& system, const Var& z, const Var& t, const Rows& rows) {
  const std::int64_t n = z.size(0), d = z.size(1);
  EnableGrad enable;
  const Var leaf = Var::parameter(z.value().contiguous());
  const Var out = system.eval(leaf, t, rows);
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
struct RowLU {
  std::vector<double> lu;
  std::vector<std::int64_t> pivot;
  std::vector<char> ok;
};
RowLU factor_rows(const std::vector<double>& jac, const std::vector<double>& s, std::int64_t n, std::int64_t d) {
  RowLU f{jac, std::vector<std::int64_t>(static_cast<std::size_t>(n * d)), std::vector<char>(static_cast<std::size_t>(n), 1)};
  for (std::int64_t r = 0; r < n; ++r) {
    double* a = f.lu.data() + r * d * d;
    for (std::int64_t i = 0; i < d * d; ++i) a[i] *= -s[static_cast<std::size_t>(r)];
    for (std::int64_t i = 0; i < d; ++i) a[i * d + i] += 1.0;
    f.ok[static_cast<std::size_t>(r)] = lu_factor(a, d, f.pivot.data() + r * d);
  }
  return f;
}

// Solves k = f(z + s k, t) per row (s = h * gamma) by simplified Newton with the Jacobian at the
// step's start; returns the converged stage value (a constant) and marks rows that failed.
Tensor newton_stage(System& system, const Config& config, const Tensor& z, const Var& t, const Rows& rows,
                    const RowLU& lu, const std::vector<double>& s, Tensor k, std::vector<char>& failed,
                    SolveStats& stats, const std::vector<std::int64_t>& samples) {
  NoGrad no_grad;
  const std::int64_t n = z.size(0), d = z.size(1);
  const Tensor s_col = column(s, z.dtype(), z.device());
  // the Newton updates are solved on the host with the per-row LU factors: the residual and the
  // stage start come over once per iteration, the correction goes back once
  const std::vector<double> zv = z.to_vector();
  for (int it = 0; it < config.options.newton_max_iterations; ++it) {
    const Tensor arg = add(z, mul(s_col, k));
    const Tensor fk = system.eval(Var(arg), t, rows).value();
    count_eval(stats, config, samples);
    ++stats.newton_iterations;
    std::vector<double> res = sub(fk, k).to_vector();
    double worst = 0.0;
    for (std::int64_t r = 0; r < n; ++r) {
      double* x = res.data() + r * d;
      if (!lu.ok[static_cast<std::size_t>(r)]) {
        failed[static_cast<std::size_t>(r)] = 1;
        continue;
      }
      lu_solve(lu.lu.data() + r * d * d, lu.pivot.data() + r * d, d, x);
      double acc = 0.0;
      for (std::int64_t i = 0; i < d; ++i) {
        const double scale = config.atol_d[static_cast<std::size_t>(i)] + config.rtol_d[static_cast<std::size_t>(i)] * std::fabs(zv[static_cast<std::size_t>(r * d + i)]);
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

}  // namespace

void count_eval(SolveStats& stats, const Config& config, const std::vector<std::int64_t>& samples) {
  if (config.count_backward) {
    ++stats.backward_calls;
    return;
  }
  ++stats.calls;
  for (std::int64_t b : samples) ++stats.nfe[static_cast<std::size_t>(b)];
}

StepResult take_step(System& system, const Config& config, const Var& y, const Var& k1,
                     const std::vector<double>& t, const std::vector<double>& h, const Rows& rows,
                     SolveStats& stats, const std::vector<std::int64_t>& samples) {
  StepResult out;
  const DType dtype = y.dtype();
  const Device device = y.device();  // every tensor the step makes lives with the state
  out.failed.assign(t.size(), 0);
  if (config.method == Method::ltc_fused) {
    // dz/dt = -(a + b) z + c, one semi-implicit Euler step: z <- (z + h c) / (1 + h (a + b))
    const Var tc = time_column(t, h, 0.0, dtype, device);
    const Var ac = system.eval(y, tc, rows);
    count_eval(stats, config, samples);
    const std::int64_t d = y.size(1);
    if (ac.rank() != 2 || ac.size(1) != 2 * d || ac.size(0) != y.size(0))
      fail("solve (ltc_fused): the dynamics must return concat(a, c) of shape [{}, {}], got {}", y.size(0), 2 * d, ac.shape().str());
    const Var a = slice(ac, 1, 0, d), c = slice(ac, 1, d, 2 * d);
    const Var hc = Var(column(h, dtype, device));
    const Var b = Var(config.options.fused_b.defined() ? config.options.fused_b.to(dtype).to(device) : Tensor::zeros(Shape{1}, dtype, device));
    out.y_new = (y + hc * c) / (1.0 + hc * (a + b));
    out.stage_z = {y};
    out.stage_t = {tc};
    return out;
  }
  const Tableau& tab = *config.tableau;
  const int S = tab.stages();
  std::vector<Var>& k = out.k;
  out.h = row_vector(h, dtype, device);  // the per-row step sizes, once for every stage
  const Tensor& h_rows = out.h;
  RowLU lu;
  std::vector<double> jac;
  for (int i = 0; i < S; ++i) {
    const Var ti = time_column(t, h, tab.c[static_cast<std::size_t>(i)], dtype, device);
    Var zi = i == 0 ? y : row_combination(y, h_rows, tab.a[static_cast<std::size_t>(i)], k);
    out.stage_z.push_back(zi);
    out.stage_t.push_back(ti);
    const double gamma = tab.a[static_cast<std::size_t>(i)][static_cast<std::size_t>(i)];
    if (i == 0 && k1.defined() && gamma == 0.0) {
      k.push_back(k1);
      continue;
    }
    if (gamma == 0.0) {
      k.push_back(system.eval(zi, ti, rows));
      count_eval(stats, config, samples);
      continue;
    }
    // implicit stage: k_i = f(z_i + h gamma k_i, t_i)
    const std::int64_t n = y.size(0), d = y.size(1);
    std::vector<double> s(h.size());
    for (std::size_t r = 0; r < h.size(); ++r) s[r] = h[r] * gamma;
    if (jac.empty()) {
      jac = row_jacobians(system, y.detach(), Var(column(t, dtype, device)), rows);
      count_eval(stats, config, samples);
      lu = factor_rows(jac, s, n, d);
    }
    const Tensor guess = k.back().value();
    const Tensor kstar = newton_stage(system, config, zi.value(), ti, rows, lu, s, guess.clone(), out.failed, stats, samples);
    out.stage_z.back() = row_combination(Var(zi.value()), row_vector(s, dtype, device), {1.0}, {Var(kstar)});  // where f was evaluated
    if (!grad_enabled()) {  // nothing can be recorded: the converged value is the stage
      k.push_back(Var(kstar));
      continue;
    }
    // Recorded: k = k* + L (f(z_i + s k*) - k*) with L = (I - s J*)^-1 at the converged stage. Its
    // value is k* (plus one Newton correction) and its derivative is the implicit function
    // theorem's, so discrete backprop through implicit stages is exact at convergence.
    const Var sk = Var(column(s, dtype, device));
    const Var point = zi + sk * Var(kstar);
    const std::vector<double> jstar = row_jacobians(system, point.detach(), ti, rows);
    const RowLU lstar = factor_rows(jstar, s, n, d);
    std::vector<double> inv(static_cast<std::size_t>(n * d * d), 0.0);  // L^T per row
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t col = 0; col < d; ++col) {
        std::vector<double> x(static_cast<std::size_t>(d), 0.0);
        x[static_cast<std::size_t>(col)] = 1.0;
        if (lstar.ok[static_cast<std::size_t>(r)]) lu_solve(lstar.lu.data() + r * d * d, lstar.pivot.data() + r * d, d, x.data());
        for (std::int64_t i2 = 0; i2 < d; ++i2) inv[static_cast<std::size_t>((r * d + col) * d + i2)] = x[static_cast<std::size_t>(i2)];
      }
    const Var residual = system.eval(point, ti, rows) - Var(kstar);
    count_eval(stats, config, samples);
    const Var lt = Var(Tensor::from_vector(inv, Shape{n, d, d}, dtype, device));
    k.push_back(Var(kstar) + reshape(matmul(reshape(residual, Shape{n, 1, d}), lt), Shape{n, d}));
  }
  out.y_new = row_combination(y, h_rows, tab.b, k);
  return out;
}

std::vector<double> dense_weights(const Config& config, double theta, double h, bool* needs_f_new) {
  const Tableau& tab = *config.tableau;
  const std::size_t S = static_cast<std::size_t>(tab.stages());
  std::vector<double> w(S + 3, 0.0);  // y, y_new, k_1..k_S, f_new
  *needs_f_new = false;
  if (theta == 1.0) {
    w[1] = 1.0;
    return w;
  }
  if (!tab.interp.empty()) {
    w[0] = 1.0;
    for (std::size_t i = 0; i < S; ++i) {
      double bi = 0.0, p = theta;
      for (double coefficient : tab.interp[i]) bi += coefficient * p, p *= theta;
      w[2 + i] = h * bi;
    }
    return w;
  }
  // cubic Hermite through (y, f(y)) and (y_new, f(y_new))
  const double t2 = theta * theta, t3 = t2 * theta;
  w[0] = 2 * t3 - 3 * t2 + 1;
  w[1] = -2 * t3 + 3 * t2;
  w[2] = h * (t3 - 2 * t2 + theta);
  if (tab.fsal) w[2 + S - 1] += h * (t3 - t2);
  else w[2 + S] = h * (t3 - t2), *needs_f_new = true;
  return w;
}

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
                    const SolveStats& stats) {
  const double norm = std::sqrt(sum(square(y_row.to(DType::f64))).item());
  std::string hint;
  if (std::isfinite(stiffness))
    hint = stiffness > 3.0 ? fmt::format("; |h| * spectral radius of df/dz is about {:.3g}: the problem looks stiff, try an implicit method (kvaerno3)", stiffness)
                           : fmt::format("; |h| * spectral radius of df/dz is about {:.3g}", stiffness);
  throw SolverError(fmt::format("{} at t = {:.17g} with step {:.3g} (state norm {:.3g}; {}){}", message, t, h, norm,
                                stats.summary(), hint),
                    t, h, norm, stiffness, stats);
}

}  // namespace tide::detail
