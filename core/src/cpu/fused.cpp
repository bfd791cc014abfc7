// The CPU backend's fused kernels.
#include "cpu_backend.hpp"
#include "clones.hpp"
#include "tensor_access.hpp"
#include <algorithm>
#include <cmath>

namespace tide::cpu {
namespace {
// out = base + sum_j T(coeff_j * scale_r) * x_j, term by term over blocks of whole rows (the
// solvers' rows are often a few elements wide, where a loop per row is mostly overhead). Each
// element sees the same operations in the same order as a row-by-row loop would give it.
template <class T>
__attribute__((always_inline)) inline void lincomb_rows_impl(T* out, const T* base, const std::vector<const T*>& src, const std::vector<double>& coeff,
                  const T* scale, std::int64_t n, std::int64_t d) {
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

// One row's sum of squares and maximum of the scaled error (scaled_row_norms' contract).
template <class T>
void row_norms(const T* e, const T* a, const T* b, const double* atol, const double* rtol, const double* mask,
               std::int64_t d, double* out) {
  double s = 0.0, mx = 0.0;
  bool finite = true;
  for (std::int64_t i = 0; i < d; ++i) {
    const double bv = static_cast<double>(b[i]);
    finite = finite && std::isfinite(bv);
    if (mask[i] == 0.0) continue;
    const double q = static_cast<double>(e[i]) / (atol[i] + rtol[i] * std::max(std::fabs(static_cast<double>(a[i])), std::fabs(bv)));
    s += q * q;
    mx = std::max(mx, std::fabs(q));
  }
  if (!finite || !std::isfinite(s)) s = mx = INFINITY;
  out[0] = s;
  out[1] = mx;
}

template <class T>
void norms_rows(const T* e, const T* a, const T* b, const double* atol, const double* rtol, const double* mask,
                double* out, std::int64_t n, std::int64_t d) {
  for (std::int64_t r = 0; r < n; ++r) row_norms(e + r * d, a + r * d, b + r * d, atol, rtol, mask, d, out + 2 * r);
}

// err[r, :] = sum_j T(coeff_j * scale_r) * xs[j][r0 + r, :] for operands whose rows lie apart
// (stages sliced out of one packed tensor), term after term as lincomb_rows adds them: the same
// values.
template <class T>
void combine_rows_apart(T* err, std::span<const Tensor> xs, const std::vector<double>& coeff, const T* scale,
                        std::int64_t r0, std::int64_t rows, std::int64_t d) {
  std::fill(err, err + rows * d, T(0));
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (coeff[j] == 0.0) continue;
    const T* x = xs[j].data<T>() + r0 * xs[j].strides()[0];
    for (std::int64_t r = 0; r < rows; ++r, x += xs[j].strides()[0]) {
      const T c = scale ? static_cast<T>(coeff[j] * static_cast<double>(scale[r0 + r])) : static_cast<T>(coeff[j]);
      T* e = err + r * d;
      for (std::int64_t i = 0; i < d; ++i) e[i] += c * x[i];
    }
  }
}

// The combination block by block into scratch (the same values as linear_combination), then each
// row's norms.
template <class T>
void combination_norms_rows(std::span<const Tensor> xs, const std::vector<double>& coeff, const T* scale, const Tensor& a,
                            const Tensor& b, const double* atol, const double* rtol, const double* mask, double* out,
                            std::int64_t n, std::int64_t d) {
  thread_local std::vector<T> err;
  thread_local std::vector<const T*> src;
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
    for (std::int64_t r = 0; r < rows; ++r)
      row_norms(err.data() + r * d, row(a, r0 + r), row(b, r0 + r), atol, rtol, mask, d, out + 2 * (r0 + r));
  }
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
    combination_norms_rows<T>(xs, coeff, row_scale.defined() ? row_scale.data<T>() : nullptr, a, b, atol.data<double>(),
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
    norms_rows(err.data<T>(), a.data<T>(), b.data<T>(), atol.data<double>(), rtol.data<double>(), mask.data<double>(),
               detail::output_data<double>(out), n, d);
  };
  if (err.dtype() == DType::f64) run(double{});
  else run(float{});
}

}  // namespace tide::cpu
