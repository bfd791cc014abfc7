// N-d iteration over several operands that share one shape but have their own strides (elements).
// Axes of extent 1 are dropped and adjacent axes that are contiguous for every operand merged, so
// the kernel's inner loop runs over the longest possible run; the callback gets the element offsets
// of each operand at the start of a run, the run length and each operand's stride along it.
#pragma once
#include "tide/core/shape.hpp"
#include <array>
#include <cstdint>

namespace tide::cpu {

template <int N, class Inner>
void for_each_run(const Shape& shape, const std::array<Shape, N>& strides,
                  const std::array<std::int64_t, N>& offsets, Inner&& inner) {
  std::int64_t ext[max_rank];
  std::int64_t st[N][max_rank];
  int r = 0;
  for (int i = 0; i < shape.rank(); ++i) {
    if (shape[i] == 0) return;
    if (shape[i] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; merge && k < N; ++k) merge = st[k][r - 1] == strides[k][i] * shape[i];
    if (merge) {
      ext[r - 1] *= shape[i];
      for (int k = 0; k < N; ++k) st[k][r - 1] = strides[k][i];
    } else {
      ext[r] = shape[i];
      for (int k = 0; k < N; ++k) st[k][r] = strides[k][i];
      ++r;
    }
  }
  std::array<std::int64_t, N> off = offsets;
  if (r == 0) {
    std::array<std::int64_t, N> zero{};
    inner(off, std::int64_t{1}, zero);
    return;
  }
  std::array<std::int64_t, N> inner_stride;
  for (int k = 0; k < N; ++k) inner_stride[k] = st[k][r - 1];
  const std::int64_t run = ext[r - 1];
  std::int64_t counter[max_rank] = {};
  for (;;) {
    inner(off, run, inner_stride);
    int d = r - 2;
    for (; d >= 0; --d) {
      for (int k = 0; k < N; ++k) off[k] += st[k][d];
      if (++counter[d] < ext[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= st[k][d] * ext[d];
      counter[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace tide::cpu
