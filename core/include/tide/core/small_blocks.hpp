// Small heap blocks from per-thread free lists: the eager path's many small, short-lived objects
// (a tensor's Storage, a tape node, a backward closure, a small tensor's data).
//
// A recorded solve makes a few dozen of them per dynamics call and frees them all at the end of
// the backward pass, far more than glibc's per-thread cache keeps (7 blocks per size), so most of
// them went through malloc's shared bins: 15-19% of an eager training iteration of the spiral
// demo. Here each thread keeps up to `class_budget` bytes of freed blocks per size class (16-byte
// classes up to `max_bytes`) and hands them out again without a lock.
//
// Every block is its own malloc allocation of its class's size, so a block may be freed on any
// thread (it joins that thread's list) and a thread's cached blocks go back to malloc when it
// exits, or when it calls cpu::empty_cache(). They are not counted in cpu::memory_counters() and
// cpu::set_cache_limit() does not bound them (at most class_budget per class and thread). After that (static destructors running late) blocks go straight to malloc and free.
// Under AddressSanitizer there is no cache: every block is malloc's, so ASan still reports a use
// after free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define TIDE_SMALL_BLOCKS_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIDE_SMALL_BLOCKS_OFF 1
#endif
#endif

namespace tide {

namespace small_blocks {

inline constexpr std::size_t granule = 16;     // class c holds blocks of c * 16 bytes
inline constexpr std::size_t max_bytes = 1024;  // larger blocks: operator new
inline constexpr std::size_t classes = max_bytes / granule + 1;
inline constexpr std::size_t class_budget = 512 * 1024;  // freed bytes a thread keeps per class

// One thread's free lists: plain data, so that reaching it is a direct thread-local access.
struct Lists {
  void* head[classes];
  std::uint32_t count[classes];
  std::uint32_t limit[classes];
  int state;  // 0: not used yet on this thread, 1: caching, 2: the thread has exited (no caching)
};
extern thread_local constinit Lists lists;

void* allocate_slow(std::size_t bytes);
void deallocate_slow(void* p, std::size_t bytes) noexcept;

// Blocks of `bytes`, 16-byte aligned. A block is freed with the size it was taken with.
inline void* allocate(std::size_t bytes) {
#ifndef TIDE_SMALL_BLOCKS_OFF
  const std::size_t c = (bytes + granule - 1) / granule;
  if (c < classes && lists.count[c] != 0) {
    void* p = lists.head[c];
    lists.head[c] = *static_cast<void**>(p);
    --lists.count[c];
    return p;
  }
#endif
  return allocate_slow(bytes);
}
inline void deallocate(void* p, std::size_t bytes) noexcept {
#ifndef TIDE_SMALL_BLOCKS_OFF
  const std::size_t c = (bytes + granule - 1) / granule;
  if (c < classes && lists.count[c] < lists.limit[c]) {
    *static_cast<void**>(p) = lists.head[c];
    lists.head[c] = p;
    ++lists.count[c];
    return;
  }
#endif
  deallocate_slow(p, bytes);
}

// Blocks cached on the calling thread, over all classes (for tests), and their release to malloc
// (cpu::empty_cache() calls it for the calling thread).
std::size_t cached_blocks();
void release_cached() noexcept;

}  // namespace small_blocks

// An allocator for std::allocate_shared and containers whose elements are small blocks.
template <class T> struct SmallBlockAllocator {
  using value_type = T;
  static_assert(alignof(T) <= small_blocks::granule, "SmallBlockAllocator: blocks are 16-byte aligned");
  SmallBlockAllocator() = default;
  template <class U> SmallBlockAllocator(const SmallBlockAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(small_blocks::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { small_blocks::deallocate(p, n * sizeof(T)); }
  template <class U> bool operator==(const SmallBlockAllocator<U>&) const noexcept { return true; }
};

// std::make_shared with its one allocation (object and counts) a small block.
template <class T, class... Args> std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(SmallBlockAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace tide
