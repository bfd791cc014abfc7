// The solver library against closed forms: every method's order of convergence, adaptive error
// against the tolerance, dense output, per-sample grids equal to separate solves, an unbatched
// state's results, backwards solves, the LTC fused step, the implicit method on a stiff problem,
// and the failure modes.
#include "../heavy.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

namespace tide {
namespace {

Var f64(const std::vector<double>& v, Shape s) { return Var(Tensor::from_vector(v, s, DType::f64)); }

// y' = y cos t, y(t0) = y0: y = y0 exp(sin t - sin t0); written once for Var and Jet
auto cos_dynamics = [](const auto& z, const auto& t) { return z * cos(t); };
double cos_exact(double y0, double t0, double t) { return y0 * std::exp(std::sin(t) - std::sin(t0)); }

double final_error(Method m, int steps, double t1) {
  SolveOptions o;
  o.method = m;
  o.unfolds = steps;
  const Solution s = solve(cos_dynamics, f64({1.0, 0.5}, Shape{2, 1}), f64({0.0, t1}, Shape{2}), o);
  const auto v = s.ys.value().to_vector();
  return std::max(std::fabs(v[2] - cos_exact(1.0, 0, t1)), std::fabs(v[3] - cos_exact(0.5, 0, t1)));
}

TEST_CASE("every Runge-Kutta method converges at its order (log-log slope within 0.2)") {
  for (Method m : all_methods()) {
    if (m == Method::ltc_fused) continue;
    const Tableau& tab = tableau(m);
    const int n = tab.order >= 7 ? 6 : tab.order >= 5 ? 16 : tab.order >= 3 ? 32 : 64;  // asymptotic, above rounding
    const double t1 = tab.order >= 7 ? 4.0 : 1.0;  // keeps the 8th-order errors above rounding
    // least-squares slope of log(error) against log(steps) over n, 1.5n, 2n, 3n, 4n
    std::vector<double> lx, ly;
    for (double mult : {1.0, 1.5, 2.0, 3.0, 4.0}) {
      const int steps = static_cast<int>(n * mult);
      lx.push_back(std::log(steps));
      ly.push_back(std::log(final_error(m, steps, t1)));
    }
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < lx.size(); ++i) mx += lx[i] / 5, my += ly[i] / 5;
    for (std::size_t i = 0; i < lx.size(); ++i) sxy += (lx[i] - mx) * (ly[i] - my), sxx += (lx[i] - mx) * (lx[i] - mx);
    const double slope = -sxy / sxx;
    INFO(std::string(method_name(m)) << ": errors " << std::exp(ly.front()) << " .. " << std::exp(ly.back()) << " slope " << slope);
    // dopri8 (Prince-Dormand 8(7)13M, torchdiffeq's) reaches its order late: its error ratios go
    // 2^4.6 at 6 -> 8 steps and 2^8.05 at 16 -> 32 (below 1e-12, too near rounding to fit a slope)
    CHECK(std::fabs(slope - tab.order) <= (m == Method::dopri8 ? 1.0 : 0.2));
  }
}

TEST_CASE("method names round-trip and unknown names list the known ones") {
  for (Method m : all_methods()) CHECK(method_from_name(method_name(m)) == m);
  CHECK_THROWS_WITH_AS(method_from_name("rk45"), doctest::Contains("dopri5"), Error);
}

TEST_CASE("adaptive methods reach the tolerance on a closed-form problem") {
  for (Method m : {Method::heun_euler, Method::bosh3, Method::dopri5, Method::tsit5, Method::fehlberg45, Method::dop853, Method::kvaerno3}) {
    for (double tol : {1e-5, 1e-8}) {
      if (m == Method::heun_euler && tol < 1e-6) continue;  // too many steps for a 2nd-order pair
      SolveOptions o;
      o.method = m;
      o.rtol = o.atol = tol;
      const Solution s = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64({0.0, 2.0, 5.0}, Shape{3}), o);
      const auto v = s.ys.value().to_vector();
      const double err = std::max(std::fabs(v[1] - cos_exact(1, 0, 2)), std::fabs(v[2] - cos_exact(1, 0, 5)));
      INFO(std::string(method_name(m)) << " tol " << tol << ": error " << err << ", " << s.stats->summary());
      CHECK(err < 30 * tol);
      CHECK(s.stats->total_accepted() > 1);
    }
  }
}

