// Reductions (sum, max, min, mean, logsumexp, sum_to) over axis sets and matmul (2-d, batched,
// broadcast batch, transposed operands, 1-d operands, K = 0) and the backend's matmul_add, against
// naive loops in double.
#include "core_test_util.hpp"
#include "tide/core/backend.hpp"
#include "cpu/chunked_gemm.hpp"
#include <cmath>
#include <functional>
#include <limits>

using namespace tide;
using tide::test::check_exact;
using tide::test::check_values;

namespace {

// Deterministic, irregular values in [-1, 1]; with a large offset where asked.
Tensor pseudo(const Shape& shape, DType dtype, int seed, double offset = 0.0) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = offset + std::sin(1.7 * static_cast<double>(i) + seed) * 0.9;
  return Tensor::from_vector(v, shape, dtype);
}

// Reference reduction: folds each output element's inputs with `fold`, then `finish(acc, count)`.
std::vector<double> reduce_ref(const Tensor& x, const std::vector<int>& axes,
                               const std::function<double(const std::vector<double>&)>& f) {
  const Shape s = x.shape();
  Shape kept = s;
  for (int a : axes) kept[a] = 1;
  const std::vector<double> xv = x.to_vector();
  std::vector<std::vector<double>> groups(static_cast<std::size_t>(kept.numel()));
  for (std::int64_t i = 0; i < s.numel(); ++i) {
    auto idx = tide::test::unravel(i, s);
    for (int a : axes) idx[static_cast<std::size_t>(a)] = 0;
    groups[static_cast<std::size_t>(tide::test::ravel(idx, kept))].push_back(xv[static_cast<std::size_t>(i)]);
  }
  std::vector<double> out;
  for (const auto& g : groups) out.push_back(f(g));
  return out;
}

double ref_sum(const std::vector<double>& g) { double s = 0; for (double v : g) s += v; return s; }
double ref_max(const std::vector<double>& g) { double m = -INFINITY; for (double v : g) m = std::max(m, v); return m; }
double ref_min(const std::vector<double>& g) { double m = INFINITY; for (double v : g) m = std::min(m, v); return m; }
double ref_mean(const std::vector<double>& g) { return ref_sum(g) / static_cast<double>(g.size()); }
double ref_lse(const std::vector<double>& g) {
  const double m = ref_max(g);
  if (std::isinf(m)) return m;
  double s = 0;
  for (double v : g) s += std::exp(v - m);
  return m + std::log(s);
}

using ReduceFn = Tensor (*)(const Tensor&, const std::vector<std::int64_t>&, bool);

struct ReduceCase {
  const char* name;
  ReduceFn fn;
  double (*ref)(const std::vector<double>&);
};
const ReduceCase reduce_cases[] = {
    {"sum", sum, ref_sum}, {"max", max, ref_max}, {"min", min, ref_min},
    {"mean", mean, ref_mean}, {"logsumexp", logsumexp, ref_lse}};

// Shape of the result of reducing `s` over `axes` (normalised) with or without keepdim.
Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim) {
  Shape out;
  for (int i = 0; i < s.rank(); ++i) {
    const bool r = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!r) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

void check_reductions(const Tensor& x, const std::vector<std::int64_t>& axes) {
  std::vector<int> norm;
  for (auto a : axes) norm.push_back(normalize_axis(a, x.rank(), "test"));
  if (axes.empty())
    for (int i = 0; i < x.rank(); ++i) norm.push_back(i);
  for (const ReduceCase& c : reduce_cases) {
    for (bool keepdim : {false, true}) {
      INFO(c.name, " ", x.str(), " keepdim=", keepdim, " axes=", Shape(axes).str());
      const Tensor y = c.fn(x, axes, keepdim);
      CHECK(y.shape() == reduced_shape(x.shape(), norm, keepdim));
      CHECK(y.dtype() == x.dtype());
      check_values(y, reduce_ref(x, norm, c.ref), tide::test::tol_for(x.dtype()) * 4, tide::test::tol_for(x.dtype()));
    }
  }
}

}  // namespace

TEST_CASE("reductions over single, multiple, negative and all axes, keepdim or not") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = pseudo(Shape{3, 4, 5}, dtype, 1);
    for (const std::vector<std::int64_t>& axes :
         std::vector<std::vector<std::int64_t>>{{0}, {1}, {2}, {-1}, {-3}, {0, 2}, {2, 0}, {-1, -2}, {0, 1, 2}, {}})
      check_reductions(x, axes);
    // all-negative and all-positive data: max/min must not start from 0
    check_reductions(pseudo(Shape{3, 4, 5}, dtype, 8, -3.0), {1});
    check_reductions(pseudo(Shape{3, 4, 5}, dtype, 9, 3.0), {0, 2});
    // a long row exercises the unrolled sum path and its tail
    check_reductions(pseudo(Shape{2, 1037}, dtype, 2), {1});
    check_reductions(pseudo(Shape{1037}, dtype, 3), {});
    // rank 0: reducing all (no) axes returns the value
    CHECK(sum(Tensor::scalar(2.5, dtype)).item() == 2.5);
    CHECK(max(Tensor::scalar(2.5, dtype)).item() == 2.5);
  }
}

