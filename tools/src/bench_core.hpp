// `tide bench core`: the core-layer speed figures (per-op overhead of the tape, an elementwise
// kernel, small and large GEMM against direct BLAS and against the measured FMA peak), measured
// side by side in one run and printed with the BLAS and CPU settings they ran under.
#pragma once

namespace tide::cli {

struct BenchCoreOptions {
  bool json = false;  // one JSON object on stdout instead of the text table
  int repeats = 7;    // samples per figure; the median is reported
};

// Runs the benchmark and prints its report on stdout. Returns the process exit code.
int run_bench_core(const BenchCoreOptions& options);

}  // namespace tide::cli
