// The CPU backend's caching allocator (caching_allocator.hpp).
#include "caching_allocator.hpp"
#include "../environment.hpp"
#include "tide/core/error.hpp"
#include "tide/core/small_blocks.hpp"
#include <bit>
#include <cstdlib>
#include <limits>
#include <string>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TIDE_CPU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIDE_CPU_ASAN 1
#endif
#endif
#ifdef TIDE_CPU_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace tide::cpu {

namespace {

// A cached block is poisoned under AddressSanitizer, so a use after free is still reported while
// the block waits in the cache.
void poison(void* p, std::size_t n) {
#ifdef TIDE_CPU_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}
void unpoison(void* p, std::size_t n) {
#ifdef TIDE_CPU_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

std::int64_t limit_from_environment() {
  constexpr std::int64_t default_limit = std::int64_t{1} << 30;
  const char* v = std::getenv("TIDE_CPU_CACHE_BYTES");
  if (!v || !*v) return default_limit;
  return detail::environment_count("TIDE_CPU_CACHE_BYTES", v, 0, std::numeric_limits<std::int64_t>::max(),
                                   fmt::format("a byte count of decimal digits, 0 to {} (0 turns the CPU allocator's cache off)",
                                               std::numeric_limits<std::int64_t>::max()).c_str());
}

}  // namespace

CachingAllocator& CachingAllocator::instance() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: tensors may outlive static destructors
  return *a;
}

CachingAllocator::CachingAllocator() { stats_.cache_limit_bytes = limit_from_environment(); }

// 2^k < bytes <= 2^(k+1): the classes 5, 6, 7 and 8 quarters of 2^k (k >= 10 above small_bytes,
// so every class is a multiple of 256 bytes and the waste is at most a quarter).
CachingAllocator::SizeClass CachingAllocator::size_class(std::size_t bytes) {
  const std::size_t k = static_cast<std::size_t>(std::bit_width(bytes - 1)) - 1;
  const std::size_t steps = (bytes + (std::size_t{1} << (k - 2)) - 1) >> (k - 2);  // 5 .. 8
  return {k * 4 + (steps - 5), steps << (k - 2)};
}

namespace {
std::size_t class_bytes(std::size_t index) { return (index % 4 + 5) << (index / 4 - 2); }
}  // namespace

void* CachingAllocator::allocate(std::size_t bytes) {
  const SizeClass c = size_class(bytes);
  {
    std::lock_guard lock(mutex_);
    std::vector<void*>& list = free_[c.index];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      stats_.cached_bytes -= static_cast<std::int64_t>(c.rounded);
      stats_.in_use_bytes += static_cast<std::int64_t>(c.rounded);
      ++stats_.cache_hits;
      last_use_[c.index] = ++clock_;
      unpoison(p, c.rounded);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, c.rounded);
  if (!p) {  // give the cache back and try once more
    empty_cache();
    p = std::aligned_alloc(64, c.rounded);
  }
  if (!p) fail("cpu backend: out of memory allocating {} bytes", bytes);
  std::lock_guard lock(mutex_);
  ++stats_.system_allocations;
  stats_.in_use_bytes += static_cast<std::int64_t>(c.rounded);
  return p;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  const SizeClass c = size_class(bytes);
  std::lock_guard lock(mutex_);
  stats_.in_use_bytes -= static_cast<std::int64_t>(c.rounded);
  // A full cache makes room from the classes used least recently (a class filled by one large
  // pass, then unused, kept every other class out: no hits for the rest of the run); the block goes
  // back when the others cannot make enough.
  const std::int64_t room = stats_.cache_limit_bytes - static_cast<std::int64_t>(c.rounded);
  if (stats_.cached_bytes > room) {
    const std::int64_t own = static_cast<std::int64_t>(free_[c.index].size() * c.rounded);
    if (own > room) {  // the block's own class fills the cache (or the block is beyond the limit)
      std::free(ptr);
      return;
    }
    release_stale(room, c.index);
  }
  try {
    free_[c.index].push_back(ptr);
  } catch (...) {  // no memory for the list's growth: the block goes back instead
    std::free(ptr);
    return;
  }
  stats_.cached_bytes += static_cast<std::int64_t>(c.rounded);
  last_use_[c.index] = ++clock_;
  poison(ptr, c.rounded);
}

MemoryCounters CachingAllocator::counters() {
  std::lock_guard lock(mutex_);
  return stats_;
}

namespace {
// Frees a class's cached blocks, last first, until at most `limit` bytes are cached.
void release_class(std::vector<void*>& list, std::size_t rounded, std::int64_t limit, std::int64_t& cached) {
  while (!list.empty() && cached > limit) {
    unpoison(list.back(), rounded);
    std::free(list.back());
    list.pop_back();
    cached -= static_cast<std::int64_t>(rounded);
  }
}
}  // namespace

void CachingAllocator::release_until(std::int64_t limit) {
  for (std::size_t i = free_.size(); i-- > 0 && stats_.cached_bytes > limit;) release_class(free_[i], class_bytes(i), limit, stats_.cached_bytes);
}

void CachingAllocator::release_stale(std::int64_t limit, std::size_t keep) {
  while (stats_.cached_bytes > limit) {
    std::size_t stalest = keep;
    for (std::size_t i = 0; i < free_.size(); ++i)
      if (i != keep && !free_[i].empty() && (stalest == keep || last_use_[i] < last_use_[stalest])) stalest = i;
    if (stalest == keep) return;
    release_class(free_[stalest], class_bytes(stalest), limit, stats_.cached_bytes);
  }
}

void CachingAllocator::empty_cache() {
  {
    std::lock_guard lock(mutex_);
    release_until(0);
  }
#ifdef __GLIBC__
  // glibc keeps freed heap memory for its own reuse (its mmap threshold rises as large blocks are
  // freed, so later ones come from the heap): hand what it can back to the system too
  malloc_trim(0);
#endif
}

void CachingAllocator::set_limit(std::int64_t bytes) {
  if (bytes < 0) fail("cpu::set_cache_limit: {} bytes; expected >= 0 (0 turns the cache off)", bytes);
  std::lock_guard lock(mutex_);
  stats_.cache_limit_bytes = bytes;
  release_until(bytes);
}

MemoryCounters memory_counters() { return CachingAllocator::instance().counters(); }
void empty_cache() {
  CachingAllocator::instance().empty_cache();
  small_blocks::release_cached();
}
void set_cache_limit(std::int64_t bytes) { CachingAllocator::instance().set_limit(bytes); }

}  // namespace tide::cpu
