// The CPU backend's fused kernels.
#include "cpu_backend.hpp"
#include "clones.hpp"
#include "elementwise.hpp"
#include "tensor_access.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tide::cpu {
namespace {
// out = base + sum_j T(coeff_j * scale_r) * x_j. Every element sees the same operations in the same
// order as a row-by-row loop would give it: its base (or 0), then each term whose coefficient is
// not 0 in turn, the term's factor rounded from the double product coeff_j * scale_r. The forms
// below differ only in how they reach the elements (the solvers' rows are often a few elements
// wide, where a loop per row is mostly overhead).

// Rows [r0, r1) one at a time: each row's factor made once per term and broadcast over the row.
template <class T>
__attribute__((always_inline)) inline void lincomb_each_row(T* out, const T* base, const std::vector<const T*>& src,
                                                            const std::vector<double>& coeff, const T* scale,
                                                            std::int64_t r0, std::int64_t r1, std::int64_t d) {
  for (std::int64_t r = r0; r < r1; ++r) {
    T* o = out + r * d;
    if (base) std::copy(base + r * d, base + (r + 1) * d, o);
    else std::fill(o, o + d, T(0));
    const double sr = scale ? static_cast<double>(scale[r]) : 1.0;
    for (std::size_t j = 0; j < src.size(); ++j) {
      if (coeff[j] == 0.0) continue;
      const T c = static_cast<T>(coeff[j] * sr);
      const T* x = src[j] + r * d;
      for (std::int64_t i = 0; i < d; ++i) o[i] += c * x[i];
    }
  }
}

#if defined(TIDE_HAVE_CLONES) && !defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 12
#define TIDE_NARROW_LINCOMB 1  // GCC 12's __builtin_shufflevector and __builtin_cpu_supports("x86-64-v4")
#endif

#ifdef TIDE_NARROW_LINCOMB
// Rows of D = 2 or 4 floats (a row scale given), 8 rows (one or two vectors of 16 floats) at a
// time: their 8 factors made in double and rounded in one vector, then spread over each row's
// lanes, the sum kept in registers across the terms. The rows past a multiple of 8 go one at a
// time. For AVX-512 only: without 16-float registers GCC builds the spread lane by lane (this
// generic form built for AVX2 ran 2.5-3x slower than the blocks below; AVX2 has its own form in
// intrinsics, next).
template <int D>
__attribute__((always_inline)) inline void lincomb_narrow_rows(float* out, const float* base, const std::vector<const float*>& src,
                                                               const std::vector<double>& coeff, const float* scale,
                                                               std::int64_t n) {
  typedef float v16f __attribute__((vector_size(64)));
  typedef float v8f __attribute__((vector_size(32)));
  typedef double v8d __attribute__((vector_size(64)));
  constexpr int V = D / 2;  // vectors per 8 rows
  const std::int64_t groups = n / 8;
  for (std::int64_t q = 0; q < groups; ++q) {
    v16f acc[V] = {};
    if (base) std::memcpy(&acc, base + q * 8 * D, sizeof acc);
    v8f sf;
    std::memcpy(&sf, scale + q * 8, sizeof sf);
    const v8d sd = __builtin_convertvector(sf, v8d);
    for (std::size_t j = 0; j < src.size(); ++j) {
      if (coeff[j] == 0.0) continue;
      // (a v8f source keeps the spreading shuffles in registers; GCC 12 spills a v4f one)
      const v8f c = __builtin_convertvector(sd * coeff[j], v8f);
      v16f x[V];
      std::memcpy(&x, src[j] + q * 8 * D, sizeof x);
      if constexpr (D == 4) {
        acc[0] = acc[0] + __builtin_shufflevector(c, c, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3) * x[0];
        acc[1] = acc[1] + __builtin_shufflevector(c, c, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7) * x[1];
      } else {
        acc[0] = acc[0] + __builtin_shufflevector(c, c, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7) * x[0];
      }
    }
    std::memcpy(out + q * 8 * D, &acc, sizeof acc);
  }
  lincomb_each_row(out, base, src, coeff, scale, groups * 8, n, std::int64_t{D});
}

__attribute__((target("arch=x86-64-v4"))) void lincomb_narrow_avx512(float* out, const float* base, const std::vector<const float*>& src,
                                                                     const std::vector<double>& coeff, const float* scale,
                                                                     std::int64_t n, std::int64_t d) {
  if (d == 2) lincomb_narrow_rows<2>(out, base, src, coeff, scale, n);
  else lincomb_narrow_rows<4>(out, base, src, coeff, scale, n);
}

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("x86-64-v4");
  return yes;
}
#endif

