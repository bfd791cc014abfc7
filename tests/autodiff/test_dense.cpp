// The recorded dense layer (nn.hpp's dense: one node, backward from the output) against the
// composite matmul + bias + activation: values and every input's gradient for each activation
// (fused or not), inputs of rank 1 to 3, with and without a bias, constants, second derivatives.
#include "../compare.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>

using namespace tide;
using test::max_rel_diff;

namespace {

Var composite(const Var& x, const Var& w, const Var& b, Activation a) {
  return activate(a, b.defined() ? matmul(x, w) + b : matmul(x, w));
}

const Activation all_activations[] = {Activation::identity, Activation::tanh,  Activation::relu,  Activation::sigmoid,    Activation::softplus,
                                      Activation::silu,     Activation::gelu,  Activation::elu,   Activation::leaky_relu, Activation::sin};

}  // namespace

TEST_CASE("dense: values and gradients equal the composite's for every activation, input rank and bias") {
  Generator gen(21);
  for (Activation a : all_activations) {
    for (const Shape& xs : {Shape{5}, Shape{7, 5}, Shape{2, 3, 5}}) {
      for (bool with_bias : {true, false}) {
        INFO(activation_name(a) << " x " << xs.str() << (with_bias ? " bias" : " no bias"));
        const Var x = Var::parameter(gen.uniform(xs, -3.0, 3.0, DType::f64));
        const Var w = Var::parameter(gen.uniform(Shape{5, 4}, -1.0, 1.0, DType::f64));
        const Var b = with_bias ? Var::parameter(gen.uniform(Shape{4}, -1.0, 1.0, DType::f64)) : Var();
        const Var f = dense(x, w, b, a), c = composite(x, w, b, a);
        REQUIRE(f.shape() == c.shape());
        CHECK(max_rel_diff(f.value(), c.value()) <= 1e-14);
        const Var weights(gen.normal(c.shape(), 0.0, 1.0, DType::f64));
        std::vector<Var> wrt{x, w};
        if (with_bias) wrt.push_back(b);
        const auto gf = grad({sum(f * weights)}, wrt), gc = grad({sum(c * weights)}, wrt);
        for (std::size_t i = 0; i < wrt.size(); ++i) {
          INFO("input " << i);
          CHECK(max_rel_diff(gf[i].value(), gc[i].value()) <= 1e-12);
        }
      }
    }
  }
}

TEST_CASE("dense: softplus's derivative from its output stays accurate far in the tails, f32 too") {
  for (DType dt : {DType::f64, DType::f32}) {
    const Var x = Var::parameter(Tensor::from_vector({-80.0, -30.0, -5.0, 0.0, 5.0, 30.0}, Shape{6, 1}, dt));
    const Var w(Tensor::ones(Shape{1, 1}, dt));
    const Var d = grad(std::vector<Var>{sum(dense(x, w, Var(), Activation::softplus))}, std::vector<Var>{x})[0];
    const Var e = grad(std::vector<Var>{sum(softplus(x))}, std::vector<Var>{x})[0];
    CHECK(max_rel_diff(d.value(), e.value()) <= (dt == DType::f64 ? 1e-13 : 1e-6));
  }
}

TEST_CASE("dense: only inputs that require a gradient get one; constants and NoGrad record nothing") {
  Generator gen(22);
  const Var x(gen.uniform(Shape{3, 4}, -1.0, 1.0, DType::f64));
  const Var w = Var::parameter(gen.uniform(Shape{4, 2}, -1.0, 1.0, DType::f64));
  const Var b(gen.uniform(Shape{2}, -1.0, 1.0, DType::f64));
  const Var f = dense(x, w, b, Activation::tanh);
  CHECK(max_rel_diff(grad(sum(square(f)), w).value(), grad(sum(square(composite(x, w, b, Activation::tanh))), w).value()) <= 1e-12);
  NoGrad ng;
  CHECK_FALSE(dense(x, w, b, Activation::tanh).requires_grad());
}

TEST_CASE("dense: second derivatives through the create_graph fallback equal the composite's") {
  Generator gen(23);
  const Var x = Var::parameter(gen.uniform(Shape{3, 4}, -1.0, 1.0, DType::f64));
  const Var w = Var::parameter(gen.uniform(Shape{4, 5}, -1.0, 1.0, DType::f64));
  const Var b = Var::parameter(gen.uniform(Shape{5}, -1.0, 1.0, DType::f64));
  GradOptions create;
  create.create_graph = true;
  for (Activation a : {Activation::tanh, Activation::softplus, Activation::sigmoid}) {
    INFO(activation_name(a));
    auto second = [&](auto layer) {
      const Var dx = grad({sum(square(layer()))}, {x}, {}, create)[0];
      return grad({sum(square(dx))}, {x, w, b});
    };
    const auto f = second([&] { return dense(x, w, b, a); });
    const auto c = second([&] { return composite(x, w, b, a); });
    for (std::size_t i = 0; i < f.size(); ++i) CHECK(max_rel_diff(f[i].value(), c[i].value()) <= 1e-12);
  }
}

TEST_CASE("dense: mismatched shapes and dtypes are refused with both named") {
  const Var x(Tensor::zeros(Shape{3, 4}, DType::f64));
  CHECK_THROWS_WITH_AS(dense(x, Var(Tensor::zeros(Shape{5, 2}, DType::f64)), Var()), doctest::Contains("does not end in the weight's 5 rows"), Error);
  CHECK_THROWS_WITH_AS(dense(x, Var(Tensor::zeros(Shape{4, 2}, DType::f64)), Var(Tensor::zeros(Shape{3}, DType::f64))),
                       doctest::Contains("bias [3] does not match the weight's 2 columns"), Error);
  CHECK_THROWS_AS(dense(x, Var(Tensor::zeros(Shape{4, 2}, DType::f32)), Var()), Error);
}

TEST_CASE("dense: a weight or output modified in place after the layer recorded it is reported by the backward") {
  Generator gen(24);
  const Var x = Var::parameter(gen.uniform(Shape{3, 4}, -1.0, 1.0, DType::f64));
  const Var w = Var::parameter(gen.uniform(Shape{4, 2}, -1.0, 1.0, DType::f64));
  const Var y = dense(x, w, Var(), Activation::tanh);
  Tensor wv = w.value();
  wv.mul_(0.5);  // an optimizer step between forward and backward
  CHECK_THROWS_WITH_AS(grad(sum(y), x), doctest::Contains("backward of dense: its saved weight"), Error);
  const Var y2 = dense(x, w, Var(), Activation::sigmoid);
  Tensor yv = y2.value();
  yv.add_(Tensor::ones(Shape{3, 2}, DType::f64));
  CHECK_THROWS_WITH_AS(grad(sum(y2), x), doctest::Contains("its saved output"), Error);
}
