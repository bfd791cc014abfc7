// The CPU backend's caching allocator (tide/core/cpu_memory.hpp says what it promises).
#pragma once
#include "tide/core/cpu_memory.hpp"
#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

namespace tide::cpu {

class CachingAllocator {
public:
  // Blocks of at most this many bytes come from malloc and go back to it.
  static constexpr std::size_t small_bytes = 1024;

  static CachingAllocator& instance();
  void* allocate(std::size_t bytes);
  void deallocate(void* ptr, std::size_t bytes) noexcept;
  MemoryCounters counters();
  void empty_cache();
  void set_limit(std::int64_t bytes);

  // The class of a block of `bytes` (> small_bytes): four classes per power of two, each a
  // multiple of 256 bytes; `rounded` is the class's size.
  struct SizeClass {
    std::size_t index, rounded;
  };
  static SizeClass size_class(std::size_t bytes);

private:
  CachingAllocator();
  // With the lock held: frees cached blocks, largest classes first, until at most `limit` bytes are
  // cached.
  void release_until(std::int64_t limit);
  // With the lock held: frees cached blocks of the classes used least recently first, `keep` aside,
  // until at most `limit` bytes are cached.
  void release_stale(std::int64_t limit, std::size_t keep);

  std::mutex mutex_;
  std::array<std::vector<void*>, 64 * 4> free_;
  std::array<std::uint64_t, 64 * 4> last_use_{};  // per class: the clock when a block last left or joined it
  std::uint64_t clock_ = 0;
  MemoryCounters stats_;
};

}  // namespace tide::cpu
