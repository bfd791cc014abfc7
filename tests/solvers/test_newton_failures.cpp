// How the implicit stages' Newton failures are handled, reported and kept out of gradients: a
// singular or non-finite Newton matrix I - h gamma J is named as such (not as divergence), an
// adaptive step shrinks past it, a rejected row whose Newton iteration failed leaves nothing in the
// gradient, and a fixed step (which cannot shrink) retries a failed stage once by full Newton and
// otherwise ends the solve with an error naming Newton.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <string>
#include <vector>

using namespace tide;

namespace {

constexpr double kvaerno3_gamma = 0.43586652150845899941601945;

Var f64(const std::vector<double>& v, Shape s) { return Var(Tensor::from_vector(v, s, DType::f64)); }

SolveOptions kvaerno3(double rtol, double atol) {
  SolveOptions o;
  o.method = Method::kvaerno3;
  o.rtol = rtol, o.atol = atol;
  return o;
}

template <class F> std::string solver_error_of(F&& run) {
  try {
    run();
  } catch (const SolverError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a singular Newton matrix is named as such, not as a diverged iteration; an adaptive step shrinks past it") {
  // z' = A z, A = [[0, 1], [-2, 3]] (eigenvalues 1 and 2): h gamma = 1/2 makes I - h gamma A
  // singular. The LU's NaN correction was read as divergence ("Newton iteration diverged"), and an
  // adaptive solve whose rejected step was at min_step said "the state became non-finite".
  const Dynamics f([](const Var& z, const Var&) {
    const Var a = slice(z, 1, 0, 1), b = slice(z, 1, 1, 2);
    return concat({b, 3.0 * b - 2.0 * a}, 1);
  });
  const double h = 0.5 / kvaerno3_gamma;
  const Var y0 = f64({1.0, 1.0, 1.0, 2.0}, Shape{2, 2});  // eigenvectors: z = e^t (1, 1), e^2t (1, 2)
  SolveOptions fixed;
  fixed.method = Method::kvaerno3;
  fixed.step_size = h;
  const std::string what = solver_error_of([&] { solve(f, y0, f64({0.0, h}, Shape{2}), fixed); });
  CHECK(what.find("Newton matrix I - h gamma J was singular or not finite") != std::string::npos);
  CHECK(what.find("a fixed-step method cannot shrink its step") != std::string::npos);
  CHECK(what.find("diverged") == std::string::npos);
  SolveOptions adaptive;
  adaptive.method = Method::kvaerno3;
  adaptive.rtol = 1e-8, adaptive.atol = 1e-10;
  adaptive.first_step = h;
  const Var times = f64({0.0, 2.0}, Shape{2});  // (past h: a first step clipped to the end is not singular)
  const Solution s = solve(f, y0, times, adaptive);
  CHECK(s.stats->total_rejected() > 0);
  const std::vector<double> end = s.ys.value().select(0, 1).to_vector();
  const double e1 = std::exp(2.0), e2 = std::exp(4.0);
  const std::vector<double> want{e1, e1, e2, 2.0 * e2};
  for (std::size_t i = 0; i < 4; ++i) CHECK(end[i] == doctest::Approx(want[i]).epsilon(1e-6));
  adaptive.min_step = h;  // the singular step cannot shrink: the message says what it met
  const std::string shrunk = solver_error_of([&] { solve(f, y0, times, adaptive); });
  CHECK(shrunk.find("Newton matrix I - h gamma J was singular or not finite") != std::string::npos);
  CHECK(shrunk.find("rejected and retried smaller, and a step of min_step") != std::string::npos);
  CHECK(shrunk.find("non-finite") == std::string::npos);
}

TEST_CASE("a rejected row whose Newton matrix was not finite leaves no NaN in the discrete gradient of the accepted rows") {
  // z' = -p z + 0 sqrt(relu(z - 0.1)): the value is linear, df/dz is 0 * inf = NaN below 0.1. The
  // first step (h = 1) is accepted for sample 0 (p = 0.01); sample 1's (p = 2) first Newton iterate
  // lies below 0.1, its Newton matrix is not finite and the step is rejected with a finite iterate.
  // Recorded there, that row's zero cotangent met df/dz = NaN in the batch's backward (Krylov: NaN
  // in dL/dp_1); the gradient is the closed form's, dL/dp_b = -e^(-p_b), to the tolerance.
  for (const auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    const Var p = Var::parameter(Tensor::from_vector({0.01, 2.0}, Shape{2, 1}, DType::f64));
    const Dynamics f([p](const Var& z, const Var&, const Rows& rows) { return -1.0 * rows.gather(p) * z + 0.0 * sqrt(relu(z - 0.1)); });
    SolveOptions o;
    o.method = Method::kvaerno3;
    o.implicit.jacobian = jacobian;
    o.rtol = 1e-6, o.atol = 1e-6;
    o.first_step = 1.0;
    const Solution s = solve(f, f64({1.0, 1.0}, Shape{2, 1}), f64({0.0, 1.0}, Shape{2}), o);
    CHECK(s.stats->rejected[0] < s.stats->rejected[1]);
    backward(sum(select(s.ys, 0, 1)));
    const std::vector<double> g = p.grad().to_vector();
    CHECK(g[0] == doctest::Approx(-std::exp(-0.01)).epsilon(1e-5));
    CHECK(g[1] == doctest::Approx(-std::exp(-2.0)).epsilon(1e-5));
  }
}

TEST_CASE("a fixed step whose implicit stages diverge is retried by full Newton, else ends naming Newton; one out of iterations too") {
  // z' = -50 z^3 from 2: at step 0.5 Newton diverges even with a new Jacobian; the solve returned
  // ~-1e54 without a word. Its retry by full Newton from the first guess (k = -400, far from the
  // stage's root near +380) needs more than the 8 iterations allowed, and the solve ends naming Newton; given
  // 40, it converges to kvaerno3's own step (its stages solved to rounding in Python). At 1 / 512 the
  // first stage needs ~10 iterations from its guess (8 allowed): it was kept unconverged; now it is
  // retried from its last iterate by full Newton and converges, and the values are the adaptive ones.
  const auto cubic = [](const auto& z, const auto&) { return -50.0 * z * z * z; };
  const Var y0 = f64({2.0, 1.0}, Shape{2, 1}), ts = f64({0.0, 1.0}, Shape{2});
  SolveOptions fixed = kvaerno3(1e-10, 1e-12);
  fixed.step_size = 0.5;
  CHECK_THROWS_WITH_AS(solve(cubic, y0, ts, fixed),
                       doctest::Contains("Newton iteration did not converge in newton_max_iterations, nor when retried by full Newton"),
                       SolverError);
  fixed.newton_max_iterations = 40;
  const std::vector<double> two_steps = solve(cubic, y0, ts, fixed).ys.value().select(0, 1).to_vector();
  CHECK(two_steps[0] == doctest::Approx(0.2572582225826645).epsilon(1e-9));
  CHECK(two_steps[1] == doctest::Approx(0.1304954870933227).epsilon(1e-9));
  fixed = SolveOptions();
  fixed.method = Method::kvaerno3;
  fixed.step_size = 1.0 / 512;
  const std::vector<double> v = solve(cubic, y0, ts, fixed).ys.value().select(0, 1).to_vector();
  const std::vector<double> want = solve(cubic, y0, ts, kvaerno3(1e-10, 1e-12)).ys.value().select(0, 1).to_vector();
  CHECK(v[0] == doctest::Approx(want[0]).epsilon(1e-4));
  CHECK(v[1] == doctest::Approx(want[1]).epsilon(1e-4));
}

TEST_CASE("a fixed step keeps no unconverged implicit stage: a retry by full Newton from its last iterate, else an error") {
  // both were kept after 8 iterations with a Jacobian of the step's start: z' = -50 z^3 from 2 in
  // 64 steps gave 0.0585 for -0.0909, z' = -2.2 t z in one step (J = 0 at t = 0) 0.4938 for 0.3694
  // (kvaerno3 with its stages solved to rounding, /tmp/probeD/kv3_ref.py)
  const auto cubic = [](const auto& z, const auto&) { return -50.0 * z * z * z; };
  const auto growing = [](const auto& z, const auto& t) { return -2.2 * t * z; };
  const Var ts = f64({0.0, 1.0}, Shape{2});
  for (auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    SolveOptions o;
    o.method = Method::kvaerno3;
    o.implicit.jacobian = jacobian;
    o.unfolds = 64;
    CHECK(solve(cubic, f64({2.0}, Shape{1, 1}), ts, o).ys.value().to_vector()[1] == doctest::Approx(-0.09086002399207872).epsilon(1e-6));
    o.unfolds = 1;
    CHECK(solve(growing, f64({1.0}, Shape{1, 1}), ts, o).ys.value().to_vector()[1] == doctest::Approx(0.3693866992096335).epsilon(1e-8));
    // one iteration per try is not enough: the solve ends, saying where and what to change
    o.unfolds = 64;
    o.newton_max_iterations = 1;
    CHECK_THROWS_WITH_AS(solve(cubic, f64({2.0}, Shape{1, 1}), ts, o),
                         doctest::Contains("Newton iteration did not converge in newton_max_iterations, nor when retried by full Newton"),
                         SolverError);
  }
  // an f32 stage cannot get below newton_tolerance x rtol = 1e-9 (its rounding is 6e-8): the last
  // try takes a correction at the stage's rounding as converged, where the iteration stalls
  SolveOptions o;
  o.method = Method::kvaerno3;
  o.unfolds = 100;
  const double want = solve(cubic, f64({2.0}, Shape{1, 1}), ts, o).ys.value().to_vector()[1];
  const Solution single = solve(cubic, Var(Tensor::from_vector({2.0}, Shape{1, 1}, DType::f32)),
                                Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f32)), o);
  CHECK(single.ys.value().to_vector()[1] == doctest::Approx(want).epsilon(1e-5));
}

