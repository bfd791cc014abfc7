// `tide bench gpu`: an RK4 step of the MLP 64 -> 64 (tanh) -> 64 on the CUDA device at batch 256
// (eager, and replayed from a CUDA Graph) and at batch 65,536, the dynamics evaluation's achieved
// bandwidth and FLOP rate against the device's, and the same workloads in PyTorch eager when a
// Python with torch is there, for ratios measured in the same run; and the CfC, mmRNN and LTC
// training steps of `tide bench models --peers` on the GPU, eager against compiled cell steps.
#pragma once
#include <string>

namespace tide::cli {

struct BenchGpuOptions {
  bool json = false;
  int repeats = 7;
  std::string torch_script = "bench/torch_gpu.py";  // empty: do not run PyTorch
  std::string python = "python3";
};

int run_bench_gpu(const BenchGpuOptions& options);

}  // namespace tide::cli