#if defined(__x86_64__)
// The same for AVX2, in intrinsics (GCC's generic vectors spread the factors lane by lane there):
// 8 rows in D registers of 8 floats, each row's factor spread over its lanes by one permute per
// register, products and sums separate (no FMA), as everywhere in this file. Rows past a multiple
// of 8 go one at a time.
template <int D>
__attribute__((target("avx2"), always_inline)) inline void lincomb_narrow_rows_avx2(
    float* out, const float* base, const std::vector<const float*>& src, const std::vector<double>& coeff,
    const float* scale, std::int64_t n) {
  constexpr int V = D;  // registers of 8 floats per 8 rows
  const __m256i spread[4] = {_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3),
                             _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7)};
  const __m256i spread2[2] = {_mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)};
  const std::int64_t groups = n / 8;
  for (std::int64_t q = 0; q < groups; ++q) {
    __m256 acc[V];
    for (int v = 0; v < V; ++v) acc[v] = base ? _mm256_loadu_ps(base + q * 8 * D + 8 * v) : _mm256_setzero_ps();
    const __m256d s_lo = _mm256_cvtps_pd(_mm_loadu_ps(scale + q * 8)), s_hi = _mm256_cvtps_pd(_mm_loadu_ps(scale + q * 8 + 4));
    for (std::size_t j = 0; j < src.size(); ++j) {
      if (coeff[j] == 0.0) continue;
      const __m256d cj = _mm256_set1_pd(coeff[j]);
      const __m256 c = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_mul_pd(s_hi, cj)), _mm256_cvtpd_ps(_mm256_mul_pd(s_lo, cj)));
      const float* x = src[j] + q * 8 * D;
      for (int v = 0; v < V; ++v) {
        const __m256 f = _mm256_permutevar8x32_ps(c, D == 4 ? spread[v] : spread2[v]);
        acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(f, _mm256_loadu_ps(x + 8 * v)));
      }
    }
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + q * 8 * D + 8 * v, acc[v]);
  }
  lincomb_each_row(out, base, src, coeff, scale, groups * 8, n, std::int64_t{D});
}

__attribute__((target("avx2"))) void lincomb_narrow_avx2(float* out, const float* base, const std::vector<const float*>& src,
                                                         const std::vector<double>& coeff, const float* scale,
                                                         std::int64_t n, std::int64_t d) {
  if (d == 2) lincomb_narrow_rows_avx2<2>(out, base, src, coeff, scale, n);
  else lincomb_narrow_rows_avx2<4>(out, base, src, coeff, scale, n);
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#define TIDE_NARROW_LINCOMB_AVX2 1
#endif

// Any row width: term by term over blocks of whole rows, each element's factor from the row's
// scale spread over a per-thread block (a vectorised loop per term).
template <class T>
__attribute__((always_inline)) inline void lincomb_blocks(T* out, const T* base, const std::vector<const T*>& src,
                                                          const std::vector<double>& coeff, const T* scale,
                                                          std::int64_t n, std::int64_t d) {
  const std::int64_t rows = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(d, 1));
  thread_local std::vector<double> row_scale;  // scale_r over its row's elements, one block's worth
  for (std::int64_t r0 = 0; r0 < n; r0 += rows) {
    const std::int64_t r1 = std::min(n, r0 + rows), start = r0 * d, len = (r1 - r0) * d;
    T* o = out + start;
    if (base) std::copy(base + start, base + start + len, o);
    else std::fill(o, o + len, T(0));
    if (scale) {
      row_scale.resize(static_cast<std::size_t>(len));
      for (std::int64_t r = r0; r < r1; ++r)
        std::fill(row_scale.data() + (r - r0) * d, row_scale.data() + (r - r0 + 1) * d, static_cast<double>(scale[r]));
    }
    const double* s = row_scale.data();
    for (std::size_t j = 0; j < src.size(); ++j) {
      if (coeff[j] == 0.0) continue;
      const double cj = coeff[j];
      const T* x = src[j] + start;
      if (scale)
        for (std::int64_t i = 0; i < len; ++i) o[i] += static_cast<T>(cj * s[i]) * x[i];
      else
        for (std::int64_t i = 0; i < len; ++i) o[i] += static_cast<T>(cj) * x[i];
    }
  }
}

