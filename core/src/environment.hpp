// A count read from an environment variable (TIDE_CPU_CACHE_BYTES, TIDE_BLAS_THREADS).
#pragma once
#include "tide/core/error.hpp"
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace tide::detail {

// `value` (the variable `name`'s, non-empty) as decimal digits only, in [lo, hi]: strtoll alone would
// take leading spaces and a '+', and saturate past int64; atoi read "abc" as 0. Otherwise an error
// naming the variable, the value and `expected`.
inline std::int64_t environment_count(const char* name, const char* value, std::int64_t lo, std::int64_t hi, const char* expected) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(value, &end, 10);
  if (!std::isdigit(static_cast<unsigned char>(*value)) || *end != '\0' || errno == ERANGE || n < lo || n > hi)
    fail("{} = '{}': expected {}", name, value, expected);
  return n;
}

}  // namespace tide::detail
