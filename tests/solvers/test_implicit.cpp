// The implicit method's Newton machinery (issue 18, item 4): results unchanged on the stiff
// problems against the values before the change, Jacobian and factorisation reuse across steps,
// the matrix-free Newton-Krylov path against the dense one and on a 10,000-wide problem, no
// gradient work when nothing requires a gradient, and gradients through both linear solvers.
#include "../heavy.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

using namespace tide;

namespace {

Var f64(const std::vector<double>& v, Shape s) { return Var(Tensor::from_vector(v, s, DType::f64)); }

auto robertson = [](const auto& z, const auto&) {
  const auto a = slice(z, 1, 0, 1), b = slice(z, 1, 1, 2), c = slice(z, 1, 2, 3);
  return concat({-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b}, 1);
};

auto van_der_pol = [](const auto& z, const auto&) {  // mu = 1000
  const auto a = slice(z, 1, 0, 1), b = slice(z, 1, 1, 2);
  return concat({b, 1000.0 * (1.0 - a * a) * b - a}, 1);
};

// z' = scale * (second difference of z), zero boundary values: the heat equation on D cells
auto heat(double scale) {
  return [scale](const auto& z, const auto&) {
    using T = std::decay_t<decltype(z)>;
    const std::int64_t n = z.shape()[0], D = z.shape()[1];
    const T zero = T(Tensor::zeros(Shape{n, 1}, z.dtype(), z.device()));
    return (concat({slice(z, 1, 1, D), zero}, 1) + concat({zero, slice(z, 1, 0, D - 1)}, 1) - 2.0 * z) * scale;
  };
}

Var hump(std::int64_t B, std::int64_t D) {  // 4 x (1 - x) on the grid, scaled per sample
  std::vector<double> v;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t i = 0; i < D; ++i) {
      const double x = double(i + 1) / double(D + 1);
      v.push_back((1.0 + 0.5 * double(b)) * 4 * x * (1 - x));
    }
  return f64(v, Shape{B, D});
}

SolveOptions kvaerno3(double rtol, double atol) {
  SolveOptions o;
  o.method = Method::kvaerno3;
  o.rtol = rtol, o.atol = atol;
  return o;
}

double max_relative_difference(const Tensor& a, const Tensor& b, double floor) {
  const auto x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]) / std::max(floor, std::fabs(y[i])));
  return worst;
}

}  // namespace

TEST_CASE("kvaerno3 on Robertson: the values from before, far fewer Jacobians than steps") {
  const SolveOptions o = kvaerno3(1e-6, 1e-10);
  const Solution s = solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 40.0, 1e5}, Shape{3}), o);
  INFO(s.stats->summary());
  // before (commit 73f856e, a new Jacobian every step): the same solve gave these
  const std::vector<double> before = {0.7158269425, 9.185529489e-06, 0.2841638719, 0.01786590188, 7.274743483e-08, 0.9821340254};
  const auto v = s.ys.value().to_vector();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(v[3 + i] == doctest::Approx(before[i]).epsilon(1e-5));
  // Hairer and Wanner's reference at t = 40
  CHECK(v[3] == doctest::Approx(0.7158270687).epsilon(1e-6));
  CHECK(v[4] == doctest::Approx(9.185534764e-6).epsilon(1e-5));
  const std::int64_t attempts = s.stats->total_accepted() + s.stats->total_rejected();
  CHECK(s.stats->jacobian_evaluations * 10 < attempts);
  CHECK(s.stats->factorisations * 4 < attempts);
  CHECK(s.stats->linear_iterations == 0);  // D = 3: dense

  SolveOptions fresh = o;  // the policy from before: a new Jacobian at every step's start
  fresh.implicit.jacobian_reuse = false;
  const Solution f = solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 40.0, 1e5}, Shape{3}), fresh);
  CHECK(f.stats->jacobian_evaluations == f.stats->total_accepted() + f.stats->total_rejected());
  CHECK(max_relative_difference(s.ys.value(), f.ys.value(), 1e-6) < 1e-5);
}