TEST_CASE("dense output between steps is as accurate as the steps") {
  for (Method m : {Method::dopri5, Method::tsit5, Method::bosh3, Method::dop853, Method::fehlberg45, Method::dopri8}) {
    SolveOptions o;
    o.method = m;
    o.rtol = o.atol = 1e-8;
    std::vector<double> times;
    for (int i = 0; i <= 40; ++i) times.push_back(0.1 * i);
    const Solution s = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64(times, Shape{41}), o);
    const auto v = s.ys.value().to_vector();
    double worst = 0;
    for (int i = 0; i <= 40; ++i) worst = std::max(worst, std::fabs(v[static_cast<std::size_t>(i)] - cos_exact(1, 0, times[static_cast<std::size_t>(i)])));
    const Solution ends = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64({0.0, 4.0}, Shape{2}), o);
    INFO(std::string(method_name(m)) << ": worst dense error " << worst << " with " << s.stats->total_accepted() << " steps for 41 outputs, "
         << ends.stats->total_accepted() << " for the end alone");
    CHECK(worst < 3e-7);
    // interpolated (an interpolant as accurate as the error control): no extra steps for the outputs;
    // dopri8's quartic is 4th order inside 8th-order steps, so it lands on them (1.6e-5 before)
    const Tableau& tab = tableau(m);
    if (tab.interp.empty() ? tab.order <= 3 : tab.interp_order >= tab.error_order)
      CHECK(s.stats->total_accepted() <= ends.stats->total_accepted() + 1);
  }
  // torchdiffeq's dopri8 interpolates, as torchdiffeq does
  SolveOptions o;
  o.method = Method::dopri8;
  o.torchdiffeq_variant = true;
  const Solution many = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64({0.0, 1.0, 2.0, 3.0, 4.0}, Shape{5}), o);
  const Solution ends = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64({0.0, 4.0}, Shape{2}), o);
  CHECK(many.stats->total_accepted() == ends.stats->total_accepted());
}

TEST_CASE("torchdiffeq's bosh3 interpolates between steps far less accurately than its steps, as options.hpp says") {
  // its quartic passes through y + h k2 / 2, off the midpoint by h^2 f' / 8: a first-order interpolant
  const auto worst_dense_error = [](bool torchdiffeq) {
    SolveOptions o;
    o.method = Method::bosh3, o.torchdiffeq_variant = torchdiffeq, o.rtol = o.atol = 1e-8;
    std::vector<double> times;
    for (int i = 0; i <= 30; ++i) times.push_back(0.1 * i);
    const auto v = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64(times, Shape{31}), o).ys.value().to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < times.size(); ++i) worst = std::max(worst, std::fabs(v[i] - cos_exact(1, 0, times[i])));
    return worst;
  };
  const double torchdiffeq = worst_dense_error(true), published = worst_dense_error(false);
  INFO("worst error at the outputs: torchdiffeq's form " << torchdiffeq << ", the published one " << published);
  CHECK(published < 1e-7);
  CHECK(torchdiffeq > 100 * published);
}

TEST_CASE("a sample's dense outputs stay finite while another sample's rejected step overflows") {
  // sample 1's first trial step (0.5 on y' = -y^3 from 10) overflows and is rejected while sample
  // 0 accepts one that holds t = 0.25: no output may read the rejected row (NoGrad keeps it as is)
  NoGrad off;
  SolveOptions o;
  o.first_step = 0.5;
  const Solution s = solve([](const Var& z, const Var&) { return -(z * z * z); }, f64({0.1, 10.0}, Shape{2, 1}),
                           f64({0.0, 0.25, 1.0}, Shape{3}), o);
  const auto v = s.ys.value().to_vector();  // [T, B, 1]
  CHECK(s.stats->total_rejected() >= 1);
  CHECK(v[2] == doctest::Approx(0.1 / std::sqrt(1 + 2 * 0.01 * 0.25)).epsilon(1e-6));
  for (double x : v) CHECK(std::isfinite(x));
}

