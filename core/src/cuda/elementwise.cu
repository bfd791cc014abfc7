// Elementwise kernels: copy (with dtype conversion), fill, the unary and binary ops of the op table,
// and where. Dense operands take a flat grid-stride loop; strided and broadcast ones go through
// offsets_of. Each op's formula matches the CPU backend's (cpu/elementwise.cpp) up to rounding.
#include "device_common.cuh"
#include "../float_factor.hpp"
#include <cmath>
#include <limits>
#include <type_traits>

namespace tide::cuda {
namespace {

// The CPU's rule for a float -> i64 conversion: NaN, infinities and values outside the int64 range
// have no i64 value (the device cast would saturate). The first is reported, with its position in
// the source's row-major order, and every such element is stored as 0 (as a bad index is).
template <class S> __device__ bool converts_to_i64(S v, std::int64_t position, const ConversionCheck& check) {
  if (v >= S(-0x1p63) && v < S(0x1p63)) return true;
  DeviceReport* r = check.report;
  if (atomicCAS(&r->flag, report_none, report_conversion) == report_none) {
    r->op = static_cast<int>(Of<S>::code);
    r->real = static_cast<double>(v);
    r->position = position;
    r->rank = check.rank;
    for (int k = 0; k < check.rank; ++k) r->shape[k] = check.shape[k];
  }
  return false;
}

template <class S, class D, class I>
__global__ void copy_kernel(Layout l, const S* s, D* d, I n, ConversionCheck check) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    std::int64_t off[2];
    offsets_of<2>(l, i, off);
    const S v = s[off[0]];
    if constexpr (std::is_same_v<D, std::int64_t> && !std::is_same_v<S, std::int64_t>)
      d[off[1]] = converts_to_i64(v, static_cast<std::int64_t>(i), check) ? static_cast<D>(v) : D(0);
    else
      d[off[1]] = static_cast<D>(v);
  }
}

template <class T> __global__ void fill_kernel(T* d, std::int64_t n, T v) {
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) d[i] = v;
}

constexpr double inv_sqrt2 = 0.70710678118654752440;

template <class T> __host__ __device__ __forceinline__ T sigmoid_of(T v) {
  const T e = exp(-fabs(v));
  const T s = T(1) / (T(1) + e);
  return v >= T(0) ? s : e * s;
}

// unary_value and binary_value are host-device functions only so that the host compiler sees
// their switches (instantiated below) and -Werror=switch flags an op without a kernel; nvcc's
// device front end does not warn about missing enumerators. The host never calls them.
template <class T> __host__ __device__ __forceinline__ T unary_value(Op op, T v, T p0, T p1) {
  switch (op) {
    case Op::neg: return -v;
    case Op::abs: return fabs(v);
    case Op::sign: return v > T(0) ? T(1) : (v < T(0) ? T(-1) : v);
    case Op::exp: return exp(v);
    case Op::expm1: return expm1(v);
    case Op::log: return log(v);
    case Op::log1p: return log1p(v);
    case Op::sqrt: return sqrt(v);
    case Op::rsqrt: return T(1) / sqrt(v);
    case Op::square: return v * v;
    case Op::reciprocal: return T(1) / v;
    case Op::tanh: return tanh(v);
    case Op::sigmoid: return sigmoid_of(v);
    case Op::softplus: return (v > T(0) ? v : T(0)) + log1p(exp(-fabs(v)));
    case Op::relu: return v > T(0) ? v : (v != v ? v : T(0));
    case Op::leaky_relu: return v > T(0) ? v : v * p0;
    case Op::elu: return v > T(0) ? v : p0 * expm1(v);
    case Op::silu: return v * sigmoid_of(v);
    case Op::gelu: return T(0.5) * v * erfc(-v * T(inv_sqrt2));  // 1 + erf(u) = erfc(-u), exact in the left tail
    case Op::erf: return erf(v);
    case Op::sin: return sin(v);
    case Op::cos: return cos(v);
    case Op::pow_scalar:
      if (p0 == T(2)) return v * v;
      if (p0 == T(1)) return v;
      if (p0 == T(0.5)) return v == -std::numeric_limits<T>::infinity() ? -v : sqrt(v + T(0));  // as pow at -0, -inf
      if (p0 == T(-1)) return T(1) / v;
      if (p0 == T(3)) return v * v * v;
      return pow(v, p0);
    case Op::add_scalar: return v + p0;
    case Op::mul_scalar: return v * p0;
    case Op::clamp: return v < p0 ? p0 : (v > p1 ? p1 : v);
    // Other kinds never reach this kernel; listed instead of a default (see above).
    TIDE_BINARY_OPS(TIDE_OP_CASE) TIDE_COMPARE_OPS(TIDE_OP_CASE) TIDE_NON_ELEMENTWISE_OPS(TIDE_OP_CASE) return v;
  }
  return v;
}