TEST_CASE("kvaerno3 on Van der Pol (mu = 1000): the values from before, with and without reuse") {
  if (test::skip_heavy()) return;
  SolveOptions o = kvaerno3(1e-6, 1e-8);
  const Var y0 = f64({2.0, 0.0}, Shape{1, 2});
  const Var times = f64({0.0, 1000.0, 2000.0, 3000.0}, Shape{4});
  const std::vector<double> before = {-1.863647846, 1.706171572, -1.510614605};  // y_0 at t = 1000, 2000, 3000 (commit 73f856e)
  for (bool reuse : {true, false}) {
    o.implicit.jacobian_reuse = reuse;
    const Solution s = solve(van_der_pol, y0, times, o);
    INFO("reuse " << reuse << ": " << s.stats->summary());
    const auto v = s.ys.value().to_vector();
    for (std::size_t j = 0; j < 3; ++j) CHECK(v[2 * (j + 1)] == doctest::Approx(before[j]).epsilon(1e-6));
    if (reuse) CHECK(s.stats->jacobian_evaluations * 10 < s.stats->total_accepted());
  }
}

TEST_CASE("the stiff linear test against its closed form with either linear solver") {
  const double r = 1e4;  // y' = -r y + 3r - 2r exp(-t), y(0) = 0
  auto f = [r](const auto& y, const auto& t) { return -r * y + 3 * r - 2 * r * exp(-t); };
  const double want = 3 - 3 * std::exp(-r * 10) - 2 * r / (r - 1) * (std::exp(-10.0) - std::exp(-r * 10));
  for (auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    SolveOptions o = kvaerno3(1e-6, 1e-6);
    o.implicit.jacobian = jacobian;
    const Solution s = solve(f, f64({0.0}, Shape{1, 1}), f64({0.0, 10.0}, Shape{2}), o);
    INFO(implicit_jacobian_name(jacobian) << ": " << s.stats->summary());
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(want).epsilon(1e-4));
    CHECK(s.stats->total_accepted() < 200);
    CHECK((jacobian == ImplicitOptions::Jacobian::krylov) == (s.stats->linear_iterations > 0));
    CHECK((jacobian == ImplicitOptions::Jacobian::krylov) == (s.stats->jacobian_evaluations == 0));
  }
}

TEST_CASE("Newton failures with a kept Jacobian are retried with a new one; rejected steps leave nothing stale") {
  // two Newton iterations per stage: Newton fails often, each failure is retried with a new
  // Jacobian and then rejected; the solve still reaches the values from before
  SolveOptions o = kvaerno3(1e-6, 1e-10);
  o.newton_max_iterations = 2;
  const Solution s = solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 40.0}, Shape{2}), o);
  const Solution patient = solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 40.0}, Shape{2}), kvaerno3(1e-6, 1e-10));
  INFO(s.stats->summary() << "; with 8 iterations: " << patient.stats->summary());
  CHECK(s.stats->total_rejected() > patient.stats->total_rejected());
  CHECK(s.stats->jacobian_evaluations > 2 * patient.stats->jacobian_evaluations);  // failures fetched new ones
  const auto v = s.ys.value().to_vector();
  CHECK(v[3] == doctest::Approx(0.7158269425).epsilon(1e-5));
  CHECK(v[5] == doctest::Approx(0.2841638719).epsilon(1e-5));
  // a batch whose samples fail at different steps gives each sample its own solve
  o.newton_max_iterations = 3;
  const Var y0 = f64({1.0, 0.0, 0.0, 0.5, 1e-5, 0.5}, Shape{2, 3});
  const Solution both = solve(robertson, y0, f64({0.0, 40.0}, Shape{2}), o);
  for (std::int64_t b = 0; b < 2; ++b) {
    const Solution one = solve(robertson, Var(y0.value().slice(0, b, b + 1)), f64({0.0, 40.0}, Shape{2}), o);
    CHECK(max_relative_difference(both.ys.value().select(1, b), one.ys.value().select(1, 0), 1e-10) < 1e-12);
    CHECK(both.stats->accepted[static_cast<std::size_t>(b)] == one.stats->accepted[0]);
  }
}

