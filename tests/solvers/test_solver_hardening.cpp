// Regressions from the hardening audit (issue 18): each case failed before its fix.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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
  // z' = -p sqrt(z) from z = 1: trial steps that overshoot z = 0 give NaN stages and are rejected;
  // on compiled dynamics too, where a step runs as one plan (without FSAL, one that can make its
  // own first stage: the loop then evaluates it apart, as the restep keeps it)
  for (const auto& [method, compiled] : {std::pair{Method::dopri5, false}, std::pair{Method::bosh3, false}, std::pair{Method::tsit5, false},
                                         std::pair{Method::dopri5, true}, std::pair{Method::heun_euler, true},
                                         std::pair{Method::fehlberg45, true}}) {
    CAPTURE(method_name(method));
    CAPTURE(compiled);
    std::vector<double> grads;
    for (const GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed}) {
      const Var p = Var::parameter(Tensor::from_vector({1.0, 1.0}, Shape{2, 1}, DType::f64));
      SolveOptions o;
      o.method = method;
      o.gradient = kind;
      o.rtol = 1e-6, o.atol = 1e-9;
      o.first_step = 5.0;  // a first trial step (clipped to the end) whose stages leave z >= 0
      const Tensor times = Tensor::from_vector({0.0, 1.2, 0.0, 1.9}, Shape{2, 2}, DType::f64);
      const Dynamics f([p](const Var& z, const Var&, const Rows& rows) { return -rows.gather(p) * sqrt(z); });
      const Solution s = solve(compiled ? compile_dynamics(f) : f, Var(Tensor::ones(Shape{2, 1}, DType::f64)), Var(times), o);
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
  const Dynamics f([](const Var& z, const Var&) { return cast(z, DType::f64) * -1.0; });
  for (const Method method : {Method::dopri5, Method::rk4}) {
    for (const bool compiled : {false, true}) {  // compiled rk4: the step's own plan makes k1
      SolveOptions o;
      o.method = method;
      CHECK_THROWS_WITH_AS(solve(compiled ? compile_dynamics(f) : f, Var(Tensor::ones(Shape{2, 3})),
                                 Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o),
                           doctest::Contains("solve: the dynamics returned f64[2, 3] on cpu for a f32 state on cpu"), Error);
    }
  }
}