// The op is a template parameter so each kernel is a tight loop without a switch per element.
template <Op op, class T> __global__ void unary_kernel(const T* x, T* y, std::int64_t n, T p0, T p1) {
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = unary_value(op, x[i], p0, p1);
}
template <Op op, class T, class I> __global__ void unary_strided_kernel(Layout l, const T* x, T* y, I n, T p0, T p1) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    std::int64_t off[2];
    offsets_of<2>(l, i, off);
    y[off[1]] = unary_value(op, x[off[0]], p0, p1);
  }
}

// f32 x times a factor outside float's normal range (float_factor_inexact), formed in double and
// rounded once, past float's range to inf: the CPU's scale_in_double.
__device__ __forceinline__ float scaled_in_double(float v, double p0) {
  const double product = static_cast<double>(v) * p0;
  if (fabs(product) > static_cast<double>(std::numeric_limits<float>::max())) return std::copysign(std::numeric_limits<float>::infinity(), static_cast<float>(product));
  return static_cast<float>(product);
}
__global__ void scale_in_double_kernel(const float* x, float* y, std::int64_t n, double p0) {
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = scaled_in_double(x[i], p0);
}
template <class I> __global__ void scale_in_double_strided_kernel(Layout l, const float* x, float* y, I n, double p0) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    std::int64_t off[2];
    offsets_of<2>(l, i, off);
    y[off[1]] = scaled_in_double(x[off[0]], p0);
  }
}

template <class T> __host__ __device__ __forceinline__ T binary_value(Op op, T u, T v) {
  switch (op) {
    case Op::add: return u + v;
    case Op::sub: return u - v;
    case Op::mul: return u * v;
    case Op::div: return u / v;
    case Op::maximum: return u > v || u != u ? u : v;
    case Op::minimum: return u < v || u != u ? u : v;
    case Op::eq: return u == v ? T(1) : T(0);
    case Op::ne: return u != v ? T(1) : T(0);
    case Op::lt: return u < v ? T(1) : T(0);
    case Op::le: return u <= v ? T(1) : T(0);
    case Op::gt: return u > v ? T(1) : T(0);
    case Op::ge: return u >= v ? T(1) : T(0);
    TIDE_UNARY_OPS(TIDE_OP_CASE) TIDE_UNARY_PARAM_OPS(TIDE_OP_CASE) TIDE_NON_ELEMENTWISE_OPS(TIDE_OP_CASE) return u;
  }
  return u;
}

// Host instantiations, for the host compiler's switch check only (see unary_value).
template float unary_value<float>(Op, float, float, float);
template double unary_value<double>(Op, double, double, double);
template float binary_value<float>(Op, float, float);
template double binary_value<double>(Op, double, double);

template <Op op, class T> __global__ void binary_dense_kernel(const T* a, const T* b, T* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = binary_value(op, a[i], b[i]);
}
template <Op op, class T, class I> __global__ void binary_strided_kernel(Layout l, const T* a, const T* b, T* y, I n) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    std::int64_t off[3];
    offsets_of<3>(l, i, off);
    y[off[2]] = binary_value(op, a[off[0]], b[off[1]]);
  }
}