TEST_CASE("the Krylov path matches the dense one at D = 50 (linear and nonlinear), per sample") {
  auto reaction = [](const auto& z, const auto& t) { return heat(51.0 * 51.0)(z, t) - z * z * z; };
  const Var y0 = hump(3, 50);
  const Var times = f64({0.0, 0.02, 0.1}, Shape{3});
  for (int nonlinear = 0; nonlinear < 2; ++nonlinear) {
    SolveOptions o = kvaerno3(1e-8, 1e-8);
    o.implicit.jacobian = ImplicitOptions::Jacobian::dense;
    const Solution dense = nonlinear ? solve(reaction, y0, times, o) : solve(heat(51.0 * 51.0), y0, times, o);
    o.implicit.jacobian = ImplicitOptions::Jacobian::krylov;
    const Solution krylov = nonlinear ? solve(reaction, y0, times, o) : solve(heat(51.0 * 51.0), y0, times, o);
    INFO("nonlinear " << nonlinear << "; dense: " << dense.stats->summary() << "; krylov: " << krylov.stats->summary());
    CHECK(max_relative_difference(krylov.ys.value(), dense.ys.value(), 1e-3) < 1e-6);
    CHECK(dense.stats->linear_iterations == 0);
    CHECK(krylov.stats->jacobian_evaluations == 0);
    CHECK(krylov.stats->factorisations == 0);
  }
  SolveOptions o = kvaerno3(1e-8, 1e-8);  // automatic picks by width
  o.implicit.krylov_above = 49;
  CHECK(solve(heat(1.0), y0, times, o).stats->linear_iterations > 0);
  o.implicit.krylov_above = 50;
  CHECK(solve(heat(1.0), y0, times, o).stats->linear_iterations == 0);
}

