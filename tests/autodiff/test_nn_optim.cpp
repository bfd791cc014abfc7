// Layers, initialisation and optimizers. Optimizer updates are checked against an independent
// scalar re-implementation of each published update rule.
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>

using namespace tide;

TEST_CASE("Linear computes x @ W + b with weights [in, out]") {
  Generator gen(1);
  Linear layer(3, 2, gen, {.dtype = DType::f64});
  CHECK(layer.weight().shape() == Shape{3, 2});
  CHECK(layer.bias().shape() == Shape{2});
  const Tensor x = gen.normal(Shape{4, 3}, 0, 1, DType::f64);
  const Tensor y = layer(Var(x)).value();
  const Tensor expect = add(matmul(x, layer.weight().value()), layer.bias().value());
  CHECK(max(abs(sub(y, expect))).item() < 1e-15);
  CHECK_THROWS_AS(layer(Var(gen.normal(Shape{4, 5}, 0, 1, DType::f64))), Error);
  CHECK(layer.parameter_count() == 8);
}

TEST_CASE("initialisation schemes have the documented bounds and spread") {
  Generator gen(2);
  const std::int64_t fi = 200, fo = 100;
  auto stats = [](const Tensor& t) {
    const auto v = t.to_vector();
    double m = 0, s = 0, a = 0;
    for (double e : v) { m += e; a = std::max(a, std::abs(e)); }
    m /= static_cast<double>(v.size());
    for (double e : v) s += (e - m) * (e - m);
    return std::array<double, 2>{std::sqrt(s / static_cast<double>(v.size())), a};
  };
  const Shape s{fi, fo};
  auto [sd0, max0] = stats(init_tensor(Init::torch_default, s, fi, fo, gen));
  CHECK(max0 <= 1 / std::sqrt(200.0));
  CHECK(sd0 == doctest::Approx(1 / std::sqrt(200.0) / std::sqrt(3.0)).epsilon(0.03));
  auto [sd1, max1] = stats(init_tensor(Init::xavier_uniform, s, fi, fo, gen));
  CHECK(max1 <= std::sqrt(6.0 / 300));
  CHECK(sd1 == doctest::Approx(std::sqrt(2.0 / 300)).epsilon(0.03));
  auto [sd2, max2] = stats(init_tensor(Init::kaiming_normal, s, fi, fo, gen, std::sqrt(2.0)));
  CHECK(sd2 == doctest::Approx(std::sqrt(2.0 / 200)).epsilon(0.03));
  (void)max2;
  CHECK(stats(init_tensor(Init::zeros, s, fi, fo, gen))[1] == 0.0);
  CHECK_THROWS_AS(parse_init("glorot"), Error);
  CHECK(parse_activation("softplus") == Activation::softplus);
  CHECK_THROWS_WITH_AS(parse_activation("swish"), doctest::Contains("tanh"), Error);
}

TEST_CASE("xavier_uniform with gain 0 gives zero weights and takes one stream per tensor") {
  Generator gen(6);
  Linear layer(4, 3, gen, {.weight_init = Init::xavier_uniform, .gain = 0.0, .dtype = DType::f64});
  CHECK(layer.weight().value().to_vector() == std::vector<double>(12, 0.0));
  Generator same(6);
  Linear reference(4, 3, same, {.weight_init = Init::xavier_uniform, .gain = 1.0, .dtype = DType::f64});
  CHECK(gen.stream() == same.stream());
}

TEST_CASE("MLP applies the hidden activation between layers and the output activation last") {
  Generator gen(3);
  MLP mlp({4, 8, 8, 2}, Activation::tanh, gen, {.dtype = DType::f64}, Activation::sigmoid);
  CHECK(mlp.layers().size() == 3);
  CHECK(mlp.parameters().size() == 6);
  const Tensor x = gen.normal(Shape{5, 4}, 0, 1, DType::f64);
  Tensor h = x;
  for (std::size_t i = 0; i < 3; ++i) {
    h = add(matmul(h, mlp.layers()[i].weight().value()), mlp.layers()[i].bias().value());
    h = i < 2 ? tanh(h) : sigmoid(h);
  }
  CHECK(max(abs(sub(mlp(Var(x)).value(), h))).item() < 1e-14);
}

namespace {
// Minimises f(w) = sum(c * w^2) for a few steps with `make`, and with `reference`, a scalar
// re-implementation of the same update rule applied per element.
void compare_optimizer(const std::function<std::unique_ptr<Optimizer>(std::vector<Var>)>& make,
                       const std::function<double(int, double, double, std::vector<double>&)>& reference) {
  const std::vector<double> w0{1.0, -2.0, 0.5}, c{1.0, 3.0, 0.5};
  const Var w = Var::parameter(Tensor::from_vector(w0, Shape{3}, DType::f64));
  auto opt = make({w});
  std::vector<double> ref = w0;
  std::vector<std::vector<double>> state(3);
  for (int step = 1; step <= 6; ++step) {
    opt->zero_grad();
    backward(sum(Var(Tensor::from_vector(c, Shape{3}, DType::f64)) * square(w)));
    opt->step();
    for (int i = 0; i < 3; ++i) ref[i] = reference(step, ref[i], 2 * c[i] * ref[i], state[i]);
    const auto got = w.value().to_vector();
    for (int i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-12));
  }
}
}  // namespace

