// The CPU backend: aligned host memory, strided copies, elementwise/reduction loops (vectorised in
// elementwise.cpp), GEMM through OpenBLAS's CBLAS, index kernels and the counter-based RNG.
#include "cpu_backend.hpp"
#include "tide/core/small_blocks.hpp"
#include "caching_allocator.hpp"
#include "chunked_gemm.hpp"
#include "gemm_layout.hpp"
#include "elementwise.hpp"
#include "small_gemm.hpp"
#include "strided.hpp"
#include "tensor_access.hpp"
#include "tide/core/philox.hpp"
#include <cblas.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace tide::cpu {
namespace {

std::array<Shape, 2> strides2(const Tensor& a, const Tensor& b) { return {a.strides(), b.strides()}; }

template <class Fn> void dispatch_float(DType t, Fn&& fn) {
  if (t == DType::f32) fn(float{});
  else if (t == DType::f64) fn(double{});
  else fail("cpu backend: floating kernel called on i64 data");
}
template <class Fn> void dispatch_any(DType t, Fn&& fn) {
  if (t == DType::f32) fn(float{});
  else if (t == DType::f64) fn(double{});
  else fn(std::int64_t{});
}

template <class T> T* base(const Tensor& t) { return detail::TensorAccess::base<T>(t); }
using detail::output_data;

}  // namespace

void* CpuBackend::allocate(std::size_t bytes) {
  // Small blocks come from the per-thread free lists of small_blocks.hpp (16-byte aligned);
  // glibc's aligned_alloc takes a slow path, 4x the cost of malloc, which dominated small ops.
  // Larger ones (64-byte aligned for the vector loops) come from the caching allocator.
  if (bytes <= CachingAllocator::small_bytes) {
    try {
      return small_blocks::allocate(std::max<std::size_t>(bytes, 1));
    } catch (const std::bad_alloc&) {
      fail("cpu backend: out of memory allocating {} bytes", bytes);
    }
  }
  return CachingAllocator::instance().allocate(bytes);
}
void CpuBackend::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (bytes <= CachingAllocator::small_bytes) small_blocks::deallocate(ptr, std::max<std::size_t>(bytes, 1));
  else CachingAllocator::instance().deallocate(ptr, bytes);
}
void CpuBackend::copy_to_host(const void* src, void* dst, std::size_t bytes) { if (bytes) std::memcpy(dst, src, bytes); }
void CpuBackend::copy_from_host(const void* src, void* dst, std::size_t bytes) { if (bytes) std::memcpy(dst, src, bytes); }

namespace {
// rows of n <= 8 elements (src and dst rows ss and ds elements apart), not turned back into a
// memcpy call per row (GCC's loop-idiom pass would): a [B, 4] block of a wider tensor, such as
// one stage of a compiled step's packed result
template <class T>
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_short_rows(const T* src, std::int64_t ss, T* dst,
                                                                                   std::int64_t ds, std::int64_t rows,
                                                                                   std::int64_t n) {
  const auto fixed = [&](auto bytes) {  // one load and one store per row
    for (std::int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * ds, src + r * ss, decltype(bytes)::value);
  };
  switch (static_cast<std::size_t>(n) * sizeof(T)) {
    case 8: return fixed(std::integral_constant<std::size_t, 8>{});
    case 16: return fixed(std::integral_constant<std::size_t, 16>{});
    case 32: return fixed(std::integral_constant<std::size_t, 32>{});
    default:
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t i = 0; i < n; ++i) dst[r * ds + i] = src[r * ss + i];
  }
}

// [rows, n] with unit inner strides on both sides and short rows, not packed on both sides (one
// memcpy copies those): one call for all rows.
bool short_rows(const Tensor& src, const Tensor& dst) {
  if (src.rank() != 2 || dst.rank() != 2 || src.dtype() != dst.dtype()) return false;
  const std::int64_t n = src.shape()[1];
  return n <= 8 && src.strides()[1] == 1 && dst.strides()[1] == 1 && !(src.strides()[0] == n && dst.strides()[0] == n);
}
}  // namespace

