// OpenBLAS introspection and thread control (see blas.hpp).
#include "tide/core/blas.hpp"
#include "tide/core/error.hpp"
#include <cblas.h>
#include <cstdlib>

namespace tide {
bool blas_threads_requested() {
  return std::getenv("TIDE_BLAS_THREADS") || std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("OMP_NUM_THREADS");
}

void init_blas_threads() {
  if (const char* t = std::getenv("TIDE_BLAS_THREADS")) openblas_set_num_threads(std::atoi(t));
  else if (!blas_threads_requested()) openblas_set_num_threads(1);
}

BlasInfo blas_info() {
  BlasInfo info;
  info.library = openblas_get_config();
  info.core_type = openblas_get_corename();
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  info.coretype_env = env ? env : "";
  info.threads = openblas_get_num_threads();
  return info;
}

void set_blas_threads(int threads) {
  if (threads < 1) fail("set_blas_threads: thread count must be >= 1, got {}", threads);
  openblas_set_num_threads(threads);
}

}  // namespace tide
