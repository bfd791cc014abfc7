// ODE-solution Taylor coefficients against closed forms, the three forms against each other, and
// the bad-input errors.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

namespace tide {
namespace {

const TaylorForm forms[] = {TaylorForm::incremental, TaylorForm::rerun, TaylorForm::nested_jvp};
int max_k(TaylorForm f) { return f == TaylorForm::nested_jvp ? 6 : 8; }  // keeps nested fast in CI

Var f64(std::vector<double> v, Shape s) { return Var(Tensor::from_vector(v, s, DType::f64)); }
Var t_at(double t) { return Var(Tensor::scalar(t, DType::f64)); }

void check_close(double got, double want, double tol, const std::string& what) {
  INFO(what << ": got " << got << " want " << want);
  CHECK(std::abs(got - want) <= tol * std::max(1.0, std::abs(want)));
}

TEST_CASE("ode_taylor: z' = z has derivatives z0 at every order (coefficients z0/k!)") {
  const Var z = f64({0.5, -1.5, 2.0}, Shape{3});
  for (TaylorForm form : forms) {
    INFO(taylor_form_name(form));
    const int K = max_k(form);
    const Var c = ode_taylor_coefficients([](const Jet& y, const Jet&) { return y; }, z, t_at(0.3), K, form);
    double factorial = 1.0;
    for (int k = 0; k <= K; ++k) {
      if (k > 0) factorial *= k;
      const auto v = select(c, 0, k).value().to_vector();
      for (int i = 0; i < 3; ++i) check_close(v[i], z.value().to_vector()[i] / factorial, 1e-14, "coefficient " + std::to_string(k));
    }
  }
}

TEST_CASE("ode_taylor: z' = z^2 from z = 1 has every normalised coefficient 1 (1/(1-t))") {
  const Var z = f64({1.0}, Shape{1});
  for (TaylorForm form : forms) {
    INFO(taylor_form_name(form));
    const Var c = ode_taylor_coefficients([](const Jet& y, const Jet&) { return y * y; }, z, t_at(0.0), max_k(form), form);
    for (double v : c.value().to_vector()) check_close(v, 1.0, 1e-13, "coefficient");
    // the same through square and pow
    const Var c2 = ode_taylor_coefficients([](const Jet& y, const Jet&) { return pow(y, 2.0); }, z, t_at(0.0), max_k(form), form);
    for (double v : c2.value().to_vector()) check_close(v, 1.0, 1e-13, "coefficient via pow");
  }
}

TEST_CASE("ode_taylor: z' = -z + sin t matches the closed form at t0 = 0.7") {
  // z = C e^-(t - t0) + (sin t - cos t)/2, C = z0 - (sin t0 - cos t0)/2
  const double t0 = 0.7, z0 = 0.4;
  const double C = z0 - (std::sin(t0) - std::cos(t0)) / 2;
  const auto f = [](const Jet& y, const Jet& t) { return -y + sin(t); };
  for (TaylorForm form : forms) {
    INFO(taylor_form_name(form));
    const int K = max_k(form);
    const auto d = ode_taylor(f, f64({z0}, Shape{1}), t_at(t0), K, form);
    for (int k = 1; k <= K; ++k) {
      const double phase = t0 + k * M_PI / 2;
      const double want = C * (k % 2 ? -1.0 : 1.0) + (std::sin(phase) - std::cos(phase)) / 2;
      check_close(d[static_cast<std::size_t>(k - 1)].item(), want, 1e-12, "d^" + std::to_string(k) + " z/dt^k");
    }
  }
}

TEST_CASE("ode_taylor: a linear system z' = A z has d^k z/dt^k = A^k z (matrix exponential series)") {
  Generator g(11);
  const Var A(g.uniform(Shape{4, 4}, -0.8, 0.8, DType::f64));
  const Var z(g.uniform(Shape{2, 4}, -1.0, 1.0, DType::f64));  // a batch of two states, rows
  const Var At = transpose(A);
  const auto f = [At](const Jet& y, const Jet&) { return matmul(y, Jet(At)); };
  for (TaylorForm form : forms) {
    INFO(taylor_form_name(form));
    const int K = max_k(form);
    const auto d = ode_taylor(f, z, t_at(0.0), K, form);
    Var want = z;
    for (int k = 1; k <= K; ++k) {
      want = matmul(want, At);
      const auto got = d[static_cast<std::size_t>(k - 1)].value().to_vector(), ref = want.value().to_vector();
      for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i], ref[i], 1e-12, "A^" + std::to_string(k) + " z");
    }
  }
}

