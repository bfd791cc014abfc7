// dense(): act(x @ w + b) against the composition of primitives and a reference in double, with
// and without bias and activation, batch axes, and its errors.
#include "core_test_util.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/random.hpp"

using namespace tide;
using tide::test::check_error;

TEST_CASE("dense equals matmul + bias + activation, and names bad shapes") {
  Generator g(31);
  const Tensor x = g.uniform(Shape{2, 5, 3}, -1, 1, DType::f64), w = g.uniform(Shape{3, 4}, -1, 1, DType::f64),
               b = g.uniform(Shape{4}, -1, 1, DType::f64);
  const Tensor y = dense(x, w, b, Op::tanh);
  CHECK(y.shape() == Shape{2, 5, 4});
  const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector(), yv = y.to_vector();
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 4; ++c) {
      double s = bv[c];
      for (int q = 0; q < 3; ++q) s += xv[r * 3 + q] * wv[q * 4 + c];
      CHECK(yv[r * 4 + c] == doctest::Approx(std::tanh(s)).epsilon(1e-14));
    }
  CHECK(max(abs(dense(x, w, Tensor()) - matmul(x, w))).item() == 0.0);
  CHECK(max(abs(dense(x, w, b, Op::leaky_relu, 0.2) - leaky_relu(matmul(x, w) + b, 0.2))).item() <= 1e-15);
  check_error([&] { dense(x, w.transpose(), b); }, {"dense", "[2, 5, 3]", "4 rows"});
  check_error([&] { dense(x, w, Tensor::ones(Shape{3}, DType::f64)); }, {"dense", "bias", "[3]", "4 columns"});
  check_error([&] { dense(x, w, b, Op::add); }, {"dense", "activation add"});
}