TEST_CASE("per-sample grids give the same answers as separate solves, and finished samples stop costing work") {
  auto f = [](const auto& z, const auto& t) { return sin(z) * t - 0.3 * z; };
  const std::vector<std::vector<double>> grids = {{0.0, 0.5, 1.0, 3.0}, {0.2, 0.3, 0.0, 0.0}, {1.0, 2.0, 4.0, 8.0}};
  const std::vector<double> mask = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
  std::vector<double> flat;
  for (const auto& g : grids) flat.insert(flat.end(), g.begin(), g.end());
  const std::vector<double> y0 = {0.1, 0.2, -1.0, 0.7, 2.0, 0.3};
  for (Method m : {Method::dopri5, Method::rk4, Method::kvaerno3}) {
    SolveOptions o;
    o.method = m;
    o.rtol = o.atol = 1e-9;
    if (m == Method::rk4) o.step_size = 0.05;
    o.mask = Tensor::from_vector(mask, Shape{3, 4}, DType::f64);
    const Solution all = solve(f, f64(y0, Shape{3, 2}), f64(flat, Shape{3, 4}), o);
    const auto va = all.ys.value().to_vector();  // [T, B, D]
    for (int b = 0; b < 3; ++b) {
      SolveOptions one = o;
      one.mask = Tensor();
      const int count = b == 1 ? 2 : 4;
      const std::vector<double> g(grids[static_cast<std::size_t>(b)].begin(), grids[static_cast<std::size_t>(b)].begin() + count);
      const Solution s = solve(f, f64({y0[static_cast<std::size_t>(2 * b)], y0[static_cast<std::size_t>(2 * b + 1)]}, Shape{1, 2}), f64(g, Shape{count}), one);
      const auto vs = s.ys.value().to_vector();
      for (int j = 0; j < 4; ++j)
        for (int d = 0; d < 2; ++d) {
          const double want = vs[static_cast<std::size_t>(std::min(j, count - 1) * 2 + d)];
          CHECK(va[static_cast<std::size_t>((j * 3 + b) * 2 + d)] == doctest::Approx(want).epsilon(1e-12));
        }
      // the same steps; evaluations shared with other samples (a first stage recomputed after
      // another sample's rejection) may add a few
      CHECK(all.stats->nfe[static_cast<std::size_t>(b)] >= s.stats->nfe[0]);
      CHECK(all.stats->nfe[static_cast<std::size_t>(b)] <= s.stats->nfe[0] * 1.05 + 2);
      CHECK(all.stats->accepted[static_cast<std::size_t>(b)] == s.stats->accepted[0]);
    }
    CHECK(all.stats->nfe[1] < all.stats->nfe[2]);  // the short sample left the batch early
  }
}

TEST_CASE("an unbatched y0 gives every result without the batch axis, equal to the one-sample batch's") {
  SolveOptions o;
  o.regularisers.taylor_order = 2;
  o.regularisers.kinetic = true;
  o.regularisers.jacobian = true;
  o.regularisers.trace = Regularisers::Trace::exact;
  const auto f = [](const auto& z, const auto&) { return tanh(z) * -1.5; };
  const Var times = f64({0.0, 0.5, 1.0}, Shape{3});
  const Solution one = solve(f, f64({0.3, -0.7}, Shape{2}), times, o);
  const Solution batch = solve(f, f64({0.3, -0.7}, Shape{1, 2}), times, o);
  CHECK(one.ys.shape() == Shape{3, 2});
  CHECK(one.ys.value().to_vector() == batch.ys.value().to_vector());
  for (auto [a, b] : {std::pair{one.taylor, batch.taylor}, {one.kinetic, batch.kinetic}, {one.jacobian, batch.jacobian},
                      {one.logp_change, batch.logp_change}}) {
    CHECK(a.shape() == Shape{});
    CHECK(b.shape() == Shape{1});
    CHECK(a.value().item() == b.value().item());
  }
  CHECK(one.end_times.shape() == Shape{3});
  CHECK(one.end_times.to_vector() == batch.end_times.to_vector());
}

