// Reductions (sum, max, min) over any axis set. Each output is reduced by one warp whose lanes
// stride over the reduced elements; when there are few outputs and many reduced elements the
// reduced range is split into chunks whose partial results a second pass combines.
#include "device_common.cuh"
#include <cmath>
#include <limits>

namespace tide::cuda {
namespace {

template <class T> __device__ __forceinline__ T combine(Op op, T acc, T v) {
  if (op == Op::sum) return acc + v;
  if (op == Op::max) return (v > acc || v != v) ? v : acc;
  return (v < acc || v != v) ? v : acc;
}
template <class T> __device__ __forceinline__ T identity(Op op) {
  if (op == Op::sum) return T(0);
  return op == Op::max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
}

// One warp per (output, chunk). outer/inner carry x's strides as operand 0.
template <class T>
__global__ void reduce_kernel(Op op, Layout outer, Layout inner, const T* x, T* out, std::int64_t outputs,
                              std::int64_t reduced, int chunks) {
  const std::int64_t warp = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= outputs * chunks) return;
  const std::int64_t o = warp / chunks;
  const int chunk = static_cast<int>(warp % chunks);
  std::int64_t base[1];
  offsets_of<1>(outer, o, base);
  const std::int64_t per = (reduced + chunks - 1) / chunks;
  const std::int64_t begin = chunk * per, end = begin + per < reduced ? begin + per : reduced;
  T acc = identity<T>(op);
  for (std::int64_t r = begin + lane; r < end; r += 32) {
    std::int64_t off[1];
    offsets_of<1>(inner, r, off);
    acc = combine(op, acc, x[base[0] + off[0] - inner.offset[0]]);
  }
  for (int s = 16; s > 0; s >>= 1) acc = combine(op, acc, __shfl_down_sync(0xffffffffu, acc, s));
  if (lane == 0) out[chunks == 1 ? o : warp] = acc;
}

// One thread per output over few reduced elements (fewer than a warp's worth).
template <class T>
__global__ void reduce_serial_kernel(Op op, Layout outer, Layout inner, const T* x, T* out, std::int64_t outputs,
                                     std::int64_t reduced) {
  for (std::int64_t o = blockIdx.x * blockDim.x + threadIdx.x; o < outputs; o += std::int64_t(gridDim.x) * blockDim.x) {
    std::int64_t base[1];
    offsets_of<1>(outer, o, base);
    T acc = identity<T>(op);
    for (std::int64_t r = 0; r < reduced; ++r) {
      std::int64_t off[1];
      offsets_of<1>(inner, r, off);
      acc = combine(op, acc, x[base[0] + off[0] - inner.offset[0]]);
    }
    out[o] = acc;
  }
}

}  // namespace

int reduce_chunks(std::int64_t outputs, std::int64_t reduced) {
  if (reduced < 32 || outputs == 0) return 1;  // (nothing to reduce into: no division by 0 below)
  // Aim for about 16k warps in flight; no chunk shorter than 1024 elements.
  std::int64_t chunks = (16384 + outputs - 1) / outputs;
  const std::int64_t most = (reduced + 1023) / 1024;
  if (chunks > most) chunks = most;
  if (chunks < 1) chunks = 1;
  if (chunks > 4096) chunks = 4096;
  return static_cast<int>(chunks);
}

void launch_reduce(Op op, Code t, const Layout& outer, const Layout& inner, const void* x, void* out, void* scratch,
                   int chunks, cudaStream_t stream) {
  const std::int64_t outputs = outer.numel(), reduced = inner.numel();
  if (outputs == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* py = static_cast<T*>(out);
    if (reduced < 32) {
      reduce_serial_kernel<T><<<grid_for(outputs), block_threads, 0, stream>>>(op, outer, inner, px, py, outputs, reduced);
      return;
    }
    const std::int64_t warps = outputs * chunks;
    const unsigned blocks = static_cast<unsigned>((warps * 32 + block_threads - 1) / block_threads);
    if (chunks == 1) {
      reduce_kernel<T><<<blocks, block_threads, 0, stream>>>(op, outer, inner, px, py, outputs, reduced, 1);
      return;
    }
    T* partial = static_cast<T*>(scratch);
    reduce_kernel<T><<<blocks, block_threads, 0, stream>>>(op, outer, inner, px, partial, outputs, reduced, chunks);
    // Second pass over the [outputs, chunks] partials, contiguous.
    Layout o2;
    o2.rank = 1;
    o2.operands = 1;
    o2.shape[0] = outputs;
    o2.stride[0][0] = chunks;
    Layout i2;
    i2.rank = 1;
    i2.operands = 1;
    i2.shape[0] = chunks;
    i2.stride[0][0] = 1;
    if (chunks < 32) {
      reduce_serial_kernel<T><<<grid_for(outputs), block_threads, 0, stream>>>(op, o2, i2, partial, py, outputs, chunks);
    } else {
      const unsigned b2 = static_cast<unsigned>((outputs * 32 + block_threads - 1) / block_threads);
      reduce_kernel<T><<<b2, block_threads, 0, stream>>>(op, o2, i2, partial, py, outputs, chunks, 1);
    }
  });
}

}  // namespace tide::cuda
