// Regression tests for problems found in review: each failed (crash, wrong value or NaN) before
// its fix.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

using namespace tide;

namespace {
Tensor vec(std::vector<double> v) { return Tensor::from_vector(v, Shape{static_cast<std::int64_t>(v.size())}, DType::f64); }
}  // namespace

TEST_CASE("tensors with a zero extent reshape, reduce and stack") {
  CHECK(Tensor::zeros(Shape{2, 0}).is_contiguous());
  CHECK(Tensor::zeros(Shape{2, 0}).reshape(Shape{0, 2}).shape() == Shape{0, 2});
  CHECK(sum(Tensor::zeros(Shape{3, 2, 0}), {0}).shape() == Shape{2, 0});
  const Var x = Var::parameter(Tensor::zeros(Shape{2, 0}, DType::f64));
  CHECK(grad(sum(flatten(x)), x).shape() == Shape{2, 0});
}

TEST_CASE("a shape whose byte count overflows is an error, not a tiny allocation") {
  CHECK_THROWS_WITH_AS(Tensor::zeros(Shape{std::int64_t(1) << 61}, DType::f64), doctest::Contains("too large"), Error);
  CHECK_THROWS_AS(Tensor::zeros(Shape{std::int64_t(1) << 32, std::int64_t(1) << 32}), Error);
}

TEST_CASE("split of a Var refuses sizes whose sum overflows") {
  const Var x = Var::parameter(Tensor::zeros(Shape{3}, DType::f64));
  const std::int64_t most = std::numeric_limits<std::int64_t>::max();
  CHECK_THROWS_WITH_AS(split(x, {most, most, 5}, 0), doctest::Contains("9223372036854775807, 9223372036854775807, 5"), Error);
  CHECK_THROWS_WITH_AS(split(x, {4, -1}, 0), doctest::Contains("negative"), Error);
  CHECK(split(x, {1, 2}, 0)[1].shape() == Shape{2});
}

TEST_CASE("split of a Var and of a Tensor refuse bad sizes with the same message (one shared check)") {
  const Tensor t = Tensor::zeros(Shape{2, 3}, DType::f64);
  const Var x = Var::parameter(t);
  const std::int64_t most = std::numeric_limits<std::int64_t>::max();
  const auto message = [](const auto& fn) -> std::string {
    try { fn(); } catch (const Error& e) { return e.what(); }
    return "no error";
  };
  for (const std::vector<std::int64_t>& sizes : {std::vector<std::int64_t>{most, most, 5}, {4, -1}, {1, 1}}) {
    const std::string of_tensor = message([&] { split(t, sizes, -1); });
    CHECK(of_tensor.find("axis 1 of [2, 3]") != std::string::npos);
    CHECK(message([&] { split(x, sizes, -1); }) == of_tensor);
  }
}

TEST_CASE("in-place writes into a broadcast view are refused") {
  Tensor b = Tensor::zeros(Shape{1}, DType::f64).broadcast_to(Shape{3});
  CHECK_THROWS_WITH_AS(b.add_(vec({1, 2, 3})), doctest::Contains("broadcast view"), Error);
  CHECK_THROWS_AS(b.copy_(vec({1, 2, 3})), Error);
  CHECK_THROWS_AS(b.mul_(2.0), Error);
  // a parameter made from a broadcast view owns dense storage, so SGD updates each element
  const Var p = Var::parameter(b);
  SGD opt({p}, {.lr = 1.0});
  backward(sum(p * Var(vec({1, 2, 3}))));
  opt.step();
  CHECK(p.value().to_vector() == std::vector<double>{-1, -2, -3});
}

