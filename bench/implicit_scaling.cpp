// kvaerno3 on stiff problems of growing width: wall time, evaluations and Jacobian work, in grad mode
// (nothing requiring a gradient) and under NoGrad. Stand-alone: built by hand against a build's
// libraries (docs/benchmarks.md, "Implicit solver scaling"), so the same source measures a build
// from before the implicit-solver work (-DTIDE_BENCH_BEFORE: no Jacobian counters then).
#include "tide/tide.hpp"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace tide;

namespace {

// z' = scale * (second difference of z) with zero boundary values: the heat equation on D cells
// (scale = nu / dx^2 = nu (D + 1)^2 on [0, 1]; scale 1 for a rod of unit cells)
auto diffusion(double scale, std::int64_t D) {
  return [scale, D](const auto& z, const auto&) {
    using T = std::decay_t<decltype(z)>;
    const std::int64_t n = z.shape()[0];
    const T zero = T(Tensor::zeros(Shape{n, 1}, z.dtype(), z.device()));
    const T up = concat({slice(z, 1, 1, D), zero}, 1), down = concat({zero, slice(z, 1, 0, D - 1)}, 1);
    return (up + down - 2.0 * z) * scale;
  };
}

Var hump(std::int64_t D) {  // x (1 - x) on the grid
  std::vector<double> v(static_cast<std::size_t>(D));
  for (std::int64_t i = 0; i < D; ++i) {
    const double x = double(i + 1) / double(D + 1);
    v[static_cast<std::size_t>(i)] = 4 * x * (1 - x);
  }
  return Var(Tensor::from_vector(v, Shape{1, D}, DType::f64));
}

Var noise(std::int64_t D) {  // a rough start: uniform on [-1, 1], seed 7
  Generator gen(7);
  return Var(gen.uniform(Shape{1, D}, -1.0, 1.0, DType::f64));
}

auto robertson = [](const auto& z, const auto&) {
  const auto a = slice(z, 1, 0, 1), b = slice(z, 1, 1, 2), c = slice(z, 1, 2, 3);
  return concat({-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b}, 1);
};

struct Case {
  std::string name;
  Dynamics f;
  Var y0;
  double t1, rtol, atol;
};

#ifndef TIDE_BENCH_BEFORE
ImplicitOptions::Jacobian jacobian_kind = ImplicitOptions::Jacobian::automatic;
ImplicitOptions implicit_given;
#endif

void run(const Case& c, bool grad_mode, int repeats) {
  SolveOptions o;
#ifndef TIDE_BENCH_BEFORE
  o.implicit = implicit_given;
  o.implicit.jacobian = jacobian_kind;
#endif
  o.method = Method::kvaerno3;
  o.rtol = c.rtol, o.atol = c.atol;
  const Var times(Tensor::from_vector({0.0, c.t1}, Shape{2}, DType::f64));
  std::vector<double> ms;
  Solution s;
  for (int i = 0; i < repeats; ++i) {
    GradModeScope mode(grad_mode);
    const auto start = std::chrono::steady_clock::now();
    s = solve(c.f, c.y0, times, o);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const SolveStats& st = *s.stats;
  std::printf("%-22s %-7s %10.1f ms  steps %4lld+%-3lld calls %6lld newton %6lld", c.name.c_str(), grad_mode ? "grad" : "nograd",
              ms[ms.size() / 2], (long long)st.total_accepted(), (long long)st.total_rejected(), (long long)st.calls,
              (long long)st.newton_iterations);
#ifndef TIDE_BENCH_BEFORE
  std::printf("  jacobians %5lld  factorisations %5lld  linear %6lld  band LUs %5lld", (long long)st.jacobian_evaluations,
              (long long)st.factorisations, (long long)st.linear_iterations, (long long)st.preconditioner_setups);
#endif
  std::printf("  y[end] %.9g\n", s.ys.value().select(0, 1).select(0, 0).select(0, c.y0.size(1) / 2).item());
  std::fflush(stdout);
}

}  // namespace

// implicit_scaling [repeats = 3] [D: also a rod and a heat equation of this width] [jacobian]
// [gmres_restart gmres_max_iterations] [preconditioner_bandwidth]
int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  const std::int64_t big = argc > 2 ? std::atoll(argv[2]) : 0;  // also D = big (after only)
#ifndef TIDE_BENCH_BEFORE
  if (argc > 3) jacobian_kind = implicit_jacobian_from_name(argv[3]);  // automatic, dense or krylov
  if (argc > 5) implicit_given.gmres_restart = std::atoi(argv[4]), implicit_given.gmres_max_iterations = std::atoi(argv[5]);
  if (argc > 6) implicit_given.preconditioner_bandwidth = std::atoi(argv[6]);
  const bool preconditioned = implicit_given.preconditioner_bandwidth >= 0;
#else
  const bool preconditioned = false;
#endif
  std::vector<Case> cases{
      {"robertson", robertson, Var(Tensor::from_vector({1.0, 0.0, 0.0}, Shape{1, 3}, DType::f64)), 1e5, 1e-6, 1e-10},
      {"heat D=50", diffusion(51.0 * 51.0, 50), hump(50), 0.1, 1e-6, 1e-6},
      {"heat D=250", diffusion(251.0 * 251.0, 250), hump(250), 0.1, 1e-6, 1e-6},
      {"rod D=250", diffusion(1.0, 250), noise(250), 1000.0, 1e-6, 1e-6},
  };
  if (big > 0) cases.push_back({"rod D=" + std::to_string(big), diffusion(1.0, big), noise(big), 1000.0, 1e-6, 1e-6});
  // the heat equation on [0, 1] gets stiffer as (D + 1)^2: unpreconditioned GMRES needs more
  // iterations as it grows (D = 10,000 does not finish in 15 minutes), so only up to 2,000
  // unless a banded preconditioner is given
  if (big > 0 && (big <= 2000 || preconditioned)) {
    const double scale = double(big + 1) * double(big + 1);
    cases.push_back({"heat D=" + std::to_string(big), diffusion(scale, big), hump(big), 0.1, 1e-6, 1e-6});
  }
  for (const Case& c : cases)
    for (bool grad_mode : {false, true}) run(c, grad_mode, repeats);
}
