// The plan's equal-value merging pass (values.cpp).
#pragma once
#include "program.hpp"

namespace tide::detail {

// Finds temporaries that hold the same value (made by the same pure kernel from the same views of
// the same values: the 1 - y^2 of a tanh that its backward computes again, a gradient's column
// sums taken twice) and has the later one's readers and outputs read the first instead, where one
// of the two is kept in memory anyway; the calls that made the later one become dead (drop them
// after). Elementwise values that neither keeps are left alone: computing them again in a fused
// pass costs less than keeping them. Outputs from shared_outputs_from on (PlanOptions) may come to
// return one buffer twice; the others may not. Returns how many temporaries were merged.
int merge_equal_values(Program& program, int shared_outputs_from);

}  // namespace tide::detail
