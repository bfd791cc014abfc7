// See tiny_gemm.hpp.
#include "tiny_gemm.hpp"
#include "clones.hpp"

namespace tide::cpu {

template <class T> bool tiny_gemm_serves(std::int64_t m, std::int64_t n, std::int64_t k) {
  return n >= 8 && m >= 1 && k >= 1 && m * k <= 16 && m * n * k <= 1024;
}

namespace {

// C's row i: its first term written (or added into C), then one term of k at a time added along
// the row. A(i, p) = ai[p * sa_p], B(p, j) = b[p * sb_p + j * sb_j].
template <class T>
__attribute__((always_inline)) inline void tiny_row(const T* ai, std::int64_t sa_p, const T* __restrict b, std::int64_t sb_p,
                                                    std::int64_t sb_j, std::int64_t n, std::int64_t k, T* __restrict ci,
                                                    bool accumulate) {
  std::int64_t p = 0;
  if (!accumulate) {
    const T av = ai[0];
    for (std::int64_t j = 0; j < n; ++j) ci[j] = av * b[j * sb_j];
    p = 1;
  }
  for (; p < k; ++p) {
    const T av = ai[p * sa_p];
    const T* bp = b + p * sb_p;
    for (std::int64_t j = 0; j < n; ++j) ci[j] += av * bp[j * sb_j];
  }
}

// The two layouts of B as separate loops: with B's rows contiguous (sb_j = 1 known) the row loop
// is a plain vector loop.
#define TIDE_TINY_GEMM(T)                                                                                               \
  TIDE_CLONES void tiny_gemm_impl(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,         \
                                  const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, \
                                  bool accumulate) {                                                                  \
    const std::int64_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1;                                            \
    for (std::int64_t i = 0; i < m; ++i) {                                                                            \
      if (trans_b) tiny_row<T>(a + i * sa_i, sa_p, b, 1, ldb, n, k, c + i * ldc, accumulate);                         \
      else tiny_row<T>(a + i * sa_i, sa_p, b, ldb, 1, n, k, c + i * ldc, accumulate);                                 \
    }                                                                                                                 \
  }
TIDE_TINY_GEMM(float)
TIDE_TINY_GEMM(double)
#undef TIDE_TINY_GEMM

}  // namespace

template <class T>
void tiny_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  tiny_gemm_impl(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

template bool tiny_gemm_serves<float>(std::int64_t, std::int64_t, std::int64_t);
template bool tiny_gemm_serves<double>(std::int64_t, std::int64_t, std::int64_t);
template void tiny_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,
                               std::int64_t, float*, std::int64_t, bool);
template void tiny_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t,
                                const double*, std::int64_t, double*, std::int64_t, bool);

}  // namespace tide::cpu
