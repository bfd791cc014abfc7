// Fused pointwise ops (autodiff/pointwise.hpp) against their composites: values, every input's
// gradient with broadcasting, second derivatives through the create_graph fallback, no recording
// when nothing requires a gradient, and the errors.
#include "../compare.hpp"
#include "tide/autodiff/pointwise.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <random>

using namespace tide;
using test::max_rel_diff;

namespace {

// f(a, b, c, d) = tanh(a * b + c) * sigmoid(d) - exp(a) * 0.5, with a [B, H], b [H], c [B, 1], d [B, H].
template <class T> T formula(const std::vector<T>& v) { return tanh(v[0] * v[1] + v[2]) * sigmoid(v[3]) - exp(v[0]) * 0.5; }

std::vector<Sym> formula_vjp(const std::vector<Sym>& v, Sym g) {
  const Sym t = tanh(v[0] * v[1] + v[2]), s = sigmoid(v[3]);
  const Sym du = g * s * (1.0 - square(t));  // d/d(a b + c)
  return {du * v[1] - g * exp(v[0]) * 0.5, du * v[0], du, g * t * (s * (1.0 - s))};
}

const std::shared_ptr<const PointwiseOp>& test_op() {
  static const auto op = make_pointwise("test op", 4, [](const auto& v) { return formula(v); }, formula_vjp);
  return op;
}

std::vector<Var> inputs(Generator& gen, std::int64_t B, std::int64_t H, DType dt) {
  auto p = [](Tensor t) { return Var::parameter(std::move(t)); };
  return {p(gen.uniform(Shape{B, H}, -1.0, 1.0, dt)), p(gen.uniform(Shape{H}, -2.0, 2.0, dt)), p(gen.uniform(Shape{B, 1}, -1.0, 1.0, dt)),
          p(gen.uniform(Shape{B, H}, -3.0, 3.0, dt))};
}

}  // namespace

TEST_CASE("pointwise: values and every input's gradient equal the composite's, with broadcast inputs, f64 and f32") {
  Generator gen(3);
  for (DType dt : {DType::f64, DType::f32}) {
    for (auto [B, H] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{33, 64}, std::pair{3, 700}}) {  // 3 x 700: several blocks
      INFO(dtype_name(dt) << " B " << B << " H " << H);
      const std::vector<Var> in = inputs(gen, B, H, dt);
      const Var f = pointwise(test_op(), in), c = formula(in);
      CHECK(f.shape() == Shape{B, H});
      CHECK(max_rel_diff(f.value(), c.value()) <= (dt == DType::f64 ? 1e-14 : 1e-6));
      const Var w(gen.normal(Shape{B, H}, 0.0, 1.0, dt));
      const std::vector<Var> gf = grad({sum(f * w)}, in), gc = grad({sum(c * w)}, in);
      for (std::size_t i = 0; i < in.size(); ++i) {
        INFO("input " << i);
        CHECK(gf[i].shape() == in[i].shape());
        CHECK(max_rel_diff(gf[i].value(), gc[i].value()) <= (dt == DType::f64 ? 1e-12 : 1e-4));
      }
    }
  }
}

TEST_CASE("pointwise: only the inputs that require a gradient get one; constants and NoGrad record nothing") {
  Generator gen(4);
  std::vector<Var> in = inputs(gen, 4, 3, DType::f64);
  in[1] = Var(in[1].value());  // a constant bias
  const Var f = pointwise(test_op(), in);
  const std::vector<Var> g = grad({sum(f)}, {in[0], in[2], in[3]});
  const std::vector<Var> c = grad({sum(formula(in))}, {in[0], in[2], in[3]});
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(max_rel_diff(g[i].value(), c[i].value()) <= 1e-12);
  {
    NoGrad ng;
    CHECK_FALSE(pointwise(test_op(), in).requires_grad());
  }
  const std::vector<Var> constants{Var(in[0].value()), Var(in[1].value()), Var(in[2].value()), Var(in[3].value())};
  CHECK_FALSE(pointwise(test_op(), constants).requires_grad());
}

