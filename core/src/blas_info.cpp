// OpenBLAS introspection and thread control (see blas.hpp).
#include "tide/core/blas.hpp"
#include "tide/core/error.hpp"
#include <cblas.h>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace tide {
bool blas_threads_requested() {
  return std::getenv("TIDE_BLAS_THREADS") || std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("OMP_NUM_THREADS");
}

namespace {
// TIDE_BLAS_THREADS as a count of decimal digits, 1 to 1024 (atoi read "abc", "-3" and "" as 0, which
// OpenBLAS takes as every core, and 99999 made 64 threads on two cores).
int threads_from_environment(const char* v) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v, &end, 10);
  if (!std::isdigit(static_cast<unsigned char>(*v)) || *end != '\0' || errno == ERANGE || n < 1 || n > 1024)
    fail("TIDE_BLAS_THREADS = '{}': expected a thread count of decimal digits, 1 to 1024", v);
  return static_cast<int>(n);
}
}  // namespace

void init_blas_threads() {
  if (const char* t = std::getenv("TIDE_BLAS_THREADS")) openblas_set_num_threads(threads_from_environment(t));
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