TEST_CASE("reductions of non-contiguous views") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor base = pseudo(Shape{4, 6, 5}, dtype, 4);
    const Tensor t = base.permute(Shape{2, 0, 1});         // [5, 4, 6]
    const Tensor s = base.slice(1, 1, 6, 2);                // [4, 3, 5]
    const Tensor b = pseudo(Shape{1, 6}, dtype, 5).broadcast_to(Shape{3, 6});  // stride 0
    for (const std::vector<std::int64_t>& axes : std::vector<std::vector<std::int64_t>>{{0}, {1}, {-1}, {0, 2}, {}}) {
      check_reductions(t, axes);
      check_reductions(s, axes);
    }
    check_reductions(b, {0});
    check_reductions(b, {1});
  }
}

// Column sums of a contiguous tensor over its leading axes (bias gradients) take a kernel that keeps
// a block of columns in registers; it adds each column's rows in order, like the generic path, so
// the sums are exact against a sequential loop in the tensor's own precision.
template <class T> void check_leading_sums(const Tensor& x, int lead) {
  std::int64_t m = 1;
  for (int a = 0; a < lead; ++a) m *= x.size(a);
  const std::int64_t n = x.numel() / m;
  const std::vector<double> v = x.to_vector();
  std::vector<double> expect;
  for (std::int64_t j = 0; j < n; ++j) {
    T acc = 0;
    for (std::int64_t i = 0; i < m; ++i) acc += static_cast<T>(v[static_cast<std::size_t>(i * n + j)]);
    expect.push_back(static_cast<double>(acc));
  }
  std::vector<std::int64_t> axes;
  for (int a = 0; a < lead; ++a) axes.push_back(a);
  INFO(x.str(), " leading axes ", lead);
  check_exact(sum(x, axes), expect);
}

TEST_CASE("sums over leading axes of contiguous tensors are the sequential column sums") {
  for (const Shape& s : {Shape{64, 32}, Shape{64, 4}, Shape{7, 200}, Shape{1, 70}, Shape{300, 17}, Shape{3, 4, 37}}) {
    check_leading_sums<float>(pseudo(s, DType::f32, 11, 0.3), 1);
    check_leading_sums<double>(pseudo(s, DType::f64, 12, 0.3), 1);
  }
  check_leading_sums<float>(pseudo(Shape{3, 4, 37}, DType::f32, 13), 2);
  check_leading_sums<double>(pseudo(Shape{3, 4, 37}, DType::f64, 14), 2);
  // a contiguous view with an offset
  const Tensor rows = pseudo(Shape{10, 37}, DType::f64, 15).slice(0, 2, 9);
  REQUIRE(rows.is_contiguous());
  check_leading_sums<double>(rows, 1);
}

TEST_CASE("sum over an empty axis is zero and the sum of an empty tensor is zero") {
  const Tensor e = Tensor::zeros(Shape{3, 0});
  check_exact(sum(e, {1}), {0, 0, 0});
  CHECK(sum(e, {0}).shape() == Shape{0});
  CHECK(sum(e).item() == 0.0);
}

TEST_CASE("sum over reduced extents whose product passes int64, one of them 0, beside a kept axis is zeros") {
  // [2, 2^40, 2^40, 0] holds nothing; multiplying 2^40 * 2^40 before reaching the 0 overflowed (UBSan)
  const std::int64_t big = std::int64_t(1) << 40;
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = Tensor::zeros(Shape{2, big, big, 0}, dtype);
    const Tensor kept = sum(x, {1, 2, 3}, true);
    CHECK(kept.shape() == Shape{2, 1, 1, 1});
    check_exact(kept, {0, 0});
    check_exact(sum(x, {1, 2, 3}), {0, 0});
    const Tensor empty_kept = sum(Tensor::zeros(Shape{0, big, big, 2}, dtype), {1, 2});  // nothing to write
    CHECK(empty_kept.shape() == Shape{0, 2});
  }
}

