// BLAS settings: which library, which kernel set (core type) and how many threads. Benchmarks print
// these because they change GEMM throughput by 2-3x. tide runs BLAS single-threaded unless the
// user sets TIDE_BLAS_THREADS, OPENBLAS_NUM_THREADS or OMP_NUM_THREADS (the last two to a positive
// count: OpenBLAS reads an empty or non-numeric value as every core): the GEMMs of small ODE
// models are faster on one thread (see docs/benchmarks.md).
#pragma once
#include <string>

namespace tide {

struct BlasInfo {
  std::string library;    // e.g. "OpenBLAS 0.3.21 ..."
  std::string core_type;  // the kernel set OpenBLAS chose, e.g. "Haswell", "SkylakeX", "Zen"
  std::string coretype_env;  // OPENBLAS_CORETYPE as set in the environment ("" if unset)
  int threads = 1;
};

BlasInfo blas_info();
void set_blas_threads(int threads);
// Whether the environment asks for a BLAS thread count (TIDE_BLAS_THREADS set and not empty, or one
// of the other two holding a positive count).
bool blas_threads_requested();
// Applies the default thread policy above; the CPU backend calls it once when first used.
void init_blas_threads();

}  // namespace tide
