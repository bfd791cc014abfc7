// Per-thread free lists of small blocks (tide/core/small_blocks.hpp).
#include "tide/core/small_blocks.hpp"
#include <cstdlib>

namespace tide::small_blocks {

thread_local constinit Lists lists{};

namespace {

std::size_t class_of(std::size_t bytes) { return (bytes + granule - 1) / granule; }

void release_all() noexcept {
  for (std::size_t c = 0; c < classes; ++c) {
    while (lists.count[c] != 0) {
      void* p = lists.head[c];
      lists.head[c] = *static_cast<void**>(p);
      --lists.count[c];
      std::free(p);
    }
  }
}

// Its destructor, at the thread's exit, returns the thread's cached blocks and stops caching.
// (A thread whose first use is a free during its exit registers it late, and may leave its
// blocks to the process's end.)
struct Reaper {
  ~Reaper() {
    release_all();
    for (std::uint32_t& l : lists.limit) l = 0;
    lists.state = 2;
  }
};

// The first use on a thread: the lists' limits, and the reaper that ends them.
void start() {
  thread_local Reaper reaper;
  (void)reaper;
  for (std::size_t c = 1; c < classes; ++c) lists.limit[c] = static_cast<std::uint32_t>(class_budget / (c * granule));
  lists.state = 1;
}

}  // namespace

void* allocate_slow(std::size_t bytes) {
  const std::size_t c = class_of(bytes);
  if (c >= classes) return ::operator new(bytes);
#ifndef TIDE_SMALL_BLOCKS_OFF
  if (lists.state == 0) start();
#endif
#ifdef TIDE_SMALL_BLOCKS_OFF
  void* p = std::malloc(bytes == 0 ? 1 : bytes);  // the exact size, so that ASan sees an overflow by a byte
#else
  // Every block of a class has the class's size, whichever request made it.
  void* p = std::malloc(c == 0 ? granule : c * granule);
#endif
  if (!p) throw std::bad_alloc();
  return p;
}

void deallocate_slow(void* p, std::size_t bytes) noexcept {
  const std::size_t c = class_of(bytes);
  if (c >= classes) {
    ::operator delete(p);
    return;
  }
#ifndef TIDE_SMALL_BLOCKS_OFF
  if (lists.state == 0) {
    start();
    deallocate(p, bytes);
    return;
  }
#endif
  std::free(p);
}

void release_cached() noexcept { release_all(); }

std::size_t cached_blocks() {
  std::size_t n = 0;
  for (std::size_t c = 0; c < classes; ++c) n += lists.count[c];
  return n;
}

}  // namespace tide::small_blocks
