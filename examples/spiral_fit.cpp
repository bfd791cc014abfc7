// Fits a neural ODE to the spiral of torchdiffeq's examples/ode_demo.py: data from y' = y^3 A, a
// model y' = MLP(y^3) trained on random 30-point windows with the adjoint gradient and Adam, f32.
// Usage: spiral_fit [--iterations N]; prints progress about ten times (every max(1, N / 10) iterations) and the final loss.
#include "cli_args.hpp"
#include <tide/tide.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace tide;

int main(int argc, char** argv) {
  int iterations = 4000;
  const char* usage = "usage: spiral_fit [--iterations N]  (N in 1..1000000, default 4000)\n";
  const cli::Flags flags = cli::Flags("spiral_fit", usage).integer("--iterations", 1, 1000000, iterations);
  if (const auto status = flags.parse(cli::Args(argv + 1, argv + argc))) return *status;

  // The data: 1000 points of y' = y^3 A on [0, 25] from y0 = (2, 0).
  const std::int64_t points = 1000, window = 30;
  std::vector<double> tv(points);
  for (std::int64_t i = 0; i < points; ++i) tv[i] = 25.0 * static_cast<double>(i) / (points - 1);
  const Var t(Tensor::from_vector(tv, Shape{points}));
  const Var A(Tensor::from_vector({-0.1, 2.0, -2.0, -0.1}, Shape{2, 2}));
  const Var y0(Tensor::from_vector({2.0, 0.0}, Shape{1, 2}));
  Var true_y;  // [1000, 1, 2]
  {
    NoGrad no_grad;
    true_y = solve([&A](const Var& y, const Var&) { return matmul(pow(y, 3.0), A); }, y0, t).ys;
  }

  // The model, its optimizer and the solver settings (dopri5, rtol 1e-7, atol 1e-9 by default).
  Generator gen(0);
  const MLP mlp({2, 50, 2}, Activation::tanh, gen);
  const auto model = [&mlp](const Var& y, const Var&) { return mlp(pow(y, 3.0)); };
  Adam adam(mlp.parameters(), {.lr = 1e-3});
  SolveOptions options;
  options.gradient = GradientKind::adjoint;

  // Mean |error| of the model's whole trajectory from y0, as torchdiffeq's demo reports it.
  const auto trajectory_loss = [&] {
    NoGrad no_grad;
    return mean(abs(solve(model, y0, t, options).ys - true_y)).item();
  };

  const int every = std::max(1, iterations / 10);
  std::printf("%9s %12s %12s %10s %9s\n", "iteration", "window loss", "full loss", "NFE/iter", "ms/iter");
  std::printf("%9d %12s %12.5f\n", 0, "", trajectory_loss());
  double window_loss = 0, nfe = 0;
  auto start = std::chrono::steady_clock::now();
  for (int it = 1; it <= iterations; ++it) {
    // one window of 30 consecutive points from a random start; the dynamics are autonomous, so
    // every window is solved on the first 30 times
    const auto s = static_cast<std::int64_t>(gen.uniform(Shape{1}, 0.0, points - window, DType::f64).item());
    const Solution pred = solve(model, select(true_y, 0, s), slice(t, 0, 0, window), options);
    const Var loss = mean(abs(pred.ys - slice(true_y, 0, s, s + window)));
    adam.zero_grad();
    backward(loss);
    adam.step();
    window_loss += loss.item();
    nfe += static_cast<double>(pred.stats->calls + pred.stats->backward_calls);

    if (it % every == 0 || it == iterations) {
      const int n = it % every == 0 ? every : it % every;
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / n;
      std::printf("%9d %12.5f %12.5f %10.0f %9.2f\n", it, window_loss / n, trajectory_loss(), nfe / n, ms);
      std::fflush(stdout);
      window_loss = nfe = 0;
      start = std::chrono::steady_clock::now();
    }
  }
  std::printf("final loss (mean |error| over the whole trajectory): %.5f\n", trajectory_loss());
  return 0;
}