TEST_CASE("a fixed step whose Jacobian at the step's start makes Newton's matrix singular is solved by full Newton at the stage") {
  // z' = sin z from acos(1/2) with h gamma = 2: J = cos z = 1/2 at the start makes I - h gamma J
  // (nearly) singular, and the dense path, which linearised there, called the iteration diverged
  // where the Krylov one (linearised at every iterate) converged. Each stage equation has one root;
  // the value is kvaerno3's step with its stages solved to rounding by Newton in Python.
  const auto f = [](const auto& z, const auto&) { return sin(z); };
  const double h = 2.0 / kvaerno3_gamma;
  for (const auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    SolveOptions o = kvaerno3(1e-10, 1e-12);
    o.implicit.jacobian = jacobian;
    o.step_size = h;
    const Solution s = solve(f, f64({std::acos(0.5)}, Shape{1, 1}), f64({0.0, h}, Shape{2}), o);
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(3.061945637493356).epsilon(1e-9));
  }
}

TEST_CASE("a fixed step whose stage leaves f's domain, on its full-Newton retry too, ends the solve naming divergence") {
  // z' = -10 sqrt(z) from 1 in one step of 1: the first guess puts the stage at z < 0, where f is
  // NaN; the retry by full Newton starts there again. The message names divergence and the retry.
  const Dynamics f([](const Var& z, const Var&) { return -10.0 * sqrt(z); });
  for (const auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    SolveOptions o;
    o.method = Method::kvaerno3;
    o.implicit.jacobian = jacobian;
    o.step_size = 1.0;
    CHECK_THROWS_WITH_AS(solve(f, f64({1.0}, Shape{1, 1}), f64({0.0, 1.0}, Shape{2}), o),
                         doctest::Contains("Newton iteration diverged, also when retried by full Newton"), SolverError);
  }
}

