// How the implicit stages' Newton failures are reported and kept out of gradients: a singular or
// non-finite Newton matrix I - h gamma J is named as such (not as divergence), an adaptive step
// shrinks past it, and a rejected row whose Newton iteration failed leaves nothing in the gradient.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <string>
#include <vector>

using namespace tide;

namespace {

constexpr double kvaerno3_gamma = 0.43586652150845899941601945;

Var f64(const std::vector<double>& v, Shape s) { return Var(Tensor::from_vector(v, s, DType::f64)); }

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
