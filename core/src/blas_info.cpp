// OpenBLAS introspection and thread control (see blas.hpp).
#include "tide/core/blas.hpp"
#include "tide/core/error.hpp"
#include "environment.hpp"
#include <cblas.h>
#include <cstdlib>

namespace tide {
namespace {
const char* tide_blas_threads() {  // (empty: as unset)
  const char* t = std::getenv("TIDE_BLAS_THREADS");
  return t && *t ? t : nullptr;
}

// Whether OpenBLAS takes a thread count from the variable: it reads the leading digits, and an
// empty, non-numeric or non-positive value as "every core", which is no request for one.
bool holds_thread_count(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strtol(v, nullptr, 10) > 0;
}
}  // namespace

bool blas_threads_requested() {
  return tide_blas_threads() || holds_thread_count("OPENBLAS_NUM_THREADS") || holds_thread_count("OMP_NUM_THREADS");
}

void init_blas_threads() {
  // (1024: a count past any machine's cores; atoi read "abc" and "-3" as 0, which OpenBLAS took as every core)
  if (const char* t = tide_blas_threads())
    openblas_set_num_threads(static_cast<int>(detail::environment_count("TIDE_BLAS_THREADS", t, 1, 1024, "a thread count of decimal digits, 1 to 1024")));
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
