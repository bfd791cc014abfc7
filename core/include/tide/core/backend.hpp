// The device abstraction. Every tensor op dispatches to the Backend of its tensors' device; the CPU
// backend (OpenBLAS + vectorised loops) is one implementation and the CUDA backend another. A
// backend receives tensors whose shapes, dtypes and devices the op layer has already validated,
// and writes into outputs the op layer allocated (contiguous unless a kernel says otherwise).
#pragma once
#include "tide/core/op_table.hpp"
#include "tide/core/tensor.hpp"
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace tide {

enum class RandomKind : std::uint8_t { uniform, normal, rademacher };

// A chain of elementwise ops run as one pass (a compiled plan's fused groups: plan.hpp). Value i <
// n_inputs is input i; value n_inputs + k is the result of step k. A step is a unary op (with its
// parameters), a binary or compare op, or Op::where (cond, a, b).
struct ElementwiseStep {
  Op op = Op::neg;
  double p0 = 0.0, p1 = 0.0;
  std::array<int, 3> in{-1, -1, -1};
};
struct ElementwiseProgram {
  int n_inputs = 0;
  std::vector<ElementwiseStep> steps;
  std::vector<int> outputs;  // the value each output receives
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual const char* name() const = 0;

  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) noexcept = 0;
  virtual void copy_to_host(const void* src, void* host_dst, std::size_t bytes) = 0;
  virtual void copy_from_host(const void* host_src, void* dst, std::size_t bytes) = 0;

  // dst[i] = src[i] over any layouts of equal shape; converts between dtypes.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // out = op(x; p0, p1). x has out's shape (any layout); out is contiguous.
  virtual void unary(Op op, const Tensor& x, const Tensor& out, double p0, double p1) = 0;
  // out = op(a, b), also for comparisons. a and b are views with out's shape (broadcast axes have
  // stride 0). out may alias a or b when it has the same layout (in-place accumulation).
  virtual void binary(Op op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = cond != 0 ? a : b; all three are views with out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = reduction (sum, max or min) of x over the axes in the bit set; out has x's rank with
  // the reduced extents set to 1 (keepdim layout), contiguous.
  virtual void reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& out) = 0;
  // out[..., M, N] = a[..., M, K] @ b[..., K, N]; a and b are views whose batch axes were broadcast
  // to out's batch shape. out is contiguous.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out += a @ b, shapes as matmul's: a product added into what out holds. The default makes the
  // product apart and adds it. fuses_matmul_add: whether this backend overrides it with one kernel
  // (the CPU: one GEMM with beta = 1); only then does a plan fold a matmul and the add into a
  // gradient that follows it into this call.
  virtual bool fuses_matmul_add() const { return false; }
  virtual void matmul_add(const Tensor& a, const Tensor& b, const Tensor& out);
  // out = x.index_select(axis, index) where index is a contiguous 1-d i64 tensor (validated).
  virtual void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) = 0;
  // out (zero-filled by the caller) .index(axis, index[j]) += src.index(axis, j).
  virtual void index_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) = 0;
  // out[... i_axis ...] = x[... index[...] ...] with index of out's shape (validated).
  virtual void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) = 0;
  // out (zero-filled by the caller) [... index[...] ...] += src[...].
  virtual void scatter_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) = 0;
  // Counter-based random numbers: element i of out is a function of (seed, stream, i) only.
  virtual void random(RandomKind kind, std::uint64_t seed, std::uint64_t stream, double a,
                      double b, const Tensor& out) = 0;

  // Fused kernels (fused.hpp states their contracts; operands arrive validated and contiguous,
  // viewed as [n, d]). The defaults compose the primitives above, so a backend that only has the
  // primitives still runs every solver; CPU and CUDA override them with one pass.
  virtual void lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs,
                       const std::vector<double>& coeff, const Tensor& row_scale);
  // xs, a, b: [n, d] with unit stride along d (rows may be apart); the rest as above
  virtual void combination_row_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const Tensor& row_scale,
                                     const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                                     const Tensor& mask, const Tensor& out);
  virtual void scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b,
                                const Tensor& atol, const Tensor& rtol, const Tensor& mask,
                                const Tensor& out);

  // x: contiguous [M, K]; out: contiguous [M, N]; b: [N] or undefined.
  // fuses_dense: whether this backend overrides dense with one kernel (a trace then records the
  // call; otherwise it records the primitives of the default, which its fusion pass can join).
  virtual bool fuses_dense() const { return false; }
  virtual void dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0,
                     const Tensor& out);

  // pre [B, P]; w, sigma, mu, erev [P, N]; num0, den0 [B, N] or undefined (zero); writes num, den [B, N].
  virtual void synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                            const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num,
                            const Tensor& den);

  // synapse_sums_backward (fused.hpp): operands contiguous; gpre [B, P] and gw .. gerev [P, N] written.
  virtual void synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                                     const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre,
                                     const Tensor& gw, const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev);

  // outputs[j] = value program.outputs[j] of the chain, elementwise. The inputs are views with the
  // outputs' shape (broadcast axes have stride 0); the outputs are contiguous, all of one dtype.
  // The default runs the steps one at a time through the primitives above (a full temporary per
  // step); the CPU runs the whole chain block by block, its intermediates never leaving the cache.
  virtual void elementwise(const ElementwiseProgram& program, std::span<const Tensor> inputs,
                           std::span<const Tensor> outputs);

  // Waits until the device has finished the work queued so far (host timers, graph capture).
  virtual void synchronize() {}
};

namespace detail {
Backend& backend_for_slow(Device device);
// The registry's CPU entry once looked up (null before), kept in step by register_backend.
extern std::atomic<Backend*> cpu_backend_registered;
}  // namespace detail
// The backend serving a device; throws tide::Error if the device is not available in this build.
// The CPU's is looked up inline (every tensor made asks for it).
inline Backend& backend_for(Device device) {
  if (device.kind == DeviceKind::cpu && device.index == 0) {
    if (Backend* cpu = detail::cpu_backend_registered.load(std::memory_order_acquire)) [[likely]]
      return *cpu;
  }
  return detail::backend_for_slow(device);
}
// Installs a backend for a device kind (used by optional backends such as CUDA).
void register_backend(DeviceKind kind, Backend* backend);
// The backend installed for a device kind; nullptr if none (lets a caller restore it later).
Backend* registered_backend(DeviceKind kind);

}  // namespace tide
