// The fused kernels of fused.hpp: an RK stage combination in one pass, and the scaled per-row
// error norms with one warp per row.
#include "device_common.cuh"
#include <cmath>

namespace tide::cuda {
namespace {

template <class T> __global__ void lincomb_kernel(LincombArgs args) {
  const std::int64_t n = args.n * args.d;
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    // as the CPU's lincomb_each_row: the base (or 0), then each nonzero term in turn, its factor
    // rounded once from the double product coeff_j * scale_r (equal to rounding: nvcc contracts the
    // multiply-add, the CPU file is built without contraction)
    T acc = args.base ? static_cast<const T*>(args.base)[i] : T(0);
    const double sr = args.scale ? static_cast<double>(static_cast<const T*>(args.scale)[i / args.d]) : 1.0;
    for (int j = 0; j < args.terms; ++j)
      if (args.coeff[j] != 0.0) acc += static_cast<T>(args.coeff[j] * sr) * static_cast<const T*>(args.x[j])[i];
    static_cast<T*>(args.out)[i] = acc;
  }
}

template <class T>
__global__ void row_norms_kernel(const T* err, const T* a, const T* b, const double* atol, const double* rtol,
                                 const double* mask, double* out, std::int64_t n, std::int64_t d) {
  const std::int64_t row = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  double s = 0.0, mx = 0.0;
  int finite = 1;
  for (std::int64_t i = lane; i < d; i += 32) {
    const std::int64_t at = row * d + i;
    const double bv = static_cast<double>(b[at]);
    const double ev = static_cast<double>(err[at]);  // a zero error counts 0, against a zero scale too (quotients_impl)
    finite &= isfinite(bv) ? 1 : 0;
    if (mask[i] == 0.0) {  // left out, unless its error is not finite (quotients_impl)
      finite &= isfinite(ev) ? 1 : 0;
      continue;
    }
    const double av = fabs(static_cast<double>(a[at])), bm = fabs(bv);
    // av < bm ? bm : av as quotients_impl (a NaN in a is kept; fmax would drop it)
    const double q = ev == 0.0 ? 0.0 : ev / (atol[i] + rtol[i] * (av < bm ? bm : av));
    s += q * q;
    mx = fmax(mx, fabs(q));
  }
  for (int k = 16; k > 0; k >>= 1) {
    s += __shfl_down_sync(0xffffffffu, s, k);
    mx = fmax(mx, __shfl_down_sync(0xffffffffu, mx, k));
    finite &= __shfl_down_sync(0xffffffffu, finite, k);
  }
  if (lane == 0) {
    if (!finite || !isfinite(s)) s = mx = INFINITY;
    out[2 * row] = s;
    out[2 * row + 1] = mx;
  }
}

}  // namespace

void launch_lincomb(Code t, const LincombArgs& args, cudaStream_t stream) {
  const std::int64_t n = args.n * args.d;
  if (n == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    lincomb_kernel<T><<<grid_for(n), block_threads, 0, stream>>>(args);
  });
}

void launch_row_norms(Code t, const void* err, const void* a, const void* b, const double* atol, const double* rtol,
                      const double* mask, double* out, std::int64_t n, std::int64_t d, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    const unsigned blocks = static_cast<unsigned>((n * 32 + block_threads - 1) / block_threads);
    row_norms_kernel<T><<<blocks, block_threads, 0, stream>>>(static_cast<const T*>(err), static_cast<const T*>(a),
                                                             static_cast<const T*>(b), atol, rtol, mask, out, n, d);
  });
}

}  // namespace tide::cuda
