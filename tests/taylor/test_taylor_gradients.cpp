// Reverse over Taylor and reverse over forward: parameter gradients of R_K-style integrands and of
// the Hutchinson estimate against f64 finite differences; the JVP and VJP routes of Hutchinson
// agree; the exact trace equals the trace of the finite-difference Jacobian.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>

namespace tide {
namespace {

struct Net {
  Var w1, wt, b1, w2;
  explicit Net(std::uint64_t seed, int d = 3, int h = 4) {
    Generator g(seed);
    w1 = Var::parameter(g.uniform(Shape{d, h}, -0.8, 0.8, DType::f64));
    wt = Var::parameter(g.uniform(Shape{h}, -0.8, 0.8, DType::f64));
    b1 = Var::parameter(g.uniform(Shape{h}, -0.3, 0.3, DType::f64));
    w2 = Var::parameter(g.uniform(Shape{h, d}, -0.8, 0.8, DType::f64));
  }
  std::vector<Var*> params() { return {&w1, &wt, &b1, &w2}; }
  Jet operator()(const Jet& z, const Jet& t) const {
    return matmul(tanh(matmul(z, Jet(w1)) + t * Jet(wt) + Jet(b1)), Jet(w2));
  }
};

// Checks d loss/d params of loss(net) against central differences, entry by entry.
void check_param_gradient(Net& net, const std::function<Var(const Net&)>& loss, double tol, const std::string& what) {
  std::vector<Var> ps;
  for (Var* p : net.params()) ps.push_back(*p);
  const auto g = grad({loss(net)}, ps);
  const double h = 1e-6;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const Tensor original = ps[i].value();
    const auto analytic = g[i].value().to_vector();
    auto values = original.to_vector();
    for (std::size_t j = 0; j < values.size(); ++j) {
      auto at = [&](double delta) {
        auto v = values;
        v[j] += delta;
        *net.params()[i] = Var(Tensor::from_vector(v, original.shape(), DType::f64));
        NoGrad ng;
        return loss(net).item();
      };
      const double fd = (at(h) - at(-h)) / (2 * h);
      *net.params()[i] = ps[i];
      INFO(what << " param " << i << "[" << j << "]: analytic " << analytic[j] << " fd " << fd);
      CHECK(std::abs(analytic[j] - fd) <= tol * std::max(1.0, std::abs(fd)));
    }
  }
}

TEST_CASE("reverse over Taylor: gradients of ||d^K z/dt^K||^2 match finite differences for K = 1..6") {
  Net net(31);
  Generator g(32);
  const Var z(g.uniform(Shape{2, 3}, -1.0, 1.0, DType::f64));
  const Var t(Tensor::scalar(0.4, DType::f64));
  for (int K = 1; K <= 6; ++K) {
    for (TaylorForm form : {TaylorForm::incremental, TaylorForm::rerun}) {
      if (form == TaylorForm::rerun && K != 4) continue;  // one rerun order keeps this short
      check_param_gradient(net, [&](const Net& n) { return sum(square(ode_derivative(n, z, t, K, form))); }, 1e-6,
                           "K = " + std::to_string(K) + " " + taylor_form_name(form));
    }
  }
}

TEST_CASE("reverse over Taylor: the gradient with respect to the state z matches finite differences") {
  Net net(33);
  Generator g(34);
  const Tensor z0 = g.uniform(Shape{1, 3}, -1.0, 1.0, DType::f64);
  const Var t(Tensor::scalar(0.0, DType::f64));
  const Var z = Var::parameter(z0);
  const Var gz = grad(sum(square(ode_derivative(net, z, t, 3))), z);
  auto values = z0.to_vector();
  for (std::size_t j = 0; j < values.size(); ++j) {
    auto at = [&](double d) {
      auto v = values;
      v[j] += d;
      NoGrad ng;
      return sum(square(ode_derivative(net, Var(Tensor::from_vector(v, z0.shape(), DType::f64)), t, 3))).item();
    };
    const double fd = (at(1e-6) - at(-1e-6)) / 2e-6;
    CHECK(std::abs(gz.value().to_vector()[j] - fd) <= 1e-6 * std::max(1.0, std::abs(fd)));
  }
}

TEST_CASE("Hutchinson: the JVP and VJP routes agree for the same noise, and both are unbiased in the limit") {
  Net net(41);
  Generator g(42);
  const Var z(g.uniform(Shape{5, 3}, -1.0, 1.0, DType::f64));
  const Jet t(Var(Tensor::scalar(0.1, DType::f64)));
  const JetFn f = [&](const Jet& y) { return net(y, t); };
  for (Noise noise : {Noise::gaussian, Noise::rademacher}) {
    const Tensor e = sample_noise(g, z.shape(), DType::f64, noise);
    const auto a = hutchinson_jvp(f, z, e), b = hutchinson_vjp(f, z, e);
    const auto va = a.trace.value().to_vector(), vb = b.trace.value().to_vector();
    REQUIRE(va.size() == 5);
    for (std::size_t i = 0; i < va.size(); ++i) CHECK(std::abs(va[i] - vb[i]) <= 1e-14 * std::max(1.0, std::abs(va[i])));
    // ||J e||^2 from the same jvp
    const Var je = jvp(f, Jet(z), Jet(e)).second.primal();
    const auto frob = a.jacobian_frobenius.value().to_vector(), ref = sum(square(je), {1}).value().to_vector();
    for (std::size_t i = 0; i < frob.size(); ++i) CHECK(std::abs(frob[i] - ref[i]) <= 1e-14 * std::max(1.0, ref[i]));
  }
  // the exact trace equals the trace of the central-difference Jacobian
  const auto exact = exact_trace(f, z).trace.value().to_vector();
  const auto zv = z.value().to_vector();
  for (int b = 0; b < 5; ++b) {
    double tr = 0;
    for (int i = 0; i < 3; ++i) {
      auto at = [&](double d) {
        auto v = zv;
        v[static_cast<std::size_t>(b * 3 + i)] += d;
        NoGrad ng;
        return f(Jet(Var(Tensor::from_vector(v, z.shape(), DType::f64)))).primal().value().to_vector()[static_cast<std::size_t>(b * 3 + i)];
      };
      tr += (at(1e-6) - at(-1e-6)) / 2e-6;
    }
    CHECK(std::abs(exact[static_cast<std::size_t>(b)] - tr) <= 1e-8);
  }
  // averaging the Rademacher estimate over many draws approaches the exact trace
  const Var zz = broadcast_to(select(z, 0, 0), Shape{4000, 3});
  const auto many = hutchinson_jvp(f, zz, sample_noise(g, zz.shape(), DType::f64, Noise::rademacher));
  CHECK(std::abs(mean(many.trace).item() - exact[0]) < 0.05 * std::max(1.0, std::abs(exact[0])));
}

TEST_CASE("reverse over forward and reverse over reverse: Hutchinson gradients match finite differences") {
  Net net(51);
  Generator g(52);
  const Var z(g.uniform(Shape{3, 3}, -1.0, 1.0, DType::f64));
  const Tensor e = sample_noise(g, z.shape(), DType::f64, Noise::gaussian);
  const Jet t(Var(Tensor::scalar(0.3, DType::f64)));
  check_param_gradient(net, [&](const Net& n) {
    return sum(hutchinson_jvp([&](const Jet& y) { return n(y, t); }, z, e).trace);
  }, 1e-6, "hutchinson jvp");
  check_param_gradient(net, [&](const Net& n) {
    return sum(hutchinson_vjp([&](const Jet& y) { return n(y, t); }, z, e).trace);
  }, 1e-6, "hutchinson vjp");
  check_param_gradient(net, [&](const Net& n) {
    return sum(hutchinson_jvp([&](const Jet& y) { return n(y, t); }, z, e).jacobian_frobenius);
  }, 1e-6, "jacobian frobenius");
}

TEST_CASE("nested jvp equals the Hessian-vector product of the tape") {
  Generator g(61);
  const Var x = Var::parameter(g.uniform(Shape{4}, -1.0, 1.0, DType::f64));
  const Tensor v = g.uniform(Shape{4}, -1.0, 1.0, DType::f64);
  const auto f = [](const auto& y) { return sum(tanh(y) * exp(y * 0.5)); };
  // v^T H v by two nested jvps, and H v by grad of grad
  const double nested = nested_jvp([&](const Jet& y) { return f(y); }, Jet(x.detach()), Jet(v), 2).primal().item();
  GradOptions o;
  o.create_graph = true;
  const Var gx = grad({f(x)}, {x}, {}, o)[0];
  const Var hv = grad(sum(gx * Var(v)), x);
  CHECK(std::abs(nested - sum(hv * Var(v)).item()) <= 1e-13);
  // and taylor_directional gives the same as 2! times coefficient 2
  const Jet td = taylor_directional([&](const Jet& y) { return f(y); }, x.detach(), Var(v), 2);
  CHECK(std::abs(td.coefficient(2).primal().item() * 2.0 - nested) <= 1e-13);
}


Var scalar64(double v) { return Var(Tensor::scalar(v, DType::f64)); }

TEST_CASE("nested jvp: an inner jvp over a constant primal keeps its own level inside an outer one") {
  // Perturbation confusion: the inner call's arguments are constants, but the function closes over
  // the outer call's dual; the two levels must stay apart.
  const double z0 = 0.8, t0 = 1.3;
  const auto dfdz = [&](const Jet& t) {
    return jvp([&](const Jet& z) { return sin(z * t); }, Jet(scalar64(z0)), Jet(scalar64(1.0))).second;
  };
  const double mixed = jvp(dfdz, Jet(scalar64(t0)), Jet(scalar64(1.0))).second.primal().item();
  CHECK(std::abs(mixed - (std::cos(z0 * t0) - z0 * t0 * std::sin(z0 * t0))) <= 1e-14);
  // Siskind and Pearlmutter's test: D_x [x D_y (x y)] = D_x [x * x] = 2x (confusion gives x + 4 at y = 4)
  const double x0 = 1.5;
  const auto outer = [&](const Jet& x) {
    return x * jvp([&](const Jet& y) { return x * y; }, Jet(scalar64(4.0)), Jet(scalar64(1.0))).second;
  };
  CHECK(std::abs(jvp(outer, Jet(scalar64(x0)), Jet(scalar64(1.0))).second.primal().item() - 2 * x0) <= 1e-14);
  // and a Taylor level made inside the outer call from constants sits above its dual too
  const auto series = [&](const Jet& t) {
    const Jet s = Jet::from_coefficients(Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)));
    return exp(s * t).coefficient(1);  // d/ds exp(s t) at s = 0: t
  };
  CHECK(std::abs(jvp(series, Jet(scalar64(t0)), Jet(scalar64(1.0))).second.primal().item() - 1.0) <= 1e-14);
  // and an inner jvp whose function closes over such a level puts its dual above it: d/dy (y T) = T
  for (const int K : {1, 3}) {
    INFO("K = " << K);
    const auto closes_over = [&](const Jet& x) {
      std::vector<double> c(static_cast<std::size_t>(K + 1), 0.0);
      c[1] = 1.0;  // T = s
      const Jet T = Jet::from_coefficients(Var(Tensor::from_vector(c, Shape{K + 1}, DType::f64)));
      return x * jvp([&](const Jet& y) { return y * T; }, Jet(scalar64(2.0)), Jet(scalar64(1.0))).second.coefficient(1);
    };
    const auto [value, tangent] = jvp(closes_over, Jet(scalar64(t0)), Jet(scalar64(1.0)));
    CHECK(std::abs(value.primal().item() - t0) <= 1e-14);  // x * (T's s-coefficient, 1)
    CHECK(std::abs(tangent.primal().item() - 1.0) <= 1e-14);
  }
}

TEST_CASE("jvp of a function that builds a Taylor level inside returns that level's series") {
  // h(x) = sin(x + s) as a series in s (order 3): its tangent in x has coefficients sin^(k+1)(x0) / k!
  const double x0 = 0.7;
  const auto h = [](const Jet& x) { return sin(Jet::from_series({x, Jet(scalar64(1.0)), Jet(scalar64(0.0)), Jet(scalar64(0.0))})); };
  const auto [value, tangent] = jvp(h, Jet(scalar64(x0)), Jet(scalar64(1.0)));
  REQUIRE(value.levels() == 1);
  REQUIRE(tangent.levels() == 1);
  REQUIRE(tangent.order() == 3);
  const double expect[4] = {std::cos(x0), -std::sin(x0), -std::cos(x0) / 2, std::sin(x0) / 6};
  for (int k = 0; k <= 3; ++k) {
    INFO("coefficient " << k);
    CHECK(std::abs(tangent.coefficient(k).primal().item() - expect[k]) <= 1e-14);
    CHECK(std::abs(value.coefficient(k).primal().item() - (k == 0 ? std::sin(x0) : expect[k - 1] / k)) <= 1e-14);
  }
}

}  // namespace
}  // namespace tide
