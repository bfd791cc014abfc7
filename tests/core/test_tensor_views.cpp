// Tensor layout: creation, host access, views that share storage (reshape, permute, slice, select,
// broadcast_to, unsqueeze/squeeze), copies (contiguous, clone, to), and in-place writes that bump
// the storage version.
#include "core_test_util.hpp"
#include <limits>
#include <sstream>

using namespace tide;
using tide::test::check_exact;
using tide::test::iota;

TEST_CASE("from_vector, to_vector and item round-trip values in f32 and f64") {
  const std::vector<double> v = {1.0, -2.5, 3.25, 1e10, -0.0, 7.0};
  for (DType t : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector(v, Shape{2, 3}, t);
    CHECK(x.dtype() == t);
    CHECK(x.shape() == Shape{2, 3});
    CHECK(x.strides() == Shape{3, 1});
    CHECK(x.is_contiguous());
    CHECK(x.numel() == 6);
    CHECK(x.size(-1) == 3);
    check_exact(x, v);
    CHECK(x.str() == std::string(dtype_name(t)) + "[2, 3]");
  }
  // f64 keeps digits that f32 rounds away
  const double fine = 1.0 + 1e-12;
  CHECK(Tensor::from_vector({fine}, Shape{1}, DType::f64).item() == fine);
  CHECK(Tensor::from_vector({fine}, Shape{1}, DType::f32).item() == 1.0);
  CHECK(Tensor::scalar(4.5).item() == 4.5);
  CHECK(Tensor::scalar(4.5).rank() == 0);
  CHECK(Tensor::full(Shape{2, 2}, -3.0, DType::f64).to_vector() == std::vector<double>(4, -3.0));
  CHECK(Tensor::zeros(Shape{3}).to_vector() == std::vector<double>(3, 0.0));
  CHECK(Tensor::ones(Shape{0, 4}).numel() == 0);
}

TEST_CASE("arange gives 0..n-1 in every dtype") {
  check_exact(Tensor::arange(5), {0, 1, 2, 3, 4});
  check_exact(Tensor::arange(4, DType::f64), {0, 1, 2, 3});
  const Tensor i = Tensor::arange(4, DType::i64);
  CHECK(i.dtype() == DType::i64);
  CHECK(i.to_indices() == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(Tensor::arange(0).numel() == 0);
}

TEST_CASE("reshape is a view of contiguous data and infers one -1 extent") {
  Tensor x = iota(Shape{2, 3, 4});
  Tensor r = x.reshape(Shape{4, -1});
  CHECK(r.shape() == Shape{4, 6});
  CHECK(r.shares_storage_with(x));
  CHECK(r.to_vector() == x.to_vector());
  CHECK(x.reshape(Shape{-1}).shape() == Shape{24});
  CHECK(x.reshape(Shape{2, -1, 2}).shape() == Shape{2, 6, 2});
  // writes through the view are seen by the base
  r.fill_(1.0);
  CHECK(x.to_vector() == std::vector<double>(24, 1.0));
}

TEST_CASE("reshape of a non-contiguous view copies in row-major order of the view") {
  Tensor x = iota(Shape{2, 3});       // [[.5 1.5 2.5] [3.5 4.5 5.5]]
  Tensor t = x.transpose();           // [[.5 3.5] [1.5 4.5] [2.5 5.5]]
  CHECK_FALSE(t.is_contiguous());
  Tensor r = t.reshape(Shape{6});
  CHECK_FALSE(r.shares_storage_with(x));
  check_exact(r, {0.5, 3.5, 1.5, 4.5, 2.5, 5.5});
}

TEST_CASE("permute and transpose share storage and move values") {
  Tensor x = iota(Shape{2, 3, 4}, DType::f64, 0.0);
  Tensor p = x.permute(Shape{2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});
  CHECK(p.shares_storage_with(x));
  const std::vector<double> pv = p.to_vector();
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) CHECK(pv[(k * 2 + i) * 3 + j] == i * 12 + j * 4 + k);
  Tensor t = x.transpose(0, -1);  // [4, 3, 2]
  CHECK(t.shape() == Shape{4, 3, 2});
  const std::vector<double> tv = t.to_vector();
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) CHECK(tv[(k * 3 + j) * 2 + i] == i * 12 + j * 4 + k);
  // permuting back gives the original layout
  CHECK(p.permute(Shape{1, 2, 0}).is_contiguous());
}