// The form for the row width, when a row scale is given (measured against the blocks in float on
// the AVX-512 development machine: rows of 2 and 4 1.7-3x faster; rows of 32 or more one at a time
// 1.2-1.4x, and 1.7x in the AVX2 form; rows of 8-24 slower one at a time).
template <class T>
__attribute__((always_inline)) inline void lincomb_rows_impl(T* out, const T* base, const std::vector<const T*>& src,
                                                             const std::vector<double>& coeff, const T* scale,
                                                             std::int64_t n, std::int64_t d) {
#ifdef TIDE_NARROW_LINCOMB
  if constexpr (std::is_same_v<T, float>)
    if (scale && (d == 2 || d == 4) && has_avx512()) return lincomb_narrow_avx512(out, base, src, coeff, scale, n, d);
#endif
#ifdef TIDE_NARROW_LINCOMB_AVX2
  if constexpr (std::is_same_v<T, float>)
    if (scale && (d == 2 || d == 4) && has_avx2()) return lincomb_narrow_avx2(out, base, src, coeff, scale, n, d);
#endif
  if (scale && d >= 32) return lincomb_each_row(out, base, src, coeff, scale, 0, n, d);
  lincomb_blocks(out, base, src, coeff, scale, n, d);
}

// Compiled per instruction set (clones.hpp); this file is built with -ffp-contract=off (no FMA in
// the AVX clones), so every machine computes the same values.
TIDE_CLONES void lincomb_rows(float* out, const float* base, const std::vector<const float*>& src, const std::vector<double>& coeff,
                              const float* scale, std::int64_t n, std::int64_t d) {
  lincomb_rows_impl(out, base, src, coeff, scale, n, d);
}
TIDE_CLONES void lincomb_rows(double* out, const double* base, const std::vector<const double*>& src, const std::vector<double>& coeff,
                              const double* scale, std::int64_t n, std::int64_t d) {
  lincomb_rows_impl(out, base, src, coeff, scale, n, d);
}

