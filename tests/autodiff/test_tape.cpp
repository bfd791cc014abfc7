// The reverse-mode tape: recording and no-grad scopes, accumulation, shared subgraphs, deep
// graphs, higher derivatives, in-place modification detection and error reporting.
#include "../compare.hpp"
#include "tide/tide.hpp"
#include "tide/autodiff/node.hpp"  // the nodes' recording order
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/pointwise.hpp"
#include <doctest/doctest.h>
#include <array>
#include <functional>
#include <cmath>
#include <thread>

using namespace tide;

namespace {
Var scalar_param(double v) { return Var::parameter(Tensor::scalar(v, DType::f64)); }
Tensor vec(std::vector<double> v) { return Tensor::from_vector(v, Shape{static_cast<std::int64_t>(v.size())}, DType::f64); }
}  // namespace

TEST_CASE("ops record only when grad mode is on and an input requires a gradient") {
  const Var x = scalar_param(2.0);
  const Var c(Tensor::scalar(3.0, DType::f64));
  CHECK((x * c).requires_grad());
  CHECK_FALSE((c * c).requires_grad());
  {
    NoGrad ng;
    CHECK_FALSE(grad_enabled());
    CHECK_FALSE((x * c).requires_grad());
    {
      EnableGrad eg;
      CHECK((x * c).requires_grad());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK_FALSE(x.detach().requires_grad());
  CHECK_FALSE(gt(x, c).requires_grad());  // masks carry no gradient
}

TEST_CASE("gradients from several uses of a value are summed") {
  const Var x = scalar_param(1.5);
  const Var y = x * x + sin(x) * x + x;  // dy/dx = 2x + cos(x) x + sin(x) + 1
  const double expect = 2 * 1.5 + std::cos(1.5) * 1.5 + std::sin(1.5) + 1;
  CHECK(grad(y, x).item() == doctest::Approx(expect).epsilon(1e-14));
}

TEST_CASE("a diamond-shaped graph of depth 60 is swept once per node") {
  // y_{k+1} = a(y_k) + b(y_k): a recursive walk would visit 2^60 paths; one sweep visits 120 nodes.
  const Var x = scalar_param(0.3);
  Var y = x;
  for (int k = 0; k < 60; ++k) y = y * 0.5 + y * 0.5;
  CHECK(grad(y, x).item() == doctest::Approx(1.0));
}

TEST_CASE("a chain of 200000 nodes differentiates and frees without recursion") {
  const Var x = scalar_param(1.0);
  Var y = x;
  for (int k = 0; k < 200000; ++k) y = y * 1.0000001;
  CHECK(grad(y, x).item() == doctest::Approx(std::pow(1.0000001, 200000)).epsilon(1e-12));
  y = Var();  // dropping the chain must not overflow the stack
}

TEST_CASE("chains of 200000 nodes that hold an input twice or through a custom backward free without recursion") {
  // h + h holds its input twice; compiled steps, pointwise ops and dense layers hold it again in
  // their backward object: none may free its input chain recursively.
  const Var w = Var::parameter(Tensor::from_vector({0.9, 0.1, -0.1, 0.9}, Shape{2, 2}, DType::f64));
  const CompiledFunction step([&](const std::vector<Var>& x) { return tanh(matmul(x[0], w)); });
  static const auto decay = make_pointwise("decay", 1, [](const auto& v) { return v[0] * 0.999; },
                                           [](const std::vector<Sym>&, Sym g) { return std::vector<Sym>{g * 0.999}; });
  const std::vector<std::pair<const char*, std::function<Var(const Var&)>>> kinds = {
      {"h + h", [](const Var& h) { return h + h; }},
      {"h * h", [](const Var& h) { return h * h; }},
      {"compiled step", [&](const Var& h) { return step({h}); }},
      {"pointwise", [](const Var& h) { return pointwise(decay, {h}); }},
      {"dense", [&](const Var& h) { return dense(h, w, Var(), Activation::tanh); }},
  };
  for (const auto& [name, next] : kinds) {
    INFO(name);
    Var h = Var::parameter(Tensor::from_vector({0.5, -0.5}, Shape{1, 2}, DType::f64));
    for (int k = 0; k < 200000; ++k) h = next(h);
    CHECK(h.node() != nullptr);
    h = Var();  // would overflow the stack if freed recursively
  }
}

TEST_CASE("backward accumulates into parameters until zero_grad") {
  Var w = Var::parameter(vec({1.0, 2.0, 3.0}));
  const Var x(vec({0.5, -1.0, 2.0}));
  backward(sum(w * x));
  CHECK(w.grad().to_vector() == std::vector<double>{0.5, -1.0, 2.0});
  backward(sum(w * x * 2.0));
  CHECK(w.grad().to_vector() == std::vector<double>{1.5, -3.0, 6.0});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  backward(sum(square(w)));
  CHECK(w.grad().to_vector() == std::vector<double>{2.0, 4.0, 6.0});
}

TEST_CASE("grad of grad gives exact higher derivatives") {
  const Var x = scalar_param(0.7);
  const Var y = pow(x, 5.0);
  GradOptions o;
  o.create_graph = true;
  Var d = x;
  Var f = y;
  const double expect[] = {5 * std::pow(0.7, 4), 20 * std::pow(0.7, 3), 60 * 0.49, 120 * 0.7, 120};
  for (int k = 0; k < 5; ++k) {
    f = grad(f, x, o);
    CHECK(f.item() == doctest::Approx(expect[k]).epsilon(1e-12));
  }
  // the fifth derivative is constant: the sixth does not depend on x
  GradOptions unused;
  unused.allow_unused = true;
  CHECK(grad(f, x, unused).item() == 0.0);
}

TEST_CASE("Hessian-vector product of a tanh MLP matches finite differences of the gradient") {
  Generator gen(7);
  const Tensor w1 = gen.normal(Shape{3, 5}, 0, 1, DType::f64), w2 = gen.normal(Shape{5, 1}, 0, 1, DType::f64);
  const Tensor x0 = gen.normal(Shape{2, 3}, 0, 1, DType::f64), v = gen.normal(Shape{2, 3}, 0, 1, DType::f64);
  auto gradient = [&](const Tensor& xt, bool create, Var* xp) {
    Var x = Var::parameter(xt);
    if (xp) *xp = x;
    GradOptions o;
    o.create_graph = create;
    return grad(sum(matmul(tanh(matmul(x, Var(w1))), Var(w2))), x, o);
  };
  Var x;
  const Var g = gradient(x0, true, &x);
  const Tensor hv = grad(sum(g * Var(v)), x).value();
  const double h = 1e-5;
  const Tensor fd = mul_scalar(sub(gradient(add(x0, mul_scalar(v, h)), false, nullptr).value(),
                                   gradient(sub(x0, mul_scalar(v, h)), false, nullptr).value()), 0.5 / h);
  const auto a = hv.to_vector(), b = fd.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-7));
}

