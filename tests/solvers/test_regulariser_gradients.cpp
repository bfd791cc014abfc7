// The regularisers through solves: R_K, kinetic energy, Jacobian Frobenius and the log-density
// change against closed forms and independent computations with every gradient kind, on
// decreasing times, the trace estimators, their gradients against finite differences, and STEER's
// draws.
#include "gradient_problem.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

namespace tide {
namespace {

using test::central_difference;
using test::f64t;
using test::Problem;

// z' = A z with A diagonal: the regularisers have closed forms
TEST_CASE("regularisers against independent computations, with every gradient kind") {
  const std::vector<double> a = {-0.5, 0.3, -1.2};
  const Var A = Var(f64t({a[0], 0, 0, 0, a[1], 0, 0, 0, a[2]}, Shape{3, 3}));
  auto f = [&](const auto& z, const auto&) { return matmul(z, A); };
  const std::vector<double> z0 = {1.0, -0.5, 0.8, 0.2, 0.4, -1.0};
  const double T = 1.3;
  for (GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint}) {
    INFO(gradient_kind_name(kind));
    SolveOptions o;
    o.rtol = o.atol = 1e-10;
    o.gradient = kind;
    o.regularisers.kinetic = true;
    o.regularisers.jacobian = true;
    o.regularisers.taylor_order = 2;
    o.regularisers.trace = Regularisers::Trace::hutchinson_jvp;
    o.regularisers.noise = Noise::rademacher;
    const Var y0 = Var::parameter(f64t(z0, Shape{2, 3}));
    const Solution s = solve(f, y0, Var(f64t({0.0, T}, Shape{2})), o);
    for (int b = 0; b < 2; ++b) {
      double kinetic = 0, taylor = 0, jac = 0, tr = 0;
      for (int i = 0; i < 3; ++i) {
        const double z = z0[static_cast<std::size_t>(3 * b + i)], ai = a[static_cast<std::size_t>(i)];
        // integral of (a z e^{a t})^2 and of (a^2 z e^{a t})^2 over [0, T]
        const double base = z * z * (std::exp(2 * ai * T) - 1) / (2 * ai);
        kinetic += ai * ai * base;
        taylor += std::pow(ai, 4) * base;
        jac += ai * ai * T;  // ||A e||^2 with e_i = +-1
        tr += ai * T;
      }
      CHECK(s.kinetic.value().to_vector()[static_cast<std::size_t>(b)] == doctest::Approx(kinetic).epsilon(1e-7));
      CHECK(s.taylor.value().to_vector()[static_cast<std::size_t>(b)] == doctest::Approx(taylor).epsilon(1e-7));
      CHECK(s.jacobian.value().to_vector()[static_cast<std::size_t>(b)] == doctest::Approx(jac).epsilon(1e-9));
      CHECK(s.logp_change.value().to_vector()[static_cast<std::size_t>(b)] == doctest::Approx(-tr).epsilon(1e-9));
    }
    // d(kinetic)/dz0_i = a_i^2 z_i (e^{2 a_i T} - 1) / a_i
    const std::vector<double> g = grad(sum(s.kinetic), y0).value().to_vector();
    for (int k = 0; k < 6; ++k) {
      const double ai = a[static_cast<std::size_t>(k % 3)];
      CHECK(g[static_cast<std::size_t>(k)] == doctest::Approx(ai * z0[static_cast<std::size_t>(k)] * (std::exp(2 * ai * T) - 1)).epsilon(1e-6));
    }
  }
}

TEST_CASE("regularisers on decreasing times: the penalties integrate over |dt|, the log-density change keeps its sign") {
  const std::vector<double> a = {-0.5, 0.3, -1.2};
  const Var A = Var(f64t({a[0], 0, 0, 0, a[1], 0, 0, 0, a[2]}, Shape{3, 3}));
  auto f = [&](const auto& z, const auto&) { return matmul(z, A); };
  const std::vector<double> z0 = {1.0, -0.5, 0.8};
  const double T = 1.3;
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  o.regularisers.kinetic = true;
  o.regularisers.jacobian = true;
  o.regularisers.taylor_order = 1;
  o.regularisers.trace = Regularisers::Trace::hutchinson_jvp;
  o.regularisers.noise = Noise::rademacher;
  const Solution s = solve(f, Var(f64t(z0, Shape{1, 3})), Var(f64t({T, 0.0}, Shape{2})), o);  // from T back to 0
  double kinetic = 0, jac = 0, tr = 0;
  for (int i = 0; i < 3; ++i) {
    const double z = z0[static_cast<std::size_t>(i)], ai = a[static_cast<std::size_t>(i)];
    kinetic += ai * ai * z * z * (1 - std::exp(-2 * ai * T)) / (2 * ai);  // z(t) = z e^{a (t - T)} on [0, T]
    jac += ai * ai * T;
    tr += ai * T;
  }
  CHECK(s.kinetic.item() == doctest::Approx(kinetic).epsilon(1e-7));
  CHECK(s.taylor.item() == doctest::Approx(kinetic).epsilon(1e-7));  // R_1 is the kinetic energy
  CHECK(s.jacobian.item() == doctest::Approx(jac).epsilon(1e-9));
  CHECK(s.logp_change.item() == doctest::Approx(tr).epsilon(1e-9));  // -integral from T to 0 of tr
}

TEST_CASE("the exact and VJP trace estimators agree with the trace on a full matrix") {
  const Var A = Var(f64t({-0.5, 0.2, 0.1, 0.3, 0.4, -0.6, 0.7, 0.0, -1.0}, Shape{3, 3}));
  auto f = [&](const auto& z, const auto&) { return matmul(z, A); };
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  o.regularisers.trace = Regularisers::Trace::exact;
  const Solution exact = solve(f, Var(f64t({1.0, 2.0, 3.0}, Shape{1, 3})), Var(f64t({0.0, 2.0}, Shape{2})), o);
  CHECK(exact.logp_change.item() == doctest::Approx(-(-0.5 + 0.4 - 1.0) * 2.0).epsilon(1e-10));
  // Hutchinson's estimate is unbiased: the mean over many samples approaches the trace
  o.regularisers.trace = Regularisers::Trace::hutchinson_vjp;
  const Tensor many = Tensor::ones(Shape{4000, 3}, DType::f64);
  const Solution est = solve(f, Var(many), Var(f64t({0.0, 2.0}, Shape{2})), o);
  CHECK(mean(est.logp_change.value()).item() == doctest::Approx(-(-1.1) * 2.0).epsilon(0.05));
}

TEST_CASE("regulariser gradients against finite differences (R_2 and kinetic, fixed step)") {
  Problem p;
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = 6;
  o.regularisers.taylor_order = 2;
  o.regularisers.kinetic = true;
  auto loss = [&]() {
    const Solution s = solve([&](const auto& z, const auto& t) { return tanh(matmul(z, p.W) + p.b) * (1.0 + 0.3 * sin(t)) - 0.1 * z; },
                             p.y0, Var(p.times.value()), o);
    return sum(s.taylor) + 0.5 * sum(s.kinetic);
  };
  const std::vector<double> g = grad(loss(), p.W).value().to_vector();
  NoGrad no_grad;
  for (std::int64_t i = 0; i < 4; ++i)
    CHECK(g[static_cast<std::size_t>(i)] == doctest::Approx(central_difference(p.W.value(), i, 1e-6, [&] { return loss().item(); })).epsilon(1e-7));
}

TEST_CASE("STEER draws end times inside the interval, reproducibly from the seed; evaluation uses the true times") {
  auto f = [](const auto& z, const auto&) { return -z; };
  const Var y0 = Var(f64t({1.0}, Shape{1, 1}));
  SolveOptions o;
  o.steer.enabled = true;
  o.steer.b = 0.4;
  std::vector<double> ends;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    o.seed = seed;
    const Solution s = solve(f, y0, Var(f64t({0.0, 1.0}, Shape{2})), o);
    const double t1 = s.end_times.to_vector()[1];
    CHECK(t1 >= 0.6);
    CHECK(t1 <= 1.4);
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::exp(-t1)).epsilon(1e-6));
    ends.push_back(t1);
  }
  double lo = 2, hi = 0, mean_t = 0;
  for (double t : ends) lo = std::min(lo, t), hi = std::max(hi, t), mean_t += t / 200;
  CHECK(lo < 0.65);
  CHECK(hi > 1.35);
  CHECK(mean_t == doctest::Approx(1.0).epsilon(0.05));
  o.seed = 7;
  const double a = solve(f, y0, Var(f64t({0.0, 1.0}, Shape{2})), o).end_times.to_vector()[1];
  const double b = solve(f, y0, Var(f64t({0.0, 1.0}, Shape{2})), o).end_times.to_vector()[1];
  CHECK(a == b);
  // time series: every interval's length drawn from U(eps, 2 dt - eps)
  o.steer.per_interval = true;
  const Solution s = solve(f, y0, Var(f64t({0.0, 0.5, 0.7, 2.0}, Shape{4})), o);
  const auto t = s.end_times.to_vector();
  const double dt[] = {0.5, 0.2, 1.3};
  for (int i = 0; i < 3; ++i) {
    CHECK(t[static_cast<std::size_t>(i + 1)] - t[static_cast<std::size_t>(i)] > 1e-3 - 1e-12);
    CHECK(t[static_cast<std::size_t>(i + 1)] - t[static_cast<std::size_t>(i)] < 2 * dt[i] - 1e-3 + 1e-12);
  }
  o.steer.enabled = false;
  CHECK(solve(f, y0, Var(f64t({0.0, 1.0}, Shape{2})), o).end_times.to_vector()[1] == 1.0);
  o.steer.enabled = true;
  o.steer.per_interval = false;
  o.steer.b = 1.5;
  CHECK_THROWS_WITH_AS(solve(f, y0, Var(f64t({0.0, 1.0}, Shape{2})), o), doctest::Contains("STEER"), Error);
}


