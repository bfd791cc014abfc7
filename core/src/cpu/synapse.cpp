// The CPU synapse-sum kernel (fused.hpp: synapse_sums).
//
// float on AVX-512 or AVX2+FMA (the widest the CPU has, chosen at run time; the body is
// synapse_forward_simd.inc, compiled once per instruction set): 4 samples x 16 postsynaptic units
// are accumulated in registers over the presynaptic loop, so each parameter load serves 4 samples.
// Each synapse is
//   w / (1 + 2^u),  u = c - a x,  a = sigma log2(e), c = sigma mu log2(e)   (a, c formed per call)
// and 2^u = 2^n 2^f: n = round(u) read from the bits of u + (1.5 2^23 + 127), f = u - n, and 2^f on
// [-1/2, 1/2] by a degree-5 polynomial fitted (Lawson's iteration) for relative error 9e-8.
// u is clamped to [-125, 125] (the sigmoid is then within 1e-37 of 0 or 1) unless the block's
// |x| bounds |u| below that already. That is 14 vector operations per vector of synapses, one of them a
// division (an rcp + Newton step measured slower). NaN in gives NaN out.
// Elsewhere (double, other CPUs, the remainders) the loop is plain C++ with vecmath's sigmoid,
// which GCC vectorises in each target clone.
#include "clones.hpp"
#include "cpu_backend.hpp"
#include "tensor_access.hpp"
#include "vecmath.hpp"
#include "synapse_kernels.hpp"
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <type_traits>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tide::cpu {
namespace {

// Rows [b0, b1) x columns [i0, N) by the plain loop.
template <class T>
__attribute__((always_inline)) inline void synapse_plain(const T* __restrict pre, const T* __restrict w,
                                                         const T* __restrict sigma, const T* __restrict mu,
                                                         const T* __restrict erev, T* __restrict num,
                                                         T* __restrict den, std::int64_t b0, std::int64_t b1,
                                                         std::int64_t P, std::int64_t N, std::int64_t i0) {
  for (std::int64_t b = b0; b < b1; ++b) {
    T* __restrict nb = num + b * N;
    T* __restrict db = den + b * N;
    for (std::int64_t j = 0; j < P; ++j) {
      const T x = pre[b * P + j];
      for (std::int64_t i = i0; i < N; ++i) {
        const std::int64_t k = j * N + i;
        const T s = w[k] * vm::sigmoid(sigma[k] * (x - mu[k]));
        nb[i] += s * erev[k];
        db[i] += s;
      }
    }
  }
}

TIDE_CLONES void synapse_plain_run(const float* pre, const float* w, const float* sigma, const float* mu,
                                   const float* erev, float* num, float* den, std::int64_t b0, std::int64_t b1,
                                   std::int64_t P, std::int64_t N, std::int64_t i0) {
  synapse_plain(pre, w, sigma, mu, erev, num, den, b0, b1, P, N, i0);
}
TIDE_CLONES void synapse_plain_run(const double* pre, const double* w, const double* sigma, const double* mu,
                                   const double* erev, double* num, double* den, std::int64_t b0, std::int64_t b1,
                                   std::int64_t P, std::int64_t N, std::int64_t i0) {
  synapse_plain(pre, w, sigma, mu, erev, num, den, b0, b1, P, N, i0);
}

// The backward's sigmoid. float: the forward kernel's 1 / (1 + 2^u), u = -z log2(e) clamped to
// [-125, 125], 2^u = 2^n 2^f with n from the bits of u + (1.5 2^23 + 127) and 2^f by the same
// degree-5 polynomial (relative error 9e-8), written so that GCC vectorises it; NaN stays NaN.
// double: vecmath's.
inline float backward_sigmoid(float z) {
  float u = -z * 1.4426950409f;
  u = u < -125.0f ? -125.0f : (u > 125.0f ? 125.0f : u);
  const float t = u + (12582912.0f + 127.0f);
  const float f = u - (t - (12582912.0f + 127.0f));
  float p = 1.326474614e-3f * f + 9.671520395e-3f;
  p = p * f + 5.550733770e-2f;
  p = p * f + 2.402224197e-1f;
  p = p * f + 6.931469775e-1f;
  p = p * f + 1.0f;
  const float scale = std::bit_cast<float>(std::bit_cast<std::uint32_t>(t) << 23);  // 2^n
  return 1.0f / (p * scale + 1.0f);
}
inline double backward_sigmoid(double z) { return vm::sigmoid(z); }

// The backward (fused.hpp: synapse_sums_backward) over the columns [i0, N): the [P, N] gradients
// and gpre accumulate in place (the caller zeroes them). Presynaptic rows outermost, so the four accumulator rows of
// one j stay in L1 over the whole batch; the loop over the postsynaptic units vectorises, and
// gpre's sum goes through `row` (no reassociation needed).
template <class T>
__attribute__((always_inline)) inline void synapse_backward_plain(
    const T* __restrict pre, const T* __restrict w, const T* __restrict sigma, const T* __restrict mu,
    const T* __restrict erev, const T* __restrict gnum, const T* __restrict gden, T* __restrict gpre, T* __restrict gw,
    T* __restrict gsigma, T* __restrict gmu, T* __restrict gerev, T* __restrict row, std::int64_t B, std::int64_t P,
    std::int64_t N, std::int64_t i0) {
  for (std::int64_t j = 0; j < P; ++j) {
    const T* __restrict wj = w + j * N;
    const T* __restrict sj = sigma + j * N;
    const T* __restrict mj = mu + j * N;
    const T* __restrict ej = erev + j * N;
    T* __restrict gwj = gw + j * N;
    T* __restrict gsj = gsigma + j * N;
    T* __restrict gmj = gmu + j * N;
    T* __restrict gej = gerev + j * N;
    for (std::int64_t b = 0; b < B; ++b) {
      const T x = pre[b * P + j];
      const T* __restrict gn = gnum + b * N;
      const T* __restrict gd = gden + b * N;
      for (std::int64_t i = i0; i < N; ++i) {
        const T d = x - mj[i];
        const T s = backward_sigmoid(sj[i] * d);
        const T ws = wj[i] * s;
        const T q = gn[i] * ej[i] + gd[i];
        gej[i] += gn[i] * ws;
        gwj[i] += q * s;
        const T dz = q * ws * (T(1) - s);
        gsj[i] += dz * d;
        gmj[i] -= dz * sj[i];
        row[i] = dz * sj[i];
      }
      T acc = T(0);
      for (std::int64_t i = i0; i < N; ++i) acc += row[i];
      gpre[b * P + j] += acc;
    }
  }
}

TIDE_CLONES void synapse_backward_run(const float* pre, const float* w, const float* sigma, const float* mu,
                                      const float* erev, const float* gnum, const float* gden, float* gpre, float* gw,
                                      float* gsigma, float* gmu, float* gerev, float* row, std::int64_t B,
                                      std::int64_t P, std::int64_t N, std::int64_t i0) {
  synapse_backward_plain(pre, w, sigma, mu, erev, gnum, gden, gpre, gw, gsigma, gmu, gerev, row, B, P, N, i0);
}
TIDE_CLONES void synapse_backward_run(const double* pre, const double* w, const double* sigma, const double* mu,
                                      const double* erev, const double* gnum, const double* gden, double* gpre,
                                      double* gw, double* gsigma, double* gmu, double* gerev, double* row,
                                      std::int64_t B, std::int64_t P, std::int64_t N, std::int64_t i0) {
  synapse_backward_plain(pre, w, sigma, mu, erev, gnum, gden, gpre, gw, gsigma, gmu, gerev, row, B, P, N, i0);
}

#if defined(__x86_64__)
// The forward kernels' parameters: a = sigma log2(e), c = sigma mu log2(e) (so u = c - a x), and
// per sample whether every input keeps |u| <= 125 (no clamp needed: `fits`).
struct SynapseParameters {
  const float *a, *c;
  const std::vector<char>& fits;
};

// a, c and the bounds of |a| and |c| (-1 when any a or c is not finite), one clone per instruction
// set. The bounds are kept per lane of 16 (elementwise maxima, not a reduction, so the loop
// vectorises), with per-lane sums of a * 0 + c * 0 that turn NaN at a non-finite value.
TIDE_CLONES void synapse_coefficients(const float* sigma, const float* mu, float* a, float* c, std::int64_t n,
                                      float& amax, float& cmax) {
  constexpr float log2e = 1.44269504088896341f;
  constexpr int L = 16;
  float am[L] = {}, cm[L] = {}, bad[L] = {};
  const auto one = [&](std::int64_t k, int l) {
    const float av = sigma[k] * log2e, cv = sigma[k] * mu[k] * log2e;
    a[k] = av, c[k] = cv;
    am[l] = std::max(am[l], std::fabs(av)), cm[l] = std::max(cm[l], std::fabs(cv));
    bad[l] += av * 0.0f + cv * 0.0f;
  };
  std::int64_t k = 0;
  for (; k + L <= n; k += L)
    for (int l = 0; l < L; ++l) one(k + l, l);
  for (; k < n; ++k) one(k, 0);
  float A = 0, C = 0;
  bool finite = true;
  for (int l = 0; l < L; ++l) A = std::max(A, am[l]), C = std::max(C, cm[l]), finite = finite && bad[l] == 0.0f;
  amax = finite ? A : -1.0f, cmax = finite ? C : -1.0f;
}

SynapseParameters prepare_synapses(const float* pre, const float* sigma, const float* mu, std::int64_t B, std::int64_t P,
                                   std::int64_t N) {
  static thread_local std::vector<float> scratch;
  scratch.resize(static_cast<std::size_t>(2 * P * N));
  float* a = scratch.data();
  float* c = a + P * N;
  // Bounds of |a| and |c|: a sample whose |x| <= xmax keeps |u| <= 125 and needs no clamp.
  float amax, cmax;
  synapse_coefficients(sigma, mu, a, c, P * N, amax, cmax);
  const float xmax = cmax >= 0.0f && cmax < 120.0f ? (120.0f - cmax) / std::max(amax, 1e-30f) : -1.0f;
  static thread_local std::vector<char> fits;
  fits.assign(static_cast<std::size_t>(B), 1);
  for (std::int64_t k = 0; k < B * P; ++k)
    if (!(std::fabs(pre[k]) <= xmax)) fits[static_cast<std::size_t>(k / P)] = 0;  // NaN fails too
  return {a, c, fits};
}

#if defined(__clang__)  // clang has no GCC target pragma; its attribute pragma does the same
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

// AVX2 + FMA (float), 8-lane vectors; the forward's register block is 4 samples x 2 vectors
// (measured best of 1-8 x 1-4 on Zen 3, docs/benchmarks.md).
struct Avx2Lanes {
  using V = __m256;
  static constexpr int width = 8, rows = 4, vectors = 2;
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V exponent(V t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); }
};
#define TIDE_SYNAPSE_LANES Avx2Lanes
#define TIDE_SYNAPSE_FORWARD synapse_avx2
#define TIDE_SYNAPSE_FORWARD_BLOCK synapse_block_avx2
#include "synapse_forward_simd.inc"
#undef TIDE_SYNAPSE_FORWARD
#undef TIDE_SYNAPSE_FORWARD_BLOCK
// The backward on AVX2 + FMA: synapse_backward_simd.inc with the same lanes.
#define TIDE_SYNAPSE_BACKWARD synapse_backward_avx2
#include "synapse_backward_simd.inc"
#undef TIDE_SYNAPSE_LANES
#undef TIDE_SYNAPSE_BACKWARD

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

bool has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

// The same backward on AVX-512 (float): 16-lane vectors.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's avx512fintrin.h (_mm512_undefined_*)
#endif
// The register block: 4 samples x 1 vector (16 columns, as AVX2's block, so both leave the same
// remainder columns to the plain loop).
struct Avx512Lanes {
  using V = __m512;
  static constexpr int width = 16, rows = 4, vectors = 1;
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V exponent(V t) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); }
};
#define TIDE_SYNAPSE_LANES Avx512Lanes
#define TIDE_SYNAPSE_FORWARD synapse_avx512
#define TIDE_SYNAPSE_FORWARD_BLOCK synapse_block_avx512
#include "synapse_forward_simd.inc"
#undef TIDE_SYNAPSE_FORWARD
#undef TIDE_SYNAPSE_FORWARD_BLOCK
#define TIDE_SYNAPSE_BACKWARD synapse_backward_avx512
#include "synapse_backward_simd.inc"
#undef TIDE_SYNAPSE_LANES
#undef TIDE_SYNAPSE_BACKWARD
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

