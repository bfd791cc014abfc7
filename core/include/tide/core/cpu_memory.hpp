// The CPU's caching allocator: its counters and its cache (the CUDA device has the same pair in
// cuda.hpp).
//
// Tensor storage above 1 KB comes from size classes (four per power of two, 64-byte aligned) whose
// freed blocks are kept for the next tensor of the class instead of going back to the system: a
// solver or a training loop makes the same shapes thousands of times, and a large block returned
// to glibc is unmapped and, when asked for again, faulted in and zeroed page by page by the kernel.
// Smaller blocks come from per-thread free lists without a lock (small_blocks.hpp), outside these
// counters and the limit.
// The cache holds at most `cache_limit_bytes` (default 1 GiB, or TIDE_CPU_CACHE_BYTES when set at
// the first allocation; 0 turns caching off); a freed block that does not fit makes room by
// releasing cached blocks of the classes used least recently, or goes back itself when the other
// classes cannot make enough.
// "Back" is to the C library's allocator: glibc keeps much of what it is given for its own reuse,
// and returns it to the system at empty_cache() (malloc_trim).
#pragma once
#include <cstdint>

namespace tide::cpu {

struct MemoryCounters {
  std::int64_t system_allocations = 0;  // blocks taken from the system since start (cached classes)
  std::int64_t cache_hits = 0;          // allocations served from the cache
  std::int64_t cached_bytes = 0;        // freed, held for reuse
  std::int64_t in_use_bytes = 0;        // handed out to tensors (cached classes, rounded sizes)
  std::int64_t cache_limit_bytes = 0;
};
MemoryCounters memory_counters();
// Returns every cached block, and the calling thread's small blocks, to the C library, and asks
// glibc to hand its free memory back to the system.
void empty_cache();
// Sets the most the cache may hold (0: no caching; cached blocks beyond it are released now).
void set_cache_limit(std::int64_t bytes);

}  // namespace tide::cpu
