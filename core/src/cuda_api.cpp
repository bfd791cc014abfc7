// The cuda.hpp API in every build: it forwards to the CUDA backend plugin, loaded on first use
// (cuda_loader.cpp); without the plugin or without a GPU it reports why there is no device.
#include "cuda_plugin.hpp"
#include "device_backends.hpp"
#include "tide/core/error.hpp"

namespace tide {
namespace detail {
Backend* cuda_backend(std::string& reason) {
  const CudaPlugin* plugin = cuda_plugin(reason);
  return plugin ? plugin->backend(reason) : nullptr;
}
}  // namespace detail

namespace cuda {
namespace {
// The plugin of a usable device; throws with the reason otherwise.
const detail::CudaPlugin& plugin() {
  std::string reason;
  const detail::CudaPlugin* p = detail::cuda_plugin(reason);
  if (!p || !p->backend(reason)) fail("cuda: {}", reason);
  return *p;
}
}  // namespace

bool built() { return detail::cuda_plugin_built(); }
bool available() {
  std::string reason;
  return detail::cuda_backend(reason) != nullptr;
}
std::string unavailable_reason() {
  std::string reason;
  detail::cuda_backend(reason);
  return reason;
}
DeviceInfo device_info() { return plugin().device_info(); }
MemoryCounters memory_counters() { return plugin().memory_counters(); }
void empty_cache() { plugin().empty_cache(); }
void synchronize() {
  std::string reason;
  plugin().backend(reason)->synchronize();
}

struct Graph::Impl {
  const detail::CudaPlugin* plugin = nullptr;
  void* graph = nullptr;  // the plugin's captured graph, once captured
  ~Impl() {
    if (graph) plugin->graph_destroy(graph);
  }
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;

void Graph::capture(const std::function<void()>& fn) {
  const detail::CudaPlugin& p = plugin();
  if (impl_->graph) fail("cuda::Graph::capture: this graph was already captured (make a new Graph)");
  impl_->graph = p.graph_capture(fn);
  impl_->plugin = &p;
}
void Graph::replay() {
  if (!captured()) fail("cuda::Graph::replay: nothing captured yet");
  impl_->plugin->graph_replay(impl_->graph);
}
bool Graph::captured() const { return impl_ && impl_->graph; }
std::int64_t Graph::nodes() const { return captured() ? impl_->plugin->graph_nodes(impl_->graph) : 0; }

}  // namespace cuda
}  // namespace tide