TEST_CASE("SGD with momentum, nesterov and weight decay follows its update rule") {
  compare_optimizer(
      [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}); },
      [](int step, double w, double g, std::vector<double>& s) {
        g += 0.01 * w;
        if (step == 1) s = {g};
        else s[0] = 0.9 * s[0] + g;
        return w - 0.1 * (g + 0.9 * s[0]);
      });
}

TEST_CASE("Adam and AdamW follow their update rules") {
  for (bool decoupled : {false, true}) {
    compare_optimizer(
        [=](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.05, .weight_decay = 0.1, .decoupled_weight_decay = decoupled}); },
        [=](int step, double w, double g, std::vector<double>& s) {
          if (s.empty()) s = {0, 0};
          if (decoupled) w -= 0.05 * 0.1 * w;
          else g += 0.1 * w;
          s[0] = 0.9 * s[0] + 0.1 * g;
          s[1] = 0.999 * s[1] + 0.001 * g * g;
          const double mh = s[0] / (1 - std::pow(0.9, step)), vh = s[1] / (1 - std::pow(0.999, step));
          return w - 0.05 * mh / (std::sqrt(vh) + 1e-8);
        });
  }
}

TEST_CASE("Adamax follows its update rule") {
  compare_optimizer(
      [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions{.lr = 0.02}); },
      [](int step, double w, double g, std::vector<double>& s) {
        if (s.empty()) s = {0, 0};
        s[0] = 0.9 * s[0] + 0.1 * g;
        s[1] = std::max(0.999 * s[1], std::abs(g) + 1e-8);
        return w - 0.02 / (1 - std::pow(0.9, step)) * s[0] / s[1];
      });
}

TEST_CASE("RMSprop, centered with momentum, follows its update rule") {
  compare_optimizer(
      [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true}); },
      [](int, double w, double g, std::vector<double>& s) {
        if (s.empty()) s = {0, 0, 0};
        s[0] = 0.99 * s[0] + 0.01 * g * g;
        s[1] = 0.99 * s[1] + 0.01 * g;
        const double avg = std::sqrt(s[0] - s[1] * s[1]) + 1e-8;
        s[2] = 0.5 * s[2] + g / avg;
        return w - 0.01 * s[2];
      });
}

TEST_CASE("optimizers train a small MLP regression to low loss") {
  Generator gen(11);
  const Tensor x = gen.uniform(Shape{64, 1}, -2, 2, DType::f64);
  const Tensor y = sin(x);
  MLP mlp({1, 16, 1}, Activation::tanh, gen, {.dtype = DType::f64});
  Adam opt(mlp.parameters(), {.lr = 0.02});
  double first = 0, last = 0;
  for (int it = 0; it < 400; ++it) {
    opt.zero_grad();
    const Var loss = mse_loss(mlp(Var(x)), Var(y));
    backward(loss);
    clip_grad_norm(mlp.parameters(), 10.0);
    opt.step();
    if (it == 0) first = loss.item();
    last = loss.item();
  }
  CHECK(last < first * 0.02);
}

