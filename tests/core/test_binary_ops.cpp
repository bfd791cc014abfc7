// Elementwise binary ops and comparisons with NumPy broadcasting, on contiguous and strided
// operands, and where(cond, a, b). The reference broadcasts by index arithmetic in double.
#include "core_test_util.hpp"
#include <functional>
#include <limits>

using namespace tide;
using tide::test::check_exact;
using tide::test::check_values;

namespace {

using BinaryRef = std::function<double(double, double)>;
struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  BinaryRef ref;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double u, double v) { return u + v; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](double u, double v) { return u - v; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](double u, double v) { return u * v; }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](double u, double v) { return u / v; }},
      {"operator+", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double u, double v) { return u + v; }},
      {"operator-", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double u, double v) { return u - v; }},
      {"operator*", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double u, double v) { return u * v; }},
      {"operator/", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double u, double v) { return u / v; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, [](double u, double v) { return std::max(u, v); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, [](double u, double v) { return std::min(u, v); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, [](double u, double v) { return double(u == v); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, [](double u, double v) { return double(u != v); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, [](double u, double v) { return double(u < v); }},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, [](double u, double v) { return double(u <= v); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, [](double u, double v) { return double(u > v); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, [](double u, double v) { return double(u >= v); }},
  };
}

// Values with repeats (so eq/le/ge see equal pairs), both signs, no zeros (div).
Tensor values(const Shape& shape, DType dtype, int seed) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const int k = static_cast<int>((i * 7 + seed * 3) % 11);  // 0..10
    v[i] = (k - 5 == 0 ? 0.5 : k - 5) * 0.75;
  }
  return Tensor::from_vector(v, shape, dtype);
}

// Reference result of ref(a, b) broadcast to `out`: each operand indexed with its own
// (right-aligned, extent-1-repeating) multi-index.
std::vector<double> broadcast_ref(const Tensor& a, const Tensor& b, const Shape& out, const BinaryRef& ref) {
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  std::vector<double> r;
  for (std::int64_t f = 0; f < out.numel(); ++f) {
    const auto idx = tide::test::unravel(f, out);
    auto pick = [&](const Shape& s) {
      std::vector<std::int64_t> i(static_cast<std::size_t>(s.rank()));
      for (int d = 0; d < s.rank(); ++d) {
        const std::int64_t o = idx[static_cast<std::size_t>(out.rank() - s.rank() + d)];
        i[static_cast<std::size_t>(d)] = s[d] == 1 ? 0 : o;
      }
      return tide::test::ravel(i, s);
    };
    r.push_back(ref(av[static_cast<std::size_t>(pick(a.shape()))], bv[static_cast<std::size_t>(pick(b.shape()))]));
  }
  return r;
}

void check_binary_shapes(const Shape& sa, const Shape& sb, const Shape& expected) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor a = values(sa, dtype, 1), b = values(sb, dtype, 2);
    for (const BinaryCase& c : binary_cases()) {
      INFO(c.name, " ", dtype_name(dtype), " ", sa.str(), " x ", sb.str());
      const Tensor y = c.op(a, b);
      CHECK(y.shape() == expected);
      CHECK(y.dtype() == dtype);
      // inputs are exact in f32; the f32 result is the double result rounded once
      const std::vector<double> want = broadcast_ref(a, b, expected, c.ref);
      check_values(y, want, dtype == DType::f32 ? 6e-8 : 0.0);
    }
  }
}

}  // namespace

TEST_CASE("binary ops broadcast like NumPy") {
  check_binary_shapes(Shape{3, 4}, Shape{3, 4}, Shape{3, 4});
  check_binary_shapes(Shape{3, 1}, Shape{1, 4}, Shape{3, 4});
  check_binary_shapes(Shape{2, 3, 4}, Shape{4}, Shape{2, 3, 4});
  check_binary_shapes(Shape{4}, Shape{2, 3, 4}, Shape{2, 3, 4});
  check_binary_shapes(Shape{2, 1, 4}, Shape{3, 1}, Shape{2, 3, 4});
  check_binary_shapes(Shape{}, Shape{2, 3}, Shape{2, 3});  // scalar x tensor
  check_binary_shapes(Shape{2, 3}, Shape{}, Shape{2, 3});
  check_binary_shapes(Shape{}, Shape{}, Shape{});
  check_binary_shapes(Shape{5, 1, 1}, Shape{1, 1, 7}, Shape{5, 1, 7});
  check_binary_shapes(Shape{0, 3}, Shape{3}, Shape{0, 3});
  // rows of runs handed to the kernel at once: many short rows, several outer axes
  check_binary_shapes(Shape{300, 5}, Shape{5}, Shape{300, 5});
  check_binary_shapes(Shape{3, 1, 5, 4}, Shape{2, 1, 4}, Shape{3, 2, 5, 4});
  check_binary_shapes(Shape{3, 2, 5, 1}, Shape{5, 4}, Shape{3, 2, 5, 4});
  check_binary_shapes(Shape{1, 1}, Shape{1}, Shape{1, 1});  // every axis dropped: one run of one
}