namespace {
// A float converts to i64 by truncating toward zero; NaN, infinities and values outside the int64
// range have no i64 value (static_cast would be undefined behaviour), so they are refused.
template <class S> bool fits_i64(S v) { return v >= S(-0x1p63) && v < S(0x1p63); }
[[noreturn]] void fail_i64(const char* op, const Tensor& t, double v) {
  fail("{} {}: {} has no i64 value (NaN, infinite or outside the int64 range; others truncate toward zero)", op, t.str(), v);
}

// Checked before anything is written, so a refused copy_ leaves its destination as it was.
template <class S> void check_fits_i64(const S* s, const Tensor& src, const Tensor& dst) {
  for_each_run<1>(dst.shape(), std::array<Shape, 1>{src.strides()}, {src.offset()}, [&](auto off, std::int64_t n, auto st) {
    for (std::int64_t i = 0; i < n; ++i)
      if (!fits_i64(s[off[0] + i * st[0]])) [[unlikely]]
        fail_i64("converting", src, s[off[0] + i * st[0]]);
  });
}
}  // namespace

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  if (short_rows(src, dst)) {
    dispatch_any(src.dtype(), [&](auto tag) {
      using T = decltype(tag);
      copy_short_rows(base<T>(src) + src.offset(), src.strides()[0], base<T>(dst) + dst.offset(), dst.strides()[0],
                      dst.shape()[0], dst.shape()[1]);
    });
    return;
  }
  dispatch_any(src.dtype(), [&](auto s_tag) {
    dispatch_any(dst.dtype(), [&](auto d_tag) {
      using S = decltype(s_tag);
      using D = decltype(d_tag);
      const S* s = base<S>(src);
      D* d = base<D>(dst);
      if constexpr (std::is_same_v<D, std::int64_t> && !std::is_same_v<S, std::int64_t>) check_fits_i64(s, src, dst);
      for_each_run<2>(dst.shape(), strides2(src, dst), {src.offset(), dst.offset()},
                      [&](auto off, std::int64_t n, auto st) {
                        const S* sp = s + off[0];
                        D* dp = d + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          if constexpr (std::is_same_v<S, D>) {
                            std::memcpy(dp, sp, static_cast<std::size_t>(n) * sizeof(S));
                          } else {
                            for (std::int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
                          }
                        } else {
                          for (std::int64_t i = 0; i < n; ++i) dp[i * st[1]] = static_cast<D>(sp[i * st[0]]);
                        }
                      });
    });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  dispatch_any(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = output_data<T>(dst);
    if constexpr (std::is_same_v<T, std::int64_t>)
      if (!fits_i64(value)) fail_i64("filling", dst, value);
    const T v = static_cast<T>(value);
    std::fill(p, p + dst.numel(), v);
  });
}

void CpuBackend::unary(Op op, const Tensor& x, const Tensor& out, double p0, double p1) {
  const Tensor src = x.contiguous();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_run(op, src.data<T>(), output_data<T>(out), out.numel(), p0, p1);
  });
}

void CpuBackend::binary(Op op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (a.is_contiguous() && b.is_contiguous() && a.shape() == out.shape() && b.shape() == out.shape()) {
      binary_run(op, a.data<T>(), 1, b.data<T>(), 1, output_data<T>(out), 1, out.numel());
      return;
    }
    const T* pa = base<T>(a);
    const T* pb = base<T>(b);
    T* py = base<T>(out);
    for_each_rows<3>(out.shape(), {a.strides(), b.strides(), out.strides()}, {a.offset(), b.offset(), out.offset()},
                     [&](auto off, std::int64_t rows, auto rs, std::int64_t n, auto st) {
                       binary_rows_run(op, pa + off[0], rs[0], st[0], pb + off[1], rs[1], st[1], py + off[2], rs[2], st[2], rows, n);
                     });
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pc = base<T>(cond);
    const T* pa = base<T>(a);
    const T* pb = base<T>(b);
    T* py = base<T>(out);
    for_each_run<4>(out.shape(), {cond.strides(), a.strides(), b.strides(), out.strides()},
                    {cond.offset(), a.offset(), b.offset(), out.offset()},
                    [&](auto off, std::int64_t n, auto st) {
                      for (std::int64_t i = 0; i < n; ++i)
                        py[off[3] + i * st[3]] = pc[off[0] + i * st[0]] != T(0) ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
                    });
  });
}

