// See small_gemm.hpp. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so libxsmm
// gets (n, m, k) with A and B swapped, and a row-major transposed B becomes libxsmm's TRANS_A.
#include "small_gemm.hpp"
#include "tensor_access.hpp"
#include "tide/core/ops.hpp"

#include <algorithm>
#include <vector>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef TIDE_HAVE_XSMM
#include <libxsmm.h>
#endif

namespace tide::cpu {

namespace {

// What small_gemm found for one shape (a kernel, or none), remembered per thread: libxsmm's own
// dispatch (a registry lookup, and a prefetch-strategy query) was ~2% of a small model's training
// step, which asks for the same few shapes thousands of times. Direct-mapped: a colliding shape
// replaces the entry.
template <class T> struct DispatchEntry {
  std::int64_t key[7] = {-1, -1, -1, -1, -1, -1, -1};
  SmallGemm<T> gemm;
};
template <class T> struct DispatchCache {
  static constexpr std::size_t size = 64;
  DispatchEntry<T> entries[size];
};

template <class T>
SmallGemm<T> find_small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                             std::int64_t lda, std::int64_t ldb, std::int64_t ldc, bool accumulate);

}  // namespace

template <class T>
SmallGemm<T> small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                        std::int64_t lda, std::int64_t ldb, std::int64_t ldc, bool accumulate) {
  if (narrow_gemm_serves<T>(trans_a, trans_b, m, n, k)) {
    SmallGemm<T> g;
    g.narrow = true, g.trans_a = trans_a, g.trans_b = trans_b, g.accumulate = accumulate;
    g.m = m, g.n = n, g.k = k, g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    return g;
  }
  if (m * n * k > small_gemm_max_mnk || m == 0 || n == 0 || k == 0) return {};
  thread_local DispatchCache<T> cache;
  const std::int64_t key[7] = {(trans_a ? 1 : 0) | (trans_b ? 2 : 0) | (accumulate ? 4 : 0), m, n, k, lda, ldb, ldc};
  // one odd multiplier per field, the products combined: independent multiplies, no chain
  constexpr std::uint64_t mix[7] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL,
                                    0xFF51AFD7ED558CCDULL, 0xC4CEB9FE1A85EC53ULL, 0x94D049BB133111EBULL};
  std::uint64_t h = 0;
  for (int i = 0; i < 7; ++i) h += static_cast<std::uint64_t>(key[i]) * mix[i];
  DispatchEntry<T>& e = cache.entries[(h >> 40) % DispatchCache<T>::size];
  if (!std::equal(key, key + 7, e.key)) {
    e.gemm = find_small_gemm<T>(trans_a, trans_b, m, n, k, lda, ldb, ldc, accumulate);
    std::copy(key, key + 7, e.key);
  }
  return e.gemm;
}

namespace {

template <class T>
SmallGemm<T> find_small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                             std::int64_t lda, std::int64_t ldb, std::int64_t ldc, bool accumulate) {
  SmallGemm<T> g;
#ifdef TIDE_HAVE_XSMM
  const libxsmm_blasint mm = static_cast<libxsmm_blasint>(n), nn = static_cast<libxsmm_blasint>(m),
                        kk = static_cast<libxsmm_blasint>(k), la = static_cast<libxsmm_blasint>(ldb),
                        lb = static_cast<libxsmm_blasint>(lda), lc = static_cast<libxsmm_blasint>(ldc);
  const T alpha = 1, beta = accumulate ? 1 : 0;
  // No prefetch, as the three-pointer calls below need: a null strategy means libxsmm's default,
  // automatic in Debian's build, whose kernels may read three more pointers (the next operands to
  // prefetch) that these calls never pass.
  const int prefetch = LIBXSMM_PREFETCH_NONE;
  auto dispatch = [&](bool transposed_b, libxsmm_blasint ld_b) {
    const int flags = (transposed_b ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    if constexpr (sizeof(T) == 4)
      return reinterpret_cast<typename SmallGemm<T>::Kernel>(libxsmm_smmdispatch(mm, nn, kk, &ld_b, &lb, &lc, &alpha, &beta, &flags, &prefetch));
    else
      return reinterpret_cast<typename SmallGemm<T>::Kernel>(libxsmm_dmmdispatch(mm, nn, kk, &ld_b, &lb, &lc, &alpha, &beta, &flags, &prefetch));
  };
  g.kernel = dispatch(trans_b, la);
  if (!g.kernel && trans_b) {
    g.kernel = dispatch(false, mm);
    g.transpose_b = g.kernel != nullptr;
    g.n = n, g.k = k, g.ldb = ldb;
  }
  static const bool avx_kernels = libxsmm_get_target_archid() >= LIBXSMM_X86_AVX;
  g.zero_upper = g.kernel != nullptr && avx_kernels;
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)lda, (void)ldb, (void)ldc, (void)accumulate;
#endif
  return g;
}

}  // namespace