TEST_CASE("logsumexp is stable for large values and for rows of -inf") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const double inf = INFINITY;
    const Tensor x = Tensor::from_vector({1000, 1000, 999, -inf, -inf, -inf, -1000, -1001, -inf, inf, 0, 1},
                                         Shape{4, 3}, dtype);
    const auto y = logsumexp(x, {1}).to_vector();
    const double tol = tide::test::tol_for(dtype);
    CHECK(y[0] == doctest::Approx(1000 + std::log(2 + std::exp(-1.0))).epsilon(tol));
    CHECK(y[1] == -inf);
    CHECK(y[2] == doctest::Approx(-1000 + std::log1p(std::exp(-1.0))).epsilon(tol));
    CHECK(y[3] == inf);
    // the same along axis 0 of the transpose, keepdim
    const Tensor yk = logsumexp(x.transpose(), {0}, true);
    CHECK(yk.shape() == Shape{1, 4});
    CHECK(yk.to_vector()[0] == doctest::Approx(y[0]).epsilon(tol));
    CHECK(yk.to_vector()[1] == -inf);
    // all axes
    CHECK(logsumexp(Tensor::full(Shape{10}, 500.0, dtype)).item() == doctest::Approx(500 + std::log(10.0)).epsilon(tol));
  }
}

TEST_CASE("max and min propagate NaN") {
  const Tensor x = Tensor::from_vector({1, NAN, 3, 4}, Shape{2, 2}, DType::f64);
  const auto mx = max(x, {1}).to_vector(), mn = min(x, {0}).to_vector();
  CHECK(std::isnan(mx[0]));
  CHECK(mx[1] == 4);
  CHECK(mn[0] == 1);
  CHECK(std::isnan(mn[1]));
}

TEST_CASE("sum_to reverses broadcasting") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = pseudo(Shape{2, 3, 4}, dtype, 6);
    const double tol = tide::test::tol_for(dtype) * 4;
    CHECK(sum_to(x, Shape{2, 3, 4}).shares_storage_with(x));
    check_values(sum_to(x, Shape{4}), reduce_ref(x, {0, 1}, ref_sum), tol, tol);
    check_values(sum_to(x, Shape{3, 1}), reduce_ref(x, {0, 2}, ref_sum), tol, tol);
    check_values(sum_to(x, Shape{2, 1, 4}), reduce_ref(x, {1}, ref_sum), tol, tol);
    check_values(sum_to(x, Shape{}), reduce_ref(x, {0, 1, 2}, ref_sum), tol, tol);
    CHECK(sum_to(x, Shape{3, 1}).shape() == Shape{3, 1});
    CHECK(sum_to(x, Shape{1, 1, 1}).shape() == Shape{1, 1, 1});
    // adjoint of broadcast_to: <broadcast(y), x> == <y, sum_to(x)>
    const Tensor y = pseudo(Shape{3, 1}, dtype, 7);
    const double lhs = sum(mul(y.broadcast_to(x.shape()), x)).item();
    const double rhs = sum(mul(y, sum_to(x, y.shape()))).item();
    CHECK(lhs == doctest::Approx(rhs).epsilon(tol * 10));
  }
}

TEST_CASE("long float sums over leading axes (column sums) and along contiguous runs sum pairwise") {
  // a serial float sum of 2^22 values of 0.1 was off by ~10% over leading axes ([m, 1], a bias
  // gradient's path) while [m] summed in eight lanes
  const std::int64_t m = std::int64_t{1} << 22;
  const Tensor x = Tensor::full(Shape{m, 1}, 0.1, DType::f32);
  const double want = 0.1f * static_cast<double>(m);  // 0.1 as a float, m times
  CHECK(sum(x, {0}).item() == doctest::Approx(want).epsilon(1e-5));
  CHECK(sum(x.reshape(Shape{m})).item() == doctest::Approx(want).epsilon(1e-5));
  CHECK(sum(x.reshape(Shape{m / 4, 4}), {0}).to_vector()[3] == doctest::Approx(want / 4).epsilon(1e-5));
  CHECK(mean(x, {0}).item() == doctest::Approx(0.1f).epsilon(1e-5));
  CHECK(sum(Tensor::ones(Shape{std::int64_t{1} << 25, 1}, DType::f32), {0}).item() == 33554432.0);  // stopped at 2^24
}