TEST_CASE("gradient clipping by norm and by value") {
  Var a = Var::parameter(Tensor::from_vector({3.0, 0.0}, Shape{2}, DType::f64));
  Var b = Var::parameter(Tensor::from_vector({0.0}, Shape{1}, DType::f64));
  a.set_grad(Tensor::from_vector({3.0, 0.0}, Shape{2}, DType::f64));
  b.set_grad(Tensor::from_vector({4.0}, Shape{1}, DType::f64));
  CHECK(clip_grad_norm({a, b}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad().to_vector()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(b.grad().to_vector()[0] == doctest::Approx(0.8).epsilon(1e-5));
  clip_grad_value({a, b}, 0.7);
  CHECK(b.grad().to_vector()[0] == doctest::Approx(0.7));
  CHECK(a.grad().to_vector()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK_THROWS_AS(clip_grad_norm({a}, -1.0), Error);
  // exploding f32 gradients: a scale below f32's smallest normal (1e-3 / 2e37) clips them to the norm asked for
  Var big = Var::parameter(Tensor::zeros(Shape{4}, DType::f32));
  big.set_grad(Tensor::from_vector({1e37, -1e37, 1e37, 1e37}, Shape{4}, DType::f32));
  clip_grad_norm({big}, 1e-3);
  for (double g : big.grad().to_vector()) CHECK(std::fabs(g) == doctest::Approx(5e-4).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(clip_grad_norm({a}, 1.0, -INFINITY), doctest::Contains("norm_type must be 2 or infinity"), Error);
  CHECK_THROWS_AS(SGD({a}, {.lr = std::nan("")}), Error);
  CHECK_THROWS_AS(Adam({Var(Tensor::zeros(Shape{2}))}), Error);  // not a parameter
}

TEST_CASE("clipping replaces gradients once per parameter, leaves shared tensors alone, and propagates NaN") {
  const Tensor shared = Tensor::from_vector({3.0, 4.0}, Shape{2}, DType::f64);
  Var a = Var::parameter(Tensor::zeros(Shape{2}, DType::f64)), b = Var::parameter(Tensor::zeros(Shape{2}, DType::f64));
  a.set_grad(shared);
  b.set_grad(shared);  // one tensor: it was scaled twice, and the caller's was overwritten
  CHECK(clip_grad_norm({a, b, a}, 1.0) == doctest::Approx(std::sqrt(75.0)));  // a listed twice counts twice, as in PyTorch
  const double k = 1.0 / (std::sqrt(75.0) + 1e-6);
  for (const Var& p : {a, b}) {
    CHECK(p.grad().to_vector()[0] == doctest::Approx(3.0 * k));
    CHECK(p.grad().to_vector()[1] == doctest::Approx(4.0 * k));
  }
  CHECK(shared.to_vector() == std::vector<double>{3.0, 4.0});
  // the infinity norm: NaN anywhere gives NaN (it took the max over the others); zero-size gradients count as 0
  Var z = Var::parameter(Tensor::zeros(Shape{0, 3}, DType::f64));
  z.set_grad(Tensor::zeros(Shape{0, 3}, DType::f64));
  a.set_grad(Tensor::from_vector({std::nan(""), 3.0}, Shape{2}, DType::f64));
  b.set_grad(Tensor::from_vector({5.0, 0.0}, Shape{2}, DType::f64));
  CHECK(std::isnan(clip_grad_norm({z, a, b}, 100.0, INFINITY)));
  a.set_grad(Tensor::from_vector({1.0, 2.0}, Shape{2}, DType::f64));
  CHECK(clip_grad_norm({z, a, b}, 100.0, INFINITY) == 5.0);
}

TEST_CASE("an optimizer refuses a parameter given twice; SGD refuses a momentum state it has no use for") {
  Var a = Var::parameter(Tensor::ones(Shape{1}, DType::f64));
  CHECK_THROWS_WITH_AS(SGD({a, a}), doctest::Contains("parameters 0 and 1 are the same parameter"), Error);
  CHECK_THROWS_WITH_AS(Adam({a, a}), doctest::Contains("parameters 0 and 1 are the same parameter"), Error);
  SGD with_momentum({a}, {.lr = 0.1, .momentum = 0.9});
  a.set_grad(Tensor::ones(Shape{1}, DType::f64));
  with_momentum.step();
  SGD plain({a}, {.lr = 0.1});
  CHECK_THROWS_WITH_AS(plain.load_state(with_momentum.state()), doctest::Contains("momentum buffers"), Error);
}

TEST_CASE("Adam's fused update gives the composite tensor ops' values to the bit, f32, both weight decays") {
  for (bool decoupled : {false, true}) {
    Generator gen(41);
    const Tensor start = gen.normal(Shape{37, 5}, 0.0, 1.0, DType::f32);
    Var p = Var::parameter(start.clone());
    Adam adam({p}, AdamOptions{.lr = 0.01, .weight_decay = 0.05, .decoupled_weight_decay = decoupled});
    Tensor w = start.clone(), m = Tensor::zeros(start.shape(), DType::f32), v = Tensor::zeros(start.shape(), DType::f32);
    for (int step = 1; step <= 3; ++step) {
      const Tensor g = gen.normal(start.shape(), 0.0, 1.0, DType::f32);
      p.set_grad(g.clone());
      adam.step();
      const double bc1 = 1.0 - std::pow(0.9, step), bc2 = 1.0 - std::pow(0.999, step);
      Tensor gg = g;
      if (decoupled) w = add(w, mul_scalar(mul_scalar(w, 0.01 * 0.05), -1.0));
      else gg = add(g, mul_scalar(w, 0.05));
      m = add(mul_scalar(m, 0.9), mul_scalar(gg, 1.0 - 0.9));
      v = add(mul_scalar(v, 0.999), mul_scalar(square(gg), 1.0 - 0.999));
      const Tensor denom = add_scalar(mul_scalar(sqrt(v), 1.0 / std::sqrt(bc2)), 1e-8);
      w = add(w, mul_scalar(mul_scalar(div(m, denom), 0.01 / bc1), -1.0));
      CHECK(p.value().to_vector() == w.to_vector());
    }
  }
}