template <class T, class I> __global__ void where_kernel(Layout l, const T* c, const T* a, const T* b, T* y, I n) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    std::int64_t off[4];
    offsets_of<4>(l, i, off);
    y[off[3]] = c[off[0]] != T(0) ? a[off[1]] : b[off[2]];
  }
}

bool fits32(std::int64_t n) { return n < (std::int64_t(1) << 31); }

// Calls fn(std::integral_constant<Op, op>) for the runtime op (unary or binary/compare ops).
template <class Fn> void with_unary(Op op, Fn&& fn) {
  switch (op) {
#define TIDE_X(name, kind, ...) \
  case Op::name:               \
    if constexpr (OpKind::kind == OpKind::unary) fn(std::integral_constant<Op, Op::name>{}); \
    return;
    TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
  }
}
template <class Fn> void with_binary(Op op, Fn&& fn) {
  switch (op) {
#define TIDE_X(name, kind, ...) \
  case Op::name:               \
    if constexpr (OpKind::kind == OpKind::binary || OpKind::kind == OpKind::compare) fn(std::integral_constant<Op, Op::name>{}); \
    return;
    TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
  }
}

// The dense layer: each block keeps w in shared memory and walks tiles of x; thread (tx, ty) of
// 16 x 16 accumulates rows ty*R .. ty*R+R-1 and columns tx*4 .. tx*4+3 of the tile in registers.
// x's tile is stored transposed (k-major) so a thread's R rows at one k are one vector load.
// Global loads are issued `flight` at a time before their stores: one load in flight per thread
// left the kernel waiting on memory latency (23 us for a 256 x 64 x 64 layer, measured).
constexpr int flight = 8;

template <int R, Op op, bool act>
__global__ void __launch_bounds__(256) dense_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                                    const float* __restrict__ b, float* __restrict__ out, std::int64_t m,
                                                    int k, int n, float p0) {
  constexpr int tile = 16 * R;
  extern __shared__ float4 smem4[];
  float* ws = reinterpret_cast<float*>(smem4);  // [k, n]
  float* xs = ws + k * n;                        // [k, tile]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  {
    const int total = k * n / 4;
    const float4* src = reinterpret_cast<const float4*>(w);
    for (int base = tid; base < total; base += 256 * flight) {
      float4 r[flight];
#pragma unroll
      for (int u = 0; u < flight; ++u)
        if (base + u * 256 < total) r[u] = src[base + u * 256];
#pragma unroll
      for (int u = 0; u < flight; ++u)
        if (base + u * 256 < total) reinterpret_cast<float4*>(ws)[base + u * 256] = r[u];
    }
  }
  const int k4 = k / 4;
  for (std::int64_t t = blockIdx.x; t * tile < m; t += gridDim.x) {
    const std::int64_t row0 = t * tile;
    const int rows = static_cast<int>(m - row0 < tile ? m - row0 : tile);
    __syncthreads();
    const float4* src = reinterpret_cast<const float4*>(x + row0 * k);
    for (int base = tid; base < tile * k4; base += 256 * flight) {
      float4 r[flight];
#pragma unroll
      for (int u = 0; u < flight; ++u) {
        const int i = base + u * 256;
        // Consecutive threads take consecutive rows: their transposed stores below then hit
        // consecutive banks (row-major order made 16 threads store into one bank).
        if (i < tile * k4) r[u] = i % tile < rows ? src[(i % tile) * k4 + i / tile] : make_float4(0.f, 0.f, 0.f, 0.f);
      }
#pragma unroll
      for (int u = 0; u < flight; ++u) {
        const int i = base + u * 256;
        if (i >= tile * k4) continue;
        const int row = i % tile, c = (i / tile) * 4;
        xs[(c + 0) * tile + row] = r[u].x;
        xs[(c + 1) * tile + row] = r[u].y;
        xs[(c + 2) * tile + row] = r[u].z;
        xs[(c + 3) * tile + row] = r[u].w;
      }
    }
    __syncthreads();
    const bool active = tx * 4 < n;
    float acc[R][4];
    {
      const float4 bias = b && active ? reinterpret_cast<const float4*>(b)[tx] : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int i = 0; i < R; ++i) { acc[i][0] = bias.x; acc[i][1] = bias.y; acc[i][2] = bias.z; acc[i][3] = bias.w; }
    }
    if (active) {
#pragma unroll 4
      for (int c = 0; c < k; ++c) {
        const float4 wv = reinterpret_cast<const float4*>(ws + c * n)[tx];
        float a[R];
        if constexpr (R == 4) {
          const float4 av = reinterpret_cast<const float4*>(xs + c * tile)[ty];
          a[0] = av.x; a[1] = av.y; a[2] = av.z; a[3] = av.w;
        } else {
#pragma unroll
          for (int i = 0; i < R; ++i) a[i] = xs[c * tile + ty * R + i];
        }
#pragma unroll
        for (int i = 0; i < R; ++i) {
          acc[i][0] = fmaf(a[i], wv.x, acc[i][0]);
          acc[i][1] = fmaf(a[i], wv.y, acc[i][1]);
          acc[i][2] = fmaf(a[i], wv.z, acc[i][2]);
          acc[i][3] = fmaf(a[i], wv.w, acc[i][3]);
        }
      }
#pragma unroll
      for (int i = 0; i < R; ++i) {
        const int r = ty * R + i;
        if (r >= rows) continue;
        float4 o;
        o.x = act ? unary_value(op, acc[i][0], p0, 0.0f) : acc[i][0];
        o.y = act ? unary_value(op, acc[i][1], p0, 0.0f) : acc[i][1];
        o.z = act ? unary_value(op, acc[i][2], p0, 0.0f) : acc[i][2];
        o.w = act ? unary_value(op, acc[i][3], p0, 0.0f) : acc[i][3];
        reinterpret_cast<float4*>(out + (row0 + r) * n)[tx] = o;
      }
    }
  }
}