TEST_CASE("ode_taylor: the chain y_0' = x_0, y_i' = x_i y_(i-1) gives y_i = x_i...x_0 t^(i+1)/(i+1)!") {
  // at t = 0 from y = 0, d^k y_i/dt^k is x_0...x_i when k = i + 1 and zero otherwise
  const int n = 8;
  Generator g(12);
  const Var x(g.uniform(Shape{n}, 0.5, 1.5, DType::f64));
  const auto f = [x](const Jet& y, const Jet&) {
    const Jet shifted = concat({Jet(Var(Tensor::ones(Shape{1}, DType::f64))), slice(y, 0, 0, n - 1)}, 0);
    return Jet(x) * shifted;
  };
  const auto xs = x.value().to_vector();
  for (TaylorForm form : forms) {
    INFO(taylor_form_name(form));
    const int K = max_k(form);
    const auto d = ode_taylor(f, Var(Tensor::zeros(Shape{n}, DType::f64)), t_at(0.0), K, form);
    for (int k = 1; k <= K; ++k) {
      const auto got = d[static_cast<std::size_t>(k - 1)].value().to_vector();
      for (int i = 0; i < n; ++i) {
        double want = 0.0;
        if (k == i + 1) {
          want = 1.0;
          for (int j = 0; j <= i; ++j) want *= xs[static_cast<std::size_t>(j)];
        }
        check_close(got[static_cast<std::size_t>(i)], want, 1e-13, "d^" + std::to_string(k) + " y_" + std::to_string(i));
      }
    }
  }
}

// A tanh MLP with time input, the study's dynamics.
struct Mlp {
  Var w1, wt, b1, w2, b2;
  explicit Mlp(std::uint64_t seed, int d = 3, int h = 5) {
    Generator g(seed);
    w1 = Var::parameter(g.uniform(Shape{d, h}, -0.7, 0.7, DType::f64));
    wt = Var::parameter(g.uniform(Shape{h}, -0.7, 0.7, DType::f64));
    b1 = Var::parameter(g.uniform(Shape{h}, -0.3, 0.3, DType::f64));
    w2 = Var::parameter(g.uniform(Shape{h, d}, -0.7, 0.7, DType::f64));
    b2 = Var::parameter(g.uniform(Shape{d}, -0.3, 0.3, DType::f64));
  }
  Jet operator()(const Jet& z, const Jet& t) const {
    return matmul(tanh(matmul(z, Jet(w1)) + t * Jet(wt) + Jet(b1)), Jet(w2)) + Jet(b2);
  }
  std::vector<Var> params() const { return {w1, wt, b1, w2, b2}; }
};

TEST_CASE("ode_taylor: incremental, rerun and nested-jvp forms agree on a tanh MLP to 1e-12") {
  Mlp f(21);
  Generator g(22);
  const Var z(g.uniform(Shape{4, 3}, -1.0, 1.0, DType::f64));
  NoGrad ng;
  const Var inc = ode_taylor_coefficients(f, z, t_at(0.2), 6, TaylorForm::incremental);
  const Var re = ode_taylor_coefficients(f, z, t_at(0.2), 6, TaylorForm::rerun);
  const Var nj = ode_taylor_coefficients(f, z, t_at(0.2), 6, TaylorForm::nested_jvp);
  const auto a = inc.value().to_vector(), b = re.value().to_vector(), c = nj.value().to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    check_close(a[i], b[i], 1e-12, "incremental vs rerun");
    check_close(a[i], c[i], 1e-12, "incremental vs nested");
  }
  // the recorded (composite) recurrences give the same values as the fused no-record path
  EnableGrad eg;
  const Var recorded = ode_taylor_coefficients(f, z, t_at(0.2), 6, TaylorForm::incremental);
  CHECK(recorded.requires_grad());
  const auto r = recorded.value().to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) check_close(r[i], a[i], 1e-14, "fused vs composite");
}