TEST_CASE("pointwise: second derivatives through the create_graph fallback equal the composite's") {
  Generator gen(5);
  const std::vector<Var> in = inputs(gen, 3, 4, DType::f64);
  GradOptions create;
  create.create_graph = true;
  auto second = [&](auto op) {
    const Var da = grad({sum(square(op(in)))}, {in[0]}, {}, create)[0];
    return grad({sum(square(da))}, in);
  };
  const auto f = second([](const std::vector<Var>& v) { return pointwise(test_op(), v); });
  const auto c = second([](const std::vector<Var>& v) { return formula(v); });
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(max_rel_diff(f[i].value(), c[i].value()) <= 1e-12);

  // inputs computed from one another (d from a): the op's own derivative treats them as independent
  // values; the chain rule through d's history is the sweep's, once
  auto dependent = [&](auto op) {
    const std::vector<Var> v{in[0], in[1], in[2], sin(in[0]) * 2.0};
    const Var da = grad({sum(square(op(v)))}, {in[0]}, {}, create)[0];
    return grad({sum(square(da))}, {in[0], in[1], in[2]});
  };
  const auto fd = dependent([](const std::vector<Var>& v) { return pointwise(test_op(), v); });
  const auto cd = dependent([](const std::vector<Var>& v) { return formula(v); });
  for (std::size_t i = 0; i < fd.size(); ++i) CHECK(max_rel_diff(fd[i].value(), cd[i].value()) <= 1e-12);

  // one input at two positions (a and d): its gradient counted once
  auto repeated = [&](auto op) {
    const std::vector<Var> v{in[0], in[1], in[2], in[0]};
    const Var da = grad({sum(square(op(v)))}, {in[0]}, {}, create)[0];
    return grad({sum(square(da))}, {in[0], in[1], in[2]});
  };
  const auto fr = repeated([](const std::vector<Var>& v) { return pointwise(test_op(), v); });
  const auto cr = repeated([](const std::vector<Var>& v) { return formula(v); });
  for (std::size_t i = 0; i < fr.size(); ++i) CHECK(max_rel_diff(fr[i].value(), cr[i].value()) <= 1e-12);
}

TEST_CASE("pointwise: a wrong input count, mixed dtypes or shapes that do not broadcast are refused, naming the op and the input") {
  Generator gen(6);
  std::vector<Var> in = inputs(gen, 4, 3, DType::f64);
  CHECK_THROWS_WITH_AS(pointwise(test_op(), {in[0], in[1]}), doctest::Contains("test op: 4 inputs expected, got 2"), Error);
  std::vector<Var> mixed = in;
  mixed[2] = Var(Tensor::zeros(Shape{4, 1}, DType::f32));
  CHECK_THROWS_WITH_AS(pointwise(test_op(), mixed), doctest::Contains("test op: input 2 is f32"), Error);
  std::vector<Var> wide = in;
  wide[1] = Var(Tensor::zeros(Shape{5}, DType::f64));
  CHECK_THROWS_WITH_AS(pointwise(test_op(), wide), doctest::Contains("test op (input 1)"), Error);
}

TEST_CASE("PointwiseBuilder: refuses a non-elementwise op and inputs out of range") {
  PointwiseBuilder b(1);
  CHECK_THROWS_WITH_AS(b.input(1), doctest::Contains("input 1 of 1"), Error);
  CHECK_THROWS_WITH_AS(b.unary(Op::sum, b.input(0)), doctest::Contains("sum is not a unary op"), Error);
  CHECK_THROWS_WITH_AS(b.binary(Op::tanh, b.input(0), b.input(0)), doctest::Contains("tanh is not a binary op"), Error);
  CHECK_THROWS_WITH_AS(tanh(Sym{}), doctest::Contains("a value of no program"), Error);
  PointwiseBuilder other(1);
  CHECK_THROWS_WITH_AS(b.input(0) + other.input(0), doctest::Contains("the second operand is not a value of this program"), Error);
  CHECK_THROWS_WITH_AS(b.program({other.input(0)}), doctest::Contains("an output is not a value of this program"), Error);
  CHECK_THROWS_WITH_AS(make_pointwise("short vjp", 2, [](const auto& v) { return v[0] * v[1]; },
                                      [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * v[1]}; }),
                       doctest::Contains("the vjp gives 1 gradients for 2 inputs"), Error);
}

TEST_CASE("pointwise: an input modified in place after the op recorded it is reported by the backward, naming the op") {
  Generator gen(7);
  const std::vector<Var> in = inputs(gen, 3, 4, DType::f64);
  const Var f = pointwise(test_op(), in);
  Tensor a = in[0].value();
  a.mul_(2.0);
  CHECK_THROWS_WITH_AS(grad(std::vector<Var>{sum(f)}, in), doctest::Contains("backward of test op: its saved input 0"), Error);
}