TEST_CASE("Newton-Krylov solves a 10,000-wide stiff heat equation against its closed form, in little memory") {
  if (test::skip_heavy()) return;
  // a rod of D unit cells from a rough start: y' = L y with L the second difference. Stiff: the
  // Laplacian's eigenvalues -mu_k = -4 sin^2(k pi / 2(D + 1)) spread over (-4, -1e-7)
  const std::int64_t D = 10000;
  const double T = 1000.0;
  Generator gen(7);
  const Tensor y0 = gen.uniform(Shape{1, D}, -1.0, 1.0, DType::f64);
  SolveOptions o = kvaerno3(1e-6, 1e-6);
  reset_peak_memory();
  const std::int64_t base = memory_stats().current;
  const Solution s = solve(heat(1.0), Var(y0), f64({0.0, T}, Shape{2}), o);
  const std::int64_t peak = memory_stats().peak - base;
  MESSAGE("D = 10,000: " << s.stats->summary() << "; peak tensor memory " << peak << " bytes");
  CHECK(s.stats->linear_iterations > 0);
  CHECK(s.stats->jacobian_evaluations == 0);
  CHECK(peak < 4 * D * 8 * (o.implicit.gmres_restart + 2));  // O(D restart): 10 MB; one dense D x D is 800 MB
  // closed form: y(T) = sum_k c_k exp(-mu_k T) v_k, v_k(j) = sin(j k pi / (D + 1)); modes past
  // k = 700 are below 1e-15 at T
  const std::vector<double> y = y0.to_vector(), got = s.ys.value().select(0, 1).to_vector();
  const double w = M_PI / double(D + 1);
  double worst = 0;
  std::vector<double> want(static_cast<std::size_t>(D), 0.0);
  for (int k = 1; k <= 700; ++k) {
    double c = 0;
    for (std::int64_t j = 0; j < D; ++j) c += y[static_cast<std::size_t>(j)] * std::sin(double((j + 1) * k) * w);
    const double mu = 4 * std::pow(std::sin(k * w / 2), 2);
    c *= 2.0 / double(D + 1) * std::exp(-mu * T);
    for (std::int64_t j = 0; j < D; ++j) want[static_cast<std::size_t>(j)] += c * std::sin(double((j + 1) * k) * w);
  }
  for (std::int64_t j = 0; j < D; ++j) worst = std::max(worst, std::fabs(got[static_cast<std::size_t>(j)] - want[static_cast<std::size_t>(j)]));
  INFO("max error " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("nothing requiring a gradient: grad mode records nothing more than NoGrad and gives its values") {
  // nodes made: the dense Jacobians record one evaluation each (under NoGrad too); grad mode
  // must not add a single node to that
  std::uint64_t nodes[2];
  auto run = [&nodes](bool grad_mode) {
    GradModeScope mode(grad_mode);
    const std::uint64_t before = next_node_sequence();
    Solution s = solve(heat(51.0 * 51.0), hump(2, 50), f64({0.0, 0.1}, Shape{2}), kvaerno3(1e-6, 1e-6));
    nodes[grad_mode] = next_node_sequence() - before;
    return s;
  };
  const Solution recorded = run(true);
  CHECK_FALSE(recorded.ys.requires_grad());
  const Solution plain = run(false);
  CHECK(nodes[1] == nodes[0]);
  CHECK(max_relative_difference(recorded.ys.value(), plain.ys.value(), 1e-300) == 0.0);
  CHECK(recorded.stats->jacobian_evaluations == plain.stats->jacobian_evaluations);
  CHECK(recorded.stats->factorisations == plain.stats->factorisations);
  CHECK(recorded.stats->calls == plain.stats->calls);
  // with a parameter requiring a gradient, each implicit stage adds its sensitivity Jacobians
  const Var p = Var::parameter(Tensor::from_vector({1.0}, Shape{1}, DType::f64));
  const Solution with_p =
      solve([p](const Var& z, const Var& t) { return heat(51.0 * 51.0)(z, t) * p; }, hump(2, 50), f64({0.0, 0.1}, Shape{2}), kvaerno3(1e-6, 1e-6));
  CHECK(with_p.ys.requires_grad());
  CHECK(with_p.stats->jacobian_evaluations > 2 * with_p.stats->total_accepted());
  CHECK(max_relative_difference(with_p.ys.value(), plain.ys.value(), 1e-3) < 1e-10);
}

namespace {

// dynamics closing over W and b, as in the solver gradient tests
struct Problem {
  Var W = Var::parameter(Tensor::from_vector({-2.4, 0.9, -0.7, -3.3}, Shape{2, 2}, DType::f64));
  Var b = Var::parameter(Tensor::from_vector({0.1, -0.2}, Shape{2}, DType::f64));
  Var y0 = Var::parameter(Tensor::from_vector({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, DType::f64));
  Var times = Var(Tensor::from_vector({0.0, 0.6, 1.5}, Shape{3}, DType::f64));
  Var loss(const SolveOptions& o) const {
    auto f = [this](const Var& z, const Var& t) { return tanh(matmul(z, W) + b) * (1.0 + 0.3 * sin(t)) - 5.0 * z; };
    const Solution s = solve(f, y0, times, o);
    return sum(square(s.ys) * Var(Tensor::from_vector({1.0, -2.0, 0.5, 1.5}, Shape{1, 2, 2}, DType::f64))) + sum(s.ys);
  }
  std::vector<Var> params() const { return {W, b, y0}; }
  std::vector<double> gradient(const SolveOptions& o) const {
    std::vector<double> out;
    for (const Var& g : grad({loss(o)}, params())) for (double v : g.value().to_vector()) out.push_back(v);
    return out;
  }
  std::vector<double> finite_differences(const SolveOptions& o, double eps) const {
    NoGrad no_grad;
    std::vector<double> out;
    for (const Var& v : params()) {
      Tensor flat = v.value().reshape(Shape{v.numel()});
      for (std::int64_t i = 0; i < v.numel(); ++i) {
        const double x = flat.slice(0, i, i + 1).item();
        flat.slice(0, i, i + 1).fill_(x + eps);
        const double up = loss(o).item();
        flat.slice(0, i, i + 1).fill_(x - eps);
        const double down = loss(o).item();
        flat.slice(0, i, i + 1).fill_(x);
        out.push_back((up - down) / (2 * eps));
      }
    }
    return out;
  }
};

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("entry " << i << " got " << got[i] << " want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i])));
  }
}

}  // namespace

TEST_CASE("gradients through kvaerno3 with either linear solver match finite differences, for every gradient kind") {
  const Problem p;
  const std::vector<double> fd = p.finite_differences(kvaerno3(1e-8, 1e-8), 1e-5);  // adaptive steps
  for (auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
    INFO(implicit_jacobian_name(jacobian));
    SolveOptions o = kvaerno3(1e-8, 1e-8);
    o.implicit.jacobian = jacobian;
    o.unfolds = 7;  // fixed steps: the discrete gradient is the exact derivative of the computation
    check_close(p.gradient(o), p.finite_differences(o, 1e-6), 1e-6);
    o.unfolds = 0;
    for (GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint}) {
      INFO(gradient_kind_name(kind));
      o.gradient = kind;
      check_close(p.gradient(o), fd, 1e-4);
    }
  }
}

TEST_CASE("double backward through the dense implicit stages is exact; the Krylov ones refuse it") {
  const Problem p;
  SolveOptions o = kvaerno3(1e-9, 1e-9);
  o.unfolds = 5;
  const Var v = Var(Tensor::from_vector({0.3, -0.2, 0.1, 0.4}, Shape{2, 2}, DType::f64));
  auto hvp = [&](const SolveOptions& opts) {  // d/dW <dL/dW, v>
    GradOptions go;
    go.create_graph = true;
    const Var g = grad({p.loss(opts)}, {p.W}, {}, go)[0];
    return grad(std::vector<Var>{sum(g * v)}, std::vector<Var>{p.W})[0].value().to_vector();
  };
  const std::vector<double> got = hvp(o);
  std::vector<double> want;
  const double eps = 1e-5;
  Tensor w = p.W.value();
  const Tensor w0 = w.clone();
  auto gradient_at = [&](double step) {
    w.copy_(add(w0, mul_scalar(v.value(), step)));
    return grad(std::vector<Var>{p.loss(o)}, std::vector<Var>{p.W})[0].value().to_vector();
  };
  const std::vector<double> up = gradient_at(eps), down = gradient_at(-eps);
  w.copy_(w0);
  for (std::size_t i = 0; i < up.size(); ++i) want.push_back((up[i] - down[i]) / (2 * eps));
  check_close(got, want, 1e-5);
  o.implicit.jacobian = ImplicitOptions::Jacobian::krylov;
  CHECK_THROWS_WITH_AS(hvp(o), doctest::Contains("first order only"), Error);
}

TEST_CASE("the Krylov path through systems without Jets: regularisers and the adjoint's backward solve") {
  const Problem p;
  SolveOptions o = kvaerno3(1e-7, 1e-7);
  o.regularisers.kinetic = true;  // the augmented dynamics are Var-only: products by the double-vjp trick
  o.gradient = GradientKind::adjoint;
  auto kinetic = [&](ImplicitOptions::Jacobian jacobian) {
    o.implicit.jacobian = jacobian;
    auto f = [&p](const Var& z, const Var&) { return tanh(matmul(z, p.W) + p.b) - 5.0 * z; };
    const Solution s = solve(f, p.y0, p.times, o);
    std::vector<double> out = s.kinetic.value().to_vector();
    for (const Var& g : grad({sum(s.kinetic) + sum(s.ys)}, p.params())) for (double x : g.value().to_vector()) out.push_back(x);
    return out;
  };
  check_close(kinetic(ImplicitOptions::Jacobian::krylov), kinetic(ImplicitOptions::Jacobian::dense), 1e-5);
}

TEST_CASE("a state held at exactly 0 with atol = 0, or outside error control with no tolerance, is solved: 0 / 0 counts 0") {
  // y' = -y from (1, 0): the zero state's Newton weight 1 / (rtol |z|) is inf and its correction 0;
  // 0 * inf = NaN made kvaerno3's Newton "diverge" at every step ("the state became non-finite",
  // with a state of norm 1), and dopri5's error quotient 0 / 0 did the same
  const auto decay = [](const auto& y, const auto& t) { return -1.0 * y + 0.0 * t; };
  const Var ts = f64({0.0, 2.0}, Shape{2});
  const double want = std::exp(-2.0);
  for (Method method : {Method::dopri5, Method::kvaerno3})
    for (auto jacobian : {ImplicitOptions::Jacobian::dense, ImplicitOptions::Jacobian::krylov}) {
      if (method == Method::dopri5 && jacobian == ImplicitOptions::Jacobian::krylov) continue;
      INFO(method_name(method) << " / " << implicit_jacobian_name(jacobian));
      SolveOptions o;
      o.method = method;
      o.implicit.jacobian = jacobian;
      o.rtol = 1e-6, o.atol = 0.0;
      std::vector<double> v = solve(decay, f64({1.0, 0.0}, Shape{1, 2}), ts, o).ys.value().to_vector();
      CHECK(v[2] == doctest::Approx(want).epsilon(1e-5));
      CHECK(v[3] == 0.0);
      o.unfolds = 10;
      v = solve(decay, f64({1.0, 0.0}, Shape{1, 2}), ts, o).ys.value().to_vector();
      CHECK(v[2] == doctest::Approx(want).epsilon(1e-3));
      CHECK(v[3] == 0.0);
      // a seminorm state with atol = rtol = 0 has no scale: Newton leaves it out of its norm
      o.unfolds = 0;
      o.atol_per_state = {1e-9, 0.0}, o.rtol_per_state = {1e-7, 0.0}, o.seminorm = {1};
      v = solve(decay, f64({1.0, 1.0}, Shape{1, 2}), ts, o).ys.value().to_vector();
      CHECK(v[2] == doctest::Approx(want).epsilon(1e-5));
      CHECK(v[3] == doctest::Approx(want).epsilon(1e-5));
    }
}

TEST_CASE("a state at exactly 0 that must move under pure relative control is named, not called non-finite") {
  // y1' = t from 0 with atol = 0: kvaerno3's first implicit stage starts y1 at 0 (its slope is 0 at
  // t = 0), so no nonzero correction meets rtol |z| = 0; the state stays finite throughout
  const auto f = [](const Var& y, const Var& t) { return concat({-1.0 * slice(y, 1, 0, 1), t + 0.0 * slice(y, 1, 1, 2)}, 1); };
  SolveOptions o;
  o.method = Method::kvaerno3;
  o.rtol = 1e-6, o.atol = 0.0;
  const Var y0 = f64({1.0, 0.0}, Shape{1, 2}), ts = f64({0.0, 1.0}, Shape{2});
  try {
    solve(f, y0, ts, o);
    FAIL("expected a SolverError");
  } catch (const SolverError& e) {
    const std::string what = e.what();
    CHECK(what.find("Newton iteration kept failing (the state stayed finite)") != std::string::npos);
    CHECK(what.find("state 1 is exactly 0 with atol = 0") != std::string::npos);
    CHECK(what.find("non-finite") == std::string::npos);
  }
  o.unfolds = 10;
  CHECK_THROWS_WITH_AS(solve(f, y0, ts, o), doctest::Contains("state 1 is exactly 0 with atol = 0"), SolverError);
  o.unfolds = 0;
  o.atol_per_state = {0.0, 1e-9};  // an atol for it: solved
  CHECK(solve(f, y0, ts, o).ys.value().to_vector()[3] == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("implicit options are checked and named") {
  SolveOptions o = kvaerno3(1e-6, 1e-6);
  o.implicit.gmres_restart = 0;
  CHECK_THROWS_WITH_AS(solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 1.0}, Shape{2}), o),
                       doctest::Contains("gmres_restart >= 1"), Error);
  for (const std::string& name : implicit_jacobian_names()) CHECK(implicit_jacobian_name(implicit_jacobian_from_name(name)) == name);
  CHECK_THROWS_WITH_AS(implicit_jacobian_from_name("lu"), doctest::Contains("krylov"), Error);
}