// The fused pass sums whole register-sized chunks and then a partial one: sizes below, at and
// past a chunk, f32 and f64, against the recorded composite.
TEST_CASE("ode_taylor: the fused recurrence pass equals the recorded composite across chunk sizes, f32 and f64") {
  const JetDynamics f = [](const Jet& y, const Jet&) { return tanh(y) * 0.9 + sigmoid(y); };
  for (const DType dt : {DType::f64, DType::f32}) {
    for (const std::int64_t n : {7, 32, 64, 185}) {
      INFO(dtype_name(dt) << ", " << n << " elements");
      Generator g(static_cast<std::uint64_t>(40 + n));
      const Tensor z0 = g.uniform(Shape{n}, -1.0, 1.0, dt);
      Var fused;
      {
        NoGrad ng;
        fused = ode_taylor_coefficients(f, Var(z0), Var(Tensor::scalar(0.1, dt)), 6);
      }
      const Var z = Var::parameter(z0);
      const Var recorded = ode_taylor_coefficients(f, z, Var(Tensor::scalar(0.1, dt)), 6);
      CHECK(recorded.requires_grad());
      const auto a = fused.value().to_vector(), b = recorded.value().to_vector();
      for (std::size_t i = 0; i < a.size(); ++i) check_close(a[i], b[i], dt == DType::f64 ? 1e-13 : 2e-5, "fused vs composite");
    }
  }
}

// Every activation whose Taylor rule keeps auxiliary series (filled lazily: the last order asked
// for computes none) or takes squares by their symmetric half, in the incremental trace, where each
// K stops the recurrences at a different order: against nested jvps, fused and recorded.
TEST_CASE("ode_taylor: the incremental form agrees with nested jvps for every activation with auxiliary series, K = 1..5") {
  using Act = Jet (*)(const Jet&);
  const std::pair<const char*, Act> activations[] = {
      {"tanh", [](const Jet& u) { return tanh(u); }},       {"sigmoid", [](const Jet& u) { return sigmoid(u); }},
      {"softplus", [](const Jet& u) { return softplus(u); }}, {"silu", [](const Jet& u) { return silu(u); }},
      {"sin", [](const Jet& u) { return sin(u); }},         {"cos", [](const Jet& u) { return cos(u); }},
      {"erf", [](const Jet& u) { return erf(u); }},         {"gelu", [](const Jet& u) { return gelu(u); }},
      {"expm1", [](const Jet& u) { return expm1(u); }},     {"sqrt(1 + u^2)", [](const Jet& u) { return sqrt(square(u) + 1.0); }},
  };
  Mlp net(23);
  Generator g(24);
  const Var z(g.uniform(Shape{4, 3}, -1.0, 1.0, DType::f64));
  for (const auto& [name, act] : activations) {
    const JetDynamics f = [&net, act](const Jet& y, const Jet& t) {
      return matmul(act(matmul(y, Jet(net.w1)) + t * Jet(net.wt) + Jet(net.b1)), Jet(net.w2)) + Jet(net.b2);
    };
    for (int K = 1; K <= 5; ++K) {
      INFO(name << ", K = " << K);
      NoGrad ng;
      const auto want = ode_derivative(f, z, t_at(0.3), K, TaylorForm::nested_jvp).value().to_vector();
      const auto fused = ode_derivative(f, z, t_at(0.3), K, TaylorForm::incremental).value().to_vector();
      EnableGrad eg;
      const Var rec = ode_derivative(f, z, t_at(0.3), K, TaylorForm::incremental);
      CHECK(rec.requires_grad());
      const auto recorded = rec.value().to_vector();
      for (std::size_t i = 0; i < want.size(); ++i) {
        check_close(fused[i], want[i], 1e-11, "fused vs nested");
        check_close(recorded[i], want[i], 1e-11, "recorded vs nested");
      }
    }
  }
}