TEST_CASE("a Newton-Krylov residual that is not finite is a failed iteration, not a zero correction: steps leaving f's domain are rejected") {
  // z' = -10 sqrt(z) from 1 is (1 - 5t)^2 up to t = 0.2. Trial stages past 0 make f NaN; GMRES
  // left a NaN right-hand side's iterate at 0, Newton read that zero correction as converged at the
  // stage's guess, and the Krylov path accepted every step: 0.2195 for z(0.1) = 0.25 and -0.388 for
  // z(0.19) = 0.0025, with no step rejected. Both paths now reject those steps and agree.
  const Dynamics f([](const Var& z, const Var&) { return -10.0 * sqrt(z); });
  for (const auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    SolveOptions o = kvaerno3(1e-6, 1e-8);
    o.implicit.jacobian = jacobian;
    const Solution s = solve(f, f64({1.0}, Shape{1, 1}), f64({0.0, 0.1, 0.19}, Shape{3}), o);
    const std::vector<double> v = s.ys.value().to_vector();
    CHECK(v[1] == doctest::Approx(0.25).epsilon(1e-6));
    CHECK(v[2] == doctest::Approx(0.0025).epsilon(1e-4));
    CHECK(s.stats->total_rejected() > 0);
  }
}

TEST_CASE("a fixed step's stiff f32 stage converges on its retry: the rounding floor is that of |z| + |s k|, not of their sum") {
  // z' = 3 tanh(z W) - 200 z: on a stiff stage z and s k are large and nearly cancel; a floor taken
  // from |z + s k| sat below their rounding, and the retry's noise-level corrections read as divergence
  std::vector<Tensor> ends;
  for (const DType dt : {DType::f32, DType::f64}) {
    Generator gen(5);
    const Var w(gen.normal(Shape{8, 8}, 0.0, 1.0, dt));
    const auto f = [&](const Var& z, const Var&) { return tanh(matmul(z, w)) * 3.0 - 200.0 * z; };
    const Var y0(gen.normal(Shape{64, 8}, 0.0, 2.0, dt));
    const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, dt));
    SolveOptions o;
    o.method = Method::kvaerno3;
    o.unfolds = 4;
    NoGrad off;
    Solution s;
    REQUIRE_NOTHROW(s = solve(f, y0, times, o));
    ends.push_back(s.ys.value().select(0, 1).to(DType::f64));
  }
  CHECK(max(abs(sub(ends[0], ends[1]))).item() <= 1e-6 * (1.0 + max(abs(ends[1])).item()));  // the same stages, to f32's rounding
}

