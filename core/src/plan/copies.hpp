// The plan's copy elision passes, and the fills that writes cover (copies.cpp).
#pragma once
#include "program.hpp"

namespace tide::detail {

// Removes copies of a whole temporary into part of another (concat, stack: a Jet's coefficient
// stack built from its orders) by having the temporary's writer write into that part directly.
// Returns how many copies went.
int elide_copies(Program& program);

// Removes copies of a block of a product (a slice of a matmul's output, the rest unread) by having
// the matmul compute that block alone, into the copy's destination. Returns how many copies went.
int narrow_products(Program& program);

// Removes fills of a whole temporary whose every element later calls overwrite before any call
// reads it (the zeros a split's gradient starts from, then written block by block by copies).
// Returns how many fills went.
int drop_covered_fills(Program& program);

}  // namespace tide::detail