TEST_CASE("long float sums over middle or scattered axes and of strided views sum pairwise too") {
  // these walked the tensor adding serially: 2^22 values of 0.1 came out ~10% off, 2^25 ones at 2^24
  const std::int64_t m = std::int64_t{1} << 22;
  const double want = 0.1f * static_cast<double>(m);
  const Tensor x = Tensor::full(Shape{2, m, 3}, 0.1, DType::f32);
  for (double v : sum(x, {1}).to_vector()) CHECK(v == doctest::Approx(want).epsilon(1e-5));          // a middle axis
  for (double v : sum(x, {0, 1}).to_vector()) CHECK(v == doctest::Approx(2 * want).epsilon(1e-5));   // leading + middle
  const Tensor y = Tensor::full(Shape{m / 4, 2, 4}, 0.1, DType::f32);
  for (double v : sum(y, {0, 2}).to_vector()) CHECK(v == doctest::Approx(want).epsilon(1e-5));       // scattered axes
  const Tensor t = Tensor::full(Shape{3, m}, 0.1, DType::f32).transpose(0, 1);                      // [m, 3], strided
  for (double v : sum(t, {0}).to_vector()) CHECK(v == doctest::Approx(want).epsilon(1e-5));
  CHECK(sum(t).item() == doctest::Approx(3 * want).epsilon(1e-5));
  CHECK(sum(Tensor::ones(Shape{2, std::int64_t{1} << 25}, DType::f32).transpose(0, 1), {0}).to_vector()[1] == 33554432.0);
  // the same values as the serial walk on short sums, and max / min unchanged
  const Tensor z = Tensor::from_vector({1.0, -2.0, 3.5, 4.0, 0.25, -1.5}, Shape{1, 3, 2}, DType::f32);
  CHECK(sum(z, {1}).to_vector() == std::vector<double>{4.75, 0.5});
  CHECK(reduce(Op::max, z, 0b010, false).to_vector() == std::vector<double>{3.5, 4.0});
}

// ---- matmul ----------------------------------------------------------------------------------------

namespace {

// Naive a @ b in double with NumPy semantics for the batch axes (given by explicit shapes).
std::vector<double> matmul_ref(const Tensor& a, const Tensor& b, const Shape& out) {
  const Shape as = a.shape(), bs = b.shape();
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  const std::int64_t m = as.back(2), k = as.back(1), n = bs.back(1);
  const int ob = out.rank() - 2;
  std::vector<double> r;
  for (std::int64_t f = 0; f < out.numel(); ++f) {
    const auto idx = tide::test::unravel(f, out);
    auto batch_base = [&](const Shape& s) {  // flat offset of this batch's matrix in the operand
      std::int64_t off = 0;
      for (int d = 0; d < s.rank() - 2; ++d) {
        const std::int64_t o = idx[static_cast<std::size_t>(ob - (s.rank() - 2) + d)];
        off = off * s[d] + (s[d] == 1 ? 0 : o);
      }
      return off;
    };
    const std::int64_t i = idx[static_cast<std::size_t>(ob)], j = idx[static_cast<std::size_t>(ob + 1)];
    const std::int64_t ba = batch_base(as) * m * k, bb = batch_base(bs) * k * n;
    double acc = 0;
    for (std::int64_t p = 0; p < k; ++p)
      acc += av[static_cast<std::size_t>(ba + i * k + p)] * bv[static_cast<std::size_t>(bb + p * n + j)];
    r.push_back(acc);
  }
  return r;
}

void check_matmul(const Tensor& a, const Tensor& b, const Shape& expected) {
  INFO(a.str(), " @ ", b.str(), " strides ", a.strides().str(), " ", b.strides().str());
  const Tensor y = matmul(a, b);
  CHECK(y.shape() == expected);
  const double tol = a.dtype() == DType::f32 ? 1e-5 : 1e-13;
  const std::vector<double> ref = matmul_ref(a.contiguous(), b.contiguous(), expected);
  check_values(y, ref, tol, tol);
  // the backend's matmul_add (the CPU: one GEMM with beta = 1) on the same operands, their batch
  // axes broadcast as the op layer hands them over: what the result held plus the product
  const int r = expected.rank();
  Shape as = expected, bs = expected;
  as[r - 1] = a.shape()[a.rank() - 1];
  bs[r - 2] = as[r - 1];
  const Tensor before = pseudo(expected, a.dtype(), 99), acc = before.clone();
  backend_for(Device::cpu()).matmul_add(a.broadcast_to(as), b.broadcast_to(bs), acc);
  std::vector<double> want = before.to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) want[i] += ref[i];
  check_values(acc, want, tol, tol);
}

}  // namespace

TEST_CASE("matmul of 2-d, batched and broadcast-batch operands") {
  for (DType dtype : {DType::f32, DType::f64}) {
    check_matmul(pseudo(Shape{3, 4}, dtype, 1), pseudo(Shape{4, 5}, dtype, 2), Shape{3, 5});
    check_matmul(pseudo(Shape{1, 4}, dtype, 1), pseudo(Shape{4, 1}, dtype, 2), Shape{1, 1});
    check_matmul(pseudo(Shape{2, 3, 4}, dtype, 3), pseudo(Shape{2, 4, 5}, dtype, 4), Shape{2, 3, 5});
    check_matmul(pseudo(Shape{2, 3, 4, 5}, dtype, 5), pseudo(Shape{5, 6}, dtype, 6), Shape{2, 3, 4, 6});
    check_matmul(pseudo(Shape{4, 5}, dtype, 7), pseudo(Shape{2, 5, 6}, dtype, 8), Shape{2, 4, 6});
    check_matmul(pseudo(Shape{2, 1, 3, 4}, dtype, 9), pseudo(Shape{3, 4, 2}, dtype, 10), Shape{2, 3, 3, 2});
    check_matmul(pseudo(Shape{1, 3, 4}, dtype, 11), pseudo(Shape{5, 4, 2}, dtype, 12), Shape{5, 3, 2});
    check_matmul(pseudo(Shape{37, 65}, dtype, 13), pseudo(Shape{65, 29}, dtype, 14), Shape{37, 29});
    check_matmul(pseudo(Shape{300, 70}, dtype, 15), pseudo(Shape{70, 260}, dtype, 16), Shape{300, 260});  // past libxsmm: BLAS
  }
}

