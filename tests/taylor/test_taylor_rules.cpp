// The Taylor column of the all-ops harness: for every case, the Taylor rule pushed through the
// case's function on a random input series (order 4) agrees with nested jvps of the same
// function composed with the input polynomial; and the order-1 jet (jvp) agrees with central
// finite differences, which pins order 1 independently of the nesting.
#include "../autodiff/harness.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <set>

namespace tide::testing {
namespace {

constexpr int order = 4;

struct SeriesInputs {
  std::vector<Tensor> x;
  std::vector<bool> diff;
  std::vector<std::vector<Tensor>> c;  // c[i][k-1]: coefficient k of input i
};

SeriesInputs make_inputs(const OpCase& c, std::uint64_t seed) {
  Generator gen(seed);
  SeriesInputs s;
  s.x = c.inputs(gen);
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    s.diff.push_back((c.differentiable.empty() || c.differentiable[i]) && is_floating(s.x[i].dtype()));
    std::vector<Tensor> ck;
    if (s.diff.back())
      for (int k = 1; k <= order; ++k) ck.push_back(gen.uniform(s.x[i].shape(), -0.5, 0.5, DType::f64));
    s.c.push_back(ck);
  }
  return s;
}

// Taylor mode: each differentiable input is a jet with the random coefficients.
std::vector<Tensor> taylor_coefficients(const OpCase& c, const SeriesInputs& s) {
  std::vector<Jet> in;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!s.diff[i]) { in.push_back(Jet(s.x[i])); continue; }
    std::vector<Var> parts{Var(s.x[i])};
    for (const Tensor& t : s.c[i]) parts.push_back(Var(t));
    in.push_back(Jet::from_coefficients(stack(parts, 0)));
  }
  const Jet y = c.fn(in);
  std::vector<Tensor> out;
  for (int k = 0; k <= order; ++k) out.push_back(y.coefficient(k).primal().value());
  return out;
}

// Nested forward mode on g(s) = f(x(s)), x(s) = x + sum_k c_k s^k: d^k g/ds^k at 0 = k! y_k.
Tensor nested_derivative(const OpCase& c, const SeriesInputs& s, int k) {
  const JetFn g = [&](const Jet& t) {
    std::vector<Jet> in;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      Jet xi(s.x[i]);
      if (s.diff[i]) {
        Jet power = t;
        for (const Tensor& ck : s.c[i]) {
          xi = xi + Jet(ck) * power;
          power = power * t;
        }
      }
      in.push_back(xi);
    }
    return c.fn(in);
  };
  const Tensor zero = Tensor::scalar(0.0, DType::f64), one = Tensor::scalar(1.0, DType::f64);
  return nested_jvp(g, Jet(zero), Jet(one), k).primal().value();
}

void check_all_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  const auto a = got.to_vector(), b = want.broadcast_to(got.shape()).contiguous().to_vector();
  REQUIRE(a.size() == b.size());
  for (std::size_t j = 0; j < a.size(); ++j) {
    INFO(what << "[" << j << "]: Taylor " << a[j] << " reference " << b[j]);
    CHECK(std::abs(a[j] - b[j]) <= tol * std::max(1.0, std::abs(b[j])));
  }
}

void run_taylor_case(const OpCase& c, std::uint64_t seed) {
  INFO("case: " << c.label);
  const SeriesInputs s = make_inputs(c, seed);
  const auto taylor = taylor_coefficients(c, s);
  const double tol = c.tolerance > 1e-6 ? c.tolerance : 1e-9;
  double factorial = 1.0;
  for (int k = 1; k <= order; ++k) {
    factorial *= k;
    const Tensor nested = nested_derivative(c, s, k);
    check_all_close(mul_scalar(taylor[static_cast<std::size_t>(k)], factorial), nested, tol,
                    "order " + std::to_string(k));
  }
}