TEST_CASE("budgeted checkpointing refuses a y0 modified in place before the backward pass, as discrete does") {
  // the first checkpoint is y0's own storage (no copy): the replay read the modified y0 and gave a
  // wrong gradient, silently
  const Var W = Var::parameter(Tensor::from_vector({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}, DType::f64));
  const auto f = [W](const Var& z, const Var&) { return tanh(matmul(z, W)) - 0.1 * z; };
  const Var times(Tensor::from_vector({0.0, 0.6, 1.5}, Shape{3}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-9;
  o.gradient = GradientKind::checkpointed;
  o.checkpoint_budget = 2;
  const Var y0 = Var::parameter(Tensor::from_vector({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, DType::f64));
  const std::vector<double> before = grad(sum(square(solve(f, y0, times, o).ys)), W).value().to_vector();
  SolveOptions d = o;
  d.gradient = GradientKind::discrete;
  const std::vector<double> discrete = grad(sum(square(solve(f, y0, times, d).ys)), W).value().to_vector();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(before[i] == doctest::Approx(discrete[i]).epsilon(1e-12));
  const Var loss = sum(square(solve(f, y0, times, o).ys));
  Tensor storage = y0.value();
  storage.mul_(3.0);  // an optimizer's step before this backward
  CHECK_THROWS_WITH_AS(grad(loss, W), doctest::Contains("y0 (the first checkpoint"), Error);
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

TEST_CASE("the discrete gradient records one node per stage combination, not one per term") {
  // dopri5 with f = p z (one node per evaluation): 6 evaluations and 7 combinations per step
  const Var p = Var::parameter(Tensor::from_vector({-1.0}, Shape{1}, DType::f64));
  SolveOptions o;
  o.rtol = 1e-10, o.atol = 1e-12;
  const std::uint64_t since = next_node_sequence();
  const Solution s = solve([p](const Var& z, const Var&) { return z * p; }, Var(Tensor::ones(Shape{1, 3}, DType::f64)),
                           Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
  const double steps = static_cast<double>(s.stats->total_accepted() + s.stats->total_rejected());
  CHECK(static_cast<double>(next_node_sequence() - since) / steps < 16.0);  // 63 before
  backward(sum(select(s.ys, 0, 1)));
  CHECK(p.grad().to_vector()[0] == doctest::Approx(3.0 * std::exp(-1.0)).epsilon(1e-8));  // d/dp of 3 e^p at p = -1
}

TEST_CASE("a discrete-gradient record over max_record_bytes stops with advice; checkpointed solves it") {
  // Robertson's stiff kinetics with an explicit method: thousands of small steps, each recorded
  const Var k = Var::parameter(Tensor::from_vector({0.04, 1e4, 3e7}, Shape{3}, DType::f64));
  auto robertson = [k](const Var& y, const Var&) {
    const Var y1 = slice(y, 1, 0, 1), y2 = slice(y, 1, 1, 2), y3 = slice(y, 1, 2, 3);
    const Var a = -select(k, 0, 0) * y1 + select(k, 0, 1) * y2 * y3, c = select(k, 0, 2) * y2 * y2;
    return concat({a, -a - c, c}, 1);
  };
  SolveOptions o;
  o.rtol = 1e-4, o.atol = 1e-8;
  o.max_record_bytes = 4 << 20;
  const Var y0 = Var(Tensor::from_vector({1.0, 0.0, 0.0}, Shape{1, 3}, DType::f64));
  const Var times = Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  try {
    solve(robertson, y0, times, o);
    FAIL("no error");
  } catch (const SolverError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find("over max_record_bytes recording the discrete gradient") != std::string::npos);
    CHECK(m.find("gradient = checkpointed") != std::string::npos);
  }
  o.gradient = GradientKind::checkpointed;
  const Solution s = solve(robertson, y0, times, o);
  backward(sum(select(s.ys, 0, 1)));
  CHECK(std::isfinite(k.grad().to_vector()[0]));
}

TEST_CASE("a rejected step whose shrunk size cannot advance the time less fails at once, not after max_steps") {
  // near t = 1e15 the representable steps are multiples of 0.125: a shrunk 0.11 rounds back up to
  // the rejected 0.125, which was retried 100,000 times
  SolveOptions o;
  o.rtol = o.atol = 1e-8;
  const Tensor times = Tensor::from_vector({1e15, 1e15 + 3}, Shape{2}, DType::f64);
  try {
    (void)solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)), Var(times), o);
    FAIL("expected a SolverError");
  } catch (const SolverError& e) {
    CHECK(std::string(e.what()).find("underflowed") != std::string::npos);
    CHECK(e.stats.total_rejected() < 10);
  }
}

TEST_CASE("step options that are NaN, infinite or contradictory, and a seminorm over every state, are refused") {
  auto f = [](const Var& z, const Var&) { return -z; };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 5.0}, Shape{2}, DType::f64));
  auto refused = [&](SolveOptions o, const char* what) { CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains(what), Error); };
  SolveOptions o;
  o.min_step = NAN;
  refused(o, "min_step = nan");
  o = SolveOptions();
  o.min_step = 1.0, o.max_step = 0.1;
  refused(o, "<= max_step = 0.1");
  o = SolveOptions();
  o.first_step = NAN;
  refused(o, "first_step = nan");
  for (double bad : {NAN, INFINITY}) {
    o = SolveOptions();
    o.method = Method::rk4;
    o.step_size = bad;
    refused(o, "step_size");
  }
  o = SolveOptions();
  o.seminorm = {0};
  refused(o, "seminorm leaves none of the 1 states under error control");
  o.method = Method::rk4, o.step_size = 0.1;  // fixed steps need no error control
  CHECK(solve(f, y0, t, o).ys.value().to_vector()[1] == doctest::Approx(std::exp(-5.0)).epsilon(1e-5));
}