TEST_CASE("matmul with transposed, sliced and broadcast views as operands") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor at = pseudo(Shape{4, 3}, dtype, 1).transpose();       // [3, 4], column-major
    const Tensor bt = pseudo(Shape{5, 4}, dtype, 2).transpose();       // [4, 5], column-major
    const Tensor a = pseudo(Shape{3, 4}, dtype, 3), b = pseudo(Shape{4, 5}, dtype, 4);
    check_matmul(at, b, Shape{3, 5});
    check_matmul(a, bt, Shape{3, 5});
    check_matmul(at, bt, Shape{3, 5});
    // batched transposes, and a transposed left operand against a shared right one
    const Tensor abt = pseudo(Shape{2, 4, 3}, dtype, 5).transpose();   // [2, 3, 4]
    const Tensor bbt = pseudo(Shape{2, 5, 4}, dtype, 6).transpose();   // [2, 4, 5]
    check_matmul(abt, bbt, Shape{2, 3, 5});
    check_matmul(abt, b, Shape{2, 3, 5});
    check_matmul(abt, bt, Shape{2, 3, 5});
    // permuted batch axis: [3, 2, 4] viewed as [2, 3, 4]
    check_matmul(pseudo(Shape{3, 2, 4}, dtype, 7).permute(Shape{1, 0, 2}), b, Shape{2, 3, 5});
    // stepped slices (neither row- nor column-major): must be copied or handled by strides
    const Tensor as = pseudo(Shape{6, 8}, dtype, 8).slice(0, 0, 6, 2).slice(1, 1, 8, 2);  // [3, 4]
    check_matmul(as, bt, Shape{3, 5});
    check_matmul(at, pseudo(Shape{4, 10}, dtype, 9).slice(1, 0, 10, 2), Shape{3, 5});
    // sub-matrix views with a leading dimension larger than the width
    check_matmul(pseudo(Shape{5, 7}, dtype, 10).slice(0, 1, 4).slice(1, 2, 6), b, Shape{3, 5});
    // a batch of single-row matrices whose row stride exceeds their width: [3, 1, 4] with
    // strides (16, 16, 1) against a shared right operand (the batch cannot fold into 3 rows of 4)
    const Tensor rows = pseudo(Shape{3, 2, 8}, dtype, 13).slice(2, 0, 4).slice(1, 0, 2, 2);
    REQUIRE(rows.strides() == Shape{16, 16, 1});
    check_matmul(rows, b, Shape{3, 1, 5});
    check_matmul(pseudo(Shape{3, 2, 8}, dtype, 14).slice(2, 0, 4), b, Shape{3, 2, 5});
    // explicitly broadcast batch operand (stride 0)
    check_matmul(a.unsqueeze(0).broadcast_to(Shape{3, 3, 4}), pseudo(Shape{3, 4, 5}, dtype, 11), Shape{3, 3, 5});
    check_matmul(pseudo(Shape{3, 3, 4}, dtype, 12), bt.unsqueeze(0).broadcast_to(Shape{3, 4, 5}), Shape{3, 3, 5});
    // a transposed right operand (dX = dY W^T of a layer's backward), which libxsmm takes as a
    // transposed copy: 4 x 4 blocks with remainders on both axes, and a leading dimension wider
    // than the row
    check_matmul(pseudo(Shape{9, 130}, dtype, 15), pseudo(Shape{67, 130}, dtype, 16).transpose(), Shape{9, 67});
    check_matmul(pseudo(Shape{32, 64}, dtype, 17), pseudo(Shape{128, 64}, dtype, 18).transpose(), Shape{32, 128});
    check_matmul(pseudo(Shape{5, 6}, dtype, 19), pseudo(Shape{7, 10}, dtype, 20).slice(1, 1, 7).transpose(), Shape{5, 7});
    check_matmul(pseudo(Shape{2, 5, 6}, dtype, 21), pseudo(Shape{7, 10}, dtype, 22).slice(1, 1, 7).transpose(), Shape{2, 5, 7});
  }
}

