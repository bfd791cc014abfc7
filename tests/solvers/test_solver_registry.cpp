// The method registry generated from TIDE_SOLVER_METHODS: names round-trip, unknown names and
// non-Runge-Kutta tableaus fail with the list, and the LTC fused stepper is the update the LTC
// cell unfolds (ltc_fused_update).
#include "integrate.hpp"  // solvers/src: the Stepper interface a new method implements
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <string>

using namespace tide;

TEST_CASE("every registered method round-trips its name and builds a stepper that solves z' = -z") {
  CHECK(all_methods().size() == 18);
  for (Method m : all_methods()) {
    CAPTURE(method_name(m));
    CHECK(method_from_name(method_name(m)) == m);
    SolveOptions o;
    o.method = m;
    o.unfolds = 20;
    if (m == Method::ltc_fused) {  // split form of z' = -z: a = 1, c = 0
      auto split = [](const Var& z, const Var&) { return concat({Var(Tensor::ones(z.shape(), z.dtype())), z * 0.0}, 1); };
      const Solution s = solve(split, Var(Tensor::ones(Shape{1, 1}, DType::f64)), Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
      CHECK(s.ys.value().to_vector()[1] == doctest::Approx(1.0 / std::pow(1.05, 20)));
      continue;
    }
    if (tableau(m).adaptive()) o.unfolds = 0;
    const Solution s = solve([](const Var& z, const Var&) { return -z; }, Var(Tensor::ones(Shape{1, 1}, DType::f64)),
                             Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
    CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::exp(-1.0)).epsilon(1e-2));
  }
}

TEST_CASE("an unknown method name and the tableau of a non-Runge-Kutta method are errors naming the methods") {
  try {
    method_from_name("rk5");
    FAIL("no error");
  } catch (const Error& e) {
    const std::string what = e.what();
    for (Method m : all_methods()) CHECK(what.find(method_name(m)) != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(tableau(Method::ltc_fused), doctest::Contains("ltc_fused"), Error);
  CHECK_THROWS_WITH_AS(explicit_step([](const Var& z, const Var&) { return z; }, Var(Tensor::ones(Shape{1, 1})), 0.0, 0.1, Method::ltc_fused),
                       doctest::Contains("not an explicit Runge-Kutta method"), Error);
}

TEST_CASE("the ltc_fused solve takes exactly the update ltc_fused_update computes, unfold by unfold") {
  Generator gen(7);
  const Tensor z0 = gen.normal(Shape{3, 4}, 0, 1, DType::f64);
  const Tensor w = gen.normal(Shape{4, 4}, 0, 0.5, DType::f64);
  auto split = [w](const Var& z, const Var&) {
    const Var f = sigmoid(matmul(z, Var(w)));
    return concat({f + 0.5, f * 2.0}, 1);
  };
  SolveOptions o;
  o.method = Method::ltc_fused;
  o.unfolds = 3;
  o.fused_b = Tensor::from_vector({0.25}, Shape{1}, DType::f64);
  const Solution s = solve(split, Var(z0), Var(Tensor::from_vector({0.0, 0.6}, Shape{2}, DType::f64)), o);
  Var z(z0);
  const Var h(Tensor::full(Shape{3, 1}, 0.2, DType::f64));
  for (int i = 0; i < 3; ++i) {
    const Var f = sigmoid(matmul(z, Var(w)));
    z = ltc_fused_update(z, f + 0.5 + 0.25, f * 2.0, h);
  }
  const std::vector<double> got = select(s.ys, 0, 1).value().to_vector(), want = z.value().to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-14));
}

