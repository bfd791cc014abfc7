// Data movement: concat/split, index_select/index_add, gather/scatter_add, slice_scatter, cast.
// The adjoint pairs are checked by the inner-product identity <op(x), y> == <x, adjoint(y)>.
#include "core_test_util.hpp"

using namespace tide;
using tide::test::check_exact;
using tide::test::check_values;
using tide::test::iota;

namespace {

Tensor pseudo(const Shape& shape, DType dtype, int seed) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::cos(2.3 * static_cast<double>(i) + seed);
  return Tensor::from_vector(v, shape, dtype);
}

double dot(const Tensor& a, const Tensor& b) {
  const auto av = a.to_vector(), bv = b.to_vector();
  REQUIRE(av.size() == bv.size());
  double s = 0;
  for (std::size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
  return s;
}

}  // namespace

TEST_CASE("concat joins along any axis, including views and empty parts") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor a = iota(Shape{2, 2}, dtype, 0.0), b = iota(Shape{2, 3}, dtype, 10.0);
    const Tensor c1 = concat({a, b}, 1);
    CHECK(c1.shape() == Shape{2, 5});
    check_exact(c1, {0, 1, 10, 11, 12, 2, 3, 13, 14, 15});
    const Tensor c0 = concat({a, b.slice(1, 0, 2), a.transpose()}, -2);
    CHECK(c0.shape() == Shape{6, 2});
    check_exact(c0, {0, 1, 2, 3, 10, 11, 13, 14, 0, 2, 1, 3});
    check_exact(concat({a, Tensor::zeros(Shape{0, 2}, dtype)}, 0), {0, 1, 2, 3});
    check_exact(concat({a}, 0), {0, 1, 2, 3});
  }
}

TEST_CASE("split returns views that concat puts back together") {
  const Tensor x = iota(Shape{3, 7}, DType::f64, 0.0);
  const auto parts = split(x, {2, 0, 5}, 1);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].shape() == Shape{3, 2});
  CHECK(parts[1].shape() == Shape{3, 0});
  CHECK(parts[2].shape() == Shape{3, 5});
  CHECK(parts[2].shares_storage_with(x));
  check_exact(parts[0], {0, 1, 7, 8, 14, 15});
  CHECK(concat(parts, 1).to_vector() == x.to_vector());
  const auto rows = split(x, {1, 2}, -2);
  check_exact(rows[0], {0, 1, 2, 3, 4, 5, 6});
  CHECK(rows[1].shape() == Shape{2, 7});
}

TEST_CASE("index_select picks slices in index order, with repeats") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = iota(Shape{3, 4}, dtype, 0.0);
    const Tensor idx = Tensor::from_indices({2, 0, 2}, Shape{3});
    check_exact(index_select(x, 0, idx), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
    check_exact(index_select(x, -1, idx), {2, 0, 2, 6, 4, 6, 10, 8, 10});
    // a transposed input and a strided index
    const Tensor sidx = Tensor::from_indices({3, 9, 1, 9, 0, 9}, Shape{6}).slice(0, 0, 6, 2);  // {3, 1, 0}
    check_exact(index_select(x.transpose(), 0, sidx), {3, 7, 11, 1, 5, 9, 0, 4, 8});
    CHECK(index_select(x, 1, Tensor::from_indices({}, Shape{0})).shape() == Shape{3, 0});
  }
}

TEST_CASE("index_add accumulates repeated indices and is the adjoint of index_select") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor src = iota(Shape{3, 2}, dtype, 1.0);  // [[1 2] [3 4] [5 6]]
    const Tensor idx = Tensor::from_indices({1, 3, 1}, Shape{3});
    check_exact(index_add(src, 0, idx, 4), {0, 0, 6, 8, 0, 0, 3, 4});
    check_exact(index_add(src.transpose(), 1, idx, 4), {0, 6, 0, 3, 0, 8, 0, 4});

    const Tensor x = pseudo(Shape{5, 3, 4}, dtype, 1);
    const Tensor sel = Tensor::from_indices({4, 0, 4, 2, 4, 1, 3}, Shape{7});
    for (int axis : {0, 2}) {
      const std::int64_t n = x.shape()[axis];
      const Tensor i4 = Tensor::from_indices({n - 1, 0, n - 1, 1}, Shape{4});  // with a repeat
      const Tensor y = pseudo(index_select(x, axis, i4).shape(), dtype, 2);
      const double lhs = dot(index_select(x, axis, i4), y), rhs = dot(x, index_add(y, axis, i4, n));
      CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
    }
    // with repeated indices
    const Tensor y = pseudo(Shape{7, 3, 4}, dtype, 3);
    CHECK(dot(index_select(x, 0, sel), y) == doctest::Approx(dot(x, index_add(y, 0, sel, 5))).epsilon(1e-5));
  }
}