bool has_avx512f() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

// The level's kernel in `kernel` (null for the plain loop); false when this CPU lacks the level.
template <class Kernel>
bool kernel_for(SimdLevel level, Kernel avx512, Kernel avx2, Kernel& kernel) {
  kernel = nullptr;
  if (level == SimdLevel::avx512) {
    if (!has_avx512f()) return false;
    kernel = avx512;
  } else if (level == SimdLevel::avx2) {
    if (!has_avx2_fma()) return false;
    kernel = avx2;
  }
  return true;
}
#endif

}  // namespace

bool synapse_sums_with(SimdLevel level, const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                       const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num, const Tensor& den) {
  const std::int64_t B = pre.shape()[0], P = pre.shape()[1], N = w.shape()[1];
#if defined(__x86_64__)
  using Kernel = std::int64_t (*)(const float*, const float*, const SynapseParameters&, const float*, const float*,
                                  const float*, float*, float*, std::int64_t, std::int64_t, std::int64_t);
  Kernel kernel = nullptr;
  if (!kernel_for(level, synapse_avx512, synapse_avx2, kernel)) return false;
#else
  if (level != SimdLevel::plain) return false;
#endif
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* n0 = num0.defined() ? num0.data<T>() : nullptr;
    const T* d0 = den0.defined() ? den0.data<T>() : nullptr;
    T *np = detail::output_data<T>(num), *dp = detail::output_data<T>(den);
    std::int64_t done = 0;
#if defined(__x86_64__)
    if constexpr (std::is_same_v<T, float>)
      if (kernel)
        done = kernel(pre.data<T>(), w.data<T>(), prepare_synapses(pre.data<T>(), sigma.data<T>(), mu.data<T>(), B, P, N),
                      erev.data<T>(), n0, d0, np, dp, B, P, N);
#endif
    if (done == N) return;
    for (std::int64_t b = 0; b < B; ++b)  // the plain loop accumulates in place: start it from num0, den0
      for (std::int64_t i = done; i < N; ++i) {
        np[b * N + i] = n0 ? n0[b * N + i] : T(0);
        dp[b * N + i] = d0 ? d0[b * N + i] : T(0);
      }
    synapse_plain_run(pre.data<T>(), w.data<T>(), sigma.data<T>(), mu.data<T>(), erev.data<T>(), np, dp, 0, B, P, N, done);
  };
  if (pre.dtype() == DType::f64) run(double{});
  else run(float{});
  return true;
}