TEST_CASE("a tableau's real stability limit: closed forms for euler, heun and rk4, published values for the pairs") {
  // euler: |1 - x| <= 1 up to 2; heun: 1 - x + x^2/2, up to 2; rk4: the real root of
  // 1 - x + x^2/2 - x^3/6 + x^4/24 = 1 other than 0, 2.785293563...
  CHECK(tableau(Method::euler).real_stability_limit() == doctest::Approx(2.0).epsilon(1e-9));
  CHECK(tableau(Method::heun).real_stability_limit() == doctest::Approx(2.0).epsilon(1e-9));
  CHECK(tableau(Method::rk4).real_stability_limit() == doctest::Approx(2.785293563405282).epsilon(1e-9));
  CHECK(tableau(Method::rk4_38).real_stability_limit() == doctest::Approx(2.785293563405282).epsilon(1e-9));
  // Hairer & Wanner's figures: bosh3 2.51, dopri5 3.31 (read off their stability plots)
  CHECK(tableau(Method::bosh3).real_stability_limit() == doctest::Approx(2.51).epsilon(5e-3));
  CHECK(tableau(Method::dopri5).real_stability_limit() == doctest::Approx(3.31).epsilon(5e-3));
  CHECK(std::isinf(tableau(Method::kvaerno3).real_stability_limit()));
  // bosh3's error estimate of a linear decay vanishes at h * rate = 1 (E(z) = -z^3 (1 + z) / 48 from
  // e = (-5/72, 1/12, 1/9, -1/8)); dopri5's has none inside its stability interval, dop853's one
  // near 5.7 (of 6.39), far from the first step's h * rate <= 1
  CHECK(tableau(Method::bosh3).real_error_zero() == doctest::Approx(1.0).epsilon(1e-9));
  CHECK(std::isinf(tableau(Method::dopri5).real_error_zero()));
  CHECK(tableau(Method::dop853).real_error_zero() == doctest::Approx(5.7).epsilon(0.02));
}

namespace {
// A new adaptive method as docs/design.md's recipe writes one: no dense output of its own (here
// bosh3's stepper with dense_weights and lands_on_outputs left at Stepper's defaults).
struct NoDenseOutput final : detail::Stepper {
  detail::StepperPtr in;
  explicit NoDenseOutput(detail::StepperPtr s) : in(std::move(s)) {}
  Method method() const override { return in->method(); }
  int order() const override { return in->order(); }
  int error_order() const override { return in->error_order(); }
  bool first_stage_is_f() const override { return in->first_stage_is_f(); }
  bool fsal() const override { return in->fsal(); }
  detail::StepResult step(detail::StepContext& c, const Var& y, const Var& k1, const std::vector<double>& t,
                          const std::vector<double>& h) const override {
    return in->step(c, y, k1, t, h);
  }
  detail::RowError error(const Var& y, const detail::StepResult& s, const detail::ErrorScale& e) const override { return in->error(y, s, e); }
  std::unique_ptr<detail::StepperMemory> make_memory() const override { return in->make_memory(); }
};
}  // namespace

TEST_CASE("an adaptive method with no dense output lands on the output times (Stepper's default)") {
  // the default said "does not land" while dense_weights' default refuses a point inside a step:
  // such a method failed on the first output time a step crossed
  SolveOptions o;
  o.method = Method::bosh3;
  o.rtol = 1e-8, o.atol = 1e-10;
  detail::Plan plan = detail::make_plan(o, 1, 0);
  plan.stepper = std::make_shared<NoDenseOutput>(plan.stepper);
  CHECK(plan.lands());
  detail::PlainSystem system([](const Var& z, const Var&, const Rows&) { return -z; });
  detail::Grid grid;
  grid.B = 1, grid.T = 4, grid.t = {0.0, 0.1, 0.5, 2.0}, grid.count = {4};
  SolveStats stats;
  stats.nfe.assign(1, 0), stats.accepted.assign(1, 0), stats.rejected.assign(1, 0);
  const detail::Integration run = detail::integrate(system, Var(Tensor::from_vector({1.0}, Shape{1, 1}, DType::f64)), grid, plan, stats);
  const std::vector<double> ys = run.ys.value().to_vector();
  REQUIRE(ys.size() == 4);
  for (std::size_t j = 0; j < 4; ++j) CHECK(ys[j] == doctest::Approx(std::exp(-grid.t[j])).epsilon(1e-6));
}