TEST_CASE("a step controller whose b1 is not positive, or whose weights are not finite, is refused before the solve") {
  // (b1 = NaN, 0 or -1 shrank every accepted step by factor_min until max_steps ran out, blaming stiffness)
  auto f = [](const Var& z, const Var& t) { return z * cos(t); };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 3.0}, Shape{2}, DType::f64));
  for (const StepController& c : {StepController::pid(NAN, 0, 0), StepController::pid(0, 0, 0), StepController::pid(-1, 0, 0),
                                  StepController::pid(0.5, NAN, 0), StepController::pid(0.5, 0, INFINITY)}) {
    SolveOptions o;
    o.controller = c;
    CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains("controller PID needs a finite b1 > 0 and finite b2, b3"), Error);
  }
  SolveOptions o;
  o.controller = StepController::pid(0.7, -0.4, 0.1);  // a negative history weight is a valid filter
  CHECK(solve(f, y0, t, o).ys.value().to_vector()[1] == doctest::Approx(std::exp(std::sin(3.0))).epsilon(1e-4));
}

TEST_CASE("a step_size so small that the step count overflows int64 stops at max_steps") {
  SolveOptions o;
  o.method = Method::euler;
  o.step_size = 1e-20;  // 5e20 steps: the count was cast to int64 (undefined; one step of 5 taken)
  o.max_steps = 1000;
  CHECK_THROWS_WITH_AS(solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
                             Var(Tensor::from_vector({0.0, 5.0}, Shape{2}, DType::f64)), o),
                       doctest::Contains("max_steps = 1000 reached"), SolverError);
}

TEST_CASE("dop853 under the max norm combines its two error estimators as under the RMS norm") {
  // Van der Pol, mu = 5: the max norm took the 5th-order estimate alone (829 steps against 426)
  auto vdp = [](const Var& z, const Var&) {
    const Var x = slice(z, 1, 0, 1), v = slice(z, 1, 1, 2);
    return concat({v, 5.0 * (1.0 - x * x) * v - x}, 1);
  };
  const Var y0(Tensor::from_vector({2.0, 0.0}, Shape{1, 2}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 20.0}, Shape{2}, DType::f64));
  SolveOptions o;
  o.method = Method::dop853;
  o.rtol = o.atol = 1e-11;
  const Solution rms = solve(vdp, y0, t, o);
  o.norm = NormKind::max;
  const Solution max = solve(vdp, y0, t, o);
  o.rtol = o.atol = 1e-13;
  o.norm = NormKind::rms;
  const auto ref = solve(vdp, y0, t, o).ys.value().to_vector();
  const auto v = max.ys.value().to_vector();
  CHECK(max.stats->total_accepted() < rms.stats->total_accepted() * 5 / 4);
  CHECK(std::hypot(v[2] - ref[2], v[3] - ref[3]) < 1e-10);
}