TEST_CASE("grad respects grad_outputs and differentiates with respect to intermediate values") {
  const Var x = Var::parameter(vec({1.0, 2.0}));
  const Var h = x * 3.0;
  const Var y = square(h);
  const auto g = grad({y}, {h, x}, {Var(vec({1.0, -1.0}))});
  CHECK(g[0].value().to_vector() == std::vector<double>{6.0, -12.0});
  CHECK(g[1].value().to_vector() == std::vector<double>{18.0, -36.0});
}

TEST_CASE("grad returns gradients the caller may update in place: never one shared by two inputs, nor the caller's grad_output") {
  const Var x1 = Var::parameter(Tensor::from_vector({1.0, 2.0, 3.0}, Shape{3}, DType::f64));
  const Var x2 = Var::parameter(Tensor::from_vector({10.0, 20.0, 30.0}, Shape{3}, DType::f64));
  // add's backward hands one cotangent to both inputs
  std::vector<Var> g = grad({sum(square(x1 + x2))}, {x1, x2});
  Tensor first = g[0].value();  // a handle onto the gradient's storage
  first.fill_(0.0);
  CHECK(g[1].value().to_vector() == std::vector<double>{22.0, 44.0, 66.0});
  // a pass-through sum handed the caller's seed back
  const Var seed(Tensor::ones(Shape{3}, DType::f64));
  g = grad({x1 + x2}, {x1, x2}, {seed});
  Tensor again = g[0].value();
  again.add_(Tensor::scalar(5.0, DType::f64));
  CHECK(seed.value().to_vector() == std::vector<double>{1.0, 1.0, 1.0});
  CHECK(g[1].value().to_vector() == std::vector<double>{1.0, 1.0, 1.0});
  CHECK(g[0].value().to_vector() == std::vector<double>{6.0, 6.0, 6.0});
}

