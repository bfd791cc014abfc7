// Small GEMMs through libxsmm's JIT-generated kernels. The matrices of ODE-net MLPs (batch x 64
// times 64 x 64, say) are too small for a BLAS's packing and blocking to pay off: libxsmm's
// specialised kernels run 256x64x64 in about half the time of OpenBLAS 0.3.21 and do not depend
// on OpenBLAS choosing the right kernel set for the CPU. Larger products stay on BLAS.
#pragma once
#include "narrow_gemm.hpp"
#include "tide/core/tensor.hpp"
#include <cstdint>

namespace tide::cpu {

// Row-major C[m, n] = op(A) op(B), or C += op(A) op(B) when accumulating, with leading dimensions
// lda, ldb, ldc (alpha 1, beta 0 or 1).
// libxsmm 1.17 generates no kernel for a transposed B (its TRANS_A), the dX = dY W^T of every
// layer's backward; OpenBLAS runs those at half the untransposed speed at these sizes, so B is
// then copied to its transpose (`transpose_b`: k x n, 32 KB for a 128 x 64 weight, ~3 us) and
// the untransposed kernel runs on the copy: 32 x 64 x 128 went from 10.4 to ~7 us. Inside a
// TransposeCacheScope (ops.hpp; grad's sweep opens one) the copy of an operand is kept and reused
// while its storage is unchanged: a weight used at every step of a sequence is transposed once
// per backward sweep instead of once per step.
// A product with few output columns goes to narrow_gemm.hpp's kernels instead (`narrow`), past
// libxsmm's size limit too, where narrow_gemm_serves takes it.
// libxsmm 1.17's AVX and AVX2 kernels return without vzeroupper. The SSE code that runs next (the
// rest of tide outside its per-instruction-set clones) then pays for the dirty upper halves on
// every call: [8, 4] x [4, 32] took 156 ns behind a dispatch against the kernel's own 28 on Zen 3.
// This clears them (vzeroupper); called only where the kernels are AVX code.
void clear_upper_halves();

template <class T> struct SmallGemm {
  using Kernel = void (*)(const T*, const T*, T*, ...);
  Kernel kernel = nullptr;  // null: not handled here, use BLAS (unless narrow)
  bool transpose_b = false;
  std::int64_t n = 0, k = 0, ldb = 0;
  bool narrow = false, trans_a = false, trans_b = false, accumulate = false;  // the rest of a narrow product's shape
  bool zero_upper = false;  // the kernel leaves 256-bit registers' upper halves set (clear_upper_halves)
  std::int64_t m = 0, lda = 0, ldc = 0;
  // b points into `owner`'s storage (for the cache; null: no caching).
  void operator()(const T* a, const T* b, T* c, const Tensor* owner = nullptr) const {
    if (narrow) return narrow_gemm<T>(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    if (transpose_b) b = transposed(b, owner);
    kernel(b, a, c);
    if (zero_upper) clear_upper_halves();
  }
  explicit operator bool() const { return kernel != nullptr || narrow; }

private:
  // B^T of the stored [n, k] (row stride ldb) as [k, n]: from the scope's cache, or in thread-local scratch
  const T* transposed(const T* b, const Tensor* owner) const;
};

void enter_transpose_cache();  // TransposeCacheScope's two halves
void leave_transpose_cache();

// A narrow product's kernel; else a kernel for this shape when the build has libxsmm, the shape is
// small and the CPU is one libxsmm generates code for; otherwise an empty SmallGemm.
template <class T>
SmallGemm<T> small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                        std::int64_t lda, std::int64_t ldb, std::int64_t ldc, bool accumulate = false);

// Largest m * n * k sent to libxsmm (256 x 256 x 64).
inline constexpr std::int64_t small_gemm_max_mnk = 256 * 256 * 64;

}  // namespace tide::cpu