TEST_CASE("slice with step and negative bounds") {
  Tensor x = Tensor::arange(10, DType::f64);
  check_exact(x.slice(0, 1, 8, 3), {1, 4, 7});
  check_exact(x.slice(0, -3, 10), {7, 8, 9});
  check_exact(x.slice(0, 2, -2, 2), {2, 4, 6});
  check_exact(x.slice(0, -100, 2), {0, 1});   // clamped
  CHECK(x.slice(0, 5, 3).numel() == 0);        // empty, not an error
  CHECK(x.slice(0, 0, 10, 4).shape() == Shape{3});  // 0, 4, 8
  // a step past the axis takes one element; the stride (never stepped) is not multiplied by it
  // where the product would overflow
  const Tensor rows = Tensor::arange(12, DType::f64).reshape(Shape{3, 4}).slice(0, 1, 3, std::numeric_limits<std::int64_t>::max());
  CHECK(rows.shape() == Shape{1, 4});
  CHECK(rows.strides() == Shape{4, 1});
  check_exact(rows, {4, 5, 6, 7});

  Tensor m = iota(Shape{4, 5}, DType::f32, 0.0);
  Tensor s = m.slice(1, 1, 5, 2);  // columns 1, 3
  CHECK(s.shape() == Shape{4, 2});
  CHECK(s.shares_storage_with(m));
  CHECK_FALSE(s.is_contiguous());
  check_exact(s, {1, 3, 6, 8, 11, 13, 16, 18});
  // a slice of a slice composes offsets and strides
  check_exact(s.slice(0, 1, 4, 2), {6, 8, 16, 18});
  // writing into a slice writes into the base
  m.slice(0, -1, 4).fill_(-1.0);
  check_exact(m.select(0, 3), {-1, -1, -1, -1, -1});
  check_exact(m.select(0, 2), {10, 11, 12, 13, 14});
}

TEST_CASE("select drops the axis and accepts a negative index") {
  Tensor x = iota(Shape{2, 3, 4}, DType::f32, 0.0);
  Tensor s = x.select(1, -1);  // j = 2
  CHECK(s.shape() == Shape{2, 4});
  CHECK(s.shares_storage_with(x));
  check_exact(s, {8, 9, 10, 11, 20, 21, 22, 23});
  check_exact(x.select(2, 1), {1, 5, 9, 13, 17, 21});
  CHECK(x.select(0, 1).select(0, 1).select(0, 1).item() == 17);
}

TEST_CASE("broadcast_to gives stride 0 on new and extent-1 axes") {
  Tensor x = Tensor::from_vector({1, 2, 3}, Shape{3, 1});
  Tensor b = x.broadcast_to(Shape{2, 3, 4});
  CHECK(b.shape() == Shape{2, 3, 4});
  CHECK(b.strides() == Shape{0, 1, 0});
  CHECK(b.shares_storage_with(x));
  std::vector<double> expect;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) expect.push_back(j + 1);
  check_exact(b, expect);
  check_exact(b.contiguous(), expect);
  CHECK(b.contiguous().is_contiguous());
}

TEST_CASE("unsqueeze and squeeze insert and remove extent-1 axes") {
  Tensor x = iota(Shape{2, 3});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(1).shape() == Shape{2, 1, 3});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 1});
  CHECK(x.unsqueeze(2).shape() == Shape{2, 3, 1});
  CHECK(x.unsqueeze(-3).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(1).is_contiguous());
  CHECK(x.unsqueeze(1).squeeze(1).shape() == Shape{2, 3});
  CHECK(x.unsqueeze(-1).squeeze(-1).to_vector() == x.to_vector());
  CHECK(x.unsqueeze(0).shares_storage_with(x));
  // unsqueeze of a transposed view keeps the values
  CHECK(x.transpose().unsqueeze(1).reshape(Shape{6}).to_vector() ==
        x.transpose().contiguous().to_vector());
}