TEST_CASE("pointwise: an op built in a local scope stays alive with its nodes; an input it gives no gradient must not require one") {
  Generator gen(8);
  const Var a = Var::parameter(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64));
  const Var flag(Tensor::scalar(2.0, DType::f64));
  Var y;
  {
    const auto local = make_pointwise("scaled square", 2, [](const auto& v) { return square(v[0]) * v[1]; },
                                      [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * v[0] * v[1] * 2.0, Sym{}}; });
    y = pointwise(local, {a, flag});
  }  // the op's last owner outside the tape is gone
  CHECK(test::max_rel_diff(grad(sum(y), a).value(), mul_scalar(a.value(), 4.0)) <= 1e-15);
  const auto op = make_pointwise("scaled square", 2, [](const auto& v) { return square(v[0]) * v[1]; },
                                 [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * v[0] * v[1] * 2.0, Sym{}}; });
  CHECK_THROWS_WITH_AS(pointwise(op, {a, Var::parameter(Tensor::scalar(2.0, DType::f64))}),
                       doctest::Contains("scaled square: input 1 requires a gradient, but the op is not differentiable in it"), Error);
}

TEST_CASE("without_dead_steps keeps only what the outputs need, with the same values") {
  PointwiseBuilder b(2);
  const Sym x = b.input(0), y = b.input(1);
  const Sym unused = exp(x) * y;
  const Sym t = tanh(x);
  const Sym kept = t * y + 1.0;
  (void)unused;
  const ElementwiseProgram full = b.program({kept, t}), pruned = without_dead_steps(full);
  CHECK(full.steps.size() == 5);
  CHECK(pruned.steps.size() == 3);
  Generator gen(9);
  const Tensor in[2] = {gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64), gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64)};
  auto run = [&](const ElementwiseProgram& p) {
    std::vector<Tensor> out{Tensor::empty(Shape{4, 3}, DType::f64), Tensor::empty(Shape{4, 3}, DType::f64)};
    in[0].backend().elementwise(p, in, out);
    return out;
  };
  const auto a = run(full), c = run(pruned);
  for (std::size_t i = 0; i < 2; ++i) CHECK(test::max_rel_diff(a[i], c[i]) == 0.0);
}

TEST_CASE("with_equal_steps_merged evaluates a repeated step once, keeping -0 apart from +0; without_unused_inputs renumbers") {
  PointwiseBuilder b(3);
  const Sym x = b.input(0), z = b.input(2);
  const Sym first = tanh(x + z) * 2.0, again = tanh(x + z) * 2.0;  // 3 steps, then 3 equal ones
  const Sym plus = x + 0.0, minus = b.unary(Op::add_scalar, x, -0.0);  // differ for x = -0
  const Sym xz = exp(x - z), zx = exp(z - x);                            // operand order counts
  const Sym low = b.unary(Op::clamp, x, 0.0, 1.0), high = b.unary(Op::clamp, x, 0.0, 2.0);  // so does p1
  const ElementwiseProgram full = b.program({first, again, plus, minus, xz, zx, low, high});
  const ElementwiseProgram merged = with_equal_steps_merged(full);
  auto tanh_steps = [](const ElementwiseProgram& p) {
    return std::count_if(p.steps.begin(), p.steps.end(), [](const ElementwiseStep& s) { return s.op == Op::tanh; });
  };
  CHECK(tanh_steps(full) == 2);
  CHECK(tanh_steps(merged) == 1);
  CHECK(merged.outputs[0] == merged.outputs[1]);
  for (std::size_t i = 2; i < 8; i += 2) CHECK(merged.outputs[i] != merged.outputs[i + 1]);
  std::vector<int> kept;
  const ElementwiseProgram two = without_unused_inputs(merged, kept);  // input 1 is never read
  CHECK(kept == std::vector<int>{0, 2});
  CHECK(two.n_inputs == 2);
  Generator gen(10);
  Tensor xs = gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64);
  xs.data<double>()[0] = -0.0;
  const Tensor zs = gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64), unused = Tensor::zeros(Shape{2, 3}, DType::f64);
  auto run = [](const ElementwiseProgram& p, std::vector<Tensor> in) {
    std::vector<Tensor> out;
    for (int i = 0; i < 8; ++i) out.push_back(Tensor::empty(Shape{2, 3}, DType::f64));
    in[0].backend().elementwise(p, in, out);
    return out;
  };
  const auto a = run(full, {xs, unused, zs}), m = run(merged, {xs, unused, zs}), t = run(two, {xs, zs});
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(test::max_rel_diff(a[i], m[i]) == 0.0);
    CHECK(test::max_rel_diff(a[i], t[i]) == 0.0);
  }
  CHECK(std::signbit(m[3].data<double>()[0]));
  CHECK_FALSE(std::signbit(m[2].data<double>()[0]));
}