namespace {

// out [k, n] = the transpose of b [n, k] (row stride ldb). Floats go in 4 x 4 blocks through SSE
// registers (four 16-byte loads, four 16-byte stores); element by element, the strided stores of a
// scalar loop ran at ~1 ns each (4K aliasing between the loads and the stores), 3x slower.
void transpose(const float* __restrict b, std::int64_t n, std::int64_t k, std::int64_t ldb, float* __restrict out) {
  std::int64_t j = 0;
#if defined(__SSE2__)
  for (; j + 4 <= n; j += 4) {
    std::int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
      __m128 r0 = _mm_loadu_ps(b + j * ldb + i), r1 = _mm_loadu_ps(b + (j + 1) * ldb + i);
      __m128 r2 = _mm_loadu_ps(b + (j + 2) * ldb + i), r3 = _mm_loadu_ps(b + (j + 3) * ldb + i);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(out + i * n + j, r0);
      _mm_storeu_ps(out + (i + 1) * n + j, r1);
      _mm_storeu_ps(out + (i + 2) * n + j, r2);
      _mm_storeu_ps(out + (i + 3) * n + j, r3);
    }
    for (; i < k; ++i)
      for (std::int64_t jj = j; jj < j + 4; ++jj) out[i * n + jj] = b[jj * ldb + i];
  }
#endif
  for (; j < n; ++j)
    for (std::int64_t i = 0; i < k; ++i) out[i * n + j] = b[j * ldb + i];
}

void transpose(const double* __restrict b, std::int64_t n, std::int64_t k, std::int64_t ldb, double* __restrict out) {
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < k; ++i) out[i * n + j] = b[j * ldb + i];
}

}  // namespace

namespace {

// The transposed operands kept inside TransposeCacheScopes on this thread, keyed by the operand's
// storage (its serial: a new storage at a reused address is a new key), version (an in-place
// write is a new key), position and layout. At most `capacity` are kept; the oldest goes first.
struct CachedTranspose {
  std::uint64_t serial = 0, version = 0;
  std::ptrdiff_t offset = 0;
  std::int64_t n = 0, k = 0, ldb = 0;
  std::size_t item = 0;
  std::vector<unsigned char> bytes;
};
struct TransposeCache {
  int depth = 0;
  std::vector<CachedTranspose> entries;
  std::size_t next = 0;  // the entry replaced next once full
  static constexpr std::size_t capacity = 32;
};
thread_local TransposeCache transpose_cache;

}  // namespace

template <class T>
const T* SmallGemm<T>::transposed(const T* b, const Tensor* owner) const {
  TransposeCache& cache = transpose_cache;
  const detail::Storage* st = owner ? detail::TensorAccess::storage(*owner) : nullptr;
  if (cache.depth == 0 || !st || st->scratch) {  // scratch: rewritten without version bumps (a plan's buffers)
    thread_local std::vector<T> scratch;
    scratch.resize(static_cast<std::size_t>(n * k));
    transpose(b, n, k, ldb, scratch.data());
    return scratch.data();
  }
  const std::ptrdiff_t offset = reinterpret_cast<const unsigned char*>(b) - static_cast<const unsigned char*>(st->data);
  for (const CachedTranspose& e : cache.entries)
    if (e.serial == st->serial && e.version == st->version && e.offset == offset && e.n == n && e.k == k && e.ldb == ldb &&
        e.item == sizeof(T))
      return reinterpret_cast<const T*>(e.bytes.data());
  CachedTranspose* e;
  if (cache.entries.size() < TransposeCache::capacity) {
    e = &cache.entries.emplace_back();
  } else {
    e = &cache.entries[cache.next];
    cache.next = (cache.next + 1) % TransposeCache::capacity;
  }
  e->serial = st->serial, e->version = st->version, e->offset = offset, e->n = n, e->k = k, e->ldb = ldb, e->item = sizeof(T);
  e->bytes.resize(static_cast<std::size_t>(n * k) * sizeof(T));
  transpose(b, n, k, ldb, reinterpret_cast<T*>(e->bytes.data()));
  return reinterpret_cast<const T*>(e->bytes.data());
}

#if defined(__x86_64__)
__attribute__((target("avx"))) void clear_upper_halves() { _mm256_zeroupper(); }
#else
void clear_upper_halves() {}
#endif

void enter_transpose_cache() { ++transpose_cache.depth; }

void leave_transpose_cache() {
  if (--transpose_cache.depth == 0) {
    transpose_cache.entries.clear();
    transpose_cache.next = 0;
  }
}

template struct SmallGemm<float>;
template struct SmallGemm<double>;
template SmallGemm<float> small_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool);
template SmallGemm<double> small_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace tide::cpu

namespace tide {
TransposeCacheScope::TransposeCacheScope() { cpu::enter_transpose_cache(); }
TransposeCacheScope::~TransposeCacheScope() { cpu::leave_transpose_cache(); }
}  // namespace tide