TEST_CASE("grad with create_graph under NoGrad records the sum of an output's seeds when it is listed twice") {
  const Var x = Var::parameter(vec({2.0}));
  const Var y = x * 3.0;
  const Var u1 = Var::parameter(vec({1.0})), u2 = Var::parameter(vec({2.0}));
  Var g;
  {
    NoGrad no_grad;
    g = grad({y, y}, {x}, {u1, u2}, {.create_graph = true})[0];
  }
  CHECK(g.value().to_vector() == std::vector<double>{9.0});
  const auto d = grad({g}, {u1, u2});
  CHECK(d[0].value().to_vector() == std::vector<double>{3.0});
  CHECK(d[1].value().to_vector() == std::vector<double>{3.0});
}

TEST_CASE("grad of a constant output (a gradient taken without create_graph) says so instead of blaming the input") {
  const Var x = Var::parameter(vec({0.7}));
  const Var g = grad(sum(x * x * x), x);  // no create_graph: a constant
  try {
    grad(sum(g), x);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("no output requires a gradient") != std::string::npos);
    CHECK(what.find("create_graph") != std::string::npos);
    CHECK(what.find("allow_unused") == std::string::npos);
  }
  CHECK(grad({sum(g)}, {x}, {}, {.allow_unused = true})[0].value().to_vector() == std::vector<double>{0.0});
}

TEST_CASE("a saved value modified in place before backward is reported") {
  const Var x = Var::parameter(vec({0.5, 1.0}));
  const Var y = tanh(x);  // saves its output
  const Var z = sum(y * 2.0);
  Tensor v = y.value();
  v.add_(vec({1.0, 1.0}));
  try {
    grad(z, x);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("tanh") != std::string::npos);
    CHECK(msg.find("modified in place") != std::string::npos);
  }
  // an op that saves nothing is unaffected
  const Var a = Var::parameter(vec({1.0, 2.0}));
  const Var b = a + 1.0;
  Tensor av = a.value();
  av.mul_(2.0);
  CHECK(grad(sum(b), a).value().to_vector() == std::vector<double>{1.0, 1.0});
}

TEST_CASE("an optimizer step invalidates graphs that saved the old parameter values") {
  const Var w = Var::parameter(vec({1.0, 2.0}));
  const Var loss = sum(square(w));
  SGD opt({w}, {.lr = 0.1});
  backward(loss);
  opt.step();
  CHECK_THROWS_AS(backward(loss), Error);
}

TEST_CASE("grad reports outputs and inputs it cannot use") {
  const Var x = Var::parameter(vec({1.0, 2.0}));
  const Var unused = scalar_param(1.0);
  const Var y = x * 2.0;
  try {
    grad({y}, {x});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("[2]") != std::string::npos);  // names the non-scalar shape
  }
  CHECK_THROWS_AS(grad(sum(y), unused), Error);
  GradOptions o;
  o.allow_unused = true;
  CHECK(grad(sum(y), unused, o).item() == 0.0);
  CHECK_THROWS_AS(grad({sum(y)}, {x}, {Var(vec({1.0, 2.0}))}), Error);  // grad_output shape
}

TEST_CASE("a custom backward whose gradient has the wrong shape or dtype is reported, naming it") {
  struct Wrong final : CustomBackward {
    Tensor g;
    explicit Wrong(Tensor t) : g(std::move(t)) {}
    const char* name() const override { return "wrong op"; }
    std::vector<Var> backward(const Var&) override { return {Var(g)}; }
  };
  const Var x = Var::parameter(Tensor::ones(Shape{2, 3}, DType::f32));
  for (const Tensor& bad : {Tensor::ones(Shape{2, 3}, DType::f64), Tensor::ones(Shape{3, 2}, DType::f32)}) {
    // tanh after it: its one-pass rule must never see a gradient of another dtype
    const Var y = tanh(record_custom(x.value() * 2.0, {x}, std::make_shared<Wrong>(bad)));
    try {
      grad(sum(y), x);
      FAIL("expected an error");
    } catch (const Error& e) {
      const std::string what = e.what();
      CHECK(what.find("wrong op") != std::string::npos);
      CHECK(what.find(bad.str()) != std::string::npos);
      CHECK(what.find("f32[2, 3]") != std::string::npos);
    }
  }
}

