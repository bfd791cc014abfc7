// The CUDA device: availability, device facts, the caching allocator's counters, synchronisation
// and CUDA Graph capture. Every function here exists in every build; without the CUDA backend
// (TIDE_CUDA=OFF) or without a GPU, available() is false, unavailable_reason() says why, and the
// others throw tide::Error with that reason.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tide::cuda {

bool built();                    // this build has the CUDA backend
bool available();                // ... and a GPU it can use
std::string unavailable_reason();  // empty when available()

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;          // compute capability
  int multiprocessors = 0;
  std::int64_t memory_bytes = 0;
  double memory_gbs = 0;             // peak bandwidth from the memory clock and bus width
  double fp32_tflops = 0;            // peak FMA rate of the CUDA cores from the SM clock
  int runtime_version = 0, driver_version = 0;
};
DeviceInfo device_info();

struct MemoryCounters {
  std::int64_t device_mallocs = 0;   // cudaMalloc calls since start
  std::int64_t device_frees = 0;     // cache flushes that returned memory to the driver
  std::int64_t reserved_bytes = 0;   // held from the driver (cached or in use)
  std::int64_t in_use_bytes = 0;     // handed out to tensors
};
MemoryCounters memory_counters();
void empty_cache();   // returns cached, unused blocks to the driver
void synchronize();   // waits for all queued device work; reports deferred kernel errors

// A CUDA Graph of the device work that a function queues. capture() runs the function with the
// device's stream in capture mode: its kernels are recorded, not executed. Tensors it allocates come
// from a memory pool owned by the graph, so replays write to the same addresses (keep the tensors
// you need as outputs); tensors it reads keep the addresses they had. Inside the function no device
// data may be read on the host (item, to_vector) and no host data sent to the device (from_vector):
// both throw. replay() queues the recorded work again, asynchronously.
class Graph {
public:
  Graph();
  ~Graph();
  Graph(Graph&&) noexcept;
  Graph& operator=(Graph&&) noexcept;
  void capture(const std::function<void()>& fn);
  void replay();
  bool captured() const;
  std::int64_t nodes() const;  // kernels and copies in the graph

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::cuda