TEST_CASE("matmul with few output columns (the narrow kernels): every tail, transposed and sliced operands") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    // A untransposed: dot products along k; k with and without a partial vector, m odd and even
    for (std::int64_t n : {1, 2, 3})
      for (std::int64_t k : {16, 21, 50})
        for (std::int64_t m : {8, 9, 33}) check_matmul(pseudo(Shape{m, k}, dtype, 1), pseudo(Shape{k, n}, dtype, 2), Shape{m, n});
    check_matmul(pseudo(Shape{3, 40}, dtype, 3), pseudo(Shape{2, 40}, dtype, 4).transpose(), Shape{3, 2});    // B stored transposed
    check_matmul(pseudo(Shape{9, 45}, dtype, 3), pseudo(Shape{2, 50}, dtype, 4).slice(1, 0, 45).transpose(), Shape{9, 2});  // a k tail, ldb > k
    check_matmul(pseudo(Shape{9, 60}, dtype, 5).slice(1, 3, 53), pseudo(Shape{50, 6}, dtype, 6).slice(1, 1, 3), Shape{9, 2});
    check_matmul(pseudo(Shape{4, 11, 24}, dtype, 7), pseudo(Shape{24, 3}, dtype, 8), Shape{4, 11, 3});  // a batch folded into rows
    check_matmul(pseudo(Shape{2000, 32}, dtype, 9), pseudo(Shape{32, 2}, dtype, 10), Shape{2000, 2});
    // floats from 64 rows and 32 terms: 8 x 8 blocks of A transposed in registers, rows and k past the last block
    for (std::int64_t n : {1, 2, 3, 4})
      for (std::int64_t k : {32, 37})
        for (std::int64_t m : {64, 71}) check_matmul(pseudo(Shape{m, k}, dtype, 15), pseudo(Shape{k, n}, dtype, 16), Shape{m, n});
    check_matmul(pseudo(Shape{80, 50}, dtype, 17).slice(1, 2, 42), pseudo(Shape{4, 45}, dtype, 18).slice(1, 1, 41).transpose(), Shape{80, 4});
    for (std::int64_t n : {2, 3, 4}) {  // rows past the last block read with a wider row stride; B sliced, and stored transposed
      CAPTURE(n);
      const Tensor a = pseudo(Shape{69, 45}, dtype, 19).slice(1, 3, 40);  // [69, 37], lda 45
      check_matmul(a, pseudo(Shape{37, 6}, dtype, 20).slice(1, 1, 1 + n), Shape{69, n});
      check_matmul(a, pseudo(Shape{n, 41}, dtype, 21).slice(1, 2, 39).transpose(), Shape{69, n});
    }
    // A transposed (a weight gradient x^T g): vectors along m, then the rows past the last whole one
    for (std::int64_t n : {1, 2, 4})
      for (std::int64_t m : {8, 12, 17, 50})  // 12: one f64 vector block after two, one f32 block then a tail
        for (std::int64_t k : {16, 64}) check_matmul(pseudo(Shape{k, m}, dtype, 11).transpose(), pseudo(Shape{k, n}, dtype, 12), Shape{m, n});
    check_matmul(pseudo(Shape{40, 70}, dtype, 13).slice(1, 5, 55).transpose(), pseudo(Shape{40, 9}, dtype, 14).slice(1, 2, 4), Shape{50, 2});
  }
}

TEST_CASE("a narrow product's row does not depend on how many rows come with it, while the narrow kernel serves it") {
  {  // floats past 64 rows: the 8 x 8 blocks, rows past the last one
    const Tensor big = pseudo(Shape{140, 40}, DType::f32, 5), b4 = pseudo(Shape{40, 4}, DType::f32, 6), all = matmul(big, b4);
    for (std::int64_t start : {1, 8, 30}) {
      CAPTURE(start);
      CHECK(matmul(big.slice(0, start, 140), b4).to_vector() == all.slice(0, start, 140).to_vector());
    }
  }
  // n = 1 too: a one-output layer's weight gradient x^T g (its rows past the vector blocks were summed without FMA)
  for (DType dtype : {DType::f32, DType::f64})
    for (std::int64_t n : {1, 2}) {
      const Tensor a = pseudo(Shape{37, 50}, dtype, 1), b = pseudo(Shape{50, n}, dtype, 2);
      const Tensor whole = matmul(a, b), at = pseudo(Shape{64, 37}, dtype, 3), g = pseudo(Shape{64, n}, dtype, 4);
      const Tensor grad = matmul(at.transpose(), g);
      for (std::int64_t start : {0, 1, 8, 20, 29}) {
        CAPTURE(n);
        CAPTURE(start);
        const std::vector<double> part = matmul(a.slice(0, start, 37), b).to_vector(), want = whole.slice(0, start, 37).to_vector();
        CHECK(part == want);
        const std::vector<double> gpart = matmul(at.slice(1, start, 37).transpose(), g).to_vector(), gwant = grad.slice(0, start, 37).to_vector();
        CHECK(gpart == gwant);
      }
    }
}