TEST_CASE("gradients accumulate correctly onto a broadcast gradient and never into the caller's tensor") {
  Var x = Var::parameter(vec({1, 2, 3}));
  const Tensor g = Tensor::ones(Shape{1}, DType::f64).broadcast_to(Shape{3});  // a broadcast view
  x.set_grad(g);
  CHECK(grad(sum(x), x).value().is_contiguous());  // grad() hands out dense tensors
  backward(sum(x * Var(vec({1, 2, 3}))));
  CHECK(x.grad().to_vector() == std::vector<double>{2, 3, 4});
  CHECK(g.to_vector() == std::vector<double>{1, 1, 1});
  const Tensor mine = vec({5, 5, 5});
  x.set_grad(mine);
  backward(sum(x));
  CHECK(mine.to_vector() == std::vector<double>{5, 5, 5});
  CHECK(x.grad().to_vector() == std::vector<double>{6, 6, 6});
  CHECK_THROWS_AS(x.set_grad(Tensor::zeros(Shape{3}, DType::f32)), Error);  // dtype
}

TEST_CASE("grad runs concurrently on graphs that share a parameter") {
  const Var w = Var::parameter(Tensor::scalar(2.0, DType::f64));
  std::atomic<int> wrong{0};
  auto work = [&](int depth) {
    for (int it = 0; it < 300; ++it) {
      Var y = w;
      for (int k = 0; k < depth; ++k) y = y * 1.0;
      if (grad(y * w, w).item() != 4.0) ++wrong;
    }
  };
  std::thread a(work, 1), b(work, 50);
  a.join();
  b.join();
  CHECK(wrong == 0);
}

TEST_CASE("backward of a loss that depends on no parameter is an error") {
  CHECK_THROWS_WITH_AS(backward(sum(Var(vec({1, 2})))), doctest::Contains("does not depend"), Error);
  const Var x = Var::parameter(vec({1, 2}));
  CHECK_THROWS_AS(grad({sum(x)}, {x}, {Var(Tensor::ones(Shape{}, DType::f32))}), Error);  // seed dtype
}

TEST_CASE("matmul of two vectors is their dot product, with gradients") {
  const Var a = Var::parameter(vec({1, 2, 3})), b = Var::parameter(vec({4, 5, 6}));
  const Var d = matmul(a, b);
  CHECK(d.rank() == 0);
  CHECK(d.item() == 32.0);
  CHECK(grad(d, a).value().to_vector() == std::vector<double>{4, 5, 6});
}

TEST_CASE("matmul gradients with an empty inner extent are zeros") {
  const Var a = Var::parameter(Tensor::zeros(Shape{2, 3, 0}, DType::f64));
  const Var b = Var::parameter(Tensor::zeros(Shape{0, 4}, DType::f64));
  const auto g = grad({sum(matmul(a, b))}, {a, b});
  CHECK(g[0].shape() == Shape{2, 3, 0});
  CHECK(g[1].shape() == Shape{0, 4});
}

