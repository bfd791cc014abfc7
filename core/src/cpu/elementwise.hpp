// Vectorised elementwise kernels over runs (pointer + stride). Each entry point is compiled for
// AVX-512, AVX2+FMA and baseline x86-64 and chosen at load time (GCC target_clones), so one binary
// runs at full width on every CPU.
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/op_table.hpp"
#include <algorithm>
#include <cstdint>

namespace tide::cpu {

// y[i] = op(x[i]) over n contiguous elements (y may equal x).
void unary_run(Op op, const float* x, float* y, std::int64_t n, double p0, double p1);
void unary_run(Op op, const double* x, double* y, std::int64_t n, double p0, double p1);
// y[i] = op(x[i] + c[i % period]) over n contiguous elements (y may equal x; c, of period > 0
// elements, may not overlap y): a bias, repeated over rows, and an activation in one pass.
void unary_shifted_run(Op op, const float* x, const float* c, std::int64_t period, float* y, std::int64_t n,
                       double p0, double p1);
void unary_shifted_run(Op op, const double* x, const double* c, std::int64_t period, double* y, std::int64_t n,
                       double p0, double p1);
// out[0, p) = row[0, n) repeated (p a multiple of n, n > 0): the bias pattern of the two above,
// filled by doubling copies.
template <class T> inline void repeat_row(const T* row, std::int64_t n, T* out, std::int64_t p) {
  std::copy(row, row + n, out);
  for (std::int64_t filled = n; filled < p; filled *= 2) std::copy(out, out + std::min(filled, p - filled), out + filled);
}
// y[i * sy] = op(a[i * sa], b[i * sb]); strides of 0 broadcast, 1 is the vectorised case.
void binary_run(Op op, const float* a, std::int64_t sa, const float* b, std::int64_t sb, float* y,
                std::int64_t sy, std::int64_t n);
void binary_run(Op op, const double* a, std::int64_t sa, const double* b, std::int64_t sb,
                double* y, std::int64_t sy, std::int64_t n);
// binary_run over `rows` runs in one call, run r starting at a + r * ra, b + r * rb, y + r * ry: a
// bias row broadcast over a batch (rb = 0) is one call, not one per row.
void binary_rows_run(Op op, const float* a, std::int64_t ra, std::int64_t sa, const float* b, std::int64_t rb,
                     std::int64_t sb, float* y, std::int64_t ry, std::int64_t sy, std::int64_t rows, std::int64_t n);
void binary_rows_run(Op op, const double* a, std::int64_t ra, std::int64_t sa, const double* b, std::int64_t rb,
                     std::int64_t sb, double* y, std::int64_t ry, std::int64_t sy, std::int64_t rows, std::int64_t n);

// The steps of a fused elementwise chain (Backend::elementwise) over one block of n elements:
// value[v] points at value v's n elements, the chain's `first` inputs and then one per step, which
// that step writes. One call per block, each step's kernel inlined, where a call per step cost more
// than the step itself on the few elements of a small solve's chains. Every step must be unary,
// binary, a comparison or `where` (the caller checks).
void chain_steps_run(const ElementwiseStep* steps, std::size_t count, float* const* value, std::size_t first, std::int64_t n);
void chain_steps_run(const ElementwiseStep* steps, std::size_t count, double* const* value, std::size_t first, std::int64_t n);

// y[r * n + j] += b[j] for r < m, j < n: a bias added to every row of a contiguous [m, n] block.
void add_rows(float* y, const float* b, std::int64_t m, std::int64_t n);
void add_rows(double* y, const double* b, std::int64_t m, std::int64_t n);
// y[j] = sum over r < m of x[r * n + j], rows added in order: the column sums of a contiguous
// [m, n] block (a bias gradient).
void sum_rows(const float* x, float* y, std::int64_t m, std::int64_t n);
void sum_rows(const double* x, double* y, std::int64_t m, std::int64_t n);

}  // namespace tide::cpu