// jvp against central differences of f along v (all differentiable inputs moved together).
void run_jvp_case(const OpCase& c, std::uint64_t seed) {
  INFO("case: " << c.label);
  const SeriesInputs s = make_inputs(c, seed);
  std::vector<Jet> x, v;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    x.push_back(Jet(s.x[i]));
    v.push_back(Jet(s.diff[i] ? s.c[i][0] : Tensor::zeros(s.x[i].shape(), s.x[i].dtype())));
  }
  std::vector<Jet> xd, vd;
  std::vector<std::size_t> where_diff;
  for (std::size_t i = 0; i < s.x.size(); ++i)
    if (s.diff[i]) { xd.push_back(x[i]); vd.push_back(v[i]); where_diff.push_back(i); }
  if (xd.empty()) return;
  const MultiJetFn f = [&](const std::vector<Jet>& a) {
    std::vector<Jet> in = x;
    for (std::size_t j = 0; j < a.size(); ++j) in[where_diff[j]] = a[j];
    return c.fn(in);
  };
  const Tensor tangent = jvp(f, xd, vd).second.primal().value();
  auto moved = [&](double h) {
    std::vector<Var> in;
    for (std::size_t i = 0; i < s.x.size(); ++i) in.push_back(Var(s.diff[i] ? add(s.x[i], mul_scalar(s.c[i][0], h)) : s.x[i]));
    return c.fn(in).value();
  };
  const double h = c.step;
  const Tensor fd = mul_scalar(sub(moved(h), moved(-h)), 0.5 / h);
  check_all_close(tangent, fd, c.tolerance * 10, "jvp");
}

}  // namespace