namespace {
template <class T> T combine(Op op, T acc, T v) {
  if (op == Op::sum) return acc + v;
  if (op == Op::max) return (v > acc || v != v) ? v : acc;
  return (v < acc || v != v) ? v : acc;
}
// Reduction of a strided run into one value. A contiguous sum: eight partial accumulators, so that
// it vectorises, over runs of up to 2,048 elements, and longer runs as the sum of their two halves
// (pairwise), so that the rounding error grows with log n, not n: one serial float sum of 2^25
// ones stopped at 2^24.
template <class T> T reduce_run(Op op, const T* p, std::int64_t n, std::int64_t stride, T init) {
  if (op == Op::sum && stride == 1 && n > 2048) {
    const std::int64_t half = n / 2 / 8 * 8;
    return reduce_run(op, p, half, 1, init) + reduce_run(op, p + half, n - half, 1, init);
  }
  if (op == Op::sum && stride == 1) {
    T acc[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += p[i + k];
    T total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) total += p[i];
    return total;
  }
  T acc = init;
  for (std::int64_t i = 0; i < n; ++i) acc = combine(op, acc, p[i * stride]);
  return acc;
}
}  // namespace

namespace {
// The reduced axes are the leading ones (not all of them) of a contiguous x.
bool sums_leading_axes(const Tensor& x, std::uint32_t axes) {
  const int lead = std::countr_one(axes);
  return lead < x.rank() && axes == (1u << lead) - 1 && x.is_contiguous();
}
// The reduced axes are the trailing ones of a contiguous x: every output sums one contiguous run.
bool sums_trailing_axes(const Tensor& x, std::uint32_t axes) {
  const std::uint32_t all = (1u << x.rank()) - 1, reduced = axes & all;
  // trailing: adding the lowest reduced bit carries past the highest axis
  return x.is_contiguous() && reduced != 0 && ((reduced + (reduced & (~reduced + 1))) & all) == 0;
}
// Elements summed into each output. A reduced extent of 0 is looked for first: the product of the
// others may pass int64 ([2, 2^40, 2^40, 0] summed over {1, 2, 3}); without one, it is at most numel.
std::int64_t summed_per_output(const Tensor& x, std::uint32_t axes) {
  for (int i = 0; i < x.rank(); ++i)
    if ((axes & (1u << i)) && x.shape()[i] == 0) return 0;
  std::int64_t n = 1;
  for (int i = 0; i < x.rank(); ++i)
    if (axes & (1u << i)) n *= x.shape()[i];
  return n;
}
// x with its reduced axes moved to the front, contiguous: [reduced..., kept...].
Tensor reduced_axes_first(const Tensor& x, std::uint32_t axes) {
  Shape order;
  for (int i = 0; i < x.rank(); ++i)
    if (axes & (1u << i)) order.push_back(i);
  for (int i = 0; i < x.rank(); ++i)
    if (!(axes & (1u << i))) order.push_back(i);
  return x.permute(order).contiguous();
}
// The sums that add pairwise, whatever their length: column sums of leading axes (a bias gradient)
// and any sum of more than 1,024 elements per output the walk in reduce() would add serially: one
// block of middle axes of a contiguous x as column sums per outer index, scattered axes or a
// strided x over a contiguous copy with the reduced axes first (column sums, or one pairwise run
// for a single output). False: reduce() walks it (contiguous trailing runs are pairwise there).
template <class T> bool pairwise_sum(const Tensor& x, std::uint32_t axes, std::int64_t N, T* py) {
  if (sums_leading_axes(x, axes)) {
    sum_rows(base<T>(x) + x.offset(), py, N > 0 ? x.numel() / N : 0, N);
    return true;
  }
  const std::int64_t M = summed_per_output(x, axes);
  if (M <= 1024 || sums_trailing_axes(x, axes)) return false;
  const std::uint32_t reduced = axes & ((1u << x.rank()) - 1), run = reduced >> std::countr_zero(reduced);
  if (x.is_contiguous() && (run & (run + 1)) == 0) {  // one block of axes: x is [outer, M, inner] as it lies
    const int after = 32 - std::countl_zero(reduced);
    std::int64_t inner = 1;
    for (int i = after; i < x.rank(); ++i) inner *= x.shape()[i];
    for (std::int64_t o = 0; o * inner < N; ++o) sum_rows(base<T>(x) + x.offset() + o * M * inner, py + o * inner, M, inner);
    return true;
  }
  const Tensor moved = reduced_axes_first(x, axes);
  if (N == 1) *py = reduce_run(Op::sum, moved.data<T>(), M, 1, T(0));
  else sum_rows(moved.data<T>(), py, M, N);
  return true;
}
}  // namespace

