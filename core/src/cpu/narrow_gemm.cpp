// See narrow_gemm.hpp.
#include "narrow_gemm.hpp"
#include "clones.hpp"
#include "tide/core/error.hpp"

#include <cstring>
#include <type_traits>
#include <vector>

namespace tide::cpu {

namespace {

// 32-byte vectors (GCC's vector extensions; an attribute cannot apply to a template's parameter)
template <class T> struct VecOf;
template <> struct VecOf<float> { typedef float type __attribute__((vector_size(32))); };
template <> struct VecOf<double> { typedef double type __attribute__((vector_size(32))); };
template <class T> using Vec = typename VecOf<T>::type;
template <class T> inline constexpr int lanes = static_cast<int>(32 / sizeof(T));

template <class T> __attribute__((always_inline)) inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Neighbouring lanes summed within each 16-byte half (the shuffles stay in-lane, as vhaddps's):
// floats [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7], doubles [a0+a1, b0+b1 | a2+a3, b2+b3].
template <class T> __attribute__((always_inline)) inline Vec<T> half_pair_sums(Vec<T> a, Vec<T> b) {
  if constexpr (lanes<T> == 8)
    return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
  else
    return __builtin_shufflevector(a, b, 0, 4, 2, 6) + __builtin_shufflevector(a, b, 1, 5, 3, 7);
}

// The lane sums of the accumulators s0..s3 (doubles: s0, s1) in lanes 0..3, each by the same
// tree, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) for floats.
template <class T> __attribute__((always_inline)) inline Vec<T> lane_sums(Vec<T> s0, Vec<T> s1, Vec<T> s2, Vec<T> s3) {
  if constexpr (lanes<T> == 8) {
    const Vec<T> h = half_pair_sums<T>(half_pair_sums<T>(s0, s1), half_pair_sums<T>(s2, s3));
    return h + __builtin_shufflevector(h, h, 4, 5, 6, 7, 0, 1, 2, 3);
  } else {
    (void)s2, (void)s3;
    const Vec<T> h = half_pair_sums<T>(s0, s1);
    return h + __builtin_shufflevector(h, h, 2, 3, 0, 1);
  }
}

// One row's four dot-product accumulators (those past N stay zero), named rather than an array,
// which GCC kept in memory (a memset, then a load and a store around every FMA).
template <class T> struct RowSums {
  Vec<T> s0, s1, s2, s3;
};

template <class T, int N>
__attribute__((always_inline)) inline void add_products(RowSums<T>& r, Vec<T> av, Vec<T> b0, Vec<T> b1, Vec<T> b2, Vec<T> b3) {
  r.s0 += av * b0;
  if constexpr (N > 1) r.s1 += av * b1;
  if constexpr (N > 2) r.s2 += av * b2;
  if constexpr (N > 3) r.s3 += av * b3;
}

// C's row from its accumulators: lane sums, then the products past the last whole vector in order.
template <class T, int N>
__attribute__((always_inline)) inline void finish_row(const RowSums<T>& r, const T* a, const T* bt, std::int64_t ldbt, std::int64_t p,
                                                      std::int64_t k, T* c, bool accumulate) {
  const Vec<T> s = lane_sums<T>(r.s0, r.s1, r.s2, r.s3);
  for (int j = 0; j < N; ++j) {
    T t = s[j];
    for (std::int64_t q = p; q < k; ++q) t += a[q] * bt[j * ldbt + q];
    c[j] = accumulate ? c[j] + t : t;
  }
}

// R (1 or 2) rows of C = A B^T with B^T's rows bt (row stride ldbt): each C[r, j] the dot product
// of A's row r and bt's row j, vectorised along k.
template <class T, int N, int R>
__attribute__((always_inline)) inline void dot_rows(const T* a, std::int64_t lda, const T* bt, std::int64_t ldbt, std::int64_t k, T* c,
                                                    std::int64_t ldc, bool accumulate) {
  constexpr int W = lanes<T>;
  const Vec<T> zero{};
  RowSums<T> r0{zero, zero, zero, zero}, r1{zero, zero, zero, zero};
  std::int64_t p = 0;
  for (; p + W <= k; p += W) {
    const Vec<T> b0 = load(bt + p), b1 = N > 1 ? load(bt + ldbt + p) : zero, b2 = N > 2 ? load(bt + 2 * ldbt + p) : zero,
                 b3 = N > 3 ? load(bt + 3 * ldbt + p) : zero;
    add_products<T, N>(r0, load(a + p), b0, b1, b2, b3);
    if constexpr (R > 1) add_products<T, N>(r1, load(a + lda + p), b0, b1, b2, b3);
  }
  finish_row<T, N>(r0, a, bt, ldbt, p, k, c, accumulate);
  if constexpr (R > 1) finish_row<T, N>(r1, a + lda, bt, ldbt, p, k, c + ldc, accumulate);
}

// Eight rows of A, k from p on (eight values each), as eight columns: c[q] holds A[0..7, p + q].
__attribute__((always_inline)) inline void transpose8(const float* a, std::int64_t lda, std::int64_t p, Vec<float> (&c)[8]) {
  using V = Vec<float>;
  V r[8];
  for (int i = 0; i < 8; ++i) r[i] = load(a + i * lda + p);
  V t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[2 * i + 1] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int h = 0; h < 2; ++h)      // rows 0-3, then 4-7
    for (int g = 0; g < 2; ++g) {  // t's low pair, then its high pair
      const V lo = t[4 * h + g], hi = t[4 * h + 2 + g];
      u[4 * h + 2 * g] = __builtin_shufflevector(lo, hi, 0, 1, 8, 9, 4, 5, 12, 13);
      u[4 * h + 2 * g + 1] = __builtin_shufflevector(lo, hi, 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int q = 0; q < 4; ++q) {
    c[q] = __builtin_shufflevector(u[q], u[4 + q], 0, 1, 2, 3, 8, 9, 10, 11);
    c[q + 4] = __builtin_shufflevector(u[q], u[4 + q], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// Eight rows of C = A B (floats), vectors along the rows: A's 8 x 8 blocks transposed in registers,
// each element a sum over k in order, as the scalar rows past the last block (no lane sums).
template <int N>
__attribute__((always_inline)) inline void row_block8(const float* a, std::int64_t lda, const float* b, std::int64_t bp, std::int64_t bj,
                                                      std::int64_t k, float* c, std::int64_t ldc, bool accumulate) {
  using V = Vec<float>;
  V acc[N];
  for (int j = 0; j < N; ++j) acc[j] = V{};
  std::int64_t p = 0;
  V col[8];
  for (; p + 8 <= k; p += 8) {
    transpose8(a, lda, p, col);
    for (int q = 0; q < 8; ++q)
      for (int j = 0; j < N; ++j) acc[j] += col[q] * b[(p + q) * bp + j * bj];
  }
  for (; p < k; ++p) {
    V v;
    for (int l = 0; l < 8; ++l) v[l] = a[l * lda + p];
    for (int j = 0; j < N; ++j) acc[j] += v * b[p * bp + j * bj];
  }
  for (int l = 0; l < 8; ++l)
    for (int j = 0; j < N; ++j) {
      float& out = c[l * ldc + j];
      out = accumulate ? out + acc[j][l] : acc[j][l];
    }
}

// C = A B for floats with B's element (p, j) at b[p * bp + j * bj] (B as stored, or stored transposed).
template <int N>
__attribute__((always_inline)) inline void blocks8_n(std::int64_t m, std::int64_t k, const float* a, std::int64_t lda, const float* b,
                                                     std::int64_t bp, std::int64_t bj, float* c, std::int64_t ldc, bool accumulate) {
  std::int64_t i = 0;
  for (; i + 8 <= m; i += 8) row_block8<N>(a + i * lda, lda, b, bp, bj, k, c + i * ldc, ldc, accumulate);
  if (i == m) return;
  // the last rows through the same block code (a scalar loop here was not contracted into FMAs
  // as the vectors are, so a row's value depended on where it fell), on a copy padded with zeros
  const std::int64_t rest = m - i;
  thread_local std::vector<float> pad;
  pad.assign(static_cast<std::size_t>(8 * k), 0.0f);
  float out[8 * 4] = {};
  for (std::int64_t r = 0; r < rest; ++r) {
    std::memcpy(pad.data() + r * k, a + (i + r) * lda, static_cast<std::size_t>(k) * sizeof(float));
    for (int j = 0; j < N; ++j) out[r * N + j] = c[(i + r) * ldc + j];
  }
  row_block8<N>(pad.data(), k, b, bp, bj, k, out, N, accumulate);
  for (std::int64_t r = 0; r < rest; ++r)
    for (int j = 0; j < N; ++j) c[(i + r) * ldc + j] = out[r * N + j];
}

TIDE_CLONES void blocks8_f32(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
                             std::int64_t bp, std::int64_t bj, float* c, std::int64_t ldc, bool accumulate) {
  switch (n) {
    case 1: return blocks8_n<1>(m, k, a, lda, b, bp, bj, c, ldc, accumulate);
    case 2: return blocks8_n<2>(m, k, a, lda, b, bp, bj, c, ldc, accumulate);
    case 3: return blocks8_n<3>(m, k, a, lda, b, bp, bj, c, ldc, accumulate);
    default: return blocks8_n<4>(m, k, a, lda, b, bp, bj, c, ldc, accumulate);
  }
}

template <class T, int N>
__attribute__((always_inline)) inline void rows_n(std::int64_t m, std::int64_t k, const T* a, std::int64_t lda, const T* bt,
                                                  std::int64_t ldbt, T* c, std::int64_t ldc, bool accumulate) {
  std::int64_t i = 0;
  for (; i + 2 <= m; i += 2) dot_rows<T, N, 2>(a + i * lda, lda, bt, ldbt, k, c + i * ldc, ldc, accumulate);
  if (i < m) dot_rows<T, N, 1>(a + i * lda, lda, bt, ldbt, k, c + i * ldc, ldc, accumulate);
}

// U vectors of C's rows i.. of C = A^T B (A stored [k, m]): each element a sum over k in order.
template <class T, int N, int U>
__attribute__((always_inline)) inline void column_block(std::int64_t i, std::int64_t k, const T* a, std::int64_t lda, const T* b,
                                                        std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  constexpr int W = lanes<T>;
  Vec<T> acc[U][N] = {};
  for (std::int64_t p = 0; p < k; ++p) {
    const T* bp = b + p * ldb;
    for (int u = 0; u < U; ++u) {
      const Vec<T> av = load(a + p * lda + i + u * W);
      for (int j = 0; j < N; ++j) acc[u][j] += av * bp[j];
    }
  }
  for (int u = 0; u < U; ++u)
    for (int l = 0; l < W; ++l)
      for (int j = 0; j < N; ++j) {
        T& out = c[(i + u * W + l) * ldc + j];
        out = accumulate ? out + acc[u][j][l] : acc[u][j][l];
      }
}

// C's last rows i .. i + rest (rest < W) by column_block's vector operations on a partial load (the
// lanes past them 0), so that each row gets the same FMAs wherever it falls (a scalar loop here was
// not contracted into FMAs as the vectors are for n = 1), with no copy of A.
template <class T, int N>
__attribute__((always_inline)) inline void column_tail(std::int64_t i, std::int64_t rest, std::int64_t k, const T* a, std::int64_t lda,
                                                       const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  Vec<T> acc[N] = {};
  for (std::int64_t p = 0; p < k; ++p) {
    Vec<T> av = {};
    for (std::int64_t r = 0; r < rest; ++r) av[r] = a[p * lda + i + r];
    const T* bp = b + p * ldb;
    for (int j = 0; j < N; ++j) acc[j] += av * bp[j];
  }
  for (std::int64_t r = 0; r < rest; ++r)
    for (int j = 0; j < N; ++j) {
      T& out = c[(i + r) * ldc + j];
      out = accumulate ? out + acc[j][r] : acc[j][r];
    }
}

template <class T, int N>
__attribute__((always_inline)) inline void columns_n(std::int64_t m, std::int64_t k, const T* a, std::int64_t lda, const T* b,
                                                     std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  constexpr int W = lanes<T>;
  std::int64_t i = 0;
  for (; i + 2 * W <= m; i += 2 * W) column_block<T, N, 2>(i, k, a, lda, b, ldb, c, ldc, accumulate);
  for (; i + W <= m; i += W) column_block<T, N, 1>(i, k, a, lda, b, ldb, c, ldc, accumulate);
  if (i < m) column_tail<T, N>(i, m - i, k, a, lda, b, ldb, c, ldc, accumulate);
}

// The entry points compiled per instruction set, n a template argument below them.
#define TIDE_NARROW_ENTRY(name, kernel, T)                                                                                     \
  TIDE_CLONES void name(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,            \
                        std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {                                          \
    switch (n) {                                                                                                               \
      case 1: return kernel<T, 1>(m, k, a, lda, b, ldb, c, ldc, accumulate);                                                   \
      case 2: return kernel<T, 2>(m, k, a, lda, b, ldb, c, ldc, accumulate);                                                   \
      case 3: if constexpr (narrow_columns<T> >= 3) return kernel<T, 3>(m, k, a, lda, b, ldb, c, ldc, accumulate); break;     \
      default: if constexpr (narrow_columns<T> >= 4) return kernel<T, 4>(m, k, a, lda, b, ldb, c, ldc, accumulate); break;    \
    }                                                                                                                          \
  }
TIDE_NARROW_ENTRY(rows_f32, rows_n, float)
TIDE_NARROW_ENTRY(rows_f64, rows_n, double)
TIDE_NARROW_ENTRY(columns_f32, columns_n, float)
TIDE_NARROW_ENTRY(columns_f64, columns_n, double)
#undef TIDE_NARROW_ENTRY

void rows(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* bt, std::int64_t ldbt, float* c,
          std::int64_t ldc, bool accumulate) {
  rows_f32(m, n, k, a, lda, bt, ldbt, c, ldc, accumulate);
}
void rows(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, const double* bt, std::int64_t ldbt,
          double* c, std::int64_t ldc, bool accumulate) {
  rows_f64(m, n, k, a, lda, bt, ldbt, c, ldc, accumulate);
}
void columns(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
             float* c, std::int64_t ldc, bool accumulate) {
  columns_f32(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
void columns(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
             double* c, std::int64_t ldc, bool accumulate) {
  columns_f64(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

}  // namespace

namespace {
// Where the float 8 x 8 blocks beat the dot products and libxsmm (1.2-1.45x at 256 x 4 x 32 and
// 256 x 2 x 50; slower below 64 rows or 32 terms).
bool blocks8_serve(std::int64_t m, std::int64_t k) { return m >= 64 && k >= 32; }
}  // namespace

template <class T> bool narrow_gemm_serves(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k) {
  constexpr std::int64_t W = lanes<T>;
  if (n < 1 || n > narrow_columns<T> || (trans_a && trans_b)) return false;
  if (trans_a) return m >= W && k >= 16;
  if (W == 8 && blocks8_serve(m, k)) return true;
  return (W == 4 || n < narrow_columns<T>) && k >= 2 * W && (trans_b || m >= 8);
}

template <class T>
void narrow_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
                 const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  if (!narrow_gemm_serves<T>(trans_a, trans_b, m, n, k))
    fail("narrow_gemm: a product of {} x {} by {} (A {}, B {}) is not one it serves", m, n, k, trans_a ? "transposed" : "as stored",
         trans_b ? "transposed" : "as stored");
  if (trans_a) return columns(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  if constexpr (std::is_same_v<T, float>)
    if (blocks8_serve(m, k)) return blocks8_f32(m, n, k, a, lda, b, trans_b ? 1 : ldb, trans_b ? ldb : 1, c, ldc, accumulate);
  if (trans_b) return rows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  thread_local std::vector<T> bt;  // B's columns as rows
  bt.resize(static_cast<std::size_t>(n * k));
  for (std::int64_t p = 0; p < k; ++p)
    for (std::int64_t j = 0; j < n; ++j) bt[static_cast<std::size_t>(j * k + p)] = b[p * ldb + j];
  rows(m, n, k, a, lda, bt.data(), k, c, ldc, accumulate);
}

template bool narrow_gemm_serves<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t);
template bool narrow_gemm_serves<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t);
template void narrow_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,
                                 std::int64_t, float*, std::int64_t, bool);
template void narrow_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t, const double*,
                                  std::int64_t, double*, std::int64_t, bool);

}  // namespace tide::cpu