std::size_t dense_smem(std::int64_t k, std::int64_t n, int rows_per_thread) {
  return static_cast<std::size_t>(k * n + 16 * rows_per_thread * k) * sizeof(float);
}

}  // namespace

// Vector loads need k and n in multiples of 4 (and 16-byte aligned rows, which then follow).
bool dense_fits(std::int64_t k, std::int64_t n) {
  return n <= 64 && n % 4 == 0 && k >= 4 && k % 4 == 0 && dense_smem(k, n, 4) <= 48 * 1024;
}

void launch_dense(const float* x, const float* w, const float* b, float* out, std::int64_t m, int k, int n, bool has_act,
                  Op act, float p0, cudaStream_t stream) {
  // Few rows: one row per thread, so the rows spread over more multiprocessors.
  const int rpt = m <= 16 * 4 * 132 ? 1 : 4;
  const std::int64_t tiles = (m + 16 * rpt - 1) / (16 * rpt);
  const unsigned blocks = static_cast<unsigned>(tiles < 132 * 4 ? tiles : 132 * 4);
  const std::size_t smem = dense_smem(k, n, rpt);
  auto go = [&](auto o, auto has) {
    constexpr Op op = decltype(o)::value;
    constexpr bool a = decltype(has)::value;
    if (rpt == 1) dense_kernel<1, op, a><<<blocks, 256, smem, stream>>>(x, w, b, out, m, k, n, p0);
    else dense_kernel<4, op, a><<<blocks, 256, smem, stream>>>(x, w, b, out, m, k, n, p0);
  };
  if (!has_act) go(std::integral_constant<Op, Op::neg>{}, std::false_type{});
  else with_unary(act, [&](auto o) { go(o, std::true_type{}); });
}

void launch_copy(const Layout& l, Code src, const void* s, Code dst, void* d, const ConversionCheck& check, cudaStream_t stream) {
  const std::int64_t n = l.numel();
  if (n == 0) return;
  dispatch_any(src, [&](auto st) {
    dispatch_any(dst, [&](auto dt) {
      using S = decltype(st);
      using D = decltype(dt);
      if (fits32(n)) copy_kernel<S, D, std::uint32_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const S*>(s), static_cast<D*>(d), static_cast<std::uint32_t>(n), check);
      else copy_kernel<S, D, std::uint64_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const S*>(s), static_cast<D*>(d), static_cast<std::uint64_t>(n), check);
    });
  });
}