TEST_CASE("backwards-in-time solves reach the closed form") {
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  const Solution s = solve(cos_dynamics, f64({2.0}, Shape{1, 1}), f64({3.0, 1.0, -2.0}, Shape{3}), o);
  const auto v = s.ys.value().to_vector();
  CHECK(v[1] == doctest::Approx(cos_exact(2.0, 3.0, 1.0)).epsilon(1e-8));
  CHECK(v[2] == doctest::Approx(cos_exact(2.0, 3.0, -2.0)).epsilon(1e-8));
}

TEST_CASE("the LTC fused step equals its closed form on a linear problem") {
  // dz/dt = -(a + b) z + c with constant a, b, c: one fused step z1 = (z0 + h c) / (1 + h (a + b)),
  // and with many unfolds the exact solution z* + (z0 - z*) exp(-(a + b) t), z* = c / (a + b)
  const double a = 0.7, b = 0.5, c = 1.3, z0 = 2.0;
  auto split = [&](const Var& z, const Var&) {
    return concat({Var(Tensor::full(z.shape(), a, DType::f64)), Var(Tensor::full(z.shape(), c, DType::f64))}, 1);
  };
  SolveOptions o;
  o.method = Method::ltc_fused;
  o.fused_b = Tensor::full(Shape{1}, b, DType::f64);
  o.unfolds = 1;
  const double h = 0.25;
  Solution s = solve(split, f64({z0}, Shape{1, 1}), f64({0.0, h}, Shape{2}), o);
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx((z0 + h * c) / (1 + h * (a + b))).epsilon(1e-15));
  o.unfolds = 6;
  s = solve(split, f64({z0}, Shape{1, 1}), f64({0.0, h}, Shape{2}), o);
  double z = z0;
  for (int i = 0; i < 6; ++i) z = (z + h / 6 * c) / (1 + h / 6 * (a + b));
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(z).epsilon(1e-14));
  o.unfolds = 4000;
  s = solve(split, f64({z0}, Shape{1, 1}), f64({0.0, 1.0}, Shape{2}), o);
  const double zs = c / (a + b);
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(zs + (z0 - zs) * std::exp(-(a + b))).epsilon(1e-3));
  // the same system through fused_rhs and dopri5
  SolveOptions d;
  d.rtol = d.atol = 1e-10;
  s = solve(fused_rhs(split, o.fused_b), f64({z0}, Shape{1, 1}), f64({0.0, 1.0}, Shape{2}), d);
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(zs + (z0 - zs) * std::exp(-(a + b))).epsilon(1e-9));
}

// STEER's stiff test: y' = -r y + 3r - 2r exp(-t), y(0) = 0 has y = 3 - 2 exp(-t) - exp(-r t) * 1 ...
// (solution for y(0) = 0: y = 3 - 3 e^{-rt} - 2r/(r-1) (e^{-t} - e^{-rt}))
double stiff_exact(double r, double t) { return 3 - 3 * std::exp(-r * t) - 2 * r / (r - 1) * (std::exp(-t) - std::exp(-r * t)); }

TEST_CASE("the implicit method is stable on the stiff test at r = 1e4 with few steps where dopri5 needs many") {
  if (test::skip_heavy()) return;
  const double r = 1e4;
  auto f = [r](const auto& y, const auto& t) { return -r * y + 3 * r - 2 * r * exp(-t); };
  SolveOptions o;
  o.rtol = o.atol = 1e-6;
  o.method = Method::kvaerno3;
  const Solution imp = solve(f, f64({0.0}, Shape{1, 1}), f64({0.0, 10.0}, Shape{2}), o);
  o.method = Method::dopri5;
  const Solution exp_ = solve(f, f64({0.0}, Shape{1, 1}), f64({0.0, 10.0}, Shape{2}), o);
  const double want = stiff_exact(r, 10.0);
  MESSAGE("kvaerno3: " << imp.stats->summary() << "; dopri5: " << exp_.stats->summary());
  CHECK(imp.ys.value().to_vector()[1] == doctest::Approx(want).epsilon(1e-4));
  CHECK(exp_.ys.value().to_vector()[1] == doctest::Approx(want).epsilon(1e-4));
  CHECK(imp.stats->total_accepted() < 200);
  CHECK(exp_.stats->total_accepted() > 10 * imp.stats->total_accepted());
}

