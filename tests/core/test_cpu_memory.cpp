// The CPU caching allocator: size classes, reuse, the limit, the cache's release; the small
// blocks of small_blocks.hpp.
#include "cpu/caching_allocator.hpp"
#include "tide/core/small_blocks.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace tide;
using cpu::CachingAllocator;

TEST_CASE("CPU size classes: four per power of two, each a multiple of 256 bytes, at most a quarter wasted") {
  std::set<std::size_t> seen_index;
  std::size_t previous_rounded = 0, previous_index = 0;
  for (std::size_t bytes = CachingAllocator::small_bytes + 1; bytes < (std::size_t{1} << 22); bytes += 97) {
    const auto c = CachingAllocator::size_class(bytes);
    INFO("bytes " << bytes << " -> class " << c.index << " of " << c.rounded);
    CHECK(c.rounded >= bytes);
    CHECK(c.rounded * 4 <= bytes * 5 + 1024);  // waste below a quarter of the request
    CHECK(c.rounded % 256 == 0);
    // classes are monotone in the request, and one index is one size
    CHECK(c.index >= previous_index);
    if (c.index == previous_index && previous_rounded) CHECK(c.rounded == previous_rounded);
    previous_index = c.index, previous_rounded = c.rounded;
    seen_index.insert(c.index);
  }
  CHECK(CachingAllocator::size_class(1025).rounded == 1280);
  CHECK(CachingAllocator::size_class(2048).rounded == 2048);
  CHECK(CachingAllocator::size_class(2049).rounded == 2560);
  CHECK(CachingAllocator::size_class(std::size_t{3} << 20).rounded == std::size_t{3} << 20);
}

TEST_CASE("a freed large tensor's block serves the next tensor of its class without the system") {
  cpu::set_cache_limit(std::int64_t{1} << 30);
  { Tensor warm = Tensor::zeros(Shape{256, 100}, DType::f32); }  // 100 KB, now cached
  const cpu::MemoryCounters before = cpu::memory_counters();
  for (int i = 0; i < 50; ++i) {
    Tensor t = Tensor::full(Shape{256, 100}, 1.5, DType::f32);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64 == 0);
    CHECK(sum(t).item() == doctest::Approx(1.5 * 25600));
  }
  const cpu::MemoryCounters after = cpu::memory_counters();
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.cache_hits >= before.cache_hits + 50);
  CHECK(after.cached_bytes >= 102400);
}

TEST_CASE("the CPU cache's limit: 0 turns caching off, empty_cache releases what is held") {
  { Tensor t = Tensor::zeros(Shape{1000, 64}, DType::f64); }
  CHECK(cpu::memory_counters().cached_bytes > 0);
  cpu::empty_cache();
  CHECK(cpu::memory_counters().cached_bytes == 0);

  cpu::set_cache_limit(0);
  const std::int64_t system = cpu::memory_counters().system_allocations;
  for (int i = 0; i < 3; ++i) Tensor t = Tensor::zeros(Shape{1000, 64}, DType::f64);
  CHECK(cpu::memory_counters().system_allocations == system + 3);
  CHECK(cpu::memory_counters().cached_bytes == 0);
  CHECK_THROWS_WITH_AS(cpu::set_cache_limit(-1), doctest::Contains(">= 0"), Error);

  cpu::set_cache_limit(std::int64_t{1} << 30);  // back to the default for the other tests
  { Tensor t = Tensor::zeros(Shape{1000, 64}, DType::f64); }
  CHECK(cpu::memory_counters().cached_bytes >= 512000);
}

namespace {
// The output of this test binary run again with TIDE_CPU_CACHE_BYTES set: the allocator reads the
// variable once, when this process has long made it.
// What the test binary prints running only `test_case`, with the environment variable `name` set to `value`.
// What this test binary prints running `test_case` with the environment assignments `env` ("A='1' B=''").
std::string child_output(const std::string& env, const char* test_case) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = env + " '" + self + "' -tc='" + test_case + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  pclose(pipe);
  return out;
}
std::string child_with_cache_bytes(const char* value) {
  return child_output("TIDE_CPU_CACHE_BYTES='" + std::string(value) + "'", "the CPU cache limit from the environment (child)");
}
}  // namespace

