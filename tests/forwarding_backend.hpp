// A stand-in "cuda" device for tests on machines without a GPU: a backend that claims to be cuda:0,
// counts its kernel calls and forwards each to the CPU backend (its memory is host memory). With
// forward_fused it forwards the fused kernels too (CPU arithmetic exactly); without, it runs the
// Backend defaults composed from primitives. ForwardingDevice installs it for its lifetime and puts
// back whatever served cuda before (a real CUDA backend in a CUDA build).
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/ops.hpp"
#include <optional>

namespace tide::test {

class ForwardingBackend final : public Backend {
public:
  explicit ForwardingBackend(bool forward_fused) : forward_fused_(forward_fused) {}
  std::int64_t kernel_calls = 0;
  Device device() const override { return Device::cuda(0); }
  const char* name() const override { return "forwarding"; }
  void* allocate(std::size_t bytes) override { return cpu().allocate(bytes); }
  void deallocate(void* p, std::size_t bytes) noexcept override { cpu().deallocate(p, bytes); }
  void copy_to_host(const void* s, void* d, std::size_t n) override { cpu().copy_to_host(s, d, n); }
  void copy_from_host(const void* s, void* d, std::size_t n) override { cpu().copy_from_host(s, d, n); }
  void copy(const Tensor& s, const Tensor& d) override { ++kernel_calls; cpu().copy(s, d); }
  void fill(const Tensor& d, double v) override { ++kernel_calls; cpu().fill(d, v); }
  void unary(Op op, const Tensor& x, const Tensor& o, double p0, double p1) override { ++kernel_calls; cpu().unary(op, x, o, p0, p1); }
  void binary(Op op, const Tensor& a, const Tensor& b, const Tensor& o) override { ++kernel_calls; cpu().binary(op, a, b, o); }
  void where(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& o) override { ++kernel_calls; cpu().where(c, a, b, o); }
  void reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& o) override { ++kernel_calls; cpu().reduce(op, x, axes, o); }
  void matmul(const Tensor& a, const Tensor& b, const Tensor& o) override { ++kernel_calls; cpu().matmul(a, b, o); }
  void index_select(const Tensor& x, int axis, const Tensor& i, const Tensor& o) override { ++kernel_calls; cpu().index_select(x, axis, i, o); }
  void index_add(const Tensor& s, int axis, const Tensor& i, const Tensor& o) override { ++kernel_calls; cpu().index_add(s, axis, i, o); }
  void gather(const Tensor& x, int axis, const Tensor& i, const Tensor& o) override { ++kernel_calls; cpu().gather(x, axis, i, o); }
  void scatter_add(const Tensor& s, int axis, const Tensor& i, const Tensor& o) override { ++kernel_calls; cpu().scatter_add(s, axis, i, o); }
  void random(RandomKind k, std::uint64_t seed, std::uint64_t stream, double a, double b, const Tensor& o) override {
    ++kernel_calls;
    cpu().random(k, seed, stream, a, b, o);
  }
  // the fused kernels: the CPU's (the same arithmetic as a CPU solve) or the defaults
  void lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs, const std::vector<double>& coeff,
               const Tensor& row_scale) override {
    if (!forward_fused_) return Backend::lincomb(out, base, xs, coeff, row_scale);
    ++kernel_calls;
    cpu().lincomb(out, base, xs, coeff, row_scale);
  }
  void combination_row_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const Tensor& row_scale,
                             const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol, const Tensor& mask,
                             const Tensor& out) override {
    if (!forward_fused_) return Backend::combination_row_norms(xs, coeff, row_scale, a, b, atol, rtol, mask, out);
    ++kernel_calls;
    cpu().combination_row_norms(xs, coeff, row_scale, a, b, atol, rtol, mask, out);
  }
  void scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                        const Tensor& mask, const Tensor& out) override {
    if (!forward_fused_) return Backend::scaled_row_norms(err, a, b, atol, rtol, mask, out);
    ++kernel_calls;
    cpu().scaled_row_norms(err, a, b, atol, rtol, mask, out);
  }
  void dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) override {
    if (!forward_fused_) return Backend::dense(x, w, b, act, p0, out);
    ++kernel_calls;
    cpu().dense(x, w, b, act, p0, out);
  }

private:
  static Backend& cpu() { return backend_for(Device::cpu()); }
  bool forward_fused_;
};

struct ForwardingDevice {
  ForwardingBackend backend;
  Backend* previous = registered_backend(DeviceKind::cuda);
  explicit ForwardingDevice(bool forward_fused) : backend(forward_fused) { register_backend(DeviceKind::cuda, &backend); }
  ~ForwardingDevice() { register_backend(DeviceKind::cuda, previous); }
  ForwardingDevice(const ForwardingDevice&) = delete;
  ForwardingDevice& operator=(const ForwardingDevice&) = delete;
};

}  // namespace tide::test