TEST_CASE("a singular Newton matrix on the Krylov path is an error as on the dense one, not a zero correction") {
  // z' = z with h = 1 / gamma makes I - h gamma J = 0: GMRES broke down at once, took its zero
  // iterate for an exact solution, Newton read the zero correction as converged, and the fixed step
  // returned 3.29 for z(1 / gamma) without a word. An adaptive trial step that singular is rejected.
  const Dynamics var_only([](const Var& z, const Var&) { return 1.0 * z; });  // J v by the double-vjp trick
  const Dynamics on_jets([](const auto& z, const auto&) { return 1.0 * z; });  // J v by forward mode
  for (const Dynamics& f : {var_only, on_jets}) {
    for (auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
      INFO(implicit_jacobian_name(jacobian) << (f.taylor_capable() ? " on jets" : ""));
      SolveOptions fixed;
      fixed.method = Method::kvaerno3;
      fixed.implicit.jacobian = jacobian;
      fixed.step_size = 1.0 / kvaerno3_gamma;
      CHECK_THROWS_WITH_AS(solve(f, f64({1.0}, Shape{1, 1}), f64({0.0, 1.0 / kvaerno3_gamma}, Shape{2}), fixed),
                           doctest::Contains("Newton matrix I - h gamma J was singular or not finite"), SolverError);
      SolveOptions adaptive = kvaerno3(1e-8, 1e-10);
      adaptive.implicit.jacobian = jacobian;
      adaptive.first_step = 1.0 / kvaerno3_gamma;
      const Solution s = solve(f, f64({1.0, 2.0}, Shape{2, 1}), f64({0.0, 3.0}, Shape{2}), adaptive);
      CHECK(s.stats->total_rejected() > 0);
      const std::vector<double> end = s.ys.value().select(0, 1).to_vector();
      CHECK(end[0] == doctest::Approx(std::exp(3.0)).epsilon(1e-6));
      CHECK(end[1] == doctest::Approx(2.0 * std::exp(3.0)).epsilon(1e-6));
    }
  }
}
