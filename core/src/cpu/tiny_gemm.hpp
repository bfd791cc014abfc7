// Products too small for a GEMM kernel's call to pay: row-major C[m, n] = op(A) op(B) (+= when
// accumulating) with few rows times terms. These are the products of a batch-1 (or few-row) eager
// gradient: x^T dz and dz W^T of an MLP's layers in the spiral demo ([2, 1] x [1, 50] and
// [1, 2] x [2, 50], B a transposed view). libxsmm or BLAS took 160-360 ns per call at such shapes
// (the call, and for a transposed B a copy) where the arithmetic is ~100 FMAs; the loop here takes
// 30-70 ns.
//
// Each element of C is a sum over k in order (C's old value first when accumulating), one term at
// a time, vectorised along C's row (FMAs where the CPU has them): libxsmm's order, and the same
// values as the path it replaced at every shape timed without accumulating (BLAS, which adds C
// after the sum, can differ in the last bit when accumulating). A row's value does not depend on
// m while the loop serves it.
#pragma once
#include <cstdint>

namespace tide::cpu {

// Where the loop measured faster than libxsmm's kernel or BLAS (a driver timing both per shape
// and layout on Zen 3, docs/benchmarks.md): n >= 8, m k <= 16 and m n k <= 1024 (1.2-5x). Past
// these, long rows of B read across (a transposed B) or many rows make the kernels faster.
template <class T> bool tiny_gemm_serves(std::int64_t m, std::int64_t n, std::int64_t k);

// trans_a: A is stored [k, m] (row stride lda), else [m, k]; trans_b: B is stored [n, k] (row
// stride ldb), else [k, n]. C's row stride is ldc. Any shape works; tiny_gemm_serves says where
// it is the faster path.
template <class T>
void tiny_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate);

}  // namespace tide::cpu
