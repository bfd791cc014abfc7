// The machine a benchmark runs on: CPU model and vector features, printed beside every figure.
#pragma once
#include <string>

namespace tide::cli {

struct CpuInfo {
  std::string model = "unknown";
  bool avx512f = false, avx2 = false, fma = false;
  std::string elementwise_clone = "default";  // which target clone core's elementwise kernels run
};

CpuInfo read_cpu_info();

}  // namespace tide::cli