void CpuBackend::reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& out) {
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T init = op == Op::sum ? T(0) : (op == Op::max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity());
    T* py = output_data<T>(out);
    // nothing to write (a kept extent is 0; the reduced ones' product may then pass int64)
    if (out.numel() == 0) return;
    if (op == Op::sum && pairwise_sum(x, axes, out.numel(), py)) return;
    std::fill(py, py + out.numel(), init);
    // out seen through x's shape: reduced axes get stride 0.
    Shape ostrides = contiguous_strides(out.shape());
    for (int i = 0; i < x.rank(); ++i)
      if (axes & (1u << i)) ostrides[i] = 0;
    const T* px = base<T>(x);
    for_each_run<2>(x.shape(), {x.strides(), ostrides}, {x.offset(), 0},
                    [&](auto off, std::int64_t n, auto st) {
                      const T* xp = px + off[0];
                      T* yp = py + off[1];
                      if (st[1] == 0) {
                        *yp = combine(op, *yp, reduce_run(op, xp, n, st[0], init));
                      } else if (op == Op::sum && st[0] == 1 && st[1] == 1) {
                        for (std::int64_t i = 0; i < n; ++i) yp[i] += xp[i];
                      } else {
                        for (std::int64_t i = 0; i < n; ++i) yp[i * st[1]] = combine(op, yp[i * st[1]], xp[i * st[0]]);
                      }
                    });
  });
}

namespace {
using detail::GemmOperand;
using detail::gemm_layout;

// One BLAS call; every extent and leading dimension fits blasint.
template <class T>
void blas_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
               std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, (blasint)m, (blasint)n, (blasint)k, 1.0f, a, (blasint)lda, b, (blasint)ldb,
                accumulate ? 1.0f : 0.0f, c, (blasint)ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, (blasint)m, (blasint)n, (blasint)k, 1.0, a, (blasint)lda, b, (blasint)ldb,
                accumulate ? 1.0 : 0.0, c, (blasint)ldc);
}

// The largest block of each extent one call takes: `limit`, or 1 for the extent a leading
// dimension past `limit` strides.
struct GemmBlocks {
  std::int64_t m, n, k;
};
GemmBlocks gemm_blocks(bool ta, bool tb, std::int64_t lda, std::int64_t ldb, std::int64_t ldc, std::int64_t limit) {
  GemmBlocks blocks{limit, limit, limit};
  if (lda > limit) (ta ? blocks.k : blocks.m) = 1;
  if (ldb > limit) (tb ? blocks.n : blocks.k) = 1;
  if (ldc > limit) blocks.m = 1;
  return blocks;
}
// A leading dimension as one call passes it: past `limit` (its extent is then 1 in the call, so
// BLAS does not read it), the least BLAS accepts.
std::int64_t call_ld(std::int64_t ld, std::int64_t least, std::int64_t limit) {
  return ld <= limit ? ld : std::max<std::int64_t>(least, 1);
}
}  // namespace