TEST_CASE("make_pointwise: the forward of a recorded call also writes the costly values the vjp reads, and the backward evaluates none") {
  const PointwiseOp& op = *test_op();
  auto costly_steps = [](const ElementwiseProgram& p) {
    int n = 0;
    for (const ElementwiseStep& s : p.steps) n += (s.op == Op::tanh || s.op == Op::sigmoid || s.op == Op::exp) ? 1 : 0;
    return n;
  };
  CHECK(op.n_saved == 3);  // tanh(a b + c), sigmoid(d), exp(a)
  CHECK(op.forward_saving.outputs.size() == 4);
  CHECK(costly_steps(op.forward) == 3);
  CHECK(costly_steps(op.forward_saving) == 3);  // each evaluated once, shared with the output
  CHECK(costly_steps(op.backward) == 0);
  CHECK(op.backward.n_inputs == 4 + 3 + 1);
  // an op whose vjp reads no costly value saves nothing
  const auto plain = make_pointwise("product", 2, [](const auto& v) { return v[0] * v[1]; },
                                    [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * v[1], g * v[0]}; });
  CHECK(plain->n_saved == 0);
  CHECK(plain->backward.n_inputs == 3);
}

TEST_CASE("make_pointwise saves only the costly values the forward computes too, each once") {
  auto count = [](const ElementwiseProgram& p, Op op) {
    return static_cast<int>(std::count_if(p.steps.begin(), p.steps.end(), [op](const ElementwiseStep& s) { return s.op == op; }));
  };
  auto check_gradient = [](const std::shared_ptr<const PointwiseOp>& op, auto composite) {
    Generator gen(12);
    const std::vector<Var> in{Var::parameter(gen.uniform(Shape{3, 5}, -2.0, 2.0, DType::f64))};
    const Var f = pointwise(op, in), c = composite(in[0]);
    CHECK(test::max_rel_diff(f.value(), c.value()) <= 1e-14);
    CHECK(test::max_rel_diff(grad({sum(f * f)}, in)[0].value(), grad({sum(c * c)}, in)[0].value()) <= 1e-12);
  };
  SUBCASE("exp(sin x): exp saved; sin read only by it is not; cos, which only the vjp computes, stays in the backward") {
    const auto op = make_pointwise("exp sin", 1, [](const auto& v) { return exp(sin(v[0])); },
                                   [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * exp(sin(v[0])) * cos(v[0])}; });
    CHECK(op->n_saved == 1);
    CHECK(count(op->backward, Op::exp) + count(op->backward, Op::sin) == 0);
    CHECK(count(op->backward, Op::cos) == 1);
    CHECK(count(op->forward_saving, Op::cos) == 0);
    check_gradient(op, [](const Var& x) { return exp(sin(x)); });
  }
  SUBCASE("log1p(exp x) with the vjp g sigmoid(x): nothing shared, nothing saved") {
    const auto op = make_pointwise("softplus form", 1, [](const auto& v) { return log1p(exp(v[0])); },
                                   [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g * sigmoid(v[0])}; });
    CHECK(op->n_saved == 0);
    CHECK(op->backward.n_inputs == 2);
    check_gradient(op, [](const Var& x) { return log1p(exp(x)); });
  }
  SUBCASE("tanh x with a vjp computing tanh twice: saved once, though it is also the output") {
    const auto op = make_pointwise("tanh", 1, [](const auto& v) { return tanh(v[0]); },
                                   [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{g - g * tanh(v[0]) * tanh(v[0])}; });
    CHECK(op->n_saved == 1);  // tanh once, though the vjp computes it twice
    CHECK(count(op->forward_saving, Op::tanh) == 1);
    CHECK(count(op->backward, Op::tanh) == 0);
    check_gradient(op, [](const Var& x) { return tanh(x); });
  }
  SUBCASE("an input with no gradient before one with a saved value") {
    const auto op = make_pointwise("scaled exp", 2, [](const auto& v) { return exp(v[1]) * v[0]; },
                                   [](const std::vector<Sym>& v, Sym g) { return std::vector<Sym>{Sym{}, g * exp(v[1]) * v[0]}; });
    CHECK(op->n_saved == 1);
    CHECK(op->gradient[0] == -1);
    Generator gen(15);
    const Var scale(gen.uniform(Shape{2, 3}, 0.5, 2.0, DType::f64));
    const Var x = Var::parameter(gen.uniform(Shape{2, 3}, -1.0, 1.0, DType::f64));
    const Var d = grad({sum(pointwise(op, {scale, x}))}, std::vector<Var>{x})[0];
    CHECK(test::max_rel_diff(d.value(), (exp(x) * scale).value()) <= 1e-15);
  }
  SUBCASE("a sum, whose gradients are the cotangent itself") {
    const auto op = make_pointwise("sum of two", 2, [](const auto& v) { return v[0] + v[1]; },
                                   [](const std::vector<Sym>&, Sym g) { return std::vector<Sym>{g, g}; });
    CHECK(op->n_saved == 0);
    Generator gen(13);
    const std::vector<Var> in{Var::parameter(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64)), Var::parameter(gen.normal(Shape{3}, 0.0, 1.0, DType::f64))};
    const std::vector<Var> g = grad({sum(pointwise(op, in))}, in);
    CHECK(test::max_rel_diff(g[0].value(), Tensor::ones(Shape{2, 3}, DType::f64)) == 0.0);
    CHECK(test::max_rel_diff(g[1].value(), Tensor::full(Shape{3}, 2.0, DType::f64)) == 0.0);
  }
}