// is_contiguous() is a flag set with each layout; here it is checked against where the elements of
// every kind of view actually lie: row-major element i at storage offset offset() + i.
TEST_CASE("is_contiguous agrees with where each view's elements lie") {
  const auto lies_in_order = [](const Tensor& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      std::int64_t rest = i, at = t.offset();
      for (int a = t.rank() - 1; a >= 0; --a) {
        at += (rest % t.shape()[a]) * t.strides()[a];
        rest /= t.shape()[a];
      }
      if (at != t.offset() + i) return false;
    }
    return true;
  };
  const Tensor x = iota(Shape{2, 3, 4});
  const std::vector<std::pair<const char*, Tensor>> views = {
      {"source", x},
      {"reshape", x.reshape(Shape{6, 4})},
      {"permute", x.permute(Shape{2, 0, 1})},
      {"transpose", x.transpose(1, 2)},
      {"transposed back", x.transpose(0, 2).transpose(0, 2)},
      {"leading slice", x.slice(0, 1, 2)},
      {"middle slice", x.slice(1, 1, 3)},
      {"stepped slice", x.slice(2, 0, 4, 2)},
      {"last-axis slice", x.slice(2, 1, 3)},
      {"one row of a column slice", x.slice(2, 1, 2).slice(1, 0, 1).slice(0, 0, 1)},
      {"empty slice", x.slice(1, 2, 2)},
      {"select first axis", x.select(0, 1)},
      {"select last axis", x.select(2, 0)},
      {"broadcast", x.select(0, 0).broadcast_to(Shape{5, 3, 4})},
      {"broadcast of one row", x.slice(1, 0, 1).broadcast_to(Shape{2, 1, 4})},
      {"unsqueeze", x.unsqueeze(1)},
      {"squeeze", x.slice(1, 2, 3).squeeze(1)},
      {"reshape of a permute", x.permute(Shape{1, 0, 2}).reshape(Shape{3, 8})},
      {"contiguous of a permute", x.permute(Shape{1, 0, 2}).contiguous()},
      {"clone of a slice", x.slice(2, 0, 4, 3).clone()},
      {"scalar", Tensor::scalar(1.0)},
  };
  for (const auto& [name, v] : views) {
    CAPTURE(name);
    CHECK(v.is_contiguous() == lies_in_order(v));
  }
  CHECK_FALSE(x.permute(Shape{2, 0, 1}).is_contiguous());  // the list holds both answers
  CHECK(x.slice(0, 1, 2).is_contiguous());
}

TEST_CASE("contiguous returns the same tensor when already contiguous; clone always copies") {
  Tensor x = iota(Shape{3, 4});
  CHECK(x.contiguous().shares_storage_with(x));
  Tensor c = x.clone();
  CHECK_FALSE(c.shares_storage_with(x));
  CHECK(c.to_vector() == x.to_vector());
  c.fill_(0.0);
  CHECK(x.to_vector()[0] == 0.5);  // the original is untouched
  Tensor t = x.transpose().contiguous();
  CHECK(t.is_contiguous());
  CHECK_FALSE(t.shares_storage_with(x));
  check_exact(t.select(0, 1), {1.5, 5.5, 9.5});
}

TEST_CASE("to(dtype) converts f32 <-> f64 and rounds to f32") {
  const double third = 1.0 / 3.0;
  Tensor d = Tensor::from_vector({third, 2.0, -1e300, 1e-50}, Shape{4}, DType::f64);
  Tensor f = d.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  const auto fv = f.to_vector();
  CHECK(fv[0] == static_cast<double>(static_cast<float>(third)));
  CHECK(fv[1] == 2.0);
  CHECK(fv[2] == -INFINITY);  // out of f32 range
  CHECK(fv[3] == 0.0);
  Tensor back = f.to(DType::f64);
  CHECK(back.dtype() == DType::f64);
  CHECK(back.to_vector()[0] == static_cast<double>(static_cast<float>(third)));
  CHECK(d.to(DType::f64).shares_storage_with(d));  // same dtype: no copy
  // a non-contiguous view converts in its own element order
  check_exact(iota(Shape{2, 2}, DType::f32).transpose().to(DType::f64), {0.5, 2.5, 1.5, 3.5});
  // cast is the op-level spelling of to(dtype)
  CHECK(cast(d, DType::f32).to_vector() == fv);
}