namespace {

// heat((D + 1)^2) from hump(1, D) at T by its sine series: modes past k = 40 are below 1e-60 at T >= 0.1
std::vector<double> heat_hump_closed_form(std::int64_t D, double T) {
  const std::vector<double> y = hump(1, D).value().to_vector();
  const double w = M_PI / double(D + 1), scale = double(D + 1) * double(D + 1);
  std::vector<double> want(static_cast<std::size_t>(D), 0.0);
  for (int k = 1; k <= 40; ++k) {
    double c = 0;
    for (std::int64_t j = 0; j < D; ++j) c += y[static_cast<std::size_t>(j)] * std::sin(double((j + 1) * k) * w);
    c *= 2.0 / double(D + 1) * std::exp(-4 * std::pow(std::sin(k * w / 2), 2) * scale * T);
    for (std::int64_t j = 0; j < D; ++j) want[static_cast<std::size_t>(j)] += c * std::sin(double((j + 1) * k) * w);
  }
  return want;
}

SolveOptions krylov_banded(double tol, int bandwidth) {
  SolveOptions o = kvaerno3(tol, tol);
  o.implicit.jacobian = ImplicitOptions::Jacobian::krylov;
  o.implicit.preconditioner_bandwidth = bandwidth;
  return o;
}

}  // namespace