// q[i] = e_i / (atol_i + rtol_i max(|a_i|, |b_i|)), 0 where mask_i is 0 or e_i is 0 (a zero error
// meets even a zero scale: a state held at 0 under pure relative control gave 0 / 0 = NaN; a
// nonzero error against it is +inf), NaN where mask_i is 0 and e_i is not finite (e_i * 0: an
// error that is not finite is never ignored, so the row's sum flags it) and +inf where b_i is not
// finite, over a flat run of elements with their tolerances and mask given per element. The loop
// vectorises (the file is built with -fno-trapping-math, so the masked division may run).
template <class T>
__attribute__((always_inline)) inline void quotients_impl(const T* e, const T* a, const T* b, const double* atol,
                                                          const double* rtol, const double* mask, double* q, std::int64_t len) {
  for (std::int64_t i = 0; i < len; ++i) {
    const double av = std::fabs(static_cast<double>(a[i])), bv = std::fabs(static_cast<double>(b[i]));
    const double ev = static_cast<double>(e[i]);
    const double v = ev == 0.0 ? 0.0 : ev / (atol[i] + rtol[i] * (av < bv ? bv : av));
    q[i] = bv <= std::numeric_limits<double>::max() ? (mask[i] == 0.0 ? ev * 0.0 : v) : INFINITY;
  }
}
TIDE_CLONES void quotients(const float* e, const float* a, const float* b, const double* atol, const double* rtol,
                           const double* mask, double* q, std::int64_t len) {
  quotients_impl(e, a, b, atol, rtol, mask, q, len);
}
TIDE_CLONES void quotients(const double* e, const double* a, const double* b, const double* atol, const double* rtol,
                           const double* mask, double* q, std::int64_t len) {
  quotients_impl(e, a, b, atol, rtol, mask, q, len);
}

// Rows' norms of the scaled error (scaled_row_norms' contract): the quotients of whole rows, up to
// 256 elements at a time, then each row's sum of squares and maximum, element after element. A
// masked element adds 0 (unless its error is not finite) and a non-finite b makes the row's sum
// +inf: the values of one loop per row that skips masked elements and flags a non-finite b or
// error. The tolerances and mask, repeated over a block's rows, are kept per thread and refilled only when their values change (a solve passes
// the same ones at every step): one RowNorms at a time per thread, made and used in one call.
class RowNorms {
 public:
  // For n rows of d elements.
  RowNorms(const double* atol, const double* rtol, const double* mask, std::int64_t n, std::int64_t d)
      : d_(d), rows_(std::clamp<std::int64_t>(256 / std::max<std::int64_t>(d, 1), 1, std::max<std::int64_t>(n, 1))) {
    const std::int64_t p = rows_ * d;
    const bool same = d == d_last_ && rows_ == rows_last_ && std::equal(atol, atol + d, buffer_.data()) &&
                      std::equal(rtol, rtol + d, buffer_.data() + p) && std::equal(mask, mask + d, buffer_.data() + 2 * p);
    if (same) return;
    d_last_ = -1;  // until the buffer holds the new pattern (resize may throw)
    buffer_.resize(static_cast<std::size_t>(4 * p));
    repeat_row(atol, d, buffer_.data(), p);
    repeat_row(rtol, d, buffer_.data() + p, p);
    repeat_row(mask, d, buffer_.data() + 2 * p, p);
    d_last_ = d;
    rows_last_ = rows_;
  }
  // Rows [0, n) at e + r * d, a + r * sa and b + r * sb; out gets 2 values per row.
  template <class T>
  __attribute__((always_inline)) void operator()(const T* e, const T* a, std::int64_t sa, const T* b, std::int64_t sb,
                                                 double* out, std::int64_t n) {
    const std::int64_t p = rows_ * d_;
    const double *atol = buffer_.data(), *rtol = atol + p, *mask = rtol + p;
    double* q = buffer_.data() + 3 * p;
    for (std::int64_t r0 = 0; r0 < n; r0 += rows_) {
      const std::int64_t rows = std::min(rows_, n - r0);
      const T *er = e + r0 * d_, *ar = a + r0 * sa, *br = b + r0 * sb;
      if (sa == d_ && sb == d_)
        quotients(er, ar, br, atol, rtol, mask, q, rows * d_);
      else
        for (std::int64_t r = 0; r < rows; ++r) quotients(er + r * d_, ar + r * sa, br + r * sb, atol, rtol, mask, q + r * d_, d_);
      for (std::int64_t r = 0; r < rows; ++r) reduce(q + r * d_, out + 2 * (r0 + r));
    }
  }

