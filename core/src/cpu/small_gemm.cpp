// See small_gemm.hpp. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so libxsmm
// gets (n, m, k) with A and B swapped, and a row-major transposed B becomes libxsmm's TRANS_A.
#include "small_gemm.hpp"

#ifdef TIDE_HAVE_XSMM
#include <libxsmm.h>
#endif

namespace tide::cpu {

template <class T>
SmallGemm<T> small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                        std::int64_t lda, std::int64_t ldb, std::int64_t ldc) {
  SmallGemm<T> g;
#ifdef TIDE_HAVE_XSMM
  if (m * n * k > small_gemm_max_mnk || m == 0 || n == 0 || k == 0) return g;
  const libxsmm_blasint mm = static_cast<libxsmm_blasint>(n), nn = static_cast<libxsmm_blasint>(m),
                        kk = static_cast<libxsmm_blasint>(k), la = static_cast<libxsmm_blasint>(ldb),
                        lb = static_cast<libxsmm_blasint>(lda), lc = static_cast<libxsmm_blasint>(ldc);
  const int flags = (trans_b ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const T alpha = 1, beta = 0;
  if constexpr (sizeof(T) == 4)
    g.kernel = reinterpret_cast<typename SmallGemm<T>::Kernel>(libxsmm_smmdispatch(mm, nn, kk, &la, &lb, &lc, &alpha, &beta, &flags, nullptr));
  else
    g.kernel = reinterpret_cast<typename SmallGemm<T>::Kernel>(libxsmm_dmmdispatch(mm, nn, kk, &la, &lb, &lc, &alpha, &beta, &flags, nullptr));
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)lda, (void)ldb, (void)ldc;
#endif
  return g;
}

template SmallGemm<float> small_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template SmallGemm<double> small_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t);

}  // namespace tide::cpu
