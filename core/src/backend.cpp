// Backend registry: one backend per device kind; CPU is always present.
#include "tide/core/backend.hpp"
#include "cpu/cpu_backend.hpp"
#include "device_backends.hpp"
#include "tide/core/blas.hpp"
#include <array>

namespace tide {
namespace {
std::array<Backend*, 2>& registry() {
  static cpu::CpuBackend cpu_backend;
  static const bool blas_ready = (init_blas_threads(), true);
  (void)blas_ready;
  static std::array<Backend*, 2> backends{&cpu_backend, nullptr};
  return backends;
}
}  // namespace

std::atomic<Backend*> detail::cpu_backend_registered{nullptr};

Backend& detail::backend_for_slow(Device device) {
  Backend*& b = registry()[static_cast<int>(device.kind)];
  if (!b && device.kind == DeviceKind::cuda) {  // created on first use: CPU-only programs never start CUDA
    std::string reason;
    b = detail::cuda_backend(reason);
    if (!b) fail("device {} is not available: {}", device.str(), reason);
  }
  if (!b) fail("device {} is not available: this build of tide has no backend for it", device.str());
  if (device.index != 0) fail("device {} is not available: tide uses one device per kind, {}", device.str(), Device{device.kind, 0}.str());
  if (device.kind == DeviceKind::cpu) cpu_backend_registered.store(b, std::memory_order_release);  // after the backend is built
  return *b;
}

void register_backend(DeviceKind kind, Backend* backend) {
  registry()[static_cast<int>(kind)] = backend;
  if (kind == DeviceKind::cpu) detail::cpu_backend_registered.store(backend, std::memory_order_release);
}

Backend* registered_backend(DeviceKind kind) { return registry()[static_cast<int>(kind)]; }

}  // namespace tide
