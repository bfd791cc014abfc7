// Small GEMMs through libxsmm's JIT-generated kernels. The matrices of ODE-net MLPs (batch x 64
// times 64 x 64, say) are too small for a BLAS's packing and blocking to pay off: libxsmm's
// specialised kernels run 256x64x64 in about half the time of OpenBLAS 0.3.21 and do not depend
// on OpenBLAS choosing the right kernel set for the CPU. Larger products stay on BLAS.
#pragma once
#include <cstdint>

namespace tide::cpu {

// Row-major C[m, n] = op(A) op(B) with leading dimensions lda, ldb, ldc (alpha 1, beta 0).
template <class T> struct SmallGemm {
  using Kernel = void (*)(const T*, const T*, T*, ...);
  Kernel kernel = nullptr;  // null: not handled here, use BLAS
  void operator()(const T* a, const T* b, T* c) const { kernel(b, a, c); }
  explicit operator bool() const { return kernel != nullptr; }
};

// A kernel for this shape when the build has libxsmm, the shape is small and the CPU is one
// libxsmm generates code for; otherwise an empty SmallGemm.
template <class T>
SmallGemm<T> small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                        std::int64_t lda, std::int64_t ldb, std::int64_t ldc);

// Largest m * n * k sent to libxsmm (256 x 256 x 64).
inline constexpr std::int64_t small_gemm_max_mnk = 256 * 256 * 64;

}  // namespace tide::cpu
