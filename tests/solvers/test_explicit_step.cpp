// explicit_step: one fixed step equals one step of a fixed-step solve, for every explicit method,
// and its recorded form differentiates like the solve.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include "../core/core_test_util.hpp"

using namespace tide;

TEST_CASE("explicit_step equals a one-step fixed-step solve for every explicit method, values and gradients") {
  Generator g(21);
  const Var w = Var::parameter(g.uniform(Shape{3, 3}, -0.5, 0.5, DType::f64));
  const Tensor y0 = g.uniform(Shape{4, 3}, -1, 1, DType::f64);
  const Dynamics f = [&](const Var& z, const Var& t) { return tanh(matmul(z, w)) * t; };
  const double t0 = 0.3, h = 0.2;
  for (Method m : all_methods()) {
    if (m == Method::kvaerno3 || m == Method::ltc_fused) continue;
    INFO(method_name(m));
    SolveOptions o;
    o.method = m;
    o.step_size = h;
    const Var y = Var::parameter(y0);
    const Var by_solve_all = solve(f, y, Tensor::from_vector({t0, t0 + h}, Shape{2}, DType::f64), o).ys;
    const Var by_solve_row = index_select(by_solve_all, 0, Tensor::from_indices({1}, Shape{1}));
    const Var by_solve = reshape(by_solve_row, y0.shape());
    const Var by_step = explicit_step(f, y, t0, h, m);
    {
      NoGrad ng;
      const Var unrecorded = explicit_step(f, Var(y0), t0, h, m);
      CHECK(max(abs(unrecorded.value() - by_solve.value())).item() <= 1e-14);
    }
    CHECK(max(abs(by_step.value() - by_solve.value())).item() <= 1e-14);
    const auto ga = grad({sum(by_step * by_step)}, {y, w});
    const auto gb = grad({sum(by_solve * by_solve)}, {y, w});
    for (int i = 0; i < 2; ++i) CHECK(max(abs(ga[i].value() - gb[i].value())).item() <= 1e-13);
  }
  tide::test::check_error([&] { explicit_step(f, Var(y0), 0, h, Method::kvaerno3); }, {"explicit_step", "kvaerno3", "not an explicit"});
}