TEST_CASE("a banded preconditioner: the D = 1,000 heat equation against its closed form in far fewer GMRES products") {
  if (test::skip_heavy()) return;
  const std::int64_t D = 1000;
  const double T = 0.1;
  const std::vector<double> want = heat_hump_closed_form(D, T);
  auto run = [&](int bandwidth) {
    const Solution s = solve(heat(double(D + 1) * double(D + 1)), hump(1, D), f64({0.0, T}, Shape{2}), krylov_banded(1e-6, bandwidth));
    const std::vector<double> got = s.ys.value().select(0, 1).to_vector();
    double worst = 0;
    for (std::size_t j = 0; j < got.size(); ++j) worst = std::max(worst, std::fabs(got[j] - want[j]));
    MESSAGE("bandwidth " << bandwidth << ": " << s.stats->summary() << "; max error " << worst);
    CHECK(worst < 1e-4);
    return *s.stats;
  };
  const SolveStats banded = run(1), plain = run(-1);
  CHECK(banded.preconditioner_setups > 0);
  CHECK(banded.jacobian_evaluations > 0);
  CHECK(plain.preconditioner_setups == 0);
  CHECK(banded.linear_iterations * 5 < plain.linear_iterations);
}

TEST_CASE("a banded preconditioner agrees with the unpreconditioned and dense paths at D = 50, per sample") {
  auto reaction = [](const auto& z, const auto& t) { return heat(51.0 * 51.0)(z, t) - z * z * z; };
  const Var y0 = hump(3, 50);
  const Var times = f64({0.0, 0.02, 0.1}, Shape{3});
  SolveOptions dense_options = kvaerno3(1e-8, 1e-8);
  dense_options.implicit.jacobian = ImplicitOptions::Jacobian::dense;
  const Solution dense = solve(reaction, y0, times, dense_options);
  const Solution plain = solve(reaction, y0, times, krylov_banded(1e-8, -1));
  for (int bandwidth : {0, 1, 3}) {
    const Solution banded = solve(reaction, y0, times, krylov_banded(1e-8, bandwidth));
    INFO("bandwidth " << bandwidth << ": " << banded.stats->summary() << "; unpreconditioned: " << plain.stats->summary());
    CHECK(max_relative_difference(banded.ys.value(), dense.ys.value(), 1e-3) < 1e-6);
    CHECK(max_relative_difference(banded.ys.value(), plain.ys.value(), 1e-3) < 1e-6);
    CHECK(banded.stats->preconditioner_setups > 0);
    CHECK(banded.stats->factorisations == 0);
    if (bandwidth > 0) CHECK(banded.stats->linear_iterations < plain.stats->linear_iterations);  // D = 50 is barely stiff for GMRES
  }
}