TEST_CASE("min_step bounds every adaptive step from below, and a rejection at it names it") {
  // y' = cos t from y = 0: the first-step heuristic proposed ~1e-4, under min_step, and went on
  std::vector<double> times;  // of every evaluation: the heuristic's trial at ~1e-6, then stages at c_i h
  SolveOptions o;
  o.min_step = 1e-3;
  o.rtol = o.atol = 1e-6;
  const auto f = [&times](const Var& z, const Var& t) {
    times.push_back(t.value().to_vector()[0]);
    return cos(t) + z * 0.0;
  };
  const Solution s = solve(f, Var(Tensor::zeros(Shape{1, 1}, DType::f64)), Var(Tensor::from_vector({0.0, 2.0}, Shape{2}, DType::f64)), o);
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::sin(2.0)).epsilon(1e-5));
  for (const double t : times) CHECK((t <= 1.1e-6 || t >= 0.2 * o.min_step * (1 - 1e-12)));  // dopri5's c_2 = 1/5
  // a rejected step longer than min_step is retried at min_step (it failed at once when the shrunk
  // step fell below min_step)
  SolveOptions first;
  first.rtol = first.atol = 1e-5;
  first.min_step = 0.01;
  first.first_step = 0.04;
  const Solution decay = solve([](const Var& z, const Var&) { return z * -38.83; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
                               Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), first);
  CHECK(decay.stats->total_rejected() >= 1);
  CHECK(decay.ys.value().to_vector()[1] == doctest::Approx(std::exp(-38.83)).epsilon(1e-3));
  // a stiff decay needs steps far below 0.1 at this tolerance: refused, naming min_step
  o.min_step = 0.1;
  o.method = Method::dopri5;
  try {
    (void)solve([](const Var& z, const Var&) { return z * -1e4; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
                Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
    FAIL("expected a SolverError");
  } catch (const SolverError& e) {
    CHECK(std::string(e.what()).find("a step of min_step = 0.1 or less was rejected") != std::string::npos);
  }
}

TEST_CASE("STEER refuses a NaN b, a negative eps and times that require a gradient") {
  auto f = [](const Var& z, const Var&) { return -z; };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 0.5, 1.0}, Shape{3}, DType::f64));
  SolveOptions o;
  o.steer.enabled = true;
  o.steer.b = NAN;
  CHECK_THROWS_WITH_AS(solve(f, y0, Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o), doctest::Contains("b = nan must lie in"), Error);
  o.steer.per_interval = true;
  o.steer.eps = -0.3;  // drew negative lengths: the times ran backwards
  CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains("eps = -0.3 must be finite and >= 0"), Error);
  o.steer.eps = 1e-3;
  const Var times = Var::parameter(Tensor::from_vector({0.0, 0.5, 1.0}, Shape{3}, DType::f64));
  CHECK_THROWS_WITH_AS(solve(f, y0, times, o), doctest::Contains("with STEER the solve ends at drawn times"), Error);
  CHECK(solve(f, y0, times.detach(), o).ys.shape() == Shape{3, 1, 1});
}

TEST_CASE("with R_K on, a trial step that leaves the dynamics' domain is rejected and shrunk, not an error") {
  // z' = -sqrt(z): the first trial step (1.8) overshoots z = 0 and makes the Taylor coefficients
  // NaN; the solver rejects it as it does without the regulariser. Closed form z = (sqrt(z0) - t/2)^2
  // and R_1 = integral of z'^2 = z, (2/3)(a^3 - (a - t/2)^3) with a = sqrt(z0).
  auto f = [](const auto& z, const auto&) { return -sqrt(z); };
  const Var y0(Tensor::from_vector({1.0, 0.95}, Shape{2, 1}, DType::f64));
  const Var times(Tensor::from_vector({0.0, 1.8}, Shape{2}, DType::f64));
  for (const Method method : {Method::dopri5, Method::bosh3}) {
    CAPTURE(method_name(method));
    SolveOptions o;
    o.method = method;
    o.first_step = 1.8;
    o.rtol = 1e-8, o.atol = 1e-10;
    o.regularisers.taylor_order = 1;
    const Solution s = solve(f, y0, times, o);
    CHECK(s.stats->total_rejected() > 0);
    const std::vector<double> ys = s.ys.value().to_vector(), r = s.taylor.value().to_vector();
    for (std::size_t b = 0; b < 2; ++b) {
      const double a = std::sqrt(b == 0 ? 1.0 : 0.95), end = a - 0.9;
      CHECK(ys[2 + b] == doctest::Approx(end * end).epsilon(1e-5));
      CHECK(r[b] == doctest::Approx(2.0 / 3.0 * (a * a * a - end * end * end)).epsilon(1e-5));
    }
  }
}

