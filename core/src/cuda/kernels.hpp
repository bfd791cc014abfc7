// Launchers for the CUDA backend's kernels. This header is shared by the host code (compiled as
// C++) and the kernels (compiled by nvcc), so it holds plain data only: dtypes as codes, layouts as
// fixed-size arrays, pointers as void*.
#pragma once
#include "tide/core/op_table.hpp"
#include <cstdint>
#include <cuda_runtime.h>

namespace tide::cuda {

inline constexpr int layout_rank = 10;  // Shape's max_rank
inline constexpr int max_operands = 4;

enum class Code : std::uint8_t { f32, f64, i64 };  // the same order as DType

// A walk over `shape` with one stride set and base offset per operand (elements, not bytes).
struct Layout {
  int rank = 0;
  int operands = 0;
  std::int64_t shape[layout_rank] = {};
  std::int64_t stride[max_operands][layout_rank] = {};
  std::int64_t offset[max_operands] = {};
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
};

// Where kernels report what the host must refuse, so that no check reads device data on the host
// (a plan's replay and a graph capture cannot): host-mapped memory the host reads after a
// synchronisation. The first report wins.
inline constexpr int report_none = 0, report_index = 1, report_conversion = 2;
struct DeviceReport {
  int flag;  // report_none, or which fields below are filled
  int op;    // report_index: the Op; report_conversion: the source's Code
  std::int64_t value, position, extent;  // report_index: the index, where it sits, the axis's extent
  double real;                           // report_conversion: the float with no i64 value, at `position`
  int rank;                              // report_conversion: the source's shape
  std::int64_t shape[layout_rank];
};

// A float -> i64 copy: the source's shape (for the message) and where to report a value that has
// no i64 value (NaN, infinite, outside the int64 range). Other copies ignore it.
struct ConversionCheck {
  DeviceReport* report = nullptr;
  int rank = 0;
  std::int64_t shape[layout_rank] = {};
};

void launch_copy(const Layout& l, Code src, const void* s, Code dst, void* d, const ConversionCheck& check, cudaStream_t stream);
void launch_fill(Code t, void* d, std::int64_t n, double value, cudaStream_t stream);
// x contiguous (n elements) or strided by layout (operand 0: x, operand 1: out).
void launch_unary(Op op, Code t, const void* x, void* out, std::int64_t n, double p0, double p1, cudaStream_t stream);
void launch_unary_strided(Op op, Code t, const Layout& l, const void* x, void* out, double p0, double p1, cudaStream_t stream);
// Operands: 0 a, 1 b, 2 out; `contiguous` when all three are dense with the same shape.
void launch_binary(Op op, Code t, const Layout& l, bool contiguous, const void* a, const void* b, void* out, cudaStream_t stream);
// Operands: 0 cond, 1 a, 2 b, 3 out.
void launch_where(Code t, const Layout& l, const void* c, const void* a, const void* b, void* out, cudaStream_t stream);
// outer: the kept axes of x (operand 0: x strides); inner: the reduced axes (operand 0: x strides).
// out is contiguous with outer.numel() elements. scratch holds outer.numel() * chunks values.
void launch_reduce(Op op, Code t, const Layout& outer, const Layout& inner, const void* x, void* out,
                   void* scratch, int chunks, cudaStream_t stream);
int reduce_chunks(std::int64_t outputs, std::int64_t reduced);  // 1: no scratch needed

// Contiguous x and out split as (outer, extent, inner) around the indexed axis.
void launch_index_select(Code t, const void* x, const std::int64_t* index, void* out, std::int64_t outer,
                         std::int64_t nx, std::int64_t ni, std::int64_t inner, DeviceReport* report, cudaStream_t stream);
void launch_index_add(Code t, const void* src, const std::int64_t* index, void* out, std::int64_t outer,
                      std::int64_t ns, std::int64_t no, std::int64_t inner, DeviceReport* report, cudaStream_t stream);
void launch_gather(Code t, const void* x, const std::int64_t* index, void* out, std::int64_t outer,
                   std::int64_t nx, std::int64_t ni, std::int64_t inner, DeviceReport* report, cudaStream_t stream);
void launch_scatter_add(Code t, const void* src, const std::int64_t* index, void* out, std::int64_t outer,
                        std::int64_t no, std::int64_t ni, std::int64_t inner, DeviceReport* report, cudaStream_t stream);

void launch_random(int kind, Code t, void* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream_id,
                   double a, double b, cudaStream_t stream);

inline constexpr int lincomb_max_terms = 16;
struct LincombArgs {
  int terms = 0;
  const void* x[lincomb_max_terms] = {};
  double coeff[lincomb_max_terms] = {};
  const void* base = nullptr;   // may be null
  const void* scale = nullptr;  // [n] in the operands' dtype, may be null
  void* out = nullptr;
  std::int64_t n = 0, d = 0;
};
void launch_lincomb(Code t, const LincombArgs& args, cudaStream_t stream);
void launch_row_norms(Code t, const void* err, const void* a, const void* b, const double* atol, const double* rtol,
                      const double* mask, double* out, std::int64_t n, std::int64_t d, cudaStream_t stream);

// out[M, N] = act(x[M, K] @ w[K, N] + b) for f32, 16-byte aligned operands, N <= 64, K and N
// multiples of 4, and w plus a 64-row tile of x within 48 KB of shared memory (dense_fits).
bool dense_fits(std::int64_t k, std::int64_t n);
void launch_dense(const float* x, const float* w, const float* b, float* out, std::int64_t m, int k, int n, bool has_act,
                  Op act, float p0, cudaStream_t stream);

}  // namespace tide::cuda
