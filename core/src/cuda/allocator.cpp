#include "allocator.hpp"
#include "check.hpp"

namespace tide::cuda {

Pool::~Pool() {
  const std::size_t freed = release_all();
  if (released_bytes && freed) released_bytes->fetch_add(static_cast<std::int64_t>(freed));
}

void* Pool::take(std::size_t rounded) {
  auto it = free_.find(rounded);
  if (it == free_.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  return p;
}
void Pool::give(void* ptr, std::size_t rounded) { free_[rounded].push_back(ptr); }
std::size_t Pool::release_all() {
  std::size_t bytes = 0;
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      cudaFree(p);  // errors here leave nothing to recover; the block is gone either way
      bytes += size;
    }
    blocks.clear();
  }
  return bytes;
}

// Small blocks in 512-byte steps, large ones in 2 MiB steps (fewer distinct sizes to cache).
std::size_t CachingAllocator::round(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  constexpr std::size_t small = 512, large = std::size_t(2) << 20;
  return bytes <= (std::size_t(1) << 20) ? (bytes + small - 1) / small * small : (bytes + large - 1) / large * large;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = round(bytes);
  std::lock_guard lock(mutex_);
  Pool& pool = capture_ ? *capture_ : shared_;
  if (void* p = pool.take(size)) {
    stats_.in_use_bytes += static_cast<std::int64_t>(size);
    if (capture_) private_owner_[p] = capture_;
    return p;
  }
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, size);
  if (status == cudaErrorMemoryAllocation) {  // flush the shared cache and try once more
    cudaGetLastError();
    const std::size_t freed = shared_.release_all();
    stats_.reserved_bytes -= static_cast<std::int64_t>(freed);
    ++stats_.device_frees;
    status = cudaMalloc(&p, size);
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    fail("cuda: out of device memory allocating {} bytes ({} in use by tensors, {} reserved): {}", bytes,
         stats_.in_use_bytes, stats_.reserved_bytes - pools_released_.load(), cudaGetErrorString(status));
  }
  ++stats_.device_mallocs;
  stats_.reserved_bytes += static_cast<std::int64_t>(size);
  stats_.in_use_bytes += static_cast<std::int64_t>(size);
  if (capture_) private_owner_[p] = capture_;
  return p;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  const std::size_t size = round(bytes);
  std::lock_guard lock(mutex_);
  stats_.in_use_bytes -= static_cast<std::int64_t>(size);
  auto owner = private_owner_.find(ptr);
  if (owner != private_owner_.end()) {
    owner->second->give(ptr, size);  // the graph's pool; freed to the driver with the graph
    private_owner_.erase(owner);
    return;
  }
  shared_.give(ptr, size);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  AllocatorStats s = stats_;
  s.reserved_bytes -= pools_released_.load();  // graphs' pools already freed
  return s;
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  const std::size_t freed = shared_.release_all();
  stats_.reserved_bytes -= static_cast<std::int64_t>(freed);
  if (freed) ++stats_.device_frees;
}

void CachingAllocator::begin_private(std::shared_ptr<Pool> pool) {
  std::lock_guard lock(mutex_);
  if (capture_) fail("cuda: graph captures cannot be nested");
  pool->released_bytes = &pools_released_;
  capture_ = std::move(pool);
}
void CachingAllocator::end_private() {
  std::lock_guard lock(mutex_);
  capture_.reset();
}

}  // namespace tide::cuda