TEST_CASE("the exact trace with per-sample data and per-sample grids equals each sample solved alone") {
  // exact_trace evaluates the rows repeated D times: the times and Rows must repeat with them
  Generator gen(12);
  const Var W(gen.normal(Shape{3, 3}, 0.0, 0.6, DType::f64));
  const Tensor c = gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64);  // per-sample data
  auto f = [&](const auto& z, const auto& t, const Rows& rows) {
    using T = std::decay_t<decltype(z)>;
    return tanh(matmul(z, T(W)) + T(Var(rows.gather(c))) * t);
  };
  const Tensor y0 = gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64);
  const Tensor times = f64t({0.0, 0.4, 0.0, 1.3, 0.0, 0.7, 0.0, 2.0}, Shape{4, 2});  // each sample its own end
  SolveOptions o;
  o.rtol = o.atol = 1e-9;
  o.regularisers.trace = Regularisers::Trace::exact;
  const std::vector<double> batch = solve(f, Var(y0), Var(times), o).logp_change.value().to_vector();
  for (std::int64_t b = 0; b < 4; ++b) {
    const Tensor cb = c.slice(0, b, b + 1).contiguous();
    auto fb = [&](const auto& z, const auto& t) {
      using T = std::decay_t<decltype(z)>;
      return tanh(matmul(z, T(W)) + T(Var(cb)) * t);
    };
    const double alone = solve(fb, Var(y0.slice(0, b, b + 1).contiguous()), Var(times.slice(0, b, b + 1).contiguous()), o).logp_change.item();
    CHECK(batch[static_cast<std::size_t>(b)] == doctest::Approx(alone).epsilon(1e-12));
  }
}

}  // namespace
}  // namespace tide
