// The plugin's side of the cuda.hpp API: the process-wide backend, device facts, allocator
// counters and CUDA Graph capture with a private memory pool, handed to the core as the table of
// cuda_plugin.hpp. The table's functions have internal linkage (and names unlike cuda.hpp's), so
// none can be bound to a same-named symbol of the program that loads the plugin.
#include "check.hpp"
#include "cuda_backend.hpp"
#include "cuda_plugin.hpp"

namespace tide::cuda {
namespace {
struct Singleton {
  CudaBackend* backend = nullptr;  // never deleted: tensors may outlive static destruction order
  std::string reason;
  Singleton() {
    try {
      backend = new CudaBackend();
    } catch (const Error& e) {
      reason = e.what();
    }
  }
};
Singleton& singleton() {
  static Singleton s;
  return s;
}

Backend* backend_or_reason(std::string& reason) {
  Singleton& s = singleton();
  reason = s.reason;
  return s.backend;
}

DeviceInfo read_device_info() {
  backend();
  cudaDeviceProp prop{};
  TIDE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  DeviceInfo info;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  int mem_khz = 0, bus_bits = 0, sm_khz = 0;
  TIDE_CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0));
  TIDE_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
  TIDE_CUDA_CHECK(cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, 0));
  info.memory_gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // double data rate
  const int lanes = prop.major >= 8 && !(prop.major == 8 && prop.minor == 0) ? 128 : 64;  // FP32 lanes per SM
  info.fp32_tflops = 2.0 * lanes * prop.multiProcessorCount * sm_khz * 1e3 / 1e12;
  TIDE_CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  TIDE_CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  return info;
}

MemoryCounters read_memory_counters() {
  const AllocatorStats s = backend().allocator().stats();
  return {s.device_mallocs, s.device_frees, s.reserved_bytes, s.in_use_bytes};
}
void flush_cache() { backend().allocator().empty_cache(); }

struct CapturedGraph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::shared_ptr<Pool> pool = std::make_shared<Pool>();
  std::int64_t nodes = 0;
  ~CapturedGraph() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

// Ends a capture that `fn` broke, so the stream can be used again.
void abandon_capture(CudaBackend& b) {
  cudaGraph_t broken = nullptr;
  cudaStreamEndCapture(b.stream(), &broken);
  if (broken) cudaGraphDestroy(broken);
  cudaGetLastError();
  b.allocator().end_private();
}

void* graph_capture(const std::function<void()>& fn) {
  CudaBackend& b = backend();
  auto g = std::make_unique<CapturedGraph>();
  b.synchronize();
  b.allocator().begin_private(g->pool);
  TIDE_CUDA_CHECK(cudaStreamBeginCapture(b.stream(), cudaStreamCaptureModeRelaxed));
  try {
    fn();
  } catch (...) {
    abandon_capture(b);
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(b.stream(), &g->graph);
  b.allocator().end_private();
  if (ended != cudaSuccess) cuda_failure(ended, "cudaStreamEndCapture (work outside the captured stream, or a synchronisation inside it)", __FILE__, __LINE__);
  std::size_t count = 0;
  TIDE_CUDA_CHECK(cudaGraphGetNodes(g->graph, nullptr, &count));
  g->nodes = static_cast<std::int64_t>(count);
  TIDE_CUDA_CHECK(cudaGraphInstantiate(&g->exec, g->graph, 0));
  return g.release();
}
void graph_replay(void* graph) {
  TIDE_CUDA_CHECK(cudaGraphLaunch(static_cast<CapturedGraph*>(graph)->exec, backend().stream()));
}
std::int64_t graph_nodes(const void* graph) { return static_cast<const CapturedGraph*>(graph)->nodes; }
void graph_destroy(void* graph) { delete static_cast<CapturedGraph*>(graph); }

detail::CudaPlugin make_table() {
  detail::CudaPlugin t;
  t.backend = backend_or_reason;
  t.device_info = read_device_info;
  t.memory_counters = read_memory_counters;
  t.empty_cache = flush_cache;
  t.graph_capture = graph_capture;
  t.graph_replay = graph_replay;
  t.graph_nodes = graph_nodes;
  t.graph_destroy = graph_destroy;
  return t;
}
}  // namespace

CudaBackend& backend() {
  Singleton& s = singleton();
  if (!s.backend) fail("cuda: {}", s.reason);
  return *s.backend;
}

}  // namespace tide::cuda

extern "C" __attribute__((visibility("default"))) const tide::detail::CudaPlugin* tide_cuda_plugin() {
  static const tide::detail::CudaPlugin table = tide::cuda::make_table();
  return &table;
}