TEST_CASE("record_custom refuses a null backward function") {
  const Var x = Var::parameter(Tensor::ones(Shape{2}, DType::f64));
  try {
    (void)record_custom(x.value() * 2.0, {x}, nullptr);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("record_custom: no backward function") != std::string::npos);
  }
}

TEST_CASE("SavedVersions reports the value modified in place, by name or position, inline and spilled, by value or by pointer") {
  const auto message = [](const auto& run) {
    try {
      run();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const std::size_t n : {std::size_t{2}, std::size_t{4}, std::size_t{6}}) {  // 4 fit in the object
    CAPTURE(n);
    std::vector<Tensor> values;
    for (std::size_t i = 0; i < n; ++i) values.push_back(Tensor::ones(Shape{2}, DType::f64));
    std::vector<const Tensor*> pointers;
    for (const Tensor& t : values) pointers.push_back(&t);
    pointers.push_back(nullptr);  // a value not saved: never checked
    SavedVersions taken{std::span<const Tensor>(values)};
    const SavedVersions by_value = std::move(taken);  // a move keeps the versions where they are read
    const SavedVersions by_pointer{std::span<const Tensor* const>(pointers)};
    by_value.check("op", std::span<const Tensor>(values));
    by_pointer.check("op", std::span<const Tensor* const>(pointers));
    values[n - 1].mul_(2.0);
    try {  // moved from: valid, whatever it still holds, and read within range (the sanitizer build checks)
      taken.check("op", std::span<const Tensor>(values));
    } catch (const Error&) {
    }
    const std::string position = "input " + std::to_string(n - 1);
    CHECK(message([&] { by_value.check("op", std::span<const Tensor>(values)); }).find(position) != std::string::npos);
    CHECK(message([&] { by_pointer.check("op", std::span<const Tensor* const>(pointers)); }).find(position) != std::string::npos);
    std::vector<const char*> names(n, "a value");
    names[n - 1] = "the last value";
    CHECK(message([&] { by_pointer.check("op x", std::span<const Tensor* const>(pointers), names); })
              .find("backward of op x: its saved the last value") != std::string::npos);
  }
}

TEST_CASE("gradients flow through f32 and mixed-precision casts") {
  const Var x = Var::parameter(Tensor::from_vector({1.0, 2.0}, Shape{2}, DType::f32));
  const Var y = sum(cast(square(x), DType::f64));
  const Var g = grad(y, x);
  CHECK(g.dtype() == DType::f32);
  CHECK(g.value().to_vector() == std::vector<double>{2.0, 4.0});
}

TEST_CASE("a graph recorded across threads differentiates correctly") {
  // Each thread numbers nodes from its own block; a consumer recorded on a thread whose block is
  // older than its input's must still come after that input in the sweep.
  const Var x = scalar_param(0.5);
  const Var early = x * 2.0;  // this thread takes its block first
  Var from_thread;
  std::thread worker([&] { from_thread = sin(early) * 3.0; });
  worker.join();
  const Var y = square(from_thread) + early;  // recorded here, with this thread's lower numbers
  CHECK(y.node()->sequence > from_thread.node()->sequence);
  const double s = std::sin(1.0);
  CHECK(grad(y, x).item() == doctest::Approx(2 * 3 * s * 3 * std::cos(1.0) * 2 + 2).epsilon(1e-14));
}

TEST_CASE("grad: slices whose gradients are the first to reach their input (disjoint, overlapping, stepped, on two axes) equal the create_graph sweep's") {
  // The sweep makes zeros for such an input and copies a slice's gradient in where no earlier slice
  // wrote, adding it elsewhere; each case orders the slices differently.
  Generator gen(32);
  const Var x = Var::parameter(gen.normal(Shape{4, 8}, 0.0, 1.0, DType::f64));
  const Var c = Var(gen.normal(Shape{4, 8}, 0.0, 1.0, DType::f64));
  using Loss = std::function<Var(const Var&)>;
  auto piece = [&](const Var& z, int axis, std::int64_t a, std::int64_t b, std::int64_t step) {
    const Var s = slice(z, axis, a, b, step);
    return sum(square(s) * slice(c, axis, a, b, step));
  };
  // Each case records its terms in the order given (separate statements: the sweep meets them in
  // the reverse order); the third argument of a term is a slice (axis, start, stop, step), or the
  // whole of z when axis < 0.
  using Term = std::array<std::int64_t, 4>;
  auto sum_of = [&](std::vector<Term> terms) -> Loss {
    return [&, terms](const Var& z) {
      Var total;
      for (const Term& t : terms) {
        const Var term = t[0] < 0 ? sum(z * c) : piece(z, static_cast<int>(t[0]), t[1], t[2], t[3]);
        total = total.defined() ? total + term : term;
      }
      return total;
    };
  };
  const std::vector<Loss> cases = {
      sum_of({{1, 0, 2, 1}, {1, 2, 5, 1}, {1, 5, 8, 1}}),   // disjoint
      sum_of({{1, 0, 4, 1}, {1, 2, 6, 1}, {1, 5, 8, 1}}),   // overlapping
      sum_of({{1, 0, 3, 1}, {0, 1, 3, 1}, {1, 3, 8, 1}}),   // another axis between
      sum_of({{1, 0, 8, 2}, {1, 1, 4, 1}, {1, 5, 8, 1}}),   // stepped
      sum_of({{1, 4, 8, 1}, {1, 0, 4, 1}, {1, 1, 7, 3}}),   // stepped the other way round
      sum_of({{1, 4, 8, 1}, {-1, 0, 0, 0}, {1, 0, 4, 1}}),  // the whole gradient between two disjoint slices
  };
  GradOptions create;
  create.create_graph = true;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    auto loss = [&] { return cases[k](tanh(x)); };  // tanh(x)'s gradient arrives through the slices alone
    const Var fast = grad(std::vector<Var>{loss()}, std::vector<Var>{x})[0];
    const Var recorded = grad(std::vector<Var>{loss()}, std::vector<Var>{x}, {}, create)[0];
    CHECK(test::max_rel_diff(fast.value(), recorded.value()) <= 1e-15);
  }
}