TEST_CASE("matmul with few rows times terms (a batch-1 gradient's products): every layout, k tails, sliced operands, NaN kept") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    // the batch-1 products of an eager gradient, such as x^T dz [2, 1] x [1, 50]
    for (std::int64_t n : {8, 9, 50, 130})
      for (std::int64_t k : {1, 2, 3, 16})
        for (std::int64_t m : {1, 2, 5}) {
          if (m * k > 16) continue;
          CAPTURE(m);
          CAPTURE(n);
          CAPTURE(k);
          const Tensor a = pseudo(Shape{m, k}, dtype, 1), at = pseudo(Shape{k, m}, dtype, 2).transpose();
          const Tensor b = pseudo(Shape{k, n}, dtype, 3), bt = pseudo(Shape{n, k}, dtype, 4).transpose();
          check_matmul(a, b, Shape{m, n});
          check_matmul(at, b, Shape{m, n});
          check_matmul(a, bt, Shape{m, n});
          check_matmul(at, bt, Shape{m, n});
        }
    // leading dimensions wider than the rows, on every operand
    check_matmul(pseudo(Shape{3, 9}, dtype, 5).slice(1, 2, 6), pseudo(Shape{4, 70}, dtype, 6).slice(1, 5, 55), Shape{3, 50});
    check_matmul(pseudo(Shape{4, 7}, dtype, 7).slice(1, 1, 4).transpose(), pseudo(Shape{30, 6}, dtype, 8).slice(1, 1, 5).transpose(), Shape{3, 30});
    check_matmul(pseudo(Shape{2, 2, 3}, dtype, 9), pseudo(Shape{3, 12}, dtype, 10), Shape{2, 2, 12});  // a batch folded into rows
    // NaN and inf reach exactly the outputs whose terms hold them
    std::vector<double> av{1.0, std::nan(""), 2.0, 0.0}, bv(2 * 8, 1.0);
    bv[8 + 3] = std::numeric_limits<double>::infinity();
    const Tensor y = matmul(Tensor::from_vector(av, Shape{2, 2}, dtype), Tensor::from_vector(bv, Shape{2, 8}, dtype));
    const std::vector<double> yv = y.to_vector();
    for (std::int64_t j = 0; j < 8; ++j) {
      CAPTURE(j);
      CHECK(std::isnan(yv[static_cast<std::size_t>(j)]));  // row 0: 1 b + NaN b
      if (j == 3) CHECK(std::isnan(yv[static_cast<std::size_t>(8 + j)]));  // 2 * 1 + 0 * inf
      else CHECK(yv[static_cast<std::size_t>(8 + j)] == 2.0);
    }
  }
}

TEST_CASE("matmul with 1-d operands drops the vector axis") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor v = pseudo(Shape{4}, dtype, 1), w = pseudo(Shape{4}, dtype, 2);
    const Tensor m = pseudo(Shape{4, 3}, dtype, 3), mt = pseudo(Shape{3, 4}, dtype, 4);
    const double tol = dtype == DType::f32 ? 1e-5 : 1e-13;
    // vector @ vector: a scalar
    const Tensor d = matmul(v, w);
    CHECK(d.rank() == 0);
    check_values(d, matmul_ref(v.reshape(Shape{1, 4}), w.reshape(Shape{4, 1}), Shape{1, 1}), tol, tol);
    // vector @ matrix and matrix @ vector
    const Tensor vm = matmul(v, m), mv = matmul(mt, v);
    CHECK(vm.shape() == Shape{3});
    CHECK(mv.shape() == Shape{3});
    check_values(vm, matmul_ref(v.reshape(Shape{1, 4}), m, Shape{1, 3}), tol, tol);
    check_values(mv, matmul_ref(mt, v.reshape(Shape{4, 1}), Shape{3, 1}), tol, tol);
    // batched matrix @ vector
    const Tensor bm = pseudo(Shape{2, 3, 4}, dtype, 5);
    const Tensor bmv = matmul(bm, v);
    CHECK(bmv.shape() == Shape{2, 3});
    check_values(bmv, matmul_ref(bm, v.reshape(Shape{4, 1}), Shape{2, 3, 1}), tol, tol);
    // strided vector
    const Tensor vs = pseudo(Shape{8}, dtype, 6).slice(0, 0, 8, 2);
    check_values(matmul(mt, vs), matmul_ref(mt, vs.contiguous().reshape(Shape{4, 1}), Shape{3, 1}), tol, tol);
  }
}