std::int64_t blas_int_max() { return std::numeric_limits<blasint>::max(); }

template <class T>
void chunked_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
                  std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate, std::int64_t limit) {
  const GemmBlocks blocks = gemm_blocks(ta, tb, lda, ldb, ldc, limit);
  for (std::int64_t i = 0; i < m; i += blocks.m)
    for (std::int64_t j = 0; j < n; j += blocks.n)
      for (std::int64_t p = 0; p < k; p += blocks.k) {
        const std::int64_t mc = std::min(blocks.m, m - i), nc = std::min(blocks.n, n - j), kc = std::min(blocks.k, k - p);
        const T* ap = a + (ta ? p * lda + i : i * lda + p);
        const T* bp = b + (tb ? j * ldb + p : p * ldb + j);
        blas_gemm(ta, tb, mc, nc, kc, ap, call_ld(lda, ta ? mc : kc, limit), bp, call_ld(ldb, tb ? kc : nc, limit), c + i * ldc + j,
                  call_ld(ldc, nc, limit), accumulate || p > 0);
      }
}
template void chunked_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,
                                  std::int64_t, float*, std::int64_t, bool, std::int64_t);
template void chunked_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t, const double*,
                                   std::int64_t, double*, std::int64_t, bool, std::int64_t);

namespace {

// One product of row-major (or transposed) matrices: libxsmm's kernel when it has one, else BLAS
// (in calls within blasint).
template <class T>
void matmul_one(const GemmOperand& la, const GemmOperand& lb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                const T* b, T* c, const Tensor* b_owner, bool accumulate) {
  // libxsmm takes the leading dimensions as int (its extents stay below small_gemm_max_mnk)
  if (std::max({la.ld, lb.ld, n}) <= std::numeric_limits<int>::max())
    if (const auto small = small_gemm<T>(la.trans, lb.trans, m, n, k, la.ld, lb.ld, n, accumulate)) return small(a, b, c, b_owner);
  chunked_gemm<T>(la.trans, lb.trans, m, n, k, a, la.ld, b, lb.ld, c, n, accumulate, blas_int_max());
}

// Shared right operand and a left operand whose batch and row axes form one row sequence: one
// GEMM over all batch * m rows (the Taylor stack [K+1, B, H] @ W takes this path).
bool batch_folds(const Tensor& a, const Tensor& b, const GemmOperand& la, int r) {
  bool fold = !la.trans;
  for (int i = 0; fold && i < r - 2; ++i) fold = b.strides()[i] == 0 || b.shape()[i] == 1;
  std::int64_t expect = a.strides()[r - 2];
  for (int i = r - 3; fold && i >= 0; --i) {
    expect *= a.shape()[i + 1];
    fold = a.shape()[i] == 1 || a.strides()[i] == expect;
  }
  return fold && a.strides()[r - 2] == la.ld;
}

// A batch that does not fold: the batch axes walked with their (possibly zero) strides, one
// product per matrix.
template <class T>
__attribute__((noinline)) void matmul_batches(const Tensor& a, const Tensor& b, const Tensor& out, const GemmOperand& la,
                                              const GemmOperand& lb, bool accumulate) {
  const int r = out.rank();
  const std::int64_t m = out.shape()[r - 2], n = out.shape()[r - 1], k = a.shape()[r - 1];
  Shape bshape;
  for (int i = 0; i < r - 2; ++i) bshape.push_back(out.shape()[i]);
  Shape sa, sb, so;
  for (int i = 0; i < r - 2; ++i) { sa.push_back(a.strides()[i]); sb.push_back(b.strides()[i]); so.push_back(out.strides()[i]); }
  T* po = base<T>(out);
  const T* pa = base<T>(a);
  const T* pb = base<T>(b);
  for_each_run<3>(bshape, {sa, sb, so}, {a.offset(), b.offset(), out.offset()},
                  [&](auto off, std::int64_t cnt, auto st) {
                    for (std::int64_t i = 0; i < cnt; ++i)
                      matmul_one<T>(la, lb, m, n, k, pa + off[0] + i * st[0], pb + off[1] + i * st[1], po + off[2] + i * st[2], &b,
                                    accumulate);
                  });
}

}  // namespace

