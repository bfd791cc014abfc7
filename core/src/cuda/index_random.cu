// Index kernels (with range checks reported through host-mapped memory) and the counter-based
// RNG, which evaluates the same Philox function as the CPU backend (philox.hpp).
#include "device_common.cuh"
#include "tide/core/philox.hpp"
#include <cmath>

namespace tide::cuda {
namespace {

__device__ bool in_range(std::int64_t v, std::int64_t extent, std::int64_t position, Op op, DeviceReport* report) {
  if (v >= 0 && v < extent) return true;
  if (atomicCAS(&report->flag, report_none, report_index) == report_none) {
    report->op = static_cast<int>(op);
    report->value = v;
    report->position = position;
    report->extent = extent;
  }
  return false;
}

template <class T>
__global__ void index_select_kernel(const T* x, const std::int64_t* index, T* out, std::int64_t outer, std::int64_t nx,
                                    std::int64_t ni, std::int64_t inner, DeviceReport* report) {
  const std::int64_t n = outer * ni * inner;
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t in = i % inner, j = (i / inner) % ni, o = i / (inner * ni);
    const std::int64_t k = index[j];
    out[i] = in_range(k, nx, j, Op::index_select, report) ? x[(o * nx + k) * inner + in] : T(0);
  }
}

template <class T> __device__ void add_to(T* p, T v) { atomicAdd(p, v); }

template <class T>
__global__ void index_add_kernel(const T* src, const std::int64_t* index, T* out, std::int64_t outer, std::int64_t ns,
                                 std::int64_t no, std::int64_t inner, DeviceReport* report) {
  const std::int64_t n = outer * ns * inner;
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t in = i % inner, j = (i / inner) % ns, o = i / (inner * ns);
    const std::int64_t k = index[j];
    if (in_range(k, no, j, Op::index_add, report)) add_to(out + (o * no + k) * inner + in, src[i]);
  }
}

template <class T>
__global__ void gather_kernel(const T* x, const std::int64_t* index, T* out, std::int64_t outer, std::int64_t nx,
                              std::int64_t ni, std::int64_t inner, DeviceReport* report) {
  const std::int64_t n = outer * ni * inner;
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t in = i % inner, o = i / (inner * ni);
    const std::int64_t k = index[i];
    out[i] = in_range(k, nx, i, Op::gather, report) ? x[(o * nx + k) * inner + in] : T(0);
  }
}

template <class T>
__global__ void scatter_add_kernel(const T* src, const std::int64_t* index, T* out, std::int64_t outer, std::int64_t no,
                                   std::int64_t ni, std::int64_t inner, DeviceReport* report) {
  const std::int64_t n = outer * ni * inner;
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t in = i % inner, o = i / (inner * ni);
    const std::int64_t k = index[i];
    if (in_range(k, no, i, Op::scatter_add, report)) add_to(out + (o * no + k) * inner + in, src[i]);
  }
}

template <class T>
__global__ void random_kernel(int kind, T* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream_id, double a, double b,
                              bool clamp, T lowest, T highest) {
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    T v = static_cast<T>(philox::sample(kind, seed, stream_id, static_cast<std::uint64_t>(i), a, b));
    // the CPU backend's clamp: a uniform draw rounded to f32 stays in [lowest, highest], the T values in [a, b)
    if (clamp) v = v < lowest ? lowest : (v > highest ? highest : v);
    out[i] = v;
  }
}

}  // namespace

#define TIDE_INDEX_LAUNCH(kernel, count)                                                        \
  if ((count) == 0) return;                                                                     \
  dispatch_float(t, [&](auto tag) {                                                             \
    using T = decltype(tag);                                                                    \
    kernel<T><<<grid_for(count), block_threads, 0, stream>>>(static_cast<const T*>(a0), index, static_cast<T*>(out), outer, e1, e2, inner, report); \
  });

void launch_index_select(Code t, const void* a0, const std::int64_t* index, void* out, std::int64_t outer, std::int64_t e1,
                         std::int64_t e2, std::int64_t inner, DeviceReport* report, cudaStream_t stream) {
  TIDE_INDEX_LAUNCH(index_select_kernel, outer * e2 * inner)
}
void launch_index_add(Code t, const void* a0, const std::int64_t* index, void* out, std::int64_t outer, std::int64_t e1,
                      std::int64_t e2, std::int64_t inner, DeviceReport* report, cudaStream_t stream) {
  TIDE_INDEX_LAUNCH(index_add_kernel, outer * e1 * inner)
}
void launch_gather(Code t, const void* a0, const std::int64_t* index, void* out, std::int64_t outer, std::int64_t e1,
                   std::int64_t e2, std::int64_t inner, DeviceReport* report, cudaStream_t stream) {
  TIDE_INDEX_LAUNCH(gather_kernel, outer * e2 * inner)
}
void launch_scatter_add(Code t, const void* a0, const std::int64_t* index, void* out, std::int64_t outer, std::int64_t e1,
                        std::int64_t e2, std::int64_t inner, DeviceReport* report, cudaStream_t stream) {
  TIDE_INDEX_LAUNCH(scatter_add_kernel, outer * e2 * inner)
}
#undef TIDE_INDEX_LAUNCH

void launch_random(int kind, Code t, void* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream_id, double a,
                   double b, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    const bool clamp = kind == 0 && b > a;  // uniform only: a and b are a mean and a std for normal draws
    const T lowest = clamp ? philox::smallest_at_least<T>(a) : T(0), highest = clamp ? philox::largest_below<T>(b) : T(0);
    random_kernel<T><<<grid_for(n), block_threads, 0, stream>>>(kind, static_cast<T*>(out), n, seed, stream_id, a, b, clamp,
                                                                lowest, highest);
  });
}

}  // namespace tide::cuda