TEST_CASE("matmul with K = 0 gives zeros and empty M or N gives an empty result") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor y = matmul(Tensor::ones(Shape{3, 0}, dtype), Tensor::ones(Shape{0, 4}, dtype));
    CHECK(y.shape() == Shape{3, 4});
    check_exact(y, std::vector<double>(12, 0.0));
    const Tensor yb = matmul(Tensor::ones(Shape{2, 3, 0}, dtype), Tensor::ones(Shape{0, 2}, dtype));
    check_exact(yb, std::vector<double>(12, 0.0));
    CHECK(matmul(Tensor::ones(Shape{0, 3}, dtype), Tensor::ones(Shape{3, 4}, dtype)).shape() == Shape{0, 4});
    CHECK(matmul(Tensor::ones(Shape{2, 3}, dtype), Tensor::ones(Shape{3, 0}, dtype)).shape() == Shape{2, 0});
    // adding an empty product leaves the result as it was
    const Tensor acc = Tensor::full(Shape{3, 4}, 2.5, dtype);
    backend_for(Device::cpu()).matmul_add(Tensor::ones(Shape{3, 0}, dtype), Tensor::ones(Shape{0, 4}, dtype), acc);
    check_exact(acc, std::vector<double>(12, 2.5));
  }
}

TEST_CASE("matmul inside a TransposeCacheScope: a transposed operand's copy is reused only while its storage is unchanged") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const TransposeCacheScope outer;
    const Tensor a = pseudo(Shape{6, 5}, dtype, 30);
    Tensor w = pseudo(Shape{9, 5}, dtype, 31);  // used as w^T [5, 9]
    check_matmul(a, w.transpose(), Shape{6, 9});
    check_matmul(a, w.transpose(), Shape{6, 9});  // served from the copy
    w.mul_(-2.0);                                 // an in-place write: a new version
    check_matmul(a, w.transpose(), Shape{6, 9});
    for (int round = 0; round < 3; ++round) {  // storages freed and reallocated, likely at one address
      const TransposeCacheScope inner;
      const Tensor fresh = pseudo(Shape{9, 5}, dtype, 40 + round);
      check_matmul(a, fresh.transpose(), Shape{6, 9});
    }
    check_matmul(a, pseudo(Shape{9, 7}, dtype, 32).slice(1, 1, 6).transpose(), Shape{6, 9});  // same storage size, another layout
    check_matmul(a, pseudo(Shape{2, 9, 5}, dtype, 33).transpose(1, 2), Shape{2, 6, 9});      // a batch of operands
  }
}

namespace {

// chunked_gemm with BLAS calls of at most `limit` in each extent against one call (the whole
// product), the operands stored with `pad` extra elements per row. Small integers: every sum is
// exact, whatever the order, so the two must agree bit for bit (C's padding included).
template <class T>
void check_chunked_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t pad, std::int64_t limit,
                        bool accumulate) {
  const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  auto values = [](std::int64_t count, int seed) {
    std::vector<T> v(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(static_cast<int>((i * 7 + seed) % 9) - 4);
    return v;
  };
  const std::vector<T> a = values((ta ? k : m) * lda, 1), b = values((tb ? n : k) * ldb, 2);
  std::vector<T> whole = values(m * ldc, 3), chunked = whole;
  cpu::chunked_gemm<T>(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, whole.data(), ldc, accumulate, cpu::blas_int_max());
  cpu::chunked_gemm<T>(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, chunked.data(), ldc, accumulate, limit);
  INFO("trans_a ", ta, ", trans_b ", tb, ", m n k ", m, " ", n, " ", k, ", pad ", pad, ", limit ", limit, ", accumulate ", accumulate);
  CHECK(chunked == whole);
}

}  // namespace

TEST_CASE("the CPU product split into BLAS calls within a limit (extents past blasint) equals the whole product") {
  // limit 5 with pad 0 on 13 x 4 x 4 splits rows with every leading dimension within it; a leading
  // dimension past the limit sends the extent it strides one at a time (limits 1-3, pads)
  const std::int64_t shapes[][3] = {{7, 5, 6}, {13, 4, 4}, {4, 13, 4}, {4, 4, 13}, {1, 9, 4}, {8, 1, 1}, {3, 3, 3}, {1, 1, 11}};
  for (const auto& s : shapes)
    for (std::int64_t limit : {1, 2, 3, 5, 64})
      for (std::int64_t pad : {0, 2})
        for (int layout = 0; layout < 8; ++layout) {
          const bool ta = layout & 1, tb = layout & 2, accumulate = layout & 4;
          check_chunked_gemm<float>(ta, tb, s[0], s[1], s[2], pad, limit, accumulate);
          check_chunked_gemm<double>(ta, tb, s[0], s[1], s[2], pad, limit, accumulate);
        }
}