TEST_CASE("pointwise: a recorded call's output equals an unrecorded one's bit for bit; one input's gradient alone is the composite's") {
  Generator gen(14);
  for (DType dt : {DType::f64, DType::f32}) {
    const std::vector<Var> in = inputs(gen, 6, 9, dt);
    const Var recorded = pointwise(test_op(), in);
    Var plain;
    {
      NoGrad ng;
      plain = pointwise(test_op(), in);
    }
    CHECK(test::max_rel_diff(recorded.value(), plain.value()) == 0.0);
    for (std::size_t i = 0; i < in.size(); ++i) {
      INFO(dtype_name(dt) << " input " << i);
      std::vector<Var> only = in;  // the others constants: the backward program computes in[i]'s alone
      for (std::size_t j = 0; j < in.size(); ++j)
        if (j != i) only[j] = Var(in[j].value());
      const Var one = grad({sum(square(pointwise(test_op(), only)))}, std::vector<Var>{only[i]})[0];
      const Var c = grad({sum(square(formula(only)))}, std::vector<Var>{only[i]})[0];
      CHECK(test::max_rel_diff(one.value(), c.value()) <= (dt == DType::f64 ? 1e-12 : 1e-4));
    }
  }
}

TEST_CASE("equal_values refuses a step reading a later value; without_unused_inputs keeps an input that is an output") {
  ElementwiseProgram bad;
  bad.n_inputs = 1;
  bad.steps.push_back({Op::neg, 0.0, 0.0, {2, -1, -1}});
  bad.steps.push_back({Op::neg, 0.0, 0.0, {0, -1, -1}});
  CHECK_THROWS_WITH_AS(equal_values(bad), doctest::Contains("step 0 reads value 2"), Error);
  PointwiseBuilder b(3);
  const ElementwiseProgram p = b.program({b.input(2), exp(b.input(1))});
  std::vector<int> kept;
  const ElementwiseProgram two = without_unused_inputs(p, kept);
  CHECK(kept == std::vector<int>{1, 2});
  CHECK(two.outputs == std::vector<int>{1, 2});
}