TEST_CASE("gradients through a preconditioned Krylov solve match the unpreconditioned ones") {
  const Var p = Var::parameter(Tensor::from_vector({1.0}, Shape{1}, DType::f64));
  const Var y0 = Var::parameter(hump(2, 50).value());
  auto gradient = [&](int bandwidth, GradientKind kind) {
    SolveOptions o = krylov_banded(1e-8, bandwidth);
    o.gradient = kind;
    auto f = [&p](const Var& z, const Var& t) { return heat(51.0 * 51.0)(z, t) * p - 0.5 * z * z; };
    const Solution s = solve(f, y0, f64({0.0, 0.02, 0.05}, Shape{3}), o);
    std::vector<double> out;
    for (const Var& g : grad({sum(square(s.ys))}, {p, y0})) for (double v : g.value().to_vector()) out.push_back(v);
    return out;
  };
  for (GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed}) {
    INFO(gradient_kind_name(kind));
    check_close(gradient(1, kind), gradient(-1, kind), 1e-6);
  }
}

TEST_CASE("a bad preconditioner_bandwidth is an error naming it") {
  for (int bandwidth : {-2, 3, 7}) {
    SolveOptions o = kvaerno3(1e-6, 1e-6);
    o.implicit.preconditioner_bandwidth = bandwidth;
    CHECK_THROWS_WITH_AS(solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 1.0}, Shape{2}), o),
                         doctest::Contains("preconditioner_bandwidth"), Error);
  }
  SolveOptions o = krylov_banded(1e-6, 2);  // w = D - 1: the whole matrix
  CHECK(solve(robertson, f64({1.0, 0.0, 0.0}, Shape{1, 3}), f64({0.0, 1.0}, Shape{2}), o).stats->preconditioner_setups > 0);
}