// The operands by reference unless a layout BLAS cannot take needs a copy (a copy of the handle
// costs reference counting on every call of a replayed plan); the copies and the general batch
// live in functions of their own, so that the common call (one matrix, or a batch that folds into
// one) keeps a small frame.
void CpuBackend::product(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const int r = out.rank();
  const std::int64_t m = out.shape()[r - 2], n = out.shape()[r - 1], k = a.shape()[r - 1];
  if (out.numel() == 0) return;
  if (k == 0) {
    if (!accumulate) fill(out, 0.0);
    return;
  }
  const GemmOperand la = gemm_layout(m, k, a.strides()[r - 2], a.strides()[r - 1]);
  const GemmOperand lb = gemm_layout(k, n, b.strides()[r - 2], b.strides()[r - 1]);
  if (!la.usable || !lb.usable) return product_copied(a, b, out, la.usable, lb.usable, accumulate);
  const std::int64_t batch = out.numel() / (m * n);
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (batch == 1 || batch_folds(a, b, la, r))
      matmul_one<T>(la, lb, batch * m, n, k, a.data<T>(), b.data<T>(), output_data<T>(out), &b, accumulate);
    else
      matmul_batches<T>(a, b, out, la, lb, accumulate);
  });
}

void CpuBackend::product_copied(const Tensor& a, const Tensor& b, const Tensor& out, bool a_usable, bool b_usable, bool accumulate) {
  product(a_usable ? a : a.contiguous(), b_usable ? b : b.contiguous(), out, accumulate);
}

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) { product(a, b, out, false); }
void CpuBackend::matmul_add(const Tensor& a, const Tensor& b, const Tensor& out) { product(a, b, out, true); }

void CpuBackend::dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) {
  matmul(x, w, out);
  if (!b.defined() && !act) return;
  const std::int64_t m = out.shape()[0], n = out.shape()[1];
  if (m == 0 || n == 0) return;
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = output_data<T>(out);
    const T* bias = b.defined() ? b.data<T>() : nullptr;
    if (bias && act) {  // one pass: act(out + the bias), the bias repeated over k rows (at most 256 elements)
      constexpr std::int64_t period_min = 256;
      T pattern[period_min];
      const std::int64_t k = std::min(m, std::max<std::int64_t>(1, period_min / n));
      if (k > 1) repeat_row(bias, n, pattern, k * n);
      unary_shifted_run(*act, o, k > 1 ? pattern : bias, k * n, o, m * n, p0, 0.0);
      return;
    }
    // about 2,048 elements per chunk: the bias adds and the activation read it from L1
    const std::int64_t rows = std::max<std::int64_t>(1, 2048 / n);
    for (std::int64_t r0 = 0; r0 < m; r0 += rows) {
      const std::int64_t r1 = std::min(m, r0 + rows);
      if (bias) add_rows(o + r0 * n, bias, r1 - r0, n);
      if (act) unary_run(*act, o + r0 * n, o + r0 * n, (r1 - r0) * n, p0, 0.0);
    }
  });
}