void CpuBackend::synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                              const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num,
                              const Tensor& den) {
  for (SimdLevel level : {SimdLevel::avx512, SimdLevel::avx2, SimdLevel::plain})
    if (synapse_sums_with(level, pre, w, sigma, mu, erev, num0, den0, num, den)) return;
}

bool synapse_backward_with(SimdLevel level, const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                           const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre, const Tensor& gw,
                           const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev) {
  const std::int64_t B = pre.shape()[0], P = pre.shape()[1], N = w.shape()[1];
  using Kernel = std::int64_t (*)(const float*, const float*, const float*, const float*, const float*, const float*,
                                  const float*, float*, float*, float*, float*, float*, std::int64_t, std::int64_t, std::int64_t);
  Kernel kernel = nullptr;
#if defined(__x86_64__)
  if (!kernel_for(level, synapse_backward_avx512, synapse_backward_avx2, kernel)) return false;
#else
  if (level != SimdLevel::plain) return false;
#endif
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T *gp = detail::output_data<T>(gpre), *gwp = detail::output_data<T>(gw), *gsp = detail::output_data<T>(gsigma),
      *gmp = detail::output_data<T>(gmu), *gep = detail::output_data<T>(gerev);
    std::int64_t done = 0;
    if constexpr (std::is_same_v<T, float>)
      if (kernel) done = kernel(pre.data<T>(), w.data<T>(), sigma.data<T>(), mu.data<T>(), erev.data<T>(), gnum.data<T>(),
                                gden.data<T>(), gp, gwp, gsp, gmp, gep, B, P, N);
    if (done == N) return;
    if (done == 0) std::fill_n(gp, B * P, T(0));
    for (std::int64_t j = 0; j < P; ++j)  // the remaining columns accumulate: start them at zero
      for (T* g : {gwp, gsp, gmp, gep}) std::fill(g + j * N + done, g + j * N + N, T(0));
    std::vector<T> row(static_cast<std::size_t>(N));
    synapse_backward_run(pre.data<T>(), w.data<T>(), sigma.data<T>(), mu.data<T>(), erev.data<T>(), gnum.data<T>(),
                         gden.data<T>(), gp, gwp, gsp, gmp, gep, row.data(), B, P, N, done);
  };
  if (pre.dtype() == DType::f64) run(double{});
  else run(float{});
  return true;
}

void CpuBackend::synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                                       const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre,
                                       const Tensor& gw, const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev) {
  for (SimdLevel level : {SimdLevel::avx512, SimdLevel::avx2, SimdLevel::plain})
    if (synapse_backward_with(level, pre, w, sigma, mu, erev, gnum, gden, gpre, gw, gsigma, gmu, gerev)) return;
}

}  // namespace tide::cpu