TEST_CASE("gather reads along an axis with an index of the output's shape") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = iota(Shape{2, 3}, dtype, 0.0);  // [[0 1 2] [3 4 5]]
    check_exact(gather(x, 1, Tensor::from_indices({2, 2, 0, 1}, Shape{2, 2})), {2, 2, 3, 4});
    check_exact(gather(x, 0, Tensor::from_indices({1, 0, 1}, Shape{1, 3})), {3, 1, 5});
    check_exact(gather(x, -1, Tensor::from_indices({0, 1, 2, 0, 2, 1}, Shape{2, 3})), {0, 1, 2, 3, 5, 4});
    // transposed input: [[0 3] [1 4] [2 5]]
    check_exact(gather(x.transpose(), 1, Tensor::from_indices({1, 1, 0}, Shape{3, 1})), {3, 4, 2});
    // a transposed (non-contiguous) index
    const Tensor it = Tensor::from_indices({0, 1, 1, 0, 2, 2}, Shape{3, 2}).transpose();  // [[0 1 2] [1 0 2]]
    check_exact(gather(x, 1, it), {0, 1, 2, 4, 3, 5});
  }
}

TEST_CASE("scatter_add accumulates and is the adjoint of gather") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor src = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, dtype);
    const Tensor idx = Tensor::from_indices({2, 2, 0, 1}, Shape{2, 2});
    check_exact(scatter_add(src, 1, idx, Shape{2, 3}), {0, 0, 3, 3, 4, 0});

    const Tensor x = pseudo(Shape{4, 5, 3}, dtype, 4);
    for (int axis : {0, 1, 2}) {
      Shape ishape = x.shape();
      ishape[axis] = 6;  // more picks than the extent: repeats guaranteed
      std::vector<std::int64_t> iv(static_cast<std::size_t>(ishape.numel()));
      for (std::size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<std::int64_t>((i * 5 + 1) % static_cast<std::size_t>(x.shape()[axis]));
      const Tensor index = Tensor::from_indices(iv, ishape);
      const Tensor y = pseudo(ishape, dtype, 5);
      const double lhs = dot(gather(x, axis, index), y), rhs = dot(x, scatter_add(y, axis, index, x.shape()));
      CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
    }
  }
}

TEST_CASE("slice_scatter writes the slice into zeros and is the adjoint of slice") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor src = Tensor::from_vector({1, 2, 3}, Shape{3}, dtype);
    check_exact(slice_scatter(src, Shape{7}, 0, 1, 7, 2), {0, 1, 0, 2, 0, 3, 0});
    check_exact(slice_scatter(src, Shape{5}, 0, -3, 5, 1), {0, 0, 1, 2, 3});
    const Tensor s2 = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, dtype);
    check_exact(slice_scatter(s2.transpose(), Shape{2, 4}, 1, 0, 4, 2), {1, 0, 3, 0, 2, 0, 4, 0});

    const Tensor x = pseudo(Shape{6, 9}, dtype, 6);
    const Tensor sl = x.slice(1, -8, 9, 3);
    const Tensor y = pseudo(sl.shape(), dtype, 7);
    CHECK(dot(sl, y) == doctest::Approx(dot(x, slice_scatter(y, x.shape(), 1, -8, 9, 3))).epsilon(1e-5));
  }
}

TEST_CASE("cast converts between f32 and f64 and keeps the shape of views") {
  const Tensor x = Tensor::from_vector({0.1, 0.2, 0.3, 0.4}, Shape{2, 2}, DType::f64).transpose();
  const Tensor f = cast(x, DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.shape() == Shape{2, 2});
  check_exact(f, {static_cast<float>(0.1), static_cast<float>(0.3), static_cast<float>(0.2), static_cast<float>(0.4)});
  const Tensor d = cast(f, DType::f64);
  CHECK(d.dtype() == DType::f64);
  check_values(d, {0.1, 0.3, 0.2, 0.4}, 1e-7);
}
