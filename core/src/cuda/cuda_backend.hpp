// The CUDA backend: one device (cuda:0), one non-blocking stream that every kernel, copy and cuBLAS
// call is queued on, memory from the caching allocator, GEMM through cuBLAS.
#pragma once
#include "allocator.hpp"
#include "kernels.hpp"
#include "tide/core/backend.hpp"
#include <cublas_v2.h>
#include <memory>

namespace tide::cuda {

class CudaBackend final : public Backend {
public:
  CudaBackend();  // throws tide::Error when no device can be used
  ~CudaBackend() override;
  Device device() const override { return Device::cuda(0); }
  const char* name() const override { return "cuda"; }
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
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override;
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override;
  void random(RandomKind kind, std::uint64_t seed, std::uint64_t stream, double a, double b,
              const Tensor& out) override;
  void lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs,
               const std::vector<double>& coeff, const Tensor& row_scale) override;
  void scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                        const Tensor& rtol, const Tensor& mask, const Tensor& out) override;
  bool fuses_dense() const override { return true; }
  void dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0,
             const Tensor& out) override;
  void synchronize() override;

  cudaStream_t stream() const { return stream_; }
  CachingAllocator& allocator() { return allocator_; }
  bool capturing() const;

private:
  void check_reports();  // after a synchronisation: out-of-range indices and failed i64 conversions found by kernels
  CachingAllocator allocator_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* blas_workspace_ = nullptr;
  DeviceReport* report_ = nullptr;         // host-mapped
  DeviceReport* report_device_ = nullptr;  // its device address
};

// The process's CUDA backend, created on first use; throws when none can be made.
CudaBackend& backend();

}  // namespace tide::cuda
