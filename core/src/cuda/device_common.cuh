// Device-side helpers shared by the kernel files: launch geometry and strided index arithmetic.
#pragma once
#include "kernels.hpp"
#include <cstdint>
#include <stdexcept>

namespace tide::cuda {

inline constexpr int block_threads = 256;

inline unsigned grid_for(std::int64_t n, int threads = block_threads) {
  const std::int64_t blocks = (n + threads - 1) / threads;
  // A grid-stride loop covers the rest; 132 SMs x 16 blocks keeps an H100 busy.
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 32 ? 65535 * 32 : blocks));
}

// Offsets of linear element `i` (row-major over l.shape) for the first N operands. Index math in
// 32 bits when the tensor allows it (64-bit division costs several times more on the GPU).
template <int N, class I>
__device__ __forceinline__ void offsets_of(const Layout& l, I i, std::int64_t (&off)[N]) {
  for (int k = 0; k < N; ++k) off[k] = l.offset[k];
  for (int d = l.rank - 1; d >= 0; --d) {
    const I extent = static_cast<I>(l.shape[d]);
    const I c = i % extent;
    i /= extent;
    for (int k = 0; k < N; ++k) off[k] += static_cast<std::int64_t>(c) * l.stride[k][d];
  }
}

template <class T> struct Of;
template <> struct Of<float> { static constexpr Code code = Code::f32; };
template <> struct Of<double> { static constexpr Code code = Code::f64; };
template <> struct Of<std::int64_t> { static constexpr Code code = Code::i64; };

// The backend checks dtypes before it launches; an integer tensor reaching a floating kernel is a
// bug in that check, refused here rather than read as floats.
template <class Fn> void dispatch_float(Code t, Fn&& fn) {
  if (t == Code::f64) fn(double{});
  else if (t == Code::f32) fn(float{});
  else throw std::logic_error("cuda: a floating-point kernel was given an i64 tensor (the backend's dtype check missed it)");
}
template <class Fn> void dispatch_any(Code t, Fn&& fn) {
  if (t == Code::f64) fn(double{});
  else if (t == Code::f32) fn(float{});
  else fn(std::int64_t{});
}

}  // namespace tide::cuda