TEST_CASE("max_step bounds fixed steps too: at least ceil(length / max_step) steps per interval") {
  // it was ignored by fixed-step solves, silently: rk4 took one step of 10 over [0, 10] (y = 291)
  const auto f = [](const Var& z, const Var&) { return -z; };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 10.0}, Shape{2}, DType::f64));
  SolveOptions o;
  o.method = Method::rk4;
  o.max_step = 0.01;
  Solution s = solve(f, y0, t, o);
  CHECK(s.stats->total_accepted() == 1000);
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::exp(-10.0)).epsilon(1e-8));
  o.step_size = 0.5;  // the smaller of the two bounds wins
  CHECK(solve(f, y0, t, o).stats->total_accepted() == 1000);
  o.max_step = 2.0;
  CHECK(solve(f, y0, t, o).stats->total_accepted() == 20);
  o.step_size = 0.0, o.unfolds = 2;  // an adaptive method run with fixed unfolds: more where max_step needs them
  o.method = Method::dopri5;
  CHECK(solve(f, y0, t, o).stats->total_accepted() == 5);
  o.unfolds = 8;
  CHECK(solve(f, y0, t, o).stats->total_accepted() == 8);
}

TEST_CASE("a rejected step below min_step is reported with its own size, not the next proposal's") {
  // y' = -100 y from t = 0 with min_step = 0.5: the rejected step is 0.5 (|h| x 100 = 50, far past
  // dopri5's stability limit), where the message and SolverError::step named the controller's next 0.1
  SolveOptions o;
  o.min_step = 0.5;
  o.first_step = 0.5;
  try {
    solve([](const Var& z, const Var&) { return z * -100.0; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
          Var(Tensor::from_vector({0.0, 5.0}, Shape{2}, DType::f64)), o);
    FAIL("no SolverError");
  } catch (const SolverError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(e.step == 0.5);
    CHECK(m.find("a step of min_step = 0.5 or less was rejected at t = 0 with step 0.5 ") != std::string::npos);
    CHECK(e.stiffness_estimate == doctest::Approx(50.0).epsilon(0.05));
  }
}

TEST_CASE("a controlled state with atol = rtol = 0 is refused up front, naming it") {
  // starting at 0 it gave "the state became non-finite and the step size underflowed"
  const auto f = [](const Var& z, const Var& t) { return concat({cos(t) + 0.0 * slice(z, 1, 0, 1), -1.0 * slice(z, 1, 1, 2)}, 1); };
  const Var y0(Tensor::from_vector({0.0, 1.0}, Shape{1, 2}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  SolveOptions o;
  o.atol_per_state = {0.0, 1e-9}, o.rtol_per_state = {0.0, 1e-7};
  CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains("state 0 has atol = rtol = 0"), Error);
  o.seminorm = {0};  // out of error control: allowed
  CHECK(solve(f, y0, t, o).ys.value().to_vector()[2] == doctest::Approx(std::sin(1.0)).epsilon(1e-6));
}

TEST_CASE("without clip_to_end, a last step that passes the last time is within max_steps, as a landing one is") {
  const auto f = [](const Var& z, const Var& t) { return -1.0 * z + sin(t); };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 0.7, 3.0}, Shape{3}, DType::f64));
  for (const bool clip : {true, false}) {
    CAPTURE(clip);
    SolveOptions o = clip ? SolveOptions() : SolveOptions::torchdiffeq("dopri5");
    NoGrad no_grad;
    const Solution s = solve(f, y0, t, o);
    o.max_steps = s.stats->accepted[0] + s.stats->rejected[0];  // exactly the steps it takes
    CHECK(solve(f, y0, t, o).ys.value().to_vector() == s.ys.value().to_vector());
    o.max_steps -= 1;
    CHECK_THROWS_WITH_AS(solve(f, y0, t, o), doctest::Contains("max_steps"), SolverError);
  }
}