TEST_CASE("one row's Newton failure re-steps no accepted row: a batched implicit solve equals per-sample ones in grad mode") {
  // z' = -k(t) (z - cos t), k = 1 before t = 1 and 1e4 after: Newton fails in a trial step of one
  // sample while the other's is accepted. In grad mode that rejection (an infinite ratio at a
  // finite iterate) re-stepped the accepted rows with new Newton iterations and Jacobians, and sample
  // 0 differed from its own solve by 1.7e-6; the re-step is for rows that went non-finite.
  const Var p = Var::parameter(Tensor::from_vector({1.0}, Shape{1}, DType::f64));
  for (const bool recorded : {false, true}) {
    INFO("recorded " << recorded);
    auto f = [&p, recorded](const Var& z, const Var& t) {
      std::vector<double> k;
      for (double x : t.value().to_vector()) k.push_back(x < 1.0 ? 1.0 : 1e4);
      const Var out = -1.0 * Var(Tensor::from_vector(k, Shape{z.size(0), 1}, z.dtype())) * (z - cos(t));
      return recorded ? out * p : out;
    };
    const Var ts = f64({0.0, 0.9, 1.0005, 1.01, 1.5, 3.0}, Shape{6});
    const Solution both = solve(f, f64({2.0, -1.0}, Shape{2, 1}), ts, kvaerno3(1e-6, 1e-8));
    CHECK(both.ys.requires_grad() == recorded);
    CHECK(both.stats->total_rejected() > 0);
    for (std::int64_t b = 0; b < 2; ++b) {
      const Solution alone = solve(f, f64({b == 0 ? 2.0 : -1.0}, Shape{1, 1}), ts, kvaerno3(1e-6, 1e-8));
      // (to rounding: a batch of one may take other kernels)
      CHECK(max_relative_difference(both.ys.value().select(1, b).contiguous(), alone.ys.value().select(1, 0).contiguous(), 1e-300) <= 1e-15);
      CHECK(both.stats->accepted[static_cast<std::size_t>(b)] == alone.stats->accepted[0]);
    }
  }
}

TEST_CASE("with nothing recorded, a rejected row that went non-finite re-steps nothing: grad mode takes NoGrad's calls") {
  // z' = -sqrt(z) from 1: the first trial step (clipped to 1.9) takes sample 1 past 0 to NaN stages
  // while sample 0 (from 100) is accepted. The re-step that keeps that NaN out of a recorded
  // gradient ran whenever grad mode was on, though nothing was recorded.
  for (const Method method : {Method::kvaerno3, Method::dopri5}) {
    INFO(method_name(method));
    auto run = [method](bool grad_mode) {
      std::int64_t calls = 0;
      auto f = [&calls](const Var& z, const Var&) { return ++calls, -1.0 * sqrt(z); };
      GradModeScope mode(grad_mode);
      SolveOptions o = kvaerno3(1e-6, 1e-9);
      o.method = method;
      o.first_step = 5.0;
      const Solution s = solve(f, f64({100.0, 1.0}, Shape{2, 1}), f64({0.0, 1.9}, Shape{2}), o);
      CHECK(s.stats->rejected[1] > 0);
      CHECK(s.stats->calls == calls);
      return std::pair{calls, s.ys.value().to_vector()};
    };
    CHECK(run(true) == run(false));
  }
}

TEST_CASE("the Krylov path counts the evaluation each Jacobian action makes: calls and nfe are the dynamics' calls") {
  // the double-vjp trick evaluates f once per Newton iterate (and per preconditioner band); that
  // evaluation went uncounted, and the stats said 1890 calls for 3778
  for (const int bandwidth : {-1, 0}) {
    INFO("preconditioner_bandwidth " << bandwidth);
    std::int64_t calls = 0, rows = 0;
    auto f = [&](const Var& z, const Var& t) { return ++calls, rows += z.size(0), -50.0 * z * z * z + sin(t); };
    SolveOptions o = kvaerno3(1e-6, 1e-8);
    o.implicit.jacobian = ImplicitOptions::Jacobian::krylov;
    o.implicit.preconditioner_bandwidth = bandwidth;
    const Solution s = solve(f, f64({2.0, 1.0}, Shape{2, 1}), f64({0.0, 1.0}, Shape{2}), o);
    CHECK(s.stats->linear_iterations > 0);
    CHECK(s.stats->calls == calls);
    CHECK(s.stats->nfe[0] + s.stats->nfe[1] == rows);
  }
}