void launch_fill(Code t, void* d, std::int64_t n, double value, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_any(t, [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<T><<<grid_for(n), block_threads, 0, stream>>>(static_cast<T*>(d), n, static_cast<T>(value));
  });
}

void launch_unary(Op op, Code t, const void* x, void* out, std::int64_t n, double p0, double p1, cudaStream_t stream) {
  if (n == 0) return;
  if (t == Code::f32 && float_factor_inexact(op, p0)) {
    scale_in_double_kernel<<<grid_for(n), block_threads, 0, stream>>>(static_cast<const float*>(x), static_cast<float*>(out), n, p0);
    return;
  }
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    with_unary(op, [&](auto o) {
      unary_kernel<decltype(o)::value, T><<<grid_for(n), block_threads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(out), n, static_cast<T>(p0), static_cast<T>(p1));
    });
  });
}

void launch_unary_strided(Op op, Code t, const Layout& l, const void* x, void* out, double p0, double p1, cudaStream_t stream) {
  const std::int64_t n = l.numel();
  if (n == 0) return;
  if (t == Code::f32 && float_factor_inexact(op, p0)) {
    const auto* xf = static_cast<const float*>(x);
    auto* yf = static_cast<float*>(out);
    if (fits32(n)) scale_in_double_strided_kernel<std::uint32_t><<<grid_for(n), block_threads, 0, stream>>>(l, xf, yf, static_cast<std::uint32_t>(n), p0);
    else scale_in_double_strided_kernel<std::uint64_t><<<grid_for(n), block_threads, 0, stream>>>(l, xf, yf, static_cast<std::uint64_t>(n), p0);
    return;
  }
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    with_unary(op, [&](auto o) {
      if (fits32(n)) unary_strided_kernel<decltype(o)::value, T, std::uint32_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const T*>(x), static_cast<T*>(out), static_cast<std::uint32_t>(n), static_cast<T>(p0), static_cast<T>(p1));
      else unary_strided_kernel<decltype(o)::value, T, std::uint64_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const T*>(x), static_cast<T*>(out), static_cast<std::uint64_t>(n), static_cast<T>(p0), static_cast<T>(p1));
    });
  });
}

void launch_binary(Op op, Code t, const Layout& l, bool contiguous, const void* a, const void* b, void* out, cudaStream_t stream) {
  const std::int64_t n = l.numel();
  if (n == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    with_binary(op, [&](auto o) {
      constexpr Op k = decltype(o)::value;
      const T* pa = static_cast<const T*>(a);
      const T* pb = static_cast<const T*>(b);
      T* py = static_cast<T*>(out);
      if (contiguous) binary_dense_kernel<k, T><<<grid_for(n), block_threads, 0, stream>>>(pa, pb, py, n);
      else if (fits32(n)) binary_strided_kernel<k, T, std::uint32_t><<<grid_for(n), block_threads, 0, stream>>>(l, pa, pb, py, static_cast<std::uint32_t>(n));
      else binary_strided_kernel<k, T, std::uint64_t><<<grid_for(n), block_threads, 0, stream>>>(l, pa, pb, py, static_cast<std::uint64_t>(n));
    });
  });
}

void launch_where(Code t, const Layout& l, const void* c, const void* a, const void* b, void* out, cudaStream_t stream) {
  const std::int64_t n = l.numel();
  if (n == 0) return;
  dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    if (fits32(n)) where_kernel<T, std::uint32_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const T*>(c), static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), static_cast<std::uint32_t>(n));
    else where_kernel<T, std::uint64_t><<<grid_for(n), block_threads, 0, stream>>>(l, static_cast<const T*>(c), static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), static_cast<std::uint64_t>(n));
  });
}

}  // namespace tide::cuda