// Taylor mode inside a compiled function (autodiff/compile.hpp): the incremental trace runs on
// Var ops, so a plan replays it, and its backward plan gives the R_K gradient.
TEST_CASE("ode_derivative compiled: values (with and without gradients) and parameter gradients equal the eager ones, K = 1..5, after a batch-size change") {
  Mlp net(25);
  Generator g(26);
  for (int K = 1; K <= 5; ++K) {
    const CompiledFunction cf = compile([&net, K](const std::vector<Var>& in) { return ode_derivative(net, in[0], in[1], K); });
    for (const std::int64_t B : {4, 6, 4}) {
      INFO("K = " << K << ", B = " << B);
      const Var z(g.uniform(Shape{B, 3}, -1.0, 1.0, DType::f64));
      const Var t(Tensor::scalar(0.1 * static_cast<double>(B), DType::f64));
      const Var want = ode_derivative(net, z, t, K), got = cf({z, t});
      const auto a = got.value().to_vector(), b = want.value().to_vector();
      for (std::size_t i = 0; i < a.size(); ++i) check_close(a[i], b[i], 1e-13, "compiled vs eager value");
      {  // without gradients the recurrences take the fused pass eagerly; the plan must not
        NoGrad ng;
        const auto n = cf({z, t}).value().to_vector();
        for (std::size_t i = 0; i < n.size(); ++i) check_close(n[i], b[i], 1e-13, "compiled without gradients vs eager value");
      }
      const std::vector<Var> ge = grad({mean(square(want))}, net.params()), gc = grad({mean(square(got))}, net.params());
      for (std::size_t p = 0; p < ge.size(); ++p) {
        const auto x = gc[p].value().to_vector(), y = ge[p].value().to_vector();
        for (std::size_t i = 0; i < x.size(); ++i) check_close(x[i], y[i], 1e-12, "compiled vs eager gradient of parameter " + std::to_string(p));
      }
    }
    CHECK(cf.stats().traces == 4);  // two batch sizes, with and without gradients
    CHECK(cf.stats().calls == 6);
    CHECK(cf.stats().backward_calls == 3);
  }
}

TEST_CASE("normalised and derivative coefficients convert both ways (JAX's jet takes derivatives)") {
  const Var d = f64({2.0, 3.0, 8.0, 48.0}, Shape{4, 1});  // x, x', x'', x'''
  const Jet j = Jet::from_derivatives(d);
  const auto c = j.coefficients().value().to_vector();
  CHECK(c == std::vector<double>{2.0, 3.0, 4.0, 8.0});
  CHECK(j.derivatives().value().to_vector() == d.value().to_vector());
  // an order-3 jet of exp(x) at x(t) = t: derivatives all e^0 = 1
  const Jet e = exp(Jet::from_derivatives(f64({0.0, 1.0, 0.0, 0.0}, Shape{4})));
  for (double v : e.derivatives().value().to_vector()) check_close(v, 1.0, 1e-15, "d^k e^t");
}

