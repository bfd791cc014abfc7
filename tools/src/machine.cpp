#include "machine.hpp"
#include <fstream>

#if defined(__x86_64__) || defined(__i386__)
#define TIDE_BENCH_X86 1
#endif

namespace tide::cli {

CpuInfo read_cpu_info() {
  CpuInfo info;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto first = line.find_first_not_of(" \t", colon + 1);
    if (first != std::string::npos) info.model = line.substr(first);
    break;
  }
#ifdef TIDE_BENCH_X86
  __builtin_cpu_init();
  info.avx512f = __builtin_cpu_supports("avx512f");
  info.avx2 = __builtin_cpu_supports("avx2");
  info.fma = __builtin_cpu_supports("fma");
  // core/src/cpu/elementwise.cpp is built as target clones for x86-64-v4, x86-64-v3 and default.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
  if (__builtin_cpu_supports("x86-64-v4")) info.elementwise_clone = "x86-64-v4";
  else if (__builtin_cpu_supports("x86-64-v3")) info.elementwise_clone = "x86-64-v3";
#endif
#endif
  return info;
}

}  // namespace tide::cli