TEST_CASE("the CPU cache limit from the environment (child)") {
  if (std::getenv("TIDE_CPU_CACHE_BYTES")) std::printf("limit read: %lld\n", static_cast<long long>(cpu::memory_counters().cache_limit_bytes));
}

TEST_CASE("TIDE_CPU_CACHE_BYTES takes decimal digits only and refuses a count past int64") {
  CHECK(child_with_cache_bytes("12345").find("limit read: 12345\n") != std::string::npos);
  for (const char* bad : {"99999999999999999999", " 5", "+7", "5 ", "-0", "1e9"}) {
    INFO("TIDE_CPU_CACHE_BYTES='", bad, "'");
    const std::string out = child_with_cache_bytes(bad);
    CHECK(out.find("TIDE_CPU_CACHE_BYTES = '" + std::string(bad) + "'") != std::string::npos);
    CHECK(out.find("limit read") == std::string::npos);
  }
}

namespace {
std::string child_with_blas_threads(const char* value) {
  return child_output("TIDE_BLAS_THREADS='" + std::string(value) + "'", "the BLAS thread count from the environment (child)");
}
}  // namespace

TEST_CASE("the BLAS thread count from the environment (child)") {
  if (!std::getenv("TIDE_BLAS_THREADS")) return;  // (set, even empty, only in the child)
  (void)Tensor::zeros(Shape{2}, DType::f32);  // the first tensor reads the variable
  std::printf("blas threads: %d\n", blas_info().threads);
}

TEST_CASE("TIDE_BLAS_THREADS takes a count of decimal digits from 1 to 1024") {
  // (atoi read "abc", "-3", "0" and "" as 0, which OpenBLAS took as every core; 99999 made 64 threads)
  CHECK(child_with_blas_threads("2").find("blas threads: 2\n") != std::string::npos);
  CHECK(child_with_blas_threads("").find("blas threads: 1\n") != std::string::npos);  // empty: as unset
  for (const char* bad : {"abc", "-3", "0", "99999", " 2", "2x"}) {
    INFO("TIDE_BLAS_THREADS='", bad, "'");
    const std::string out = child_with_blas_threads(bad);
    CHECK(out.find("TIDE_BLAS_THREADS = '" + std::string(bad) + "': expected a thread count of decimal digits, 1 to 1024") != std::string::npos);
    CHECK(out.find("blas threads") == std::string::npos);
    CHECK(out.find("terminate called") == std::string::npos);  // a tide::Error the test reports, not an abort
  }
}

TEST_CASE("an empty, non-numeric or zero OPENBLAS_NUM_THREADS or OMP_NUM_THREADS asks for no count: BLAS runs on one thread") {
  // (OpenBLAS reads such a value as every core; tide took it for a request and left every core on)
  for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"})
    for (const char* value : {"", "abc", "0"}) {
      INFO(var, "='", value, "'");
      const std::string env = std::string("TIDE_BLAS_THREADS='' ") + var + "='" + value + "'";
      CHECK(child_output(env, "the BLAS thread count from the environment (child)").find("blas threads: 1\n") != std::string::npos);
    }
}

TEST_CASE("a cache limit below a block's size sends that block back to the system") {
  cpu::empty_cache();
  cpu::set_cache_limit(64 * 1024);
  { Tensor small = Tensor::zeros(Shape{8, 1000}, DType::f32); }   // 32 KB: kept
  { Tensor large = Tensor::zeros(Shape{64, 1000}, DType::f32); }  // 256 KB: over the limit, released
  const cpu::MemoryCounters c = cpu::memory_counters();
  CHECK(c.cached_bytes > 0);
  CHECK(c.cached_bytes <= 64 * 1024);
  cpu::set_cache_limit(std::int64_t{1} << 30);
}

