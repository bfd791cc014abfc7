// N-d iteration over several operands that share one shape but have their own strides (elements).
// Axes of extent 1 are dropped and adjacent axes that are contiguous for every operand merged, so
// the kernel's inner loop runs over the longest possible run; the callback gets the element offsets
// of each operand at the start of a run, the run length and each operand's stride along it.
// for_each_rows hands over the two innermost merged axes at once (rows of runs), so that a kernel
// called per callback loops over short rows itself: a bias row broadcast over a batch is one call,
// not one per row.
#pragma once
#include "tide/core/shape.hpp"
#include <algorithm>
#include <array>
#include <cstdint>

namespace tide::cpu {

// The merged axes of `shape` for N operands: `rank` axes, outermost first.
template <int N> struct MergedAxes {
  int rank = 0;
  bool empty = false;  // some extent is 0
  std::int64_t ext[max_rank];
  std::int64_t st[N][max_rank];

  MergedAxes(const Shape& shape, const std::array<Shape, N>& strides) {
    for (int i = 0; i < shape.rank(); ++i) {
      if (shape[i] == 0) {
        empty = true;
        return;
      }
      if (shape[i] == 1) continue;
      bool merge = rank > 0;
      for (int k = 0; merge && k < N; ++k) merge = st[k][rank - 1] == strides[k][i] * shape[i];
      if (merge) {
        ext[rank - 1] *= shape[i];
        for (int k = 0; k < N; ++k) st[k][rank - 1] = strides[k][i];
      } else {
        ext[rank] = shape[i];
        for (int k = 0; k < N; ++k) st[k][rank] = strides[k][i];
        ++rank;
      }
    }
  }

  // Calls visit(offsets) at the start of every index of the `outer` outermost axes.
  template <class Visit> void walk_outer(int outer, std::array<std::int64_t, N> off, Visit&& visit) const {
    std::int64_t counter[max_rank] = {};
    for (;;) {
      visit(off);
      int d = outer - 1;
      for (; d >= 0; --d) {
        for (int k = 0; k < N; ++k) off[k] += st[k][d];
        if (++counter[d] < ext[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= st[k][d] * ext[d];
        counter[d] = 0;
      }
      if (d < 0) return;
    }
  }

  std::array<std::int64_t, N> strides_of(int axis) const {
    std::array<std::int64_t, N> s{};
    for (int k = 0; k < N; ++k) s[k] = axis >= 0 ? st[k][axis] : 0;
    return s;
  }
};

template <int N, class Inner>
void for_each_run(const Shape& shape, const std::array<Shape, N>& strides,
                  const std::array<std::int64_t, N>& offsets, Inner&& inner) {
  const MergedAxes<N> m(shape, strides);
  if (m.empty) return;
  if (m.rank == 0) {
    inner(offsets, std::int64_t{1}, std::array<std::int64_t, N>{});
    return;
  }
  const std::array<std::int64_t, N> inner_stride = m.strides_of(m.rank - 1);
  const std::int64_t run = m.ext[m.rank - 1];
  m.walk_outer(m.rank - 1, offsets, [&](const std::array<std::int64_t, N>& off) { inner(off, run, inner_stride); });
}

// inner(offsets, rows, row strides, run, run strides) per block of rows of runs (rows = 1 and row
// strides 0 when there is one merged axis or none).
template <int N, class Inner>
void for_each_rows(const Shape& shape, const std::array<Shape, N>& strides,
                   const std::array<std::int64_t, N>& offsets, Inner&& inner) {
  const MergedAxes<N> m(shape, strides);
  if (m.empty) return;
  const std::array<std::int64_t, N> zero{};
  if (m.rank == 0) {
    inner(offsets, std::int64_t{1}, zero, std::int64_t{1}, zero);
    return;
  }
  const std::array<std::int64_t, N> run_stride = m.strides_of(m.rank - 1), row_stride = m.strides_of(m.rank - 2);
  const std::int64_t run = m.ext[m.rank - 1], rows = m.rank >= 2 ? m.ext[m.rank - 2] : 1;
  m.walk_outer(std::max(m.rank - 2, 0), offsets,
               [&](const std::array<std::int64_t, N>& off) { inner(off, rows, row_stride, run, run_stride); });
}

}  // namespace tide::cpu