 private:
  __attribute__((always_inline)) void reduce(const double* q, double* out) const {
    double s = 0.0, mx = 0.0;
    for (std::int64_t i = 0; i < d_; ++i) {
      s += q[i] * q[i];
      mx = std::max(mx, std::fabs(q[i]));
    }
    if (!std::isfinite(s)) s = mx = INFINITY;
    out[0] = s;
    out[1] = mx;
  }
  std::int64_t d_, rows_;
  // atol, rtol and mask over rows_last_ rows of d_last_ elements, then a block's quotients
  static thread_local std::vector<double> buffer_;
  static thread_local std::int64_t d_last_, rows_last_;
};
thread_local std::vector<double> RowNorms::buffer_;
thread_local std::int64_t RowNorms::d_last_ = -1, RowNorms::rows_last_ = -1;

// e[r * d + i] += c[r] * x[r * sx + i] over `rows` rows; rows of D (> 0) elements are unrolled, as
// a solver's few-dimensional states have them (a loop of 2 or 4 per row is mostly overhead).
template <int D, class T>
__attribute__((always_inline)) inline void add_scaled_rows(T* e, const T* x, std::int64_t sx, const T* c, std::int64_t rows, std::int64_t d) {
  const std::int64_t w = D > 0 ? D : d;
  for (std::int64_t r = 0; r < rows; ++r, e += w, x += sx)
    for (std::int64_t i = 0; i < w; ++i) e[i] += c[r] * x[i];
}

// err[r, :] = sum_j T(coeff_j * scale_r) * xs[j][r0 + r, :] for operands whose rows lie apart
// (stages sliced out of one packed tensor), term after term as lincomb_rows adds them: the same
// values.
template <class T>
__attribute__((always_inline)) inline void combine_rows_apart(T* err, std::span<const Tensor> xs, const std::vector<double>& coeff, const T* scale,
                        std::int64_t r0, std::int64_t rows, std::int64_t d) {
  thread_local std::vector<T> c;
  c.resize(static_cast<std::size_t>(rows));
  std::fill(err, err + rows * d, T(0));
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (coeff[j] == 0.0) continue;
    for (std::int64_t r = 0; r < rows; ++r)
      c[static_cast<std::size_t>(r)] = scale ? static_cast<T>(coeff[j] * static_cast<double>(scale[r0 + r])) : static_cast<T>(coeff[j]);
    const std::int64_t sx = xs[j].strides()[0];
    const T* x = xs[j].data<T>() + r0 * sx;
    switch (d) {
      case 1: add_scaled_rows<1>(err, x, sx, c.data(), rows, d); break;
      case 2: add_scaled_rows<2>(err, x, sx, c.data(), rows, d); break;
      case 3: add_scaled_rows<3>(err, x, sx, c.data(), rows, d); break;
      case 4: add_scaled_rows<4>(err, x, sx, c.data(), rows, d); break;
      default: add_scaled_rows<0>(err, x, sx, c.data(), rows, d);
    }
  }
}

// The combination block by block into scratch (the same values as linear_combination), then each
// row's norms. Compiled per instruction set through the wrappers below, with the row loops it inlines.
template <class T>
__attribute__((always_inline)) inline void combination_norms_rows(std::span<const Tensor> xs, const std::vector<double>& coeff, const T* scale, const Tensor& a,
                            const Tensor& b, const double* atol, const double* rtol, const double* mask, double* out,
                            std::int64_t n, std::int64_t d) {
  thread_local std::vector<T> err;
  thread_local std::vector<const T*> src;
  RowNorms norms(atol, rtol, mask, n, d);
  auto row = [](const Tensor& x, std::int64_t r) { return x.data<T>() + r * x.strides()[0]; };
  bool packed_rows = true;
  for (const Tensor& x : xs) packed_rows = packed_rows && (n == 1 || x.strides()[0] == d);
  const std::int64_t block = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(d, 1));
  err.resize(static_cast<std::size_t>(std::min(block, n) * d));
  for (std::int64_t r0 = 0; r0 < n; r0 += block) {
    const std::int64_t rows = std::min(block, n - r0);
    if (packed_rows) {
      src.clear();
      for (const Tensor& x : xs) src.push_back(row(x, r0));
      lincomb_rows(err.data(), nullptr, src, coeff, scale ? scale + r0 : nullptr, rows, d);
    } else {
      combine_rows_apart(err.data(), xs, coeff, scale, r0, rows, d);
    }
    norms(err.data(), row(a, r0), a.strides()[0], row(b, r0), b.strides()[0], out + 2 * r0, rows);
  }
}
TIDE_CLONES void combination_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const float* scale,
                                   const Tensor& a, const Tensor& b, const double* atol, const double* rtol,
                                   const double* mask, double* out, std::int64_t n, std::int64_t d) {
  combination_norms_rows(xs, coeff, scale, a, b, atol, rtol, mask, out, n, d);
}
TIDE_CLONES void combination_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const double* scale,
                                   const Tensor& a, const Tensor& b, const double* atol, const double* rtol,
                                   const double* mask, double* out, std::int64_t n, std::int64_t d) {
  combination_norms_rows(xs, coeff, scale, a, b, atol, rtol, mask, out, n, d);
}