TEST_CASE("torchdiffeq preset: one shared step, whole-batch RMS norm, steps past the end") {
  const SolveOptions o = SolveOptions::torchdiffeq();
  CHECK(o.method == Method::dopri5);
  CHECK(o.rtol == 1e-7);
  CHECK(o.atol == 1e-9);
  const Solution s = solve(cos_dynamics, f64({1.0, 2.0}, Shape{2, 1}), f64({0.0, 1.0}, Shape{2}), o);
  CHECK(s.stats->accepted[0] == s.stats->accepted[1]);
  const auto v = s.ys.value().to_vector();
  CHECK(v[2] == doctest::Approx(cos_exact(1, 0, 1)).epsilon(1e-6));
  CHECK(v[3] == doctest::Approx(cos_exact(2, 0, 1)).epsilon(1e-6));
}

TEST_CASE("controllers: I, PI and PID all reach the tolerance; seminorm states do not limit the step") {
  for (const StepController& c : {StepController::i(), StepController::pi34(), StepController::h211pi(), StepController::h312pid()}) {
    SolveOptions o;
    o.controller = c;
    o.rtol = o.atol = 1e-7;
    const Solution s = solve(cos_dynamics, f64({1.0}, Shape{1, 1}), f64({0.0, 6.0}, Shape{2}), o);
    INFO(c.name << ": " << s.stats->summary());
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(cos_exact(1, 0, 6)).epsilon(3e-6));
  }
  // a fast second state: excluded from the norm, it no longer forces small steps
  auto f = [](const auto& z, const auto& t) { return z * cos(t * 40.0); };
  SolveOptions o;
  o.rtol = o.atol = 1e-6;
  const Solution full = solve(f, f64({1.0, 1.0}, Shape{1, 2}), f64({0.0, 3.0}, Shape{2}), o);
  o.seminorm = {0, 1};
  o.seminorm = {1};
  auto g = [](const auto& z, const auto& t) { return concat({slice(z, 1, 0, 1) * cos(t), slice(z, 1, 1, 2) * cos(t * 40.0)}, 1); };
  const Solution semi = solve(g, f64({1.0, 1.0}, Shape{1, 2}), f64({0.0, 3.0}, Shape{2}), o);
  CHECK(semi.stats->total_accepted() < full.stats->total_accepted());
}

TEST_CASE("SolverError on blow-up and max_steps, with the time, step, norms and a stiffness hint") {
  auto blow = [](const auto& z, const auto&) { return z * z; };  // y = 1 / (1 - t): blows up at t = 1
  SolveOptions o;
  try {
    solve(blow, f64({1.0}, Shape{1, 1}), f64({0.0, 2.0}, Shape{2}), o);
    FAIL("no SolverError");
  } catch (const SolverError& e) {
    MESSAGE(std::string(e.what()));
    CHECK(e.time < 1.01);
    CHECK(e.time > 0.99);
    CHECK(std::string(e.what()).find("sample 0") != std::string::npos);
    CHECK(e.stats.total_accepted() > 0);
  }
  const double r = 1e5;
  auto stiff = [r](const auto& y, const auto& t) { return -r * y + 3 * r - 2 * r * exp(-t); };
  o.max_steps = 50;
  try {
    solve(stiff, f64({0.0}, Shape{1, 1}), f64({0.0, 10.0}, Shape{2}), o);
    FAIL("no SolverError");
  } catch (const SolverError& e) {
    MESSAGE(std::string(e.what()));
    CHECK(std::string(e.what()).find("max_steps = 50") != std::string::npos);
    CHECK(std::string(e.what()).find("stiff") != std::string::npos);
    CHECK(e.stiffness_estimate > 1.0);
  }
  SolveOptions fixed;
  fixed.method = Method::euler;
  fixed.unfolds = 20;
  CHECK_THROWS_AS(solve(blow, f64({1.0}, Shape{1, 1}), f64({0.0, 5.0}, Shape{2}), fixed), SolverError);
}