TEST_CASE("in-place writes bump the storage version") {
  Tensor x = Tensor::zeros(Shape{2, 3}, DType::f64);
  Tensor view = x.select(0, 1);
  std::uint64_t v = x.version();
  x.fill_(2.0);
  CHECK(x.version() == v + 1);
  CHECK(view.version() == x.version());  // views share the counter
  check_exact(x, {2, 2, 2, 2, 2, 2});

  v = x.version();
  view.copy_(Tensor::from_vector({1, 2, 3}, Shape{3}, DType::f64));
  CHECK(x.version() > v);
  check_exact(x, {2, 2, 2, 1, 2, 3});

  v = x.version();
  x.add_(Tensor::from_vector({10, 20, 30}, Shape{3}, DType::f64), 0.5);  // broadcast over rows
  CHECK(x.version() > v);
  check_exact(x, {7, 12, 17, 6, 12, 18});

  v = x.version();
  x.mul_(-2.0);
  CHECK(x.version() > v);
  check_exact(x, {-14, -24, -34, -12, -24, -36});

  v = x.version();
  x.zero_();
  CHECK(x.version() > v);
  check_exact(x, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("in-place writes into non-contiguous views touch only the view's elements") {
  Tensor x = iota(Shape{3, 4}, DType::f32, 0.0);
  Tensor col = x.slice(1, 1, 4, 2);  // columns 1 and 3
  col.mul_(10.0);
  check_exact(x, {0, 10, 2, 30, 4, 50, 6, 70, 8, 90, 10, 110});
  col.add_(Tensor::ones(Shape{3, 2}));
  check_exact(x, {0, 11, 2, 31, 4, 51, 6, 71, 8, 91, 10, 111});
  x.transpose().select(0, 0).fill_(-1.0);  // column 0
  check_exact(x, {-1, 11, 2, 31, -1, 51, 6, 71, -1, 91, 10, 111});
  // copy_ casts from the source dtype and broadcasts it
  x.select(0, 0).copy_(Tensor::scalar(0.25, DType::f64));
  check_exact(x.select(0, 0), {0.25, 0.25, 0.25, 0.25});
}

TEST_CASE("add_ and copy_ read a source that overlaps the destination before writing") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, dtype);
    x.add_(x.transpose());  // x + x^T, symmetric
    check_exact(x, {2, 5, 5, 8});
    Tensor y = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, dtype);
    y.copy_(y.transpose());
    check_exact(y, {1, 3, 2, 4});
    Tensor z = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{3, 2}, dtype);
    z.add_(z.select(0, 0));  // row 0 broadcast onto every row, itself included
    check_exact(z, {2, 4, 4, 6, 6, 8});
    Tensor w = Tensor::arange(6, dtype);
    w.slice(0, 1, 6).copy_(w.slice(0, 0, 5));  // shift right by one
    check_exact(w, {0, 0, 1, 2, 3, 4});
    Tensor v = Tensor::arange(6, dtype);
    v.slice(0, 0, 5).add_(v.slice(0, 1, 6));  // v[i] += v[i + 1], all from the old values
    check_exact(v, {1, 3, 5, 7, 9, 5});
    Tensor u = Tensor::from_vector({1, 2}, Shape{2}, dtype);
    u.add_(u);
    check_exact(u, {2, 4});
  }
}

TEST_CASE("tensors print their dtype, shape and values, eliding long axes") {
  CHECK(Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3}).format() == "f32[2, 3] [[1, 2, 3], [4, 5, 6]]");
  CHECK(Tensor::arange(10, DType::f64).format(2) == "f64[10] [0, 1, ..., 8, 9]");
  CHECK(Tensor::scalar(0.5, DType::f64).format() == "f64[] 0.5");
  CHECK(Tensor::from_indices({3, 1}, Shape{2}).format() == "i64[2] [3, 1]");
  CHECK(Tensor::arange(6).reshape(Shape{2, 3}).transpose().format() == "f32[3, 2] [[0, 3], [1, 4], [2, 5]]");
  std::ostringstream s;
  s << Tensor::zeros(Shape{0});
  CHECK(s.str() == "f32[0] []");
  // edge_items 0 or less: every entry, none elided (it read past the values)
  CHECK(Tensor::arange(5, DType::f64).format(0) == "f64[5] [0, 1, 2, 3, 4]");
  CHECK(Tensor::arange(5, DType::f64).format(-1) == "f64[5] [0, 1, 2, 3, 4]");
}

TEST_CASE("to(i64) truncates toward zero and refuses values with no i64 value") {
  const Tensor x = Tensor::from_vector({-2.7, 2.7, -0.5, 1e18}, Shape{4}, DType::f64);
  CHECK(x.to(DType::i64).to_indices() == std::vector<std::int64_t>{-2, 2, 0, 1000000000000000000});
  CHECK(cast(x.to(DType::f32), DType::i64).to_indices()[1] == 2);
  CHECK(Tensor::full(Shape{2}, -3.9, DType::i64).to_indices() == std::vector<std::int64_t>{-3, -3});
  CHECK(Tensor::scalar(-0x1p63, DType::f64).to(DType::i64).to_indices()[0] == std::numeric_limits<std::int64_t>::min());
  for (double bad : {std::nan(""), double(INFINITY), -double(INFINITY), 0x1p63, -0x1p64}) {
    INFO(bad);
    const Tensor b = Tensor::from_vector({1.0, bad}, Shape{2}, DType::f64);
    CHECK_THROWS_WITH_AS(b.to(DType::i64), doctest::Contains("has no i64 value"), Error);
    CHECK_THROWS_WITH_AS(cast(b.to(DType::f32), DType::i64), doctest::Contains("has no i64 value"), Error);
    CHECK_THROWS_WITH_AS(Tensor::full(Shape{1}, bad, DType::i64), doctest::Contains("has no i64 value"), Error);
    Tensor into = Tensor::from_indices({7, 7}, Shape{2});
    CHECK_THROWS_WITH_AS(into.copy_(b), doctest::Contains("has no i64 value"), Error);
    CHECK(into.to_indices() == std::vector<std::int64_t>{7, 7});  // checked before anything is written
  }
}
