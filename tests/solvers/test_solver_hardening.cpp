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

TEST_CASE("a rejected trial step with non-finite stages leaves no NaN in the discrete gradient") {
  // z' = -p sqrt(z) from z = 1: trial steps that overshoot z = 0 give NaN stages and are rejected
  for (const Method method : {Method::dopri5, Method::bosh3, Method::tsit5}) {
    CAPTURE(method_name(method));
    std::vector<double> grads;
    for (const GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed}) {
      const Var p = Var::parameter(Tensor::from_vector({1.0, 1.0}, Shape{2, 1}, DType::f64));
      SolveOptions o;
      o.method = method;
      o.gradient = kind;
      o.rtol = 1e-6, o.atol = 1e-9;
      o.first_step = 5.0;  // a first trial step (clipped to the end) whose stages leave z >= 0
      const Tensor times = Tensor::from_vector({0.0, 1.2, 0.0, 1.9}, Shape{2, 2}, DType::f64);
      const Solution s = solve([p](const Var& z, const Var&, const Rows& rows) { return -rows.gather(p) * sqrt(z); },
                               Var(Tensor::ones(Shape{2, 1}, DType::f64)), Var(times), o);
      CHECK(s.stats->total_rejected() > 0);
      backward(sum(select(s.ys, 0, 1)));
      for (double g : p.grad().to_vector()) grads.push_back(g);
    }
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(std::isfinite(grads[i]));
      CHECK(grads[i] == doctest::Approx(grads[i + 2]).epsilon(1e-6));
    }
  }
}

TEST_CASE("dynamics returning another dtype are named as the cause, not an internal kernel") {
  auto f = [](const Var& z, const Var&) { return cast(z, DType::f64) * -1.0; };
  for (const Method method : {Method::dopri5, Method::rk4}) {
    SolveOptions o;
    o.method = method;
    CHECK_THROWS_WITH_AS(solve(f, Var(Tensor::ones(Shape{2, 3})), Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o),
                         doctest::Contains("solve: the dynamics returned f64[2, 3] on cpu for a f32 state on cpu"), Error);
  }
}

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

TEST_CASE("tolerances below the state dtype's rounding are refused up front, naming the state") {
  auto refused = [](DType dtype, double y, double rtol, double atol) {
    SolveOptions o;
    o.rtol = rtol, o.atol = atol, o.max_steps = 200;  // a solve not refused ends soon (max_steps)
    const Tensor y0 = Tensor::from_vector({1.0, y}, Shape{1, 2}, DType::f64).to(dtype);
    try {
      solve([](const Var& z, const Var&) { return -z; }, Var(y0), Var(Tensor::from_vector({0.0, 10.0}, Shape{2}, DType::f64)), o);
    } catch (const Error& e) {
      const std::string m = e.what();
      INFO(m);
      return m.find("is below the rounding of a") != std::string::npos && m.find("no step can meet it") != std::string::npos;
    }
    return false;
  };
  CHECK(refused(DType::f64, 1.0, 1e-18, 0.0));
  CHECK(refused(DType::f64, 1e6, 0.0, 1e-12));  // pure absolute control on a large state
  CHECK(refused(DType::f32, 1.0, 1e-10, 1e-12));
  CHECK_FALSE(refused(DType::f32, 1.0, 1e-7, 1e-9));    // the defaults stay usable on f32 states
  CHECK_FALSE(refused(DType::f64, 1.0, 1e-14, 0.0));
  CHECK_FALSE(refused(DType::f64, 0.0, 1e-18, 1e-12));  // |y0| = 0 for state 1, and state 0: atol 1e-12 > u
}