TEST_CASE("binary ops on strided operands (transposed, stepped, broadcast views)") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor big = values(Shape{6, 8}, dtype, 3);
    const Tensor at = big.slice(0, 0, 4).transpose();           // [8, 4], strides (1, 8)
    const Tensor bs = values(Shape{8, 9}, dtype, 5).slice(1, 1, 9, 2);  // [8, 4], strides (9, 2)
    const Tensor row = values(Shape{1, 4}, dtype, 6).broadcast_to(Shape{8, 4});
    REQUIRE_FALSE(at.is_contiguous());
    REQUIRE_FALSE(bs.is_contiguous());
    for (const BinaryCase& c : binary_cases()) {
      INFO(c.name, " ", dtype_name(dtype));
      const double rtol = dtype == DType::f32 ? 6e-8 : 0.0;
      check_values(c.op(at, bs), broadcast_ref(at.contiguous(), bs.contiguous(), Shape{8, 4}, c.ref), rtol);
      check_values(c.op(bs, row), broadcast_ref(bs.contiguous(), row.contiguous(), Shape{8, 4}, c.ref), rtol);
      // transposed view broadcast against a column
      const Tensor col = values(Shape{8, 1}, dtype, 7);
      check_values(c.op(col, at), broadcast_ref(col, at.contiguous(), Shape{8, 4}, c.ref), rtol);
      // views that start past their storage's first element, rows of them against a broadcast row
      const Tensor mid = big.slice(0, 2, 6).slice(1, 1, 7);  // [4, 6], offset 17, strides (8, 1)
      const Tensor r6 = values(Shape{6}, dtype, 8);
      check_values(c.op(mid, r6), broadcast_ref(mid.contiguous(), r6, Shape{4, 6}, c.ref), rtol);
      check_values(c.op(r6, mid), broadcast_ref(r6, mid.contiguous(), Shape{4, 6}, c.ref), rtol);
    }
    {  // an output that starts past its storage's first element: a row added in place into rows 2..5
      const Tensor whole = values(Shape{6, 8}, dtype, 9).clone();
      const Tensor r8 = values(Shape{8}, dtype, 10);
      const std::vector<double> want = broadcast_ref(whole.slice(0, 2, 6).contiguous(), r8, Shape{4, 8},
                                                     [](double u, double v) { return u + v; });
      Tensor rows = whole.slice(0, 2, 6);
      rows.add_(r8);
      check_values(rows, want, dtype == DType::f32 ? 6e-8 : 0.0);
      check_values(whole.slice(0, 0, 2), values(Shape{6, 8}, dtype, 9).slice(0, 0, 2).contiguous().to_vector(), 0.0);
    }
  }
}

TEST_CASE("binary ops write a fresh output and keep operands unchanged") {
  const Tensor a = Tensor::from_vector({1, 2, 3}, Shape{3}, DType::f64);
  const Tensor b = Tensor::from_vector({10}, Shape{1}, DType::f64);
  const Tensor y = a + b;
  CHECK_FALSE(y.shares_storage_with(a));
  check_exact(y, {11, 12, 13});
  check_exact(a, {1, 2, 3});
}

TEST_CASE("maximum and minimum propagate NaN; comparisons with NaN are false except ne") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor a = Tensor::from_vector({nan, 1.0, 2.0}, Shape{3}, dtype);
    const Tensor b = Tensor::from_vector({0.0, nan, 3.0}, Shape{3}, dtype);
    const auto mx = maximum(a, b).to_vector(), mn = minimum(a, b).to_vector();
    CHECK(std::isnan(mx[0]));
    CHECK(std::isnan(mx[1]));
    CHECK(mx[2] == 3.0);
    CHECK(std::isnan(mn[0]));
    CHECK(std::isnan(mn[1]));
    CHECK(mn[2] == 2.0);
    check_exact(eq(a, b), {0, 0, 0});
    check_exact(ne(a, b), {1, 1, 1});
    check_exact(lt(a, b), {0, 0, 1});
    check_exact(ge(a, b), {0, 0, 0});
  }
}

TEST_CASE("where selects with broadcasting of condition and both branches") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor cond = Tensor::from_vector({1, 0, 1}, Shape{3, 1}, dtype);   // per row
    const Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{4}, dtype);      // per column
    const Tensor b = Tensor::scalar(-1.0, dtype);
    const Tensor y = where(cond, a, b);
    CHECK(y.shape() == Shape{3, 4});
    check_exact(y, {1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4});
    // a mask from a comparison, any nonzero counts as true, transposed operand
    const Tensor x = Tensor::from_vector({-2, 5, 0, 7, -3, 1}, Shape{3, 2}, dtype).transpose();  // [2, 3]
    check_exact(where(gt(x, Tensor::scalar(0, dtype)), x, mul_scalar(x, 10.0)), {-20, 0, -30, 5, 7, 1});
    const Tensor nonzero = Tensor::from_vector({0.5, -2, 0}, Shape{3}, dtype);
    check_exact(where(nonzero, Tensor::ones(Shape{3}, dtype), Tensor::zeros(Shape{2, 3}, dtype)), {1, 1, 0, 1, 1, 0});
  }
}