TEST_CASE("grad: in-place accumulation and slice gradients equal the recorded (create_graph) sweep's, with shared gradients") {
  // add hands g to both inputs, so a slot's gradient may be another slot's tensor; slices (stepped,
  // overlapping, of a leaf used directly too) add into their input's gradient; the create_graph
  // sweep builds every sum out of place, so the two must agree exactly.
  Generator gen(31);
  const Var x = Var::parameter(gen.normal(Shape{4, 6}, 0.0, 1.0, DType::f64));
  const Var a = Var::parameter(gen.normal(Shape{4, 6}, 0.0, 1.0, DType::f64));
  auto loss = [&] {
    const Var y = x * a;
    const Var p = sin(x), q = cos(a);
    const Var early = p * a;  // recorded before the sum below, so swept after it: adds into p's gradient last
    const Var pq = p + q;     // p and q get the same tensor as their gradient
    const Var z = y + y;      // z's gradient reaches y twice, as the same tensor
    const Var u = slice(z, 1, 0, 4) * slice(z, 1, 2, 6), w = slice(z, 1, 0, 6, 2) * slice(x, 1, 1, 4);
    const std::vector<Var> parts = split(y, {2, 1, 3}, 1);
    const Var v = sum(square(parts[0])) + sum(tanh(parts[2])) * sum(parts[1]) + sum(slice(x, 0, 1, 3) * slice(a, 0, 0, 2));
    return sum(u * u) + sum(w * w) + v + sum(z * x) + sum(pq * x) + sum(early);
  };
  GradOptions create;
  create.create_graph = true;
  const std::vector<Var> fast = grad(std::vector<Var>{loss()}, std::vector<Var>{x, a});
  const std::vector<Var> recorded = grad(std::vector<Var>{loss()}, std::vector<Var>{x, a}, {}, create);
  for (std::size_t i = 0; i < fast.size(); ++i) CHECK(test::max_rel_diff(fast[i].value(), recorded[i].value()) <= 1e-15);
  // and against f64 central differences
  const std::vector<double> xv = x.value().to_vector(), gx = fast[0].value().to_vector();
  for (std::size_t k = 0; k < xv.size(); k += 5) {
    auto at = [&](double d) {
      std::vector<double> p = xv;
      p[k] += d;
      Tensor xt = x.value();
      xt.copy_(Tensor::from_vector(p, x.shape(), DType::f64));
      NoGrad ng;
      return loss().value().item();
    };
    const double fd = (at(1e-6) - at(-1e-6)) / 2e-6;
    at(0.0);
    CHECK(gx[k] == doctest::Approx(fd).epsilon(1e-6));
  }
}

