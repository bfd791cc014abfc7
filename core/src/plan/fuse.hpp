// The plan's fusion pass (fuse.cpp).
#pragma once
#include "program.hpp"

namespace tide::detail {

struct FuseCounts {
  int chains = 0, ops = 0;
};
// Replaces runs of adjacent elementwise calls over one shape by Backend::elementwise calls.
FuseCounts fuse_elementwise(Program& program);

}  // namespace tide::detail
