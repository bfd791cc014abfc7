// TayNODE's figure 2: an m-th-order Runge-Kutta method needs small steps once the trajectory's
// K-th total derivative is non-zero for some K > m. The trajectory is a polynomial of degree K,
// z_1(t) = t^K / K!, as the first component of the chain z_k' = z_(k+1), z_(K+1)' = 0 from
// z(0) = (0, ..., 0, 1): a genuine ODE whose higher total derivatives vanish above order K. For
// each method (euler 1, midpoint 2, heun3 3, rk4 4, dopri5's fifth-order solution as a fixed-step
// method 5) and each K, the fewest fixed steps on [0, 1] that bring z_1(1) within a relative
// `tol` of 1 / K!. An m-th-order method solves K <= m in one step (its
// stability polynomial matches exp to degree m and A^(K+1) = 0), so more than one step appears
// only below the diagonal K = m: the paper's lower triangle.
//
//   rk_orders [--kmax K] [--tol T] [--json] [--out FILE.svg]
#include "cli_args.hpp"
#include "svg_plot.hpp"
#include <tide/tide.hpp>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

using namespace tide;

namespace {

struct Args {
  int kmax = 7;
  double tol = 1e-4;
  bool json = false;
  std::string out;
};

constexpr const char* kUsage =
    "usage: rk_orders [--kmax K] [--tol T] [--json] [--out FILE.svg]\n"
    "\n"
    "TayNODE's figure 2: the fewest fixed steps on [0, 1] that methods of order 1..5 (euler,\n"
    "midpoint, heun3, rk4, dopri5) need on trajectories that are polynomials of degree K = 1..kmax,\n"
    "to a relative error tol at t = 1. One step suffices exactly when K <= the order.\n"
    "\n"
    "options:\n"
    "  --kmax K        highest degree (default 7, 1..12)\n"
    "  --tol T         relative error of z(1) (default 1e-4)\n"
    "  --json          one JSON object on stdout instead of the table\n"
    "  --out FILE.svg  write steps against K, one line per method\n";

std::optional<int> parse(int argc, char** argv, Args& a) {
  const cli::Flags flags = cli::Flags("rk_orders", kUsage)
                               .integer("--kmax", 1, 12, a.kmax)
                               .number("--tol", 1e-12, 0.5, a.tol)
                               .on("--json", a.json)
                               .text("--out", a.out);
  return flags.parse(cli::Args(argv + 1, argv + argc));
}

// The relative error of z_1(1) after n steps of `method` on the chain of degree K.
double chain_error(Method method, int K, std::int64_t n) {
  const auto D = static_cast<std::int64_t>(K + 1);
  std::vector<double> shift(static_cast<std::size_t>(D * D), 0.0);  // z' = z S: (z S)_k = z_(k+1)
  for (std::int64_t k = 0; k + 1 < D; ++k) shift[static_cast<std::size_t>((k + 1) * D + k)] = 1.0;
  const Var S(Tensor::from_vector(shift, Shape{D, D}, DType::f64));
  const Dynamics f = [S](const Var& z, const Var&) { return matmul(z, S); };
  std::vector<double> z0(static_cast<std::size_t>(D), 0.0);
  z0.back() = 1.0;
  Var z(Tensor::from_vector(z0, Shape{1, D}, DType::f64));
  const double h = 1.0 / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i) z = explicit_step(f, z, static_cast<double>(i) * h, h, method);
  double factorial = 1;
  for (int k = 2; k <= K; ++k) factorial *= k;
  return std::abs(z.value().to_vector()[0] * factorial - 1.0);
}

// The fewest steps with chain_error <= tol: doubling, then bisection (the error falls with n).
std::int64_t steps_needed(Method method, int K, double tol) {
  if (chain_error(method, K, 1) <= tol) return 1;
  std::int64_t hi = 2;
  while (chain_error(method, K, hi) > tol) {
    hi *= 2;
    if (hi > (1 << 22))
      fail("{} on degree {}: no step count up to 2^22 reaches {} (its error there is {:.3g}: ask for a larger --tol)",
           method_name(method), K, tol, chain_error(method, K, 1 << 22));
  }
  std::int64_t lo = hi / 2;  // lo fails, hi passes
  while (hi - lo > 1) {
    const std::int64_t mid = (lo + hi) / 2;
    (chain_error(method, K, mid) <= tol ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace

int main(int argc, char** argv) try {
  Args a;
  if (const auto status = parse(argc, argv, a)) return *status;
  cli::check_output_path(a.out);
  const std::pair<Method, int> methods[] = {{Method::euler, 1}, {Method::midpoint, 2}, {Method::heun3, 3}, {Method::rk4, 4}, {Method::dopri5, 5}};
  NoGrad no_grad;
  nlohmann::json out = {{"tol", a.tol}, {"kmax", a.kmax}, {"methods", nlohmann::json::array()}};
  cli::Plot plot{fmt::format("steps of order-m methods on degree-K trajectories (tol {:g})", a.tol),
                 "K (degree of the trajectory)", "fixed steps on [0, 1]", true, {}};
  if (!a.json) {
    std::printf("%-9s %5s", "method", "order");
    for (int K = 1; K <= a.kmax; ++K) std::printf(" %7s", fmt::format("K={}", K).c_str());
    std::printf("\n");
  }
  for (const auto& [method, order] : methods) {
    nlohmann::json row = {{"method", method_name(method)}, {"order", order}, {"steps", nlohmann::json::array()}};
    cli::PlotSeries series{fmt::format("{} (order {})", method_name(method), order), {}, {}, false};
    std::string line = fmt::format("{:<9} {:5}", method_name(method), order);  // printed whole: an error leaves no half row
    for (int K = 1; K <= a.kmax; ++K) {
      const std::int64_t n = steps_needed(method, K, a.tol);
      row["steps"].push_back(n);
      series.x.push_back(K), series.y.push_back(static_cast<double>(n));
      line += fmt::format(" {:7}", n);
    }
    if (!a.json) std::printf("%s\n", line.c_str());
    out["methods"].push_back(row);
    plot.series.push_back(series);
  }
  if (a.json) std::printf("%s\n", out.dump().c_str());
  if (!a.out.empty()) cli::write_svg(a.out, plot);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "rk_orders: %s\n", e.what());
  return 1;
}
