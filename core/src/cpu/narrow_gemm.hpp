// Products with few output columns: row-major C[m, n] = op(A) op(B) (+= when accumulating) for
// n of at most narrow_columns<T> (4 floats, 2 doubles). The last layer of a low-dimensional ODE's
// MLP ([B, h] x [h, d], d = 2 for a spiral, 4 for the tiny benchmark) and its weight gradient
// (h x B times B x d) have this shape. libxsmm vectorises along the n output columns, so with n
// below its vector width most lanes idle: [256, 32] x [32, 4] ran at 27 GFLOP/s, [256, 50] x [50, 2]
// at 6, against ~95 for square shapes on the same core. Here:
// - A untransposed, floats, from 64 rows and 32 terms: vectors along C's rows, A's 8 x 8 blocks
//   transposed in registers, each element a sum over k in order (as libxsmm sums: the same values
//   in a test at n = 4 without accumulating; accumulating, C is added after the sum, not before);
// - A untransposed otherwise: each C[i, j] is a dot product along k of A's row i and B's column j
//   (B's columns gathered first into rows, unless B is stored transposed), vectorised along k, two
//   rows at a time, the lanes summed by one pairwise tree per row for all its columns;
// - A transposed (a weight gradient, A^T B): vectorised along C's rows, which are A's columns, each
//   element a sum over k in order.
// Within each kernel every element of C is computed by the same operations whatever m is and
// wherever its row falls. Which kernel runs depends on m (floats switch to the 8 x 8 blocks at 64
// rows, and below narrow_gemm_serves' thresholds rows go to libxsmm or BLAS), so a row's last bits
// can change when m crosses a threshold.
#pragma once
#include <cstdint>

namespace tide::cpu {

template <class T> inline constexpr std::int64_t narrow_columns = 32 / sizeof(T) / 2;

// Whether narrow_gemm serves this product: where it measured faster than libxsmm's kernel (a
// driver timing both per shape on Zen 3, docs/benchmarks.md). A transposed: n <= narrow_columns,
// m >= a vector's lanes, k >= 16 (2.5-4.4x; fewer rows or terms leave the vectors idle). A
// untransposed: floats with m >= 64 and k >= 32 (the 8 x 8 blocks, 1.2-1.45x); else n below
// narrow_columns for floats (at n = 4 the dot products and libxsmm both run at ~26 GFLOP/s),
// k >= two vectors, and m >= 8 unless B comes transposed (B's columns are gathered per call):
// 2-4.6x. Never with A and B both transposed.
template <class T> bool narrow_gemm_serves(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k);

// trans_a: A is stored [k, m] (row stride lda), else [m, k]; trans_b: B is stored [n, k] (row
// stride ldb), else [k, n]. C's row stride is ldc. Throws for a shape narrow_gemm_serves refuses.
template <class T>
void narrow_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
                 const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate);

}  // namespace tide::cpu
