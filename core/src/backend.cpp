// Backend registry: one backend per device kind; CPU is always present.
#include "tide/core/backend.hpp"
#include "cpu/cpu_backend.hpp"
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

Backend& backend_for(Device device) {
  Backend* b = registry()[static_cast<int>(device.kind)];
  if (!b) fail("device {} is not available: this build of tide has no backend for it", device.str());
  return *b;
}

void register_backend(DeviceKind kind, Backend* backend) { registry()[static_cast<int>(kind)] = backend; }

}  // namespace tide