TEST_CASE("grad with recorded_from differentiates what was recorded from then on, each input independent of the others") {
  Generator gen(9);
  const Var x = Var::parameter(gen.normal(Shape{4}, 0.0, 1.0, DType::f64));
  const Var w = Var::parameter(gen.normal(Shape{4}, 0.0, 1.0, DType::f64));
  const Var v = x * 2.0;  // recorded before: a value the re-run reads, not followed
  GradOptions from;
  from.recorded_from = next_node_sequence();
  const Var h = x * 3.0;  // recorded after, and wanted: its own history (x) is not followed either
  const Var y = sum(h * x + w * x + v * x);
  const auto d = grad({y}, {x, h, w}, {}, from);
  CHECK(test::max_rel_diff(d[0].value(), (h + w + v).value()) <= 1e-15);  // the direct part alone
  CHECK(test::max_rel_diff(d[1].value(), x.value()) <= 1e-15);
  CHECK(test::max_rel_diff(d[2].value(), x.value()) <= 1e-15);
  // without it, every path
  const auto all = grad(std::vector<Var>{y}, std::vector<Var>{x});
  CHECK(test::max_rel_diff(all[0].value(), (x * 10.0 + w).value()) <= 1e-14);
}

TEST_CASE("grad copies each gradient that shares storage with an input, an output, a grad_output or an earlier gradient, and no other") {
  struct Hands final : CustomBackward {  // hands back a tensor it holds as its input's gradient
    Tensor g;
    explicit Hands(Tensor t) : g(std::move(t)) {}
    const char* name() const override { return "hands"; }
    std::vector<Var> backward(const Var&) override { return {Var(g)}; }
  };
  constexpr int n = 300;
  const Tensor seed_bank = Tensor::from_vector(std::vector<double>(3 * n, 1.0), Shape{3 * n}, DType::f64);
  std::vector<Var> xs, ys, seeds;
  std::vector<Tensor> handed(n);
  for (int i = 0; i < n; ++i) {
    xs.push_back(Var::parameter(vec({double(i), 0.5, 1.0})));
    seeds.emplace_back(seed_bank.slice(0, 3 * i, 3 * i + 3));  // views at offset 3i of one storage
  }
  for (int i = 0; i < n; ++i) {
    const Tensor out = xs[i].value() * 2.0;
    if (i % 3 == 0) handed[i] = xs[i + 1].value().reshape(Shape{1, 3}).reshape(Shape{3});  // an input's
    else if (i % 3 == 1) handed[i] = i % 2 == 0 ? out : seeds[(7 * i) % n].value();        // an output's, a seed's
    else handed[i] = i % 6 == 5 ? handed[i - 3] : Tensor::full(Shape{3}, -i, DType::f64);  // an earlier gradient's, fresh
    ys.push_back(record_custom(out, {xs[i]}, std::make_shared<Hands>(handed[i])));
  }
  const std::vector<Var> g = grad(ys, xs, seeds);
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(g[i].value().to_vector() == handed[i].to_vector());
    CHECK(g[i].value().shares_storage_with(handed[i]) == (i % 6 == 2));  // only the fresh ones are returned as they are
  }
  Tensor first = g[0].value();
  first.fill_(7.0);  // a private copy: x_1 keeps its values
  CHECK(xs[1].value().to_vector() == std::vector<double>{1.0, 0.5, 1.0});
}