TEST_CASE("Taylor mode rejects bad input with clear errors") {
  const Var z = f64({1.0, 2.0}, Shape{2});
  const auto f = [](const Jet& y, const Jet&) { return y; };
  auto message = [](auto&& fn) {
    try { fn(); } catch (const Error& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  CHECK(message([&] { ode_taylor(f, z, t_at(0), -1); }).find("K = -1 is outside 0..32") != std::string::npos);
  CHECK(message([&] { ode_taylor(f, z, t_at(0), 33); }).find("K = 33 is outside 0..32") != std::string::npos);
  CHECK(message([&] { ode_taylor(f, z, t_at(0), 12, TaylorForm::nested_jvp); }).find("K = 12 is outside 0..11") != std::string::npos);
  CHECK(message([&] { nested_jvp([](const Jet& y) { return y; }, Jet(z), Jet(z), 11); }).find("K = 11 is outside 0..10") != std::string::npos);
  CHECK(message([&] { jvp([](const Jet& y) { return y; }, Jet(z), Jet(f64({1.0, 2.0, 3.0}, Shape{3}))); })
            .find("primal 0 has shape [2] but its tangent has shape [3]") != std::string::npos);
  CHECK(message([&] { Jet::from_coefficients(f64({1.0, NAN, 2.0}, Shape{3})); }).find("non-finite coefficient nan at flat index 1") != std::string::npos);
  CHECK(message([&] { Jet::from_coefficients(Var(Tensor::zeros(Shape{34, 2}, DType::f64))); }).find("the order K must be in 0..32") != std::string::npos);
  CHECK(message([&] { ode_taylor([](const Jet& y, const Jet&) { return sum(y); }, z, t_at(0), 2); })
            .find("the dynamics returned shape [] for a state of shape [2]") != std::string::npos);
  // dynamics whose derivatives overflow: 1/(1 - z) near its pole, high order
  CHECK(message([&] { ode_taylor([](const Jet& y, const Jet&) { return exp(y * 400.0); }, z, t_at(0), 6); })
            .find("not finite") != std::string::npos);
  // jets of different orders do not mix
  const Jet a = Jet::from_coefficients(f64({1, 2, 3}, Shape{3, 1}));
  const Jet b = Jet::from_coefficients(f64({1, 2}, Shape{2, 1}));
  CHECK(message([&] { (void)(a * b); }).find("Jets of different orders") != std::string::npos);
}

TEST_CASE("Jet shape and dtype errors name the values' shapes, not the coefficient stacks") {
  const auto jet = [](Shape s, DType dtype = DType::f64) {
    Shape d{5};  // order 4
    for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
    return Jet::from_coefficients(Var(Tensor::zeros(d, dtype)));
  };
  auto message = [](auto&& fn) {
    try { fn(); } catch (const Error& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  const Var c4(Tensor::zeros(Shape{4}, DType::f64));
  CHECK(message([&] { (void)(jet(Shape{3}) * c4); }) == "mul: shapes [3] and [4] cannot be broadcast together (axis 0: 3 vs 4)");
  CHECK(message([&] { (void)(jet(Shape{3}) / c4); }).find("div: shapes [3] and [4]") != std::string::npos);
  CHECK(message([&] { (void)(jet(Shape{3}) + jet(Shape{4})); }).find("add: shapes [3] and [4]") != std::string::npos);
  CHECK(message([&] { (void)(jet(Shape{3}) - jet(Shape{4})); }).find("sub: shapes [3] and [4]") != std::string::npos);
  CHECK(message([&] { (void)matmul(jet(Shape{2, 3}), Jet(Var(Tensor::zeros(Shape{4, 2}, DType::f64)))); })
        == "matmul: inner extents differ: [2, 3] @ [4, 2] (3 vs 4)");
  CHECK(message([&] { (void)(jet(Shape{3}) * Var(Tensor::zeros(Shape{3}, DType::f32))); })
        .find("mul: dtype mismatch: f64[3] and f32[3]") != std::string::npos);
}


std::string error_of(const std::function<void()>& fn) {
  try { fn(); } catch (const Error& e) { return std::string(e.what()); }
  return std::string("no error");
}

// A nested Jet's data has one axis per level and then the value's: levels + rank <= max_rank,
// checked where a level is made, with both numbers and the value's shape (not core's bare "rank
// above the maximum").
TEST_CASE("nesting depth: levels plus the value's rank must fit in one tensor, checked up front with the shape named") {
  static_assert(max_jet_levels == max_rank);
  const auto sine = [](const Jet& y) { return sin(y); };
  const Var x3(Tensor::full(Shape{3}, 0.3, DType::f64)), x23(Tensor::full(Shape{2, 3}, 0.3, DType::f64));
  CHECK(error_of([&] { nested_jvp(sine, Jet(x3), Jet(x3), 10); })
        .find("nested_jvp (K = 10): 10 nested levels over a value of shape [3] need 11 axes, but a tensor holds at most 10") != std::string::npos);
  CHECK(error_of([&] { nested_jvp(sine, Jet(x23), Jet(x23), 9); }).find("9 nested levels over a value of shape [2, 3] need 11 axes") != std::string::npos);
  // the documented range holds where it fits: K = 10 on a 0-d value (sin^(10) = -sin), K = 9 on [3]
  const Var x0(Tensor::scalar(0.3, DType::f64)), one(Tensor::scalar(1.0, DType::f64));
  CHECK(std::abs(nested_jvp(sine, Jet(x0), Jet(one), 10).primal().item() + std::sin(0.3)) <= 1e-12);
  for (double d : nested_jvp(sine, Jet(x3), Jet(x3), 9).primal().value().to_vector()) CHECK(std::abs(d - std::cos(0.3) * std::pow(0.3, 9)) <= 1e-15);  // sin^(9) = cos
  // ode_taylor's nested form: K - 1 levels over the state; max_nested_ode_order says how far
  const JetDynamics f = [](const Jet& y, const Jet&) { return tanh(y) * y; };
  CHECK(max_nested_ode_order(0) == max_nested_jvp + 1);
  CHECK(max_nested_ode_order(2) == 9);  // `tide bench taylor --nested-kmax`'s bound ([batch, d] state)
  CHECK(error_of([&] { ode_derivative(f, x23, t_at(0), 10, TaylorForm::nested_jvp); })
        .find("ode_taylor (nested_jvp, K = 10): 9 nested levels over a value of shape [2, 3] need 11 axes") != std::string::npos);
  const Var z12(Tensor::from_vector({0.3, -0.6}, Shape{1, 2}, DType::f64));
  const auto nested = ode_derivative(f, z12, t_at(0), 9, TaylorForm::nested_jvp).value().to_vector();
  const auto incremental = ode_derivative(f, z12, t_at(0), 9).value().to_vector();
  for (std::size_t i = 0; i < nested.size(); ++i) check_close(nested[i], incremental[i], 1e-10, "nested vs incremental, K = 9");
  // Taylor levels made by from_series, and a jvp above them
  Jet j(Var(Tensor::zeros(Shape{2}, DType::f64)));
  for (int L = 1; L <= 9; ++L) j = Jet::from_series({j, Jet(Var(Tensor::ones(Shape{2}, DType::f64)))});
  CHECK(j.levels() == 9);
  CHECK(error_of([&] { Jet::from_series({j, j}); }).find("Jet::from_series: 10 nested levels over a value of shape [2] need 11 axes") != std::string::npos);
  CHECK(error_of([&] { jvp(sine, j, j); }).find("jvp: 10 nested levels over a value of shape [2] need 11 axes") != std::string::npos);
}

// The coefficients z^(k)/k! of an f32 state can fall below f32's smallest normal while the
// derivatives are ordinary numbers: an error at the order where it starts, not a derivative of 0.
// How far K goes depends on the dynamics, not on a fixed bound below max_taylor_order.
TEST_CASE("ode_taylor: an f32 state takes K up to 32, and coefficients that underflow f32 are an error suggesting f64") {
  const Var z32(Tensor::from_vector({1.0}, Shape{1}, DType::f32));
  const Var t32(Tensor::scalar(0.0, DType::f32));
  const JetDynamics decay = [](const Jet& y, const Jet&) { return y * 0.3; };
  const JetDynamics square = [](const Jet& y, const Jet&) { return y * y; };
  const JetDynamics constant = [](const Jet& y, const Jet&) { return y * 0.0 + 1.0; };
  for (TaylorForm form : {TaylorForm::incremental, TaylorForm::rerun}) {
    CAPTURE(taylor_form_name(form));
    // z' = z^2 from 1: z = 1/(1 - t), every coefficient 1, K = 32 in f32 is exact
    CHECK(ode_taylor_coefficients(square, z32, t32, max_taylor_order, form).value().to_vector() == std::vector<double>(33, 1.0));
    // z' = 0.3 z: z_24 = 0.3^24/24! = 4.6e-37 is normal, z_25 = 5.5e-39 is not (0.3^25 = 8.5e-14 is)
    check_close(ode_derivative(decay, z32, t32, 24, form).item(), std::pow(0.3, 24), 1e-5 * std::pow(0.3, 24), "f32 K = 24");
    for (int K : {25, 30}) {
      const std::string error = error_of([&] { ode_taylor(decay, z32, t32, K, form); });
      CHECK(error.find("the coefficient of order 25 (z^(25)/25!) underflows f32") != std::string::npos);
      CHECK(error.find("use an f64 state (or K <= 24)") != std::string::npos);
    }
    // exact zeros are no underflow: z' = 1 has z_2 = z_3 = 0
    CHECK(ode_taylor_coefficients(constant, z32, t32, 3, form).value().to_vector() == std::vector<double>{1.0, 1.0, 0.0, 0.0});
  }
  // z' = 1e-12 z: z_3 = 1.7e-37, z_4 = 4.2e-50 flushes to 0 past the subnormals; every form says so
  const JetDynamics slow = [](const Jet& y, const Jet&) { return y * 1e-12; };
  for (TaylorForm form : forms) {
    CAPTURE(taylor_form_name(form));
    CHECK(error_of([&] { ode_taylor_coefficients(slow, z32, t32, 5, form); }).find("coefficient of order 4 (z^(4)/4!) underflows f32") != std::string::npos);
  }
  // f64 keeps the whole range: 0.3^30 (its coefficient 7.8e-49 would be 0 in f32)
  check_close(ode_derivative(decay, f64({1.0}, Shape{1}), t_at(0), 30).item(), std::pow(0.3, 30), 1e-13 * std::pow(0.3, 30), "f64 K = 30");
}

TEST_CASE("ode_taylor / ode_derivative: a derivative k! z_k that overflows f32 where z_k does not is an error, not inf") {
  // (z' = 20 z from 1 at K = 30: z_30 = 4.0e6 is finite, z^(30) = 20^30 = 1.1e39 came back as inf)
  const Var z32(Tensor::from_vector({1.0, -0.5}, Shape{2}, DType::f32));
  const Var t32(Tensor::scalar(0.0, DType::f32));
  const JetDynamics fast = [](const Jet& y, const Jet&) { return y * 20.0; };
  for (TaylorForm form : {TaylorForm::incremental, TaylorForm::rerun}) {
    CAPTURE(taylor_form_name(form));
    CHECK(std::isfinite(ode_taylor_coefficients(fast, z32, t32, 30, form).value().to_vector().back()));
    const std::string said = "ode_taylor: the derivative of order 30 (k! times its coefficient, which is finite) overflows f32";
    CHECK(error_of([&] { ode_taylor(fast, z32, t32, 30, form); }).starts_with(said));
    CHECK(error_of([&] { ode_derivative(fast, z32, t32, 30, form); }).starts_with(said));
    // 20^29 = 5.4e37 is finite: order 29 comes back
    check_close(ode_derivative(fast, z32, t32, 29, form).value().to_vector()[0], std::pow(20.0, 29), 1e-5 * std::pow(20.0, 29), "K = 29");
  }
}

TEST_CASE("Taylor mode names the user's dtypes and shapes, not an internal op's") {
  const Var z = f64({0.5, 1.0}, Shape{2});
  const Var z32(z.value().to(DType::f32));
  for (TaylorForm form : forms) {
    CAPTURE(taylor_form_name(form));
    CHECK(error_of([&] { ode_taylor_coefficients([](const Jet& y, const Jet&) { return cast(y, DType::f64) * 2.0; }, z32, t_at(0), 3, form); })
          == "ode_taylor: the dynamics returned f64 for a state of f32[2]");
    CHECK(error_of([&] { ode_taylor_coefficients([](const Jet& y, const Jet&) { return cast(y, DType::f32) * 2.0; }, z, t_at(0), 3, form); })
          == "ode_taylor: the dynamics returned f32 for a state of f64[2]");
  }
  CHECK(error_of([&] { taylor_directional([](const Jet& x) { return x; }, z, z32, 2); }) == "taylor_directional: x is f64 but v is f32");
  CHECK(error_of([&] { Jet::from_series({Jet(z), Jet(z32)}); }) == "Jet::from_series: coefficient dtypes differ: f64 and f32");
  CHECK(error_of([&] { Jet::from_coefficients(Var(Tensor::from_indices({1, 2}, Shape{2}, Device{}))); })
        == "Jet::from_coefficients: coefficients must be floating, got i64[2]");
  CHECK(error_of([&] { Jet::from_derivatives(Var(Tensor::from_indices({1, 2}, Shape{2}, Device{}))); })
        == "Jet::from_derivatives: derivatives must be floating, got i64[2]");
  // exact_trace's f sees the state repeated D times: the message names the user's state too
  const Var state(Tensor::zeros(Shape{4, 3}, DType::f64));
  CHECK(error_of([&] { exact_trace([](const Jet& x) { return sum(x, {1}); }, state); })
        .find("exact_trace: f returned shape [12] for its input of shape [12, 3] (the state [4, 3] repeated D = 3 times") != std::string::npos);
  CHECK(error_of([&] { hutchinson_jvp([](const Jet& x) { return cast(x, DType::f32); }, state, Tensor::ones(Shape{4, 3}, DType::f64)); })
        == "hutchinson_jvp: f returned f32 for a state of f64");
}

// Jet constructors check finiteness on the host, which a plan cannot do: inside compile() they skip
// it (as ode_taylor's check does) instead of failing the trace.
TEST_CASE("Jet::from_coefficients, from_derivatives and taylor_directional compile: values equal the eager ones") {
  Generator g(27);
  const Var W = Var::parameter(g.uniform(Shape{3, 3}, -1.0, 1.0, DType::f64));
  const JetFn f = [&W](const Jet& z) { return tanh(matmul(z, Jet(W))) * z; };
  const std::vector<std::pair<const char*, VarFunction>> fns = {
      {"taylor_directional", [&f](const std::vector<Var>& in) { return taylor_directional(f, in[0], in[1], 3).coefficients(); }},
      {"from_coefficients", [](const std::vector<Var>& in) { return exp(Jet::from_coefficients(stack({in[0], in[1]}, 0))).coefficients(); }},
      {"from_derivatives", [](const std::vector<Var>& in) { return sin(Jet::from_derivatives(stack({in[0], in[1], in[1]}, 0))).derivatives(); }},
  };
  for (const auto& [name, fn] : fns) {
    const CompiledFunction cf = compile(fn);
    for (int r = 0; r < 3; ++r) {
      INFO(name << ", call " << r);
      const Var z(g.uniform(Shape{2, 3}, -1.0, 1.0, DType::f64)), e(g.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
      const auto got = cf({z, e}).value().to_vector(), want = fn({z, e}).value().to_vector();
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i], want[i], 1e-14, "compiled vs eager");
    }
    CHECK(cf.stats().calls == 3);  // every call served by a plan
  }
}

}  // namespace
}  // namespace tide