TEST_CASE("a long program's values are the same as step by step: scratch shared between values never holds one still needed") {
  // Random programs of 80 steps over 3 inputs (one a row broadcast over [B, H]), each step reading
  // recent and far earlier values, an input or the same value twice; outputs are steps (one of
  // them twice, one also read later), the last step and an input. The reference runs every step
  // as a program of its own, so no scratch outlives a step there.
  Generator gen(17);
  std::mt19937 pick(5);
  const Op unary_ops[] = {Op::tanh, Op::neg, Op::sigmoid, Op::sin};
  const Op binary_ops[] = {Op::add, Op::mul, Op::sub, Op::maximum};
  for (const std::int64_t H : {7, 700}) {  // one block; several blocks of a row-periodic input
    const std::int64_t B = 5;
    const std::vector<Tensor> in{gen.normal(Shape{B, H}, 0.0, 1.0, DType::f64), gen.normal(Shape{B, H}, 0.0, 1.0, DType::f64),
                                 gen.normal(Shape{H}, 0.0, 1.0, DType::f64).broadcast_to(Shape{B, H})};
    PointwiseBuilder b(3);
    std::vector<Sym> v{b.input(0), b.input(1), b.input(2)};
    std::vector<Tensor> ref(in.begin(), in.end());
    auto any = [&](std::size_t back) {
      const std::size_t n = v.size(), lo = n > back ? n - back : 0;
      return std::uniform_int_distribution<std::size_t>(lo, n - 1)(pick);
    };
    for (int k = 0; k < 80; ++k) {
      const std::size_t x = any(k % 5 == 0 ? v.size() : 4), y = k % 7 == 0 ? x : any(k % 3 == 0 ? v.size() : 3);
      const bool un = k % 4 == 1;
      const Op op = un ? unary_ops[(k / 4) % 4] : binary_ops[(k / 2) % 4];
      const Sym s = un ? b.unary(op, v[x]) : b.binary(op, v[x], v[y]);
      PointwiseBuilder one(2);
      const Sym s1 = un ? one.unary(op, one.input(0)) : one.binary(op, one.input(0), one.input(1));
      std::vector<Tensor> out{Tensor::empty(Shape{B, H}, DType::f64)};
      const std::vector<Tensor> args{ref[x], ref[y]};
      in[0].backend().elementwise(one.program({s1}), args, out);
      v.push_back(s);
      ref.push_back(out[0]);
    }
    const std::vector<std::size_t> outs{10, 40, 10, 3 + 79, 1, 20};
    std::vector<Sym> syms;
    for (std::size_t o : outs) syms.push_back(v[o]);
    std::vector<Tensor> got;
    for (std::size_t i = 0; i < outs.size(); ++i) got.push_back(Tensor::empty(Shape{B, H}, DType::f64));
    in[0].backend().elementwise(b.program(syms), in, got);
    for (std::size_t i = 0; i < outs.size(); ++i) {
      INFO("H " << H << " output " << i << " (value " << outs[i] << ")");
      CHECK(test::max_rel_diff(got[i], ref[outs[i]]) == 0.0);
    }
  }
}

TEST_CASE("the CPU's elementwise refuses a program that does not fit its inputs and outputs, naming the mismatch") {
  PointwiseBuilder b(2);
  const ElementwiseProgram p = b.program({b.input(0) * b.input(1)});
  const Tensor x = Tensor::ones(Shape{3}, DType::f64);
  std::vector<Tensor> one_out{Tensor::empty(Shape{3}, DType::f64)}, two_out{one_out[0], Tensor::empty(Shape{3}, DType::f64)};
  const std::vector<Tensor> one_in{x}, two_in{x, x};
  CHECK_THROWS_WITH_AS(x.backend().elementwise(p, one_in, one_out), doctest::Contains("reads 2 inputs, 1 given"), Error);
  CHECK_THROWS_WITH_AS(x.backend().elementwise(p, two_in, two_out), doctest::Contains("writes 1 outputs, 2 given"), Error);
  ElementwiseProgram ahead = p;
  ahead.steps[0].in[1] = 2;  // its own value
  CHECK_THROWS_WITH_AS(x.backend().elementwise(ahead, two_in, one_out), doctest::Contains("step 0 reads value 2"), Error);
  ElementwiseProgram beyond = p;
  beyond.outputs[0] = 3;
  CHECK_THROWS_WITH_AS(x.backend().elementwise(beyond, two_in, one_out), doctest::Contains("output names value 3 of 3"), Error);
  x.backend().elementwise(p, two_in, one_out);
  CHECK(one_out[0].to_vector() == std::vector<double>{1, 1, 1});
}
