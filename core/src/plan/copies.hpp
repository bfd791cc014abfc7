// The plan's copy elision pass (copies.cpp).
#pragma once
#include "program.hpp"

namespace tide::detail {

// Removes copies of a whole temporary into part of another (concat, stack: a Jet's coefficient
// stack built from its orders) by having the temporary's writer write into that part directly.
// Returns how many copies went.
int elide_copies(Program& program);

}  // namespace tide::detail