TEST_CASE("Var matmul errors with a 1-d operand name the caller's shapes") {
  const Var v = Var::parameter(vec({1, 2, 3}));
  const Var m(Tensor::ones(Shape{4, 5}, DType::f64));
  CHECK_THROWS_WITH_AS(matmul(v, m), doctest::Contains("[3] @ [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(matmul(m, v), doctest::Contains("[4, 5] @ [3]"), Error);
  CHECK_THROWS_WITH_AS(matmul(v, Var(vec({1, 2}))), doctest::Contains("[3] @ [2]"), Error);
  CHECK_THROWS_WITH_AS(matmul(Var(Tensor::scalar(1.0, DType::f64)), v), doctest::Contains("scalar operand ([] @ [3])"), Error);
}

TEST_CASE("max and min send a NaN output's gradient to its NaNs: a zero cotangent gives zeros") {
  const Var x = Var::parameter(Tensor::from_vector({1, NAN, 3, NAN, 4, 5, 6, 2}, Shape{2, 4}, DType::f64));
  const Var zero(Tensor::zeros(Shape{}, DType::f64));
  for (bool is_max : {true, false}) {
    INFO(is_max);
    const Var m = is_max ? max(x, {1}) : min(x, {1});  // [NaN, 6] or [NaN, 2]
    CHECK(std::isnan(m.value().to_vector()[0]));
    // the NaN row masked out of the loss: no NaN reaches x's gradient
    const std::vector<double> masked = grad(sum(where(eq(m, m), m, zero)), x).value().to_vector();
    CHECK(masked == std::vector<double>{0, 0, 0, 0, 0, 0, is_max ? 1.0 : 0.0, is_max ? 0.0 : 1.0});
    // a cotangent reaching the NaN output is split between the row's NaNs (as between ties)
    const std::vector<double> all = grad(sum(m * Var(vec({2, 1}))), x).value().to_vector();
    CHECK(all[1] == 1.0);
    CHECK(all[3] == 1.0);
    CHECK(all[0] == 0.0);
    CHECK(all[2] == 0.0);
  }
}

TEST_CASE("dense with an empty feature axis and several leading axes gives the bias, with gradients") {
  const Tensor x = Tensor::zeros(Shape{2, 3, 0}, DType::f64), w = Tensor::zeros(Shape{0, 4}, DType::f64);
  const Tensor b = Tensor::from_vector({1, 2, 3, 4}, Shape{4}, DType::f64);
  const Tensor y = dense(x, w, b);
  CHECK(y.shape() == Shape{2, 3, 4});
  CHECK(y.to_vector() == add(Tensor::zeros(Shape{2, 3, 4}, DType::f64), b).to_vector());
  const Var X = Var::parameter(x), W = Var::parameter(w), B = Var::parameter(b);
  const auto g = grad({sum(dense(X, W, B, Activation::tanh))}, {X, W, B});
  CHECK(g[0].shape() == Shape{2, 3, 0});
  CHECK(g[1].shape() == Shape{0, 4});
  CHECK(g[2].value().to_vector()[0] == doctest::Approx(6 * (1 - std::pow(std::tanh(1.0), 2))));
}

TEST_CASE("ELU's second derivative is finite far on the linear side") {
  const Var x = Var::parameter(Tensor::scalar(100.0, DType::f32));
  const Var g = grad(elu(x), x, {.create_graph = true});
  CHECK(g.item() == 1.0);
  CHECK(grad(g, x, {.allow_unused = true}).item() == 0.0);
}

TEST_CASE("slice with a huge step takes one element") {
  CHECK(Tensor::ones(Shape{3}).slice(0, 0, 3, INT64_MAX).shape() == Shape{1});
  const Var x = Var::parameter(vec({1, 2, 3}));
  CHECK(grad(sum(slice(x, 0, 0, 3, INT64_MAX)), x).value().to_vector() == std::vector<double>{1, 0, 0});
  CHECK_THROWS_AS(Tensor::ones(Shape{1}).broadcast_to(Shape{-3}), Error);
}

TEST_CASE("mean over an empty axis names the reduction") {
  CHECK_THROWS_WITH_AS(mean(Var::parameter(Tensor::zeros(Shape{3, 0})), {1}), doctest::Contains("mean"), Error);
}

TEST_CASE("Adam corrects bias by each parameter's own step count") {
  Var a = Var::parameter(vec({1.0})), b = Var::parameter(vec({1.0}));
  Adam opt({a, b}, {.lr = 0.1});
  for (int step = 1; step <= 3; ++step) {
    opt.zero_grad();
    a.set_grad(vec({1.0}));
    if (step == 3) b.set_grad(vec({2.0}));
    opt.step();
  }
  // b's first update is a first Adam step: lr * g / (|g| + eps)
  CHECK(b.value().item() == doctest::Approx(1.0 - 0.1 * 2.0 / (2.0 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("gelu's gradient keeps its relative accuracy in the left tail, to the second derivative") {
  // Phi(x) as (1 + erf(x / sqrt2)) / 2 cancelled there: 1e-2 relative error at x = -10 in f64
  auto exact = [](long double x) {
    const long double pdf = std::exp(-x * x / 2) / std::sqrt(2 * 3.14159265358979323846264338327950288L);
    return std::pair{0.5L * std::erfc(-x / std::sqrt(2.0L)) + x * pdf, pdf * (2 - x * x)};  // gelu', gelu''
  };
  for (double x0 : {-3.0, -6.0, -8.0, -10.0, -1.0, -0.5, 2.0}) {
    const Var x = Var::parameter(Tensor::scalar(x0, DType::f64));
    const Var g = grad(gelu(x), x, {.create_graph = true});
    const auto [d1, d2] = exact(x0);
    CHECK(g.item() == doctest::Approx(static_cast<double>(d1)).epsilon(1e-13));
    CHECK(grad(g, x).item() == doctest::Approx(static_cast<double>(d2)).epsilon(1e-13));
  }
  for (double x0 : {-5.0, -6.0}) {
    const Var x = Var::parameter(Tensor::scalar(x0, DType::f32));
    CHECK(grad(gelu(x), x).item() == doctest::Approx(static_cast<double>(exact(x0).first)).epsilon(1e-6));
  }
}

TEST_CASE("ELU's second derivative at 0 is alpha, the branch its first derivative takes there") {
  for (double alpha : {1.0, 2.0}) {
    const Var x = Var::parameter(Tensor::scalar(0.0, DType::f64));
    const Var g = grad(elu(x, alpha), x, {.create_graph = true});
    CHECK(g.item() == alpha);
    CHECK(grad(g, x).item() == alpha);  // was alpha / 2: minimum(x, 0) split the gradient at the tie
  }
}

TEST_CASE("mean of a Var refuses only an empty reduced axis, whatever the count of the others") {
  const std::int64_t big = std::int64_t(1) << 32, huge = std::int64_t(1) << 62;
  CHECK(mean(Var::parameter(Tensor::zeros(Shape{0, big, big}, DType::f64)), {1, 2}).shape() == Shape{0});
  CHECK(mean(Var::parameter(Tensor::zeros(Shape{0, 3, huge}, DType::f64)), {1, 2}).shape() == Shape{0});
}

TEST_CASE("composites' errors name the composite and the caller's shapes, not the primitives they are built from") {
  auto check = [](auto&& fn, std::initializer_list<const char*> fragments) {
    std::string message;
    try {
      fn();
    } catch (const Error& e) {
      message = e.what();
    }
    INFO("message: ", message);
    CHECK_FALSE(message.empty());
    for (const char* f : fragments) CHECK_MESSAGE(message.find(f) != std::string::npos, "missing \"" << f << "\"");
  };
  const Var empty_rows = Var::parameter(Tensor::zeros(Shape{2, 0}, DType::f64));
  const Var x = Var::parameter(Tensor::zeros(Shape{2, 3}, DType::f64));
  check([&] { softmax(empty_rows, 1); }, {"softmax", "empty axis 1", "f64[2, 0]"});
  check([&] { log_softmax(empty_rows, 1); }, {"log_softmax", "empty axis 1", "f64[2, 0]"});
  check([&] { logsumexp(empty_rows, {1}); }, {"logsumexp", "empty axis 1", "f64[2, 0]"});
  check([&] { softmax(x, 2); }, {"softmax", "axis 2", "rank 2"});
  check([&] { log_softmax(x, -3); }, {"log_softmax", "axis -3"});
  const Var a = Var::parameter(Tensor::zeros(Shape{2}, DType::f64)), b = Var::parameter(Tensor::zeros(Shape{3}, DType::f64));
  check([&] { stack({a, b}, 0); }, {"stack", "part 1", "f64[3]", "f64[2]"});
  check([&] { stack({a, Var(Tensor::zeros(Shape{2}, DType::f32))}, 0); }, {"stack", "f32[2]", "f64[2]"});
  check([&] { stack({a, a}, 2); }, {"stack", "axis 2"});
  check([&] { cross_entropy(x, Tensor::from_indices({0, 3}, Shape{2})); }, {"cross_entropy", "label 3", "[0, 3)"});
  check([&] { cross_entropy(x, Tensor::from_indices({-1, 0}, Shape{2})); }, {"cross_entropy", "label -1"});
  check([&] { cross_entropy(Var::parameter(Tensor::zeros(Shape{0, 3}, DType::f64)), Tensor::from_indices({}, Shape{0})); },
        {"cross_entropy", "f64[0, 3]"});
  check([&] { cross_entropy(empty_rows, Tensor::from_indices({0, 0}, Shape{2})); }, {"cross_entropy", "f64[2, 0]"});
  const Var none = Var::parameter(Tensor::zeros(Shape{0, 2}, DType::f64));
  check([&] { mse_loss(none, none); }, {"mse_loss", "f64[0, 2]", "empty"});
  check([&] { mse_loss(a, Var(Tensor::zeros(Shape{2}, DType::f32))); }, {"mse_loss", "f64[2]", "f32[2]"});
  check([&] { index_add(a, 0, Tensor::from_indices({0, 1}, Shape{2}), -1); }, {"index_add", "negative size -1"});
  check([&] { scatter_add(a, 0, Tensor::from_indices({0, 1}, Shape{2}), Shape{-3}); }, {"scatter_add", "[-3]"});
  check([&] { slice_scatter(a, Shape{5}, 0, 0, 5, 0); }, {"slice_scatter", "step", "0"});
  CHECK(cross_entropy(x, Tensor::from_indices({0, 2}, Shape{2})).item() == doctest::Approx(std::log(3.0)));
}

TEST_CASE("the views, softmax and the losses called as free functions on a plain Tensor") {
  // a Tensor converts to both a Var and a Jet: transpose(t, 0, 1) did not compile (ambiguous)
  const Tensor t = Tensor::from_vector({1.0, -2.0, 0.5, 3.0, 0.0, -1.0}, Shape{2, 3}, DType::f64);
  const Tensor tt = transpose(t, 0, 1);
  CHECK(tt.shape() == Shape{3, 2});
  CHECK(tt.contiguous().to_vector() == t.transpose(0, 1).contiguous().to_vector());
  CHECK(reshape(t, Shape{3, 2}).shape() == Shape{3, 2});
  CHECK(permute(t, Shape{1, 0}).shape() == Shape{3, 2});
  CHECK(unsqueeze(t, 0).shape() == Shape{1, 2, 3});
  CHECK(squeeze(unsqueeze(t, 1), 1).shape() == Shape{2, 3});
  CHECK(flatten(t).shape() == Shape{6});
  CHECK(slice(t, 1, 1, 3).contiguous().to_vector() == std::vector<double>{-2.0, 0.5, 0.0, -1.0});
  CHECK(select(t, 0, 1).to_vector() == std::vector<double>{3.0, 0.0, -1.0});
  CHECK(broadcast_to(select(t, 0, 0), Shape{4, 3}).shape() == Shape{4, 3});
  // the composites on a Tensor equal the Var forms' values, checks included
  const Var v(t);
  CHECK(max(abs(softmax(t) - softmax(v).value())).item() == 0.0);
  CHECK(max(abs(log_softmax(t, 0) - log_softmax(v, 0).value())).item() == 0.0);
  CHECK(mse_loss(t, t * 2.0).item() == doctest::Approx(mse_loss(v, Var(t * 2.0)).value().item()));
  const Tensor labels = Tensor::from_indices({2, 0}, Shape{2});
  CHECK(cross_entropy(t, labels).item() == doctest::Approx(cross_entropy(v, labels).value().item()));
  CHECK_THROWS_WITH_AS(mse_loss(t, flatten(t)), doctest::Contains("mse_loss: prediction"), Error);
}