TEST_CASE("a full cache makes room for a freed block from the other classes, so a class a past pass filled does not keep out the rest") {
  // (after one pass filled the cache with blocks of one class, every other size went to the system: 0 hits)
  cpu::empty_cache();
  cpu::set_cache_limit(1024 * 1024);
  {
    std::vector<Tensor> large;
    for (int i = 0; i < 4; ++i) large.push_back(Tensor::zeros(Shape{64, 1024}, DType::f32));  // 256 KB each: the cache full
  }
  CHECK(cpu::memory_counters().cached_bytes == 1024 * 1024);
  { Tensor small = Tensor::zeros(Shape{16, 1024}, DType::f32); }  // 64 KB: a 256 KB block makes room
  const cpu::MemoryCounters before = cpu::memory_counters();
  CHECK(before.cached_bytes == 3 * 256 * 1024 + 64 * 1024);
  for (int i = 0; i < 10; ++i) { Tensor again = Tensor::zeros(Shape{16, 1024}, DType::f32); }
  const cpu::MemoryCounters after = cpu::memory_counters();
  CHECK(after.cache_hits == before.cache_hits + 10);
  CHECK(after.system_allocations == before.system_allocations);
  // room comes from the class used least recently, not the largest: 4 x 128 KB (older), then 2 x 256 KB; a 64 KB block
  // evicts a 128 KB one, and both 256 KB blocks are hits again
  cpu::empty_cache();
  const auto make_and_free = [](int count, std::int64_t rows) {
    std::vector<Tensor> blocks;
    for (int i = 0; i < count; ++i) blocks.push_back(Tensor::zeros(Shape{rows, 1024}, DType::f32));
  };
  make_and_free(4, 32);
  make_and_free(2, 64);
  make_and_free(1, 16);
  CHECK(cpu::memory_counters().cached_bytes == 3 * 128 * 1024 + 2 * 256 * 1024 + 64 * 1024);
  const std::int64_t hits = cpu::memory_counters().cache_hits;
  make_and_free(2, 64);
  CHECK(cpu::memory_counters().cache_hits == hits + 2);
  cpu::set_cache_limit(std::int64_t{1} << 30);
}

TEST_CASE("small blocks: a freed block serves the next request of its 16-byte class, up to the class's budget") {
  using namespace tide::small_blocks;
  void* a = allocate(200);
  CHECK(reinterpret_cast<std::uintptr_t>(a) % 16 == 0);
  deallocate(a, 200);
  void* b = allocate(193);  // same class (208 bytes)
#ifndef TIDE_SMALL_BLOCKS_OFF
  CHECK(b == a);
#endif
  deallocate(b, 193);
  // Freeing more than the budget keeps at most class_budget bytes of the class.
  const std::size_t before = cached_blocks();
  std::vector<void*> many(4000);
  for (void*& p : many) p = allocate(512);
  for (void* p : many) deallocate(p, 512);
#ifndef TIDE_SMALL_BLOCKS_OFF
  CHECK(cached_blocks() <= before + class_budget / 512);
  CHECK(cached_blocks() >= class_budget / 512);
#endif
  // cpu::empty_cache() hands the calling thread's cached blocks back
  cpu::empty_cache();
  CHECK(cached_blocks() == 0);
  // Requests above max_bytes and of 0 bytes are served too.
  void* big = allocate(max_bytes + 1);
  void* none = allocate(0);
  CHECK(big != nullptr);
  CHECK(none != nullptr);
  deallocate(big, max_bytes + 1);
  deallocate(none, 0);
}

TEST_CASE("small blocks: tensors made on other threads are freed here, and threads exit with blocks cached") {
  std::vector<Tensor> made(4);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([w, &made] {
      std::vector<Tensor> keep;
      for (int i = 1; i <= 300; ++i) keep.push_back(Tensor::full(Shape{i}, w + 1.0, DType::f32));  // 4 .. 1200 bytes
      keep.resize(150);  // the rest freed on this thread: cached here until it exits
      made[static_cast<std::size_t>(w)] = concat(keep, 0);
    });
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < 4; ++w) {
    const Tensor& t = made[static_cast<std::size_t>(w)];
    CHECK(t.shape()[0] == 150 * 151 / 2);
    CHECK(sum(t).item() == doctest::Approx((w + 1.0) * 150 * 151 / 2));
  }
  // Every small size keeps its values and alignment while blocks are recycled.
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> ts;
    for (int n = 1; n <= 256; ++n) {
      ts.push_back(Tensor::full(Shape{n}, static_cast<double>(n), DType::f32));
      CHECK(reinterpret_cast<std::uintptr_t>(ts.back().data<float>()) % 16 == 0);
    }
    for (int n = 1; n <= 256; ++n) CHECK(ts[static_cast<std::size_t>(n - 1)].to_vector()[static_cast<std::size_t>(n - 1)] == n);
  }
}
