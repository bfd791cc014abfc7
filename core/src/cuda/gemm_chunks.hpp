// How one row-major product becomes cuBLAS calls whose int arguments all fit: the batch, the rows of
// C and k go in chunks of at most `limit` elements (k's later chunks add into C with beta = 1).
// Host-only and free of CUDA types, so that a test can run the chunking with a tiny limit.
#pragma once
#include "gemm_layout.hpp"
#include <algorithm>
#include <cstdint>
#include <limits>

namespace tide::cuda {

inline constexpr std::int64_t cublas_int_max = std::numeric_limits<int>::max();

// C[i] = A[i] B[i] for i < batch, C[i] of rows x n, contiguous (row stride n, batch stride rows * n);
// A and B as gemm_layout reads them, with batch strides (0: shared by every batch).
struct GemmProblem {
  std::int64_t rows, n, k, batch;
  detail::GemmOperand a, b;
  std::int64_t a_batch_stride, b_batch_stride;
};

// One cuBLAS strided-batched call. Row-major C = A B is column-major C^T = B^T A^T, so cuBLAS's
// (m, n, k) are (n, rows, k) and its first operand is B. Offsets are in elements from the bases.
struct CublasGemm {
  int m, n, k, ld_b, ld_a, ld_c, batch;
  bool trans_b, trans_a;
  bool accumulate;  // beta = 1: a later chunk of k
  std::int64_t offset_b, offset_a, offset_c;
  std::int64_t stride_b, stride_a, stride_c;
};

// A one-row A (no fold) reads the same as its transpose with leading dimension 1; gemm_layout gives
// it ld = k, which a k past the limit would make unaddressable.
inline detail::GemmOperand left_operand(const GemmProblem& p, std::int64_t limit) {
  if (p.rows == 1 && !p.a.trans && p.a.ld > limit) return {true, true, 1};
  return p.a;
}

// Which operand's leading dimension cuBLAS cannot take ('a', 'b', or 'c': the output, whose rows are
// n long), or 0. Chunks cannot shorten a leading dimension: it is the memory's own row stride.
inline char unaddressable_operand(const GemmProblem& p, std::int64_t limit) {
  if (p.n > limit) return 'c';
  if (left_operand(p, limit).ld > limit) return 'a';
  if (p.b.ld > limit) return 'b';
  return 0;
}

// Calls fn(CublasGemm) for each chunk; unaddressable_operand(p, limit) must be 0.
template <class Fn> void for_each_cublas_gemm(const GemmProblem& p, std::int64_t limit, Fn&& fn) {
  const detail::GemmOperand a = left_operand(p, limit), b = p.b;
  // A[i, q] sits at i * a_row + q * a_depth, B[q, j] at q * b_depth + j * (b's other stride)
  const std::int64_t a_row = a.trans ? 1 : a.ld, a_depth = a.trans ? a.ld : 1, b_depth = b.trans ? 1 : b.ld;
  CublasGemm g{};
  g.m = static_cast<int>(p.n);
  g.ld_b = static_cast<int>(b.ld);
  g.ld_a = static_cast<int>(a.ld);
  g.ld_c = static_cast<int>(p.n);
  g.trans_b = b.trans;
  g.trans_a = a.trans;
  g.stride_b = p.b_batch_stride;
  g.stride_a = p.a_batch_stride;
  g.stride_c = p.rows * p.n;
  for (std::int64_t b0 = 0; b0 < p.batch; b0 += limit) {
    g.batch = static_cast<int>(std::min(limit, p.batch - b0));
    for (std::int64_t r0 = 0; r0 < p.rows; r0 += limit) {
      g.n = static_cast<int>(std::min(limit, p.rows - r0));
      for (std::int64_t q0 = 0; q0 < p.k; q0 += limit) {
        g.k = static_cast<int>(std::min(limit, p.k - q0));
        g.accumulate = q0 > 0;
        g.offset_a = b0 * p.a_batch_stride + r0 * a_row + q0 * a_depth;
        g.offset_b = b0 * p.b_batch_stride + q0 * b_depth;
        g.offset_c = b0 * g.stride_c + r0 * p.n;
        fn(g);
      }
    }
  }
}

}  // namespace tide::cuda