TEST_CASE("all-ops harness, Taylor column: every op's Taylor rule agrees with nested jvp to order 4") {
  std::uint64_t seed = 700;
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.label.c_str()) { run_taylor_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("all-ops harness, Taylor column: composite functions agree with nested jvp to order 4") {
  std::uint64_t seed = 900;
  for (const OpCase& c : composite_cases()) {
    SUBCASE(c.label.c_str()) { run_taylor_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("all-ops harness, jvp column: every op's order-1 jet matches central finite differences") {
  std::uint64_t seed = 1100;
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.label.c_str()) { run_jvp_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("all-ops harness, Taylor column: the cases cover every op of the op table") {
  // Each op's Taylor rule is reached through its harness case (the coverage test of the autodiff
  // harness requires one per op); this checks the Taylor run actually dispatches every op.
  std::set<int> covered;
  for (const OpCase& c : op_cases()) covered.insert(static_cast<int>(c.op));
  CHECK(static_cast<int>(covered.size()) == op_count);
}


TEST_CASE("pow's Taylor rule at x_0 = 0: the orders below p are 0 (not 0/0), above them non-finite") {
  const auto series = [](std::vector<double> c) {
    return Jet::from_coefficients(Var(Tensor::from_vector(c, Shape{static_cast<std::int64_t>(c.size())}, DType::f64)));
  };
  const auto coefficients = [](const Jet& j) { return j.coefficients().value().to_vector(); };
  CHECK(coefficients(pow(series({0.0, 1.0}), 1.5)) == std::vector<double>{0.0, 0.0});
  CHECK(coefficients(pow(series({0.0, 0.7, -0.3}), 2.5)) == std::vector<double>{0.0, 0.0, 0.0});
  CHECK(coefficients(pow(series({0.0, 0.0, 0.0}), 2.5)) == std::vector<double>{0.0, 0.0, 0.0});  // an equilibrium
  CHECK(coefficients(pow(series({0.0, 1.0, 2.0, 0.5}), 17.0)) == std::vector<double>(4, 0.0));
  const auto past = coefficients(pow(series({0.0, 1.0, 0.0}), 1.5));  // s^1.5: no finite second derivative
  CHECK(!std::isfinite(past[2]));
  // away from 0 the recurrence is unchanged: (1 + s)^1.5 = 1 + 1.5 s + 0.375 s^2 + ...
  const auto away = coefficients(pow(series({1.0, 1.0, 0.0}), 1.5));
  CHECK(std::abs(away[1] - 1.5) <= 1e-15);
  CHECK(std::abs(away[2] - 0.375) <= 1e-15);
  // reverse over Taylor at 0: d/dx of the first coefficient 1.5 x^0.5 x_1 is finite at x_1 (0)
  const Var x1 = Var::parameter(Tensor::from_vector({1.0}, Shape{1}, DType::f64));
  const Var stacked = concat({Var(Tensor::zeros(Shape{1}, DType::f64)), x1}, 0);
  const Var g = grad(sum(pow(Jet::from_coefficients(stacked), 1.5).coefficient(1).primal()), x1);
  CHECK(g.value().to_vector() == std::vector<double>{0.0});
}

TEST_CASE("pow and sqrt of a series that is identically zero (relu of a negative value) have zero coefficients") {
  // (x_0..x_k all 0: y = x^p is 0 too, not 0/0); a nested coefficient counts as zero with its own series
  for (const DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dtype));
    const auto series = [dtype](std::vector<double> c) {
      return Jet::from_coefficients(Var(Tensor::from_vector(c, Shape{static_cast<std::int64_t>(c.size())}, dtype)));
    };
    const Jet dead = relu(series({-0.5, 1.0, 0.3, 0.0, 2.0, -1.0, 0.5}));  // order 6
    const std::vector<double> zeros(7, 0.0);
    for (const double p : {1.5, 2.5, 0.5, 17.0}) {
      CAPTURE(p);
      CHECK(pow(dead, p).coefficients().value().to_vector() == zeros);
    }
    CHECK(sqrt(dead).coefficients().value().to_vector() == zeros);
    // a later nonzero coefficient at x_0 = 0 is a true singularity and stays non-finite
    CHECK(!std::isfinite(sqrt(series({0.0, 0.0, 1.0})).coefficients().value().to_vector()[2]));
    CHECK(!std::isfinite(pow(series({0.0, 0.0, 0.0, 1.0}), 1.5).coefficients().value().to_vector()[3]));
    // two levels (the Jet form of the rules): every coefficient of every level is 0
    std::vector<Jet> outer;
    for (int k = 0; k < 4; ++k) outer.push_back(series({k == 0 ? -0.5 : 0.3 * k, 1.0, -0.2}));
    const Jet nested_dead = relu(Jet::from_series(outer));
    for (const Jet& y : {pow(nested_dead, 1.5), pow(nested_dead, 0.5), sqrt(nested_dead)})
      CHECK(y.data().value().to_vector() == std::vector<double>(12, 0.0));
  }
  // through an ODE's incremental trace: z' = -relu(z)^1.5 - 0.1 with the second component below 0
  // moves it as -0.5 - 0.1 t (coefficients 0 from order 2 on)
  const JetDynamics f = [](const Jet& z, const Jet&) { return pow(relu(z), 1.5) * -1.0 - 0.1; };
  const Var z(Tensor::from_vector({0.5, -0.5}, Shape{1, 2}, DType::f64));
  const std::vector<double> c = ode_taylor_coefficients(f, z, Var(Tensor::scalar(0.0, DType::f64)), 4).value().to_vector();
  CHECK(c[3] == -0.1);
  for (int k = 2; k <= 4; ++k) {
    CHECK(std::isfinite(c[static_cast<std::size_t>(2 * k)]));
    CHECK(c[static_cast<std::size_t>(2 * k + 1)] == 0.0);
  }
}

// Nested levels: a coefficient whose primal is 0 may carry a series of its own (x_0 = 0 + v e), so
// the orders below p take y' = p x^(p-1) x' (no division by x_0); where the total order exceeds p
// the derivative is infinite, as it truly is.
TEST_CASE("pow's Taylor rule on nested levels at x_0 = 0: the derivatives of total order below p are 0, not NaN") {
  const Var x0(Tensor::from_vector({0.0, 0.0}, Shape{2}, DType::f64));
  const Var v(Tensor::from_vector({1.0, -0.5}, Shape{2}, DType::f64));
  for (const double p : {2.5, 1.5, 3.5}) {
    CAPTURE(p);
    const JetFn f = [p](const Jet& x) { return pow(x, p); };
    for (int K = 1; static_cast<double>(K) < p; ++K) {
      CAPTURE(K);
      CHECK(nested_jvp(f, Jet(x0), Jet(v), K).primal().value().to_vector() == std::vector<double>{0.0, 0.0});
    }
    const int past = static_cast<int>(std::ceil(p));  // the first order with x^(p - K), p - K < 0
    for (double d : nested_jvp(f, Jet(x0), Jet(v), past).primal().value().to_vector()) CHECK(!std::isfinite(d));
    // away from 0 the nested form is unchanged: d^K/ds^K (x + s v)^p = p (p-1)..(p-K+1) x^(p-K) v^K
    const Var x(Tensor::from_vector({0.7, 1.3}, Shape{2}, DType::f64));
    for (int K = 1; K <= 3; ++K) {
      const auto got = nested_jvp(f, Jet(x), Jet(v), K).primal().value().to_vector();
      const auto xs = x.value().to_vector(), vs = v.value().to_vector();
      for (std::size_t i = 0; i < 2; ++i) {
        double want = std::pow(xs[i], p - K) * std::pow(vs[i], K);
        for (int j = 0; j < K; ++j) want *= p - j;
        CHECK(std::abs(got[i] - want) <= 1e-13 * std::max(1.0, std::abs(want)));
      }
    }
  }
  // an outer level of order 2 over an inner one at x = s + e: (s + e)^2.5 has no term of total
  // degree <= 2, and an infinite one at s^2 e
  const auto scalar = [](double c) { return Jet(Var(Tensor::scalar(c, DType::f64))); };
  const Jet inner0 = Jet::from_series({scalar(0.0), scalar(1.0)});
  const Jet x = Jet::from_series({inner0, scalar(1.0), scalar(0.0)});
  const auto y = pow(x, 2.5).data().value().to_vector();  // [3, 2]: (s order, e order)
  REQUIRE(y.size() == 6);
  for (std::size_t i = 0; i < 5; ++i) CHECK(y[i] == 0.0);
  CHECK(!std::isfinite(y[5]));
  // the ODE z' = z^2.5 + 1 from 0: z = t + t^3.5 / 3.5 + ..., so the second and third derivatives
  // are 0 in every form
  const JetDynamics g = [](const Jet& z, const Jet&) { return pow(z, 2.5) + 1.0; };
  const Var z(Tensor::zeros(Shape{1}, DType::f64));
  for (const TaylorForm form : {TaylorForm::incremental, TaylorForm::rerun, TaylorForm::nested_jvp}) {
    CAPTURE(taylor_form_name(form));
    CHECK(ode_taylor_coefficients(g, z, Var(Tensor::scalar(0.0, DType::f64)), 3, form).value().to_vector() ==
          std::vector<double>{0.0, 1.0, 0.0, 0.0});
  }
}


TEST_CASE("gelu's jvp in the left tail matches Phi(x) + x phi(x) and the reverse gradient (no 1 + erf cancellation)") {
  // Phi = (1 + erf(x / sqrt 2)) / 2 cancelled there: the jvp was 2.8% off at x = -6 in f32, 1% at -10 in f64
  for (const DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    const std::vector<double> xs = {-10.0, -8.0, -6.0, -5.0, -1.5, -1.0, -0.5, 0.0, 2.0};
    const Tensor x = Tensor::from_vector(xs, Shape{static_cast<std::int64_t>(xs.size())}, dtype);
    const Tensor one = Tensor::full(x.shape(), 1.0, dtype);
    const std::vector<double> tangent =
        jvp([](const Jet& z) { return gelu(z); }, Jet(x), Jet(one)).second.primal().value().to_vector();
    const Var xv = Var::parameter(x);
    const std::vector<double> reverse = grad(sum(gelu(xv)), xv).value().to_vector();
    const double tol = dtype == DType::f32 ? 3e-5 : 1e-13;  // (it was 1.6e-3 and 2.8e-2 off at -5 and -6 in f32)
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double v = xs[i], exact = 0.5 * std::erfc(-v / std::sqrt(2.0)) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
      CAPTURE(v);
      CHECK(std::fabs(tangent[i] - exact) <= tol * std::fabs(exact) + 1e-300);
      CHECK(std::fabs(tangent[i] - reverse[i]) <= tol * std::fabs(exact) + 1e-300);
    }
  }
}

}  // namespace tide::testing
