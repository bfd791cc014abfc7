// The CPU backend (see backend.hpp for the contract of each kernel).
#pragma once
#include "tide/core/backend.hpp"

namespace tide::cpu {

class CpuBackend final : public Backend {
public:
  Device device() const override { return Device::cpu(); }
  const char* name() const override { return "cpu"; }
  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) noexcept override;
  void copy_to_host(const void* src, void* host_dst, std::size_t bytes) override;
  void copy_from_host(const void* host_src, void* dst, std::size_t bytes) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void unary(Op op, const Tensor& x, const Tensor& out, double p0, double p1) override;
  void binary(Op op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  bool fuses_matmul_add() const override { return true; }
  void matmul_add(const Tensor& a, const Tensor& b, const Tensor& out) override;
  // GEMM straight into out, then bias and activation in place over chunks of rows that sit in L1;
  // a trace records it as one call, which a replay runs the same way.
  bool fuses_dense() const override { return true; }
  void dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) override;
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override;
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override;
  void random(RandomKind kind, std::uint64_t seed, std::uint64_t stream, double a, double b,
              const Tensor& out) override;
  void lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs,
               const std::vector<double>& coeff, const Tensor& row_scale) override;
  void combination_row_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const Tensor& row_scale,
                             const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol, const Tensor& mask,
                             const Tensor& out) override;
  void scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                        const Tensor& rtol, const Tensor& mask, const Tensor& out) override;
  void synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                    const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num,
                    const Tensor& den) override;
  void synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                             const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre,
                             const Tensor& gw, const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev) override;
  void elementwise(const ElementwiseProgram& program, std::span<const Tensor> inputs,
                   std::span<const Tensor> outputs) override;

private:
  // out = a @ b, or out += a @ b when `accumulate` (GEMM's beta 0 or 1)
  void product(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate);
  // product with a contiguous copy of each operand whose layout BLAS cannot take
  __attribute__((noinline)) void product_copied(const Tensor& a, const Tensor& b, const Tensor& out, bool a_usable, bool b_usable,
                                                bool accumulate);
};

}  // namespace tide::cpu
