// Tests that repeat, at a large size, code paths that smaller tests already cover. The sanitizer
// build in CI sets TIDE_SKIP_HEAVY=1 and skips them (with a message), which keeps CI within its
// time budget; the Release run executes them.
#pragma once
#include <doctest/doctest.h>
#include <cstdlib>

namespace tide::test {

inline bool skip_heavy() {
  if (!std::getenv("TIDE_SKIP_HEAVY")) return false;
  MESSAGE("skipped: TIDE_SKIP_HEAVY is set (a large-size case; the Release run executes it)");
  return true;
}

}  // namespace tide::test
