// The CUDA caching allocator. cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, so freed blocks are kept in per-size free lists and handed out again; a solver's
// step loop allocates the same sizes every step and, once warm, never reaches cudaMalloc. All work
// runs on one stream, so a block freed on the host can be reused at once: the next user's kernels
// are queued after the last user's.
//
// Graph capture uses a private pool: blocks allocated while a graph is captured belong to that
// graph and go back to its pool, never to the shared lists, because the graph's replays write into
// them after the capture has ended.
#pragma once
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tide::cuda {

struct AllocatorStats {
  std::int64_t device_mallocs = 0;   // cudaMalloc calls so far
  std::int64_t device_frees = 0;     // cudaFree calls so far (cache flushes)
  std::int64_t reserved_bytes = 0;   // held from the driver, cached or in use
  std::int64_t in_use_bytes = 0;     // handed out to tensors
};

class Pool {
public:
  ~Pool();
  void* take(std::size_t rounded);            // a cached block of this size, or nullptr
  void give(void* ptr, std::size_t rounded);  // returns a block to the free list
  std::size_t release_all();                  // cudaFree every cached block; returns the bytes freed
  // A graph's pool, freed with its graph outside the allocator's lock, adds what it frees here
  // (the allocator's count, set by begin_private).
  std::atomic<std::int64_t>* released_bytes = nullptr;
private:
  std::unordered_map<std::size_t, std::vector<void*>> free_;
};

class CachingAllocator {
public:
  void* allocate(std::size_t bytes);
  void deallocate(void* ptr, std::size_t bytes) noexcept;
  AllocatorStats stats() const;
  void empty_cache();  // returns every cached (unused) block of the shared pool to the driver

  // While a graph is captured, allocations come from (and frees go to) `pool`.
  void begin_private(std::shared_ptr<Pool> pool);
  void end_private();

  static std::size_t round(std::size_t bytes);

private:
  mutable std::mutex mutex_;
  Pool shared_;
  std::shared_ptr<Pool> capture_;
  std::unordered_map<void*, std::shared_ptr<Pool>> private_owner_;  // blocks of graph pools
  AllocatorStats stats_;
  std::atomic<std::int64_t> pools_released_{0};  // bytes graph pools freed on destruction (Pool::released_bytes)
};

}  // namespace tide::cuda
