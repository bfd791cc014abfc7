// The CPU backend's BLAS product for int64 extents: CBLAS takes m, n, k and the leading dimensions
// as blasint (int32 in Debian's OpenBLAS), so a product past it is split into calls that each fit.
// Declared here so that a test can run the splitting with a tiny limit on small matrices.
#pragma once
#include <cstdint>

namespace tide::cpu {

// Row-major C[m, n] = op(A) op(B), or C += op(A) op(B) when accumulating (alpha 1, beta 0 or 1):
// A stored [m, k] (row stride lda), or [k, m] when trans_a; B stored [k, n] (row stride ldb), or
// [n, k] when trans_b; C's row stride ldc. Every BLAS call gets extents of at most `limit`: C in
// blocks of rows and columns, k in blocks added with beta = 1 after the first. A leading dimension
// past `limit` is never passed: the extent it strides (A's rows, or its k when transposed; B's k,
// or its columns when transposed; C's rows) then goes one at a time, where BLAS does not read it.
// The memory such a stride spans keeps that extent small (2^31 floats per step: 8 GB).
template <class T>
void chunked_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
                  const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate, std::int64_t limit);

// The limit CpuBackend uses: the largest blasint.
std::int64_t blas_int_max();

}  // namespace tide::cpu
