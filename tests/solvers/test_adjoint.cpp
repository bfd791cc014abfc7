// The adjoint gradient's own failures and checks: a failing backward solve, the re-integrated
// state's drift from the forward solution (refused where it moves the gradient, accepted where it
// does not), its tolerances (which states it controls, the dtype's rounding).
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace tide;

TEST_CASE("a failure in the adjoint's backward solve says so and names the checkpointed gradient") {
  bool poisoned = false;  // the backward pass sees dynamics that went non-finite
  const Var p = Var::parameter(Tensor::from_vector({1.0}, Shape{1}, DType::f64));
  const Var nan(Tensor::full(Shape{1}, NAN, DType::f64));
  auto f = [&poisoned, p, nan](const Var& z, const Var&) { return poisoned ? z * p * nan : -(z * p); };
  SolveOptions o;
  o.gradient = GradientKind::adjoint;
  const Solution s = solve(f, Var(Tensor::ones(Shape{1, 1}, DType::f64)), Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
  poisoned = true;
  try {
    backward(sum(s.ys));
    FAIL("no error");
  } catch (const SolverError& e) {
    const std::string what = e.what();
    CHECK(what.find("in the adjoint's backward solve") != std::string::npos);
    CHECK(what.find("checkpointed gradient") != std::string::npos);
  }
}

TEST_CASE("an adjoint whose backward re-integration of the state drifts from the forward solution is refused, naming checkpointed") {
  // van der Pol, mu = 2 (not stiff): integrated backwards the limit cycle repels, and at rtol 1e-6
  // the re-integrated y was 1e4 tolerances off at t = 5; the adjoint followed that path and gave a
  // gradient 8 % off the discrete one, silently
  const Var mu = Var::parameter(Tensor::from_vector({2.0}, Shape{1}, DType::f64));
  const auto f = [mu](const Var& z, const Var&) {
    const Var x = slice(z, 1, 0, 1), v = slice(z, 1, 1, 2);
    return concat({v, mu * (1.0 - x * x) * v - x}, 1);
  };
  const Var y0 = Var::parameter(Tensor::from_vector({2.0, 0.0, 1.0, 0.5}, Shape{2, 2}, DType::f64));
  const Var times(Tensor::from_vector({0.0, 5.0, 10.0}, Shape{3}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-6;
  o.gradient = GradientKind::adjoint;
  const Solution s = solve(f, y0, times, o);
  try {
    backward(sum(square(s.ys)));
    FAIL("no error");
  } catch (const SolverError& e) {
    const std::string what = e.what();
    CHECK(what.find("the adjoint's backward re-integration of the state drifted from the forward solution: at t = 5") != std::string::npos);
    CHECK(what.find("x the tolerance") != std::string::npos);
    CHECK(what.find("Use GradientKind::checkpointed") != std::string::npos);
    CHECK(e.time == 5.0);
  }
}

TEST_CASE("an adjoint whose y drifts where the adjoint does not depend on it (linear decay) is not refused and equals discrete") {
  // y' = -p y integrated backwards grows like e^(p t): from t = 2 to 0.2 with p = 50 the re-integrated
  // y is 1e38 tolerances off the forward's e^(-10), yet a' = p a reads no y, and a^T df/dp = -a y
  // stays at the tolerance (a dy is conserved): the drift's effects measured 0 (adjoint) and 1.2e-3
  // (parameters) x rtol, against limits of 1e2. Measured: dL/dp of the fast row 1.2e-6 off discrete
  // (discrete is 5e-7 off the closed form), the others 1.2e-7 and below
  const auto gradients = [](GradientKind kind) {
    const Var p = Var::parameter(Tensor::from_vector({50.0, 0.5}, Shape{2, 1}, DType::f64));
    const Var y0 = Var::parameter(Tensor::from_vector({1.0, 2.0}, Shape{2, 1}, DType::f64));
    const Dynamics f([p](const Var& z, const Var&, const Rows& rows) { return -(rows.gather(p) * z); });
    SolveOptions o;
    o.gradient = kind;
    const Solution s = solve(f, y0, Var(Tensor::from_vector({0.0, 0.1, 0.2, 2.0}, Shape{4}, DType::f64)), o);
    const std::vector<Var> g = grad({sum(s.ys)}, {p, y0});
    std::vector<double> out = g[0].value().to_vector(), gy = g[1].value().to_vector();
    out.insert(out.end(), gy.begin(), gy.end());
    return out;
  };
  const std::vector<double> discrete = gradients(GradientKind::discrete), adjoint = gradients(GradientKind::adjoint);
  for (std::size_t i = 0; i < discrete.size(); ++i) CHECK(adjoint[i] == doctest::Approx(discrete[i]).epsilon(1e-5).scale(0));
}

namespace {
double largest_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double apart = 0, size = 0;
  for (std::size_t i = 0; i < a.size(); ++i) apart = std::max(apart, std::fabs(a[i] - b[i])), size = std::max(size, std::fabs(b[i]));
  return apart / size;
}
}  // namespace

TEST_CASE("a tighter adjoint_rtol on Lotka-Volterra is accepted and stays as close to discrete as the forward's tolerances") {
  // the drift gap was read in the adjoint's tolerances, which adjoint_rtol sets for the y half too:
  // y_forward carries the forward's error (rtol 1e-6), so adjoint_rtol = 1e-9 counted it as 8.6e3
  // tolerances and refused a gradient 9.3e-6 off discrete (8.8e-6 at the forward's tolerances)
  const auto gradients = [](GradientKind kind, double adjoint_rtol) {
    const Var p = Var::parameter(Tensor::from_vector({1.5, 1.0, 1.0, 3.0}, Shape{4}, DType::f64));
    const Var y0 = Var::parameter(Tensor::from_vector({1.0, 1.0, 2.0, 0.5}, Shape{2, 2}, DType::f64));
    const auto f = [p](const Var& z, const Var&) {
      const Var x = slice(z, 1, 0, 1), y = slice(z, 1, 1, 2);
      return concat({slice(p, 0, 0, 1) * x - slice(p, 0, 1, 2) * x * y, slice(p, 0, 2, 3) * x * y - slice(p, 0, 3, 4) * y}, 1);
    };
    SolveOptions o;
    o.rtol = 1e-6, o.atol = 1e-8, o.gradient = kind;
    o.adjoint_rtol = adjoint_rtol, o.adjoint_atol = adjoint_rtol * 1e-2;
    const Solution s = solve(f, y0, Var(Tensor::from_vector({0.0, 15.0}, Shape{2}, DType::f64)), o);
    return grad(std::vector<Var>{sum(square(s.ys)) + sum(s.ys)}, std::vector<Var>{p})[0].value().to_vector();
  };
  const std::vector<double> discrete = gradients(GradientKind::discrete, 0.0);
  for (double adjoint_rtol : {0.0, 1e-9}) {
    CAPTURE(adjoint_rtol);
    std::vector<double> adjoint;
    REQUIRE_NOTHROW(adjoint = gradients(GradientKind::adjoint, adjoint_rtol));
    CHECK(largest_difference(adjoint, discrete) < 1e-4);
  }
}

TEST_CASE("the drift check does not scale with the loss: van der Pol with its loss x 1e-4 is refused as the unscaled one is") {
  // the drift's effect on the adjoint was read against atol + rtol |a|: a loss x 1e-4 (a mean over a
  // large batch) shrank it below its limit, and a gradient 11 % off discrete was let through
  const Var mu = Var::parameter(Tensor::from_vector({2.0}, Shape{1}, DType::f64));
  const auto f = [mu](const Var& z, const Var&) {
    const Var x = slice(z, 1, 0, 1), v = slice(z, 1, 1, 2);
    return concat({v, mu * (1.0 - x * x) * v - x}, 1);
  };
  const Var y0 = Var::parameter(Tensor::from_vector({2.0, 0.0, 1.0, 0.5}, Shape{2, 2}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-6;
  o.gradient = GradientKind::adjoint;
  for (double c : {1e-4, 1e-6}) {
    CAPTURE(c);
    const Solution s = solve(f, y0, Var(Tensor::from_vector({0.0, 5.0, 10.0}, Shape{3}, DType::f64)), o);
    try {
      backward(c * sum(square(s.ys)));
      FAIL("no error");
    } catch (const SolverError& e) {
      const std::string what = e.what();
      CHECK(what.find("drifted from the forward solution: at t = 5") != std::string::npos);
      CHECK(what.find("Use GradientKind::checkpointed") != std::string::npos);
      CHECK(what.find("adjoint_rtol") == std::string::npos);  // tighter adjoint tolerances do not help
    }
  }
}

TEST_CASE("an adjoint whose drifted y moves only the parameter gradient (a coupled linear system) is refused") {
  // y1' = -k (y1 - cos t), y2' = th y1 - y2: y1's fast mode grows backwards (1e21 tolerances at
  // t = 0), and with a constant df/dy the adjoint does not see it, but a^T df/dth = a2 y1 reads the
  // drifted y1: dL/dth came out -9.7e11 against 0.513435 (its closed form), let through
  const auto solve_kind = [](GradientKind kind, const Var& k, const Var& th) {
    const auto f = [k, th](const Var& z, const Var& t) {
      const Var y1 = slice(z, 1, 0, 1), y2 = slice(z, 1, 1, 2);
      return concat({-(k * (y1 - cos(t))), th * y1 - y2}, 1);
    };
    SolveOptions o;
    o.gradient = kind;
    const Var y0(Tensor::from_vector({1.0, 0.0}, Shape{1, 2}, DType::f64));
    return sum(slice(solve(f, y0, Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o).ys, 0, 1, 2));
  };
  const Var k = Var::parameter(Tensor::from_vector({50.0}, Shape{1}, DType::f64));
  const Var th = Var::parameter(Tensor::from_vector({0.7}, Shape{1}, DType::f64));
  CHECK(grad(solve_kind(GradientKind::checkpointed, k, th), th).value().item() == doctest::Approx(0.513435).epsilon(1e-5));
  try {
    grad(solve_kind(GradientKind::adjoint, k, th), th);
    FAIL("no error");
  } catch (const SolverError& e) {
    const std::string what = e.what();
    CHECK(what.find("drifted from the forward solution: at t = 0") != std::string::npos);
    CHECK(what.find("the parameter gradient by over") != std::string::npos);
    CHECK(what.find("Use GradientKind::checkpointed") != std::string::npos);
    CHECK(e.time == 0.0);
  }
}

TEST_CASE("the adjoint's backward solve keeps states with no tolerance out of its norm and controls their adjoints") {
  // every doubled state was controlled with the forward's tolerances: a seminorm state with atol =
  // rtol = 0 (and a regulariser's integrand state under scalar atol = rtol = 0) made every error
  // estimate infinite, "step size underflowed". y' = -y.
  const auto f = [](const Var& z, const Var&) { return -z; };
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  SolveOptions seminorm;
  seminorm.atol_per_state = seminorm.rtol_per_state = {1e-9, 0.0};
  seminorm.seminorm = {1};
  SolveOptions kinetic;
  kinetic.atol = kinetic.rtol = 0.0;
  kinetic.atol_per_state = kinetic.rtol_per_state = {1e-9, 1e-9};
  kinetic.regularisers.kinetic = true;
  for (SolveOptions o : {seminorm, kinetic}) {
    INFO((o.regularisers.kinetic ? "kinetic" : "seminorm"));
    const auto gradient = [&](GradientKind kind) {
      o.gradient = kind;
      const Var y0 = Var::parameter(Tensor::from_vector({1.0, 0.5}, Shape{1, 2}, DType::f64));
      const Solution s = solve(f, y0, times, o);
      return grad(sum(s.ys) + (s.kinetic.defined() ? sum(s.kinetic) : Var(Tensor::zeros(Shape{}, DType::f64))), y0).value().to_vector();
    };
    const std::vector<double> discrete = gradient(GradientKind::discrete), adjoint = gradient(GradientKind::adjoint);
    for (std::size_t i = 0; i < discrete.size(); ++i) CHECK(adjoint[i] == doctest::Approx(discrete[i]).epsilon(1e-7));
  }
}

TEST_CASE("adjoint tolerances below the rounding of an f32 state are refused before the solve, naming adjoint_rtol") {
  // the forward's are refused up front; the adjoint's ran the backward solve to 300,000 calls (or to
  // max_steps, with a message naming neither option)
  std::int64_t calls = 0;
  const Var W = Var::parameter(Tensor::from_vector({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}));
  const auto f = [W, &calls](const Var& z, const Var&) { ++calls; return tanh(matmul(z, W)) - 0.1 * z; };
  const Var y0 = Var::parameter(Tensor::from_vector({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}));
  const Var t(Tensor::from_vector({0.0, 0.6, 1.5}, Shape{3}));
  SolveOptions o;  // rtol 1e-7, atol 1e-9: attainable in f32
  o.gradient = GradientKind::adjoint;
  o.adjoint_rtol = 1e-12;
  CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains("adjoint_rtol = 1e-12"), Error);
  CHECK(calls <= 1);  // at most the probe that finds the parameters: no step was taken
  o.adjoint_rtol = 1e-6;  // attainable: solved, and the backward pass runs
  calls = 0;
  backward(sum(solve(f, y0, t, o).ys));
  CHECK(calls > 0);
  CHECK(W.grad().defined());
}
