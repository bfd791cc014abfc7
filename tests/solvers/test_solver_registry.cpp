// The method registry generated from TIDE_SOLVER_METHODS: names round-trip, unknown names and
// non-Runge-Kutta tableaus fail with the list, and the LTC fused stepper is the update the LTC
// cell unfolds (ltc_fused_update).
#include "tide/tide.hpp"
#include <doctest/doctest.h>
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