namespace {
// Splits a contiguous shape around `axis` into (outer, extent, inner).
void split_axis(const Shape& s, int axis, std::int64_t& outer, std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
}
// Every index in [0, extent) before a kernel reads or writes with them. Checked here rather than
// in the op layer, so that a plan's replay (which calls the kernels directly, with indices that
// may be new inputs or changed in place since the trace) refuses them too.
void check_indices(const Tensor& index, std::int64_t extent, const char* op, const Shape& shape, int axis) {
  const std::int64_t* p = index.data<std::int64_t>();
  for (std::int64_t i = 0; i < index.numel(); ++i)
    if (p[i] < 0 || p[i] >= extent)
      fail("{}: index {} at position {} is out of range [0, {}) for axis {} of {}", op, p[i], i, extent, axis, shape.str());
}
}  // namespace

void CpuBackend::index_select(const Tensor& x_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor x = x_in.contiguous();
  std::int64_t outer, inner;
  split_axis(x.shape(), axis, outer, inner);
  const std::int64_t nx = x.shape()[axis], ni = index.numel();
  check_indices(index, nx, "index_select", x.shape(), axis);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = output_data<T>(out);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < ni; ++j)
        std::memcpy(py + (o * ni + j) * inner, px + (o * nx + idx[j]) * inner, static_cast<std::size_t>(inner) * sizeof(T));
  });
}

void CpuBackend::index_add(const Tensor& src_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor src = src_in.contiguous();
  std::int64_t outer, inner;
  split_axis(src.shape(), axis, outer, inner);
  const std::int64_t ns = src.shape()[axis], no = out.shape()[axis];
  check_indices(index, no, "index_add", out.shape(), axis);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_float(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* py = output_data<T>(out);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < ns; ++j) {
        T* dst = py + (o * no + idx[j]) * inner;
        const T* s = ps + (o * ns + j) * inner;
        for (std::int64_t i = 0; i < inner; ++i) dst[i] += s[i];
      }
  });
}

void CpuBackend::gather(const Tensor& x_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor x = x_in.contiguous();
  std::int64_t outer, inner;
  split_axis(index.shape(), axis, outer, inner);
  const std::int64_t nx = x.shape()[axis], ni = index.shape()[axis];
  check_indices(index, nx, "gather", x.shape(), axis);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = output_data<T>(out);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < ni; ++j)
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t at = (o * ni + j) * inner + i;
          py[at] = px[(o * nx + idx[at]) * inner + i];
        }
  });
}

void CpuBackend::scatter_add(const Tensor& src_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor src = src_in.contiguous();
  std::int64_t outer, inner;
  split_axis(index.shape(), axis, outer, inner);
  const std::int64_t no = out.shape()[axis], ni = index.shape()[axis];
  check_indices(index, no, "scatter_add", out.shape(), axis);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_float(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* py = output_data<T>(out);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < ni; ++j)
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t at = (o * ni + j) * inner + i;
          py[(o * no + idx[at]) * inner + i] += ps[at];
        }
  });
}

void CpuBackend::random(RandomKind kind, std::uint64_t seed, std::uint64_t stream, double a,
                        double b, const Tensor& out) {
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = output_data<T>(out);
    const std::int64_t n = out.numel();
    // Rounding to f32 may land a uniform draw on its open upper bound or below a lower bound that
    // is not an f32 value: clamped to [lowest, highest], the T values in [a, b). (a and b are a
    // mean and a std for the other kinds: no clamp.)
    const bool clamp = kind == RandomKind::uniform && b > a;
    const T lowest = clamp ? philox::smallest_at_least<T>(a) : T(0), highest = clamp ? philox::largest_below<T>(b) : T(0);
    for (std::int64_t i = 0; i < n; ++i) {
      T v = static_cast<T>(philox::sample(static_cast<int>(kind), seed, stream, static_cast<std::uint64_t>(i), a, b));
      if (clamp) v = std::clamp(v, lowest, highest);
      p[i] = v;
    }
  });
}

}  // namespace tide::cpu