TEST_CASE("fused_b must be [D] or [1], named when it is not") {
  const auto split = [](const Var& z, const Var&) { return concat({z * 0.0 + 1.0, z * 0.0 + 0.2}, 1); };
  const Var y0(Tensor::from_vector({1.0, 2.0}, Shape{1, 2}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  SolveOptions o;
  o.method = Method::ltc_fused;
  for (const Shape& bad : {Shape{3}, Shape{2, 1}, Shape{1, 2}}) {
    CAPTURE(bad.str());
    o.fused_b = Tensor::full(bad, 0.5, DType::f64);
    CHECK_THROWS_WITH_AS(solve(split, y0, t, o), doctest::Contains(("fused_b f64" + bad.str() + " must be [2] (one per state) or [1]").c_str()), Error);
  }
  for (const Shape& good : {Shape{2}, Shape{1}}) {
    o.fused_b = Tensor::full(good, 0.5, DType::f64);
    CHECK(solve(split, y0, t, o).ys.shape() == Shape{2, 1, 2});
  }
}

TEST_CASE("a negative taylor_order, negative or NaN adjoint tolerances and a NaN in the mask are refused") {
  const auto f = [](const Var& z, const Var&) { return -z; };
  const Var y0(Tensor::ones(Shape{1, 1}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  const auto refused = [&](const SolveOptions& o, const Var& times, const char* what) {
    CHECK_THROWS_WITH_AS(solve(f, y0, times, o), doctest::Contains(what), Error);
  };
  SolveOptions o;
  o.regularisers.taylor_order = -1;  // alone it turned nothing on and was taken as off
  refused(o, t, "regularisers.taylor_order = -1 is outside 0..6");
  for (const double bad : {-1.0, double(NAN), double(INFINITY)}) {
    o = SolveOptions();
    o.adjoint_rtol = bad;
    refused(o, t, "adjoint_rtol");
    o = SolveOptions();
    o.adjoint_atol = bad;
    refused(o, t, "adjoint_atol");
  }
  o = SolveOptions();
  o.mask = Tensor::from_vector({1.0, 1.0, NAN}, Shape{1, 3}, DType::f64);
  refused(o, Var(Tensor::from_vector({0.0, 1.0, 2.0}, Shape{1, 3}, DType::f64)), "mask[0, 2] is NaN");
}

namespace {
// The SolverError a solve throws (its message empty and calls -1 when it throws none).
struct Failure {
  std::string what;
  std::int64_t calls = -1;
};
Failure failure_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const SolverError& e) {
    return Failure{e.what(), e.stats.calls};
  }
  return {};
}
}  // namespace

TEST_CASE("a non-finite y0 is named at once for every method, not as a step size underflow after thousands of calls") {
  // dopri5 took 2732 calls to say "the state became non-finite and the step size underflowed",
  // kvaerno3 2276 (911 LU factorisations); rk4 advised a smaller step or an adaptive method
  const auto f = [](const Var& z, const Var&) { return -1.0 * z; };
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  for (const double bad : {double(NAN), double(INFINITY)})
    for (const Method m : {Method::dopri5, Method::bosh3, Method::tsit5, Method::dop853, Method::kvaerno3, Method::euler, Method::rk4})
      for (const bool fixed : {false, true})
        for (const bool per_sample : {true, false}) {
          CAPTURE(bad);
          CAPTURE(std::string(method_name(m)));
          CAPTURE(fixed);
          CAPTURE(per_sample);
          SolveOptions o;
          o.method = m, o.per_sample = per_sample;
          if (fixed) o.step_size = 0.1;
          const Var y0(Tensor::from_vector({1.0, 2.0, bad, 1.0}, Shape{2, 2}, DType::f64));
          const Failure e = failure_of([&] { solve(f, y0, times, o); });
          INFO(e.what);
          CHECK(e.what.find(fmt::format("sample 1: y0[1, 0] = {} is not finite", bad)) != std::string::npos);
          CHECK(e.what.find("underflowed") == std::string::npos);
          CHECK(e.what.find("use an adaptive method") == std::string::npos);
          CHECK(e.what.find("the implicit stages") == std::string::npos);
          CHECK(e.calls >= 0);
          CHECK(e.calls <= 30);
        }
}

TEST_CASE("a non-finite y0 is named with every gradient kind, and with compiled dynamics") {
  const auto f = [](const Var& z, const Var&) { return -1.0 * z; };
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  for (const GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint})
    for (const bool compiled : {false, true}) {
      CAPTURE(static_cast<int>(kind));
      CAPTURE(compiled);
      SolveOptions o;
      o.gradient = kind;
      const Var y0 = Var::parameter(Tensor::from_vector({1.0, NAN}, Shape{1, 2}, DType::f64));
      const Failure e = failure_of([&] { solve(compiled ? compile_dynamics(f) : Dynamics(f), y0, times, o); });
      INFO(e.what);
      CHECK(e.what.find("y0[0, 1] = nan is not finite") != std::string::npos);
    }
}

TEST_CASE("a padded (masked-out) sample's non-finite y0 is no error: it takes no step") {
  const auto f = [](const Var& z, const Var&) { return -1.0 * z; };
  const Var times(Tensor::from_vector({0.0, 1.0, 0.0, 1.0}, Shape{2, 2}, DType::f64));
  SolveOptions o;
  o.mask = Tensor::from_vector({1.0, 1.0, 1.0, 0.0}, Shape{2, 2}, DType::f64);
  for (const Method m : {Method::dopri5, Method::rk4}) {
    CAPTURE(std::string(method_name(m)));
    o.method = m;
    const Solution s = solve(f, Var(Tensor::from_vector({1.0, NAN}, Shape{2, 1}, DType::f64)), times, o);
    const std::vector<double> ys = s.ys.value().to_vector();  // [T, B, 1]
    CHECK(ys[2] == doctest::Approx(std::exp(-1.0)).epsilon(3e-2));  // rk4: one step
    CHECK(std::isnan(ys[3]));
  }
}

TEST_CASE("dynamics that return a non-finite value at a finite state are named, not blamed on the step size") {
  // a weight gone NaN (a diverged training run): the state stays finite, f does not; dopri5 ended
  // as a step size underflow ("state norm 1"), rk4 advised a smaller step or an adaptive method
  const Var w = Var::parameter(Tensor::from_vector({NAN}, Shape{1}, DType::f64));
  const auto f = [&w](const Var& z, const Var&) { return z * w; };
  // log of a state at 0: -inf for sample 1 only, at its finite start
  const auto g = [](const Var& z, const Var&) { return log(z); };
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  for (const Method m : {Method::dopri5, Method::tsit5, Method::kvaerno3, Method::euler, Method::rk4})
    for (const bool fixed : {false, true}) {
      CAPTURE(std::string(method_name(m)));
      CAPTURE(fixed);
      SolveOptions o;
      o.method = m;
      if (fixed) o.step_size = 0.1;
      const Failure e = failure_of([&] { solve(f, Var(Tensor::from_vector({1.0, 2.0}, Shape{2, 1}, DType::f64)), times, o); });
      INFO(e.what);
      CHECK(e.what.find("sample 0: the dynamics returned a non-finite value at the finite state the step starts from, f(y, t)[0, 0] = nan") != std::string::npos);
      CHECK(e.what.find("at t = 0 with") != std::string::npos);
      CHECK(e.what.find("underflowed") == std::string::npos);
      CHECK(e.what.find("use an adaptive method") == std::string::npos);
      CHECK(e.calls <= 30);
      const Failure l = failure_of([&] { solve(g, Var(Tensor::from_vector({1.0, 0.0}, Shape{2, 1}, DType::f64)), times, o); });
      INFO(l.what);
      CHECK(l.what.find("sample 1: the dynamics returned a non-finite value at the finite state the step starts from, f(y, t)[1, 0] = -inf") != std::string::npos);
    }
}
