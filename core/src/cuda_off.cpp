// Builds without the CUDA backend: the cuda.hpp API reports why there is no device.
#include "device_backends.hpp"
#include "tide/core/cuda.hpp"
#include "tide/core/error.hpp"

namespace tide {
namespace detail {
Backend* cuda_backend(std::string& reason) {
  reason = "this build of tide has no CUDA backend (configure with -DTIDE_CUDA=ON on a machine with the CUDA toolkit)";
  return nullptr;
}
}  // namespace detail

namespace cuda {
namespace {
[[noreturn]] void unavailable() { fail("cuda: {}", unavailable_reason()); }
}  // namespace
bool built() { return false; }
bool available() { return false; }
std::string unavailable_reason() {
  std::string reason;
  detail::cuda_backend(reason);
  return reason;
}
DeviceInfo device_info() { unavailable(); }
MemoryCounters memory_counters() { unavailable(); }
void empty_cache() { unavailable(); }
void synchronize() { unavailable(); }

struct Graph::Impl {};
Graph::Graph() = default;
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;
void Graph::capture(const std::function<void()>&) { unavailable(); }
void Graph::replay() { unavailable(); }
bool Graph::captured() const { return false; }
std::int64_t Graph::nodes() const { return 0; }
}  // namespace cuda
}  // namespace tide
