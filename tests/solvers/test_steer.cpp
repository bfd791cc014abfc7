// STEER's relative per-interval form is one mechanism for solver grids and sequence models: the
// grid a solve uses is the true grid with every interval scaled by steer_intervals' draws.
#include "tide/tide.hpp"
#include <doctest/doctest.h>

using namespace tide;

TEST_CASE("STEER with a relative half-width scales each interval by the draws steer_intervals makes") {
  const std::vector<double> times = {0.0, 0.5, 1.25, 2.0, 3.0};
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = 2;
  o.seed = 11;
  o.steer = Steer{.enabled = true, .per_interval = true, .relative = 0.4};
  const Solution s = solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{2, 1}, DType::f64)),
                           Var(Tensor::from_vector(times, Shape{5}, DType::f64)), o);
  Generator gen(11 ^ 0x5354454552ull);
  const std::vector<double> factor = steer_intervals(Tensor::ones(Shape{1, 4}, DType::f64), 0.4, gen).to_vector();
  const std::vector<double> used = s.end_times.to_vector();
  for (int b = 0; b < 2; ++b) {
    double t = 0.0;
    for (int j = 1; j < 5; ++j) {
      CHECK(factor[static_cast<std::size_t>(j - 1)] >= 0.6);
      CHECK(factor[static_cast<std::size_t>(j - 1)] <= 1.4);
      t += (times[static_cast<std::size_t>(j)] - times[static_cast<std::size_t>(j - 1)]) * factor[static_cast<std::size_t>(j - 1)];
      CHECK(used[static_cast<std::size_t>(b * 5 + j)] == doctest::Approx(t).epsilon(1e-15));
    }
  }
  o.steer.relative = 1.0;
  CHECK_THROWS_WITH_AS(solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{2, 1}, DType::f64)),
                             Var(Tensor::from_vector(times, Shape{5}, DType::f64)), o),
                       doctest::Contains("relative = 1 must lie in [0, 1)"), Error);
}

TEST_CASE("STEER switched on in a form that would draw nothing is refused: relative without per_interval, b = 0") {
  const auto solve_with = [](Steer steer) {
    SolveOptions o;
    o.method = Method::rk4;
    o.steer = steer;
    return solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
                 Var(Tensor::from_vector({0.0, 0.5, 1.0}, Shape{3}, DType::f64)), o);
  };
  CHECK_THROWS_WITH_AS(solve_with(Steer{.enabled = true, .relative = 0.5}), doctest::Contains("applies to the per-interval form"), Error);
  CHECK_THROWS_WITH_AS(solve_with(Steer{.enabled = true}), doctest::Contains("b = 0 draws nothing"), Error);
  CHECK(solve_with(Steer{.enabled = true, .b = 0.25}).end_times.to_vector()[2] != 1.0);
}

TEST_CASE("STEER with one shared step (per_sample = false) draws one end time for identical [B, T] grids") {
  // a draw per row broke the one-grid rule that per_sample = false checks just before: the batch
  // was split into rows at different times, which dynamics whose rows mix must not see
  std::int64_t smallest = 99;
  const auto f = [&](const Var& z, const Var&) {
    smallest = std::min(smallest, z.size(0));
    return -1.0 * (z - mean(z, {0}, true));
  };
  SolveOptions o;
  o.per_sample = false;
  o.seed = 1;
  o.steer = Steer{.enabled = true, .b = 0.5};
  NoGrad no_grad;
  const Solution s = solve(f, Var(Tensor::from_vector({1.0, 3.0}, Shape{2, 1}, DType::f64)),
                           Var(Tensor::from_vector({0.0, 1.0, 0.0, 1.0}, Shape{2, 2}, DType::f64)), o);
  const std::vector<double> t = s.end_times.to_vector();
  CHECK(t[1] != 1.0);
  CHECK(t[1] == t[3]);
  CHECK(smallest == 2);
  o.per_sample = true;  // per-sample grids: a draw per row, as before
  const std::vector<double> u = solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{2, 1}, DType::f64)),
                                      Var(Tensor::from_vector({0.0, 1.0, 0.0, 1.0}, Shape{2, 2}, DType::f64)), o)
                                    .end_times.to_vector();
  CHECK(u[1] != u[3]);
}