// scaled_row_norms' rows (contiguous [n, d] operands), compiled per instruction set.
template <class T>
__attribute__((always_inline)) inline void row_norms_impl(const T* e, const T* a, const T* b, const double* atol,
                                                          const double* rtol, const double* mask, double* out,
                                                          std::int64_t n, std::int64_t d) {
  RowNorms(atol, rtol, mask, n, d)(e, a, d, b, d, out, n);
}
TIDE_CLONES void row_norms(const float* e, const float* a, const float* b, const double* atol, const double* rtol,
                           const double* mask, double* out, std::int64_t n, std::int64_t d) {
  row_norms_impl(e, a, b, atol, rtol, mask, out, n, d);
}
TIDE_CLONES void row_norms(const double* e, const double* a, const double* b, const double* atol, const double* rtol,
                           const double* mask, double* out, std::int64_t n, std::int64_t d) {
  row_norms_impl(e, a, b, atol, rtol, mask, out, n, d);
}
}  // namespace

void CpuBackend::lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs,
                         const std::vector<double>& coeff, const Tensor& row_scale) {
  const std::int64_t n = out.rank() == 0 ? 1 : out.shape()[0], d = out.numel() / std::max<std::int64_t>(n, 1);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    thread_local std::vector<const T*> src;  // kept: a replayed plan calls this per step
    src.clear();
    for (const Tensor& x : xs) src.push_back(x.data<T>());
    lincomb_rows(detail::output_data<T>(out), base.defined() ? base.data<T>() : nullptr, src, coeff,
                 row_scale.defined() ? row_scale.data<T>() : nullptr, n, d);
  };
  if (out.dtype() == DType::f64) run(double{});
  else run(float{});
}

void CpuBackend::combination_row_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const Tensor& row_scale,
                                       const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                                       const Tensor& mask, const Tensor& out) {
  const std::int64_t n = a.shape()[0], d = a.shape()[1];
  auto run = [&](auto tag) {
    using T = decltype(tag);
    combination_norms(xs, coeff, row_scale.defined() ? row_scale.data<T>() : nullptr, a, b, atol.data<double>(),
                      rtol.data<double>(), mask.data<double>(), detail::output_data<double>(out), n, d);
  };
  if (a.dtype() == DType::f64) run(double{});
  else run(float{});
}

void CpuBackend::scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                                  const Tensor& rtol, const Tensor& mask, const Tensor& out) {
  const std::int64_t n = err.shape()[0], d = err.numel() / std::max<std::int64_t>(n, 1);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    row_norms(err.data<T>(), a.data<T>(), b.data<T>(), atol.data<double>(), rtol.data<double>(), mask.data<double>(),
              detail::output_data<double>(out), n, d);
  };
  if (err.dtype() == DType::f64) run(double{});
  else run(float{});
}

}  // namespace tide::cpu
