// The device abstraction: every op reaches the backend of its tensors' device. A test backend that
// claims to be "cuda" and counts its calls (forwarding the work to the CPU backend, whose memory it
// shares) shows that ops dispatch through the interface, and that mixing devices is an error that
// names the op, the shapes and both devices.
#include "core_test_util.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/ops.hpp"
#include <doctest/doctest.h>

using namespace tide;
using tide::test::check_error;

namespace {

class CountingBackend final : public Backend {
public:
  int kernel_calls = 0;
  Device device() const override { return Device::cuda(0); }
  const char* name() const override { return "counting"; }
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
  void random(RandomKind k, std::uint64_t seed, std::uint64_t stream, double a, double b, const Tensor& o) override { ++kernel_calls; cpu().random(k, seed, stream, a, b, o); }

private:
  static Backend& cpu() { return backend_for(Device::cpu()); }
};

// Installs the counting backend as "cuda" for the lifetime of the guard.
struct Installed {
  CountingBackend backend;
  Installed() { register_backend(DeviceKind::cuda, &backend); }
  ~Installed() { register_backend(DeviceKind::cuda, nullptr); }
};

}  // namespace

TEST_CASE("ops on a device's tensors run in that device's backend") {
  Installed dev;
  const Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, DType::f64, Device::cuda());
  const Tensor b = Tensor::from_vector({1, 0, 0, 1}, Shape{2, 2}, DType::f64, Device::cuda());
  CHECK(a.device() == Device::cuda());
  const int before = dev.backend.kernel_calls;
  const Tensor y = sum(tanh(matmul(a, b) + a), {1});
  CHECK(dev.backend.kernel_calls - before >= 4);  // matmul, add, tanh, reduce
  CHECK(y.device() == Device::cuda());
  const auto v = y.to(Device::cpu()).to_vector();
  CHECK(v[0] == doctest::Approx(std::tanh(2.0) + std::tanh(4.0)));
  CHECK(v[1] == doctest::Approx(std::tanh(6.0) + std::tanh(8.0)));
}

TEST_CASE("mixing devices in one op names the op, the shapes and both devices") {
  Installed dev;
  const Tensor on_device = Tensor::ones(Shape{2, 3}, DType::f32, Device::cuda());
  const Tensor on_host = Tensor::ones(Shape{2, 3}, DType::f32);
  check_error([&] { add(on_device, on_host); }, {"add", "f32[2, 3]", "cuda:0", "cpu"});
  check_error([&] { matmul(on_host, on_device.transpose()); }, {"matmul", "cpu", "cuda:0"});
  check_error([&] { where(on_host, on_device, on_device); }, {"where", "cpu", "cuda:0"});
  check_error([&] { concat({on_host, on_device}, 0); }, {"concat", "cpu", "cuda:0"});
  check_error([&] { index_select(on_device, 0, Tensor::from_indices({0}, Shape{1})); }, {"index_select", "cuda:0", "cpu"});
}
