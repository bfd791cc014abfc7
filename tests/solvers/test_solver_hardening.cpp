// Regressions from the hardening audit (issue 18): each case failed before its fix.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

using namespace tide;

TEST_CASE("a time scale far below 1e-14 near t = 0 is solved, not refused as an underflowing step") {
  for (double k : {1e14, 1e15, 1e18}) {
    CAPTURE(k);
    const Tensor times = Tensor::from_vector({0.0, 10.0 / k}, Shape{2}, DType::f64);
    const Solution s = solve([k](const Var& z, const Var&) { return z * -k; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)), Var(times));
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::exp(-10.0)).epsilon(1e-6));
  }
}

TEST_CASE("with gradients enabled and nothing requiring one, the first evaluation is not repeated") {
  // the first-step heuristic evaluates f(t0, y0) and f at a trial point; stage 1 of the first
  // step reuses f(t0, y0) whether or not grad mode is on
  auto count = [](bool grad_mode) {
    std::int64_t calls = 0;
    auto f = [&calls](const Var& z, const Var&) { ++calls; return -z; };
    GradModeScope mode(grad_mode);
    const Solution s = solve(f, Var(Tensor::ones(Shape{2, 1}, DType::f64)), Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)));
    CHECK(s.stats->calls == calls);
    return calls;
  };
  CHECK(count(true) == count(false));
}