TEST_CASE("bad input names the problem") {
  auto f = [](const auto& z, const auto&) { return z; };
  const Var y0 = f64({1.0, 2.0}, Shape{1, 2});
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 1.0, 0.5}, Shape{3})), doctest::Contains("not monotone"), Error);
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 0.0}, Shape{2})), doctest::Contains("strictly monotone"), Error);
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 1.0, 2.0, 3.0}, Shape{2, 2})), doctest::Contains("do not match the batch"), Error);
  SolveOptions o;
  o.atol_per_state = {1e-6};
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 1.0}, Shape{2}), o), doctest::Contains("atol_per_state has 1 entries for a state of 2"), Error);
  o = SolveOptions();
  o.mask = Tensor::from_vector({1, 0, 1}, Shape{1, 3}, DType::f64);
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 1.0, 2.0}, Shape{1, 3}), o), doctest::Contains("not a prefix"), Error);
  auto wrong = [](const Var& z, const Var&) { return slice(z, 1, 0, 1); };
  CHECK_THROWS_AS(solve(wrong, y0, f64({0.0, 1.0}, Shape{2})), Error);
  o = SolveOptions();
  o.regularisers.taylor_order = 2;
  auto var_only = [](const Var& z, const Var&) { return z; };
  CHECK_THROWS_WITH_AS(solve(var_only, y0, f64({0.0, 1.0}, Shape{2}), o), doctest::Contains("regularisers.taylor_order = 2 needs dynamics that also run on Jets"), Error);
  // a regulariser's result that was not asked for is undefined, and using it says what that means
  CHECK_THROWS_WITH_AS(mean(solve(f, y0, f64({0.0, 1.0}, Shape{2})).taylor), doctest::Contains("Solution::taylor with regularisers.taylor_order = 0"), Error);
  o = SolveOptions();
  o.controller.safety = 2.0;
  CHECK_THROWS_WITH_AS(solve(f, y0, f64({0.0, 1.0}, Shape{2}), o), doctest::Contains("safety"), Error);
}


TEST_CASE("a state left out of error control (seminorm) whose error is not finite rejects the step, as a controlled one does") {
  // y' = -1, q' = sqrt(y) from (1, 0): q is undefined past t = 1. bosh3's one step to 1.1 keeps
  // y_new finite, but its last stage f(y_new) has q' = NaN, which only the error estimate reads:
  // the seminorm left that NaN error out, accepted the step and returned q(1.1) = 0.695 silently.
  const Dynamics f([](const Var& y, const Var&) {
    const Var a = slice(y, 1, 0, 1);
    return concat({a * 0.0 - 1.0, sqrt(a)}, 1);
  });
  const Var y0(Tensor::from_vector({1.0, 0.0}, Shape{1, 2}, DType::f64));
  SolveOptions o;
  o.method = Method::bosh3;
  o.seminorm = {1};
  o.rtol = 1e-8, o.atol = 1e-10;
  // inside q's domain the seminorm works as before: q is integrated on y's steps (few: y is linear),
  // to the accuracy those give, with no step rejected for q's finite error
  const Solution inside = solve(f, y0, Var(Tensor::from_vector({0.0, 0.9}, Shape{2}, DType::f64)), o);
  CHECK(inside.ys.value().to_vector()[3] == doctest::Approx(2.0 / 3.0 * (1.0 - std::pow(0.1, 1.5))).epsilon(1e-2));
  CHECK(inside.stats->total_rejected() == 0);
  o.first_step = 1.1;
  CHECK_THROWS_AS(solve(f, y0, Var(Tensor::from_vector({0.0, 1.1}, Shape{2}, DType::f64)), o), SolverError);
}

}  // namespace
}  // namespace tide
