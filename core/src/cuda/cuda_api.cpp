// The cuda.hpp API over the CUDA backend: the process-wide backend, device facts, allocator
// counters and CUDA Graph capture with a private memory pool.
#include "check.hpp"
#include "cuda_backend.hpp"
#include "device_backends.hpp"
#include "tide/core/cuda.hpp"

namespace tide {
namespace cuda {
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
}  // namespace

CudaBackend& backend() {
  Singleton& s = singleton();
  if (!s.backend) fail("cuda: {}", s.reason);
  return *s.backend;
}

bool built() { return true; }
bool available() { return singleton().backend != nullptr; }
std::string unavailable_reason() { return singleton().reason; }

DeviceInfo device_info() {
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

MemoryCounters memory_counters() {
  const AllocatorStats s = backend().allocator().stats();
  return {s.device_mallocs, s.device_frees, s.reserved_bytes, s.in_use_bytes};
}
void empty_cache() { backend().allocator().empty_cache(); }
void synchronize() { backend().synchronize(); }

struct Graph::Impl {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::shared_ptr<Pool> pool = std::make_shared<Pool>();
  std::int64_t nodes = 0;
  ~Impl() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;

void Graph::capture(const std::function<void()>& fn) {
  CudaBackend& b = backend();
  if (impl_->exec) fail("cuda::Graph::capture: this graph was already captured (make a new Graph)");
  b.synchronize();
  b.allocator().begin_private(impl_->pool);
  TIDE_CUDA_CHECK(cudaStreamBeginCapture(b.stream(), cudaStreamCaptureModeRelaxed));
  try {
    fn();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(b.stream(), &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    b.allocator().end_private();
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(b.stream(), &impl_->graph);
  b.allocator().end_private();
  if (ended != cudaSuccess) cuda_failure(ended, "cudaStreamEndCapture (work outside the captured stream, or a synchronisation inside it)", __FILE__, __LINE__);
  std::size_t count = 0;
  TIDE_CUDA_CHECK(cudaGraphGetNodes(impl_->graph, nullptr, &count));
  impl_->nodes = static_cast<std::int64_t>(count);
  TIDE_CUDA_CHECK(cudaGraphInstantiate(&impl_->exec, impl_->graph, 0));
}

void Graph::replay() {
  if (!impl_ || !impl_->exec) fail("cuda::Graph::replay: nothing captured yet");
  TIDE_CUDA_CHECK(cudaGraphLaunch(impl_->exec, backend().stream()));
}
bool Graph::captured() const { return impl_ && impl_->exec; }
std::int64_t Graph::nodes() const { return impl_ ? impl_->nodes : 0; }

}  // namespace cuda

namespace detail {
Backend* cuda_backend(std::string& reason) {
  cuda::Singleton& s = cuda::singleton();
  reason = s.reason;
  return s.backend;
}
}  // namespace detail
}  // namespace tide
