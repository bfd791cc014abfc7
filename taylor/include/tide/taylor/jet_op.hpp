// apply_op: one OpCall (an op of the core op table with its attributes, core/op_call.hpp) run on
// plain Vars: the order-0 coefficients, and linear ops on higher ones. The switch there has no
// default, so a new op without a case does not build.
#pragma once
#include "tide/autodiff/ops.hpp"
#include "tide/core/op_call.hpp"
#include <vector>

namespace tide {

// The op on plain values, recorded on the tape like any Var op.
Var apply_op(const OpCall& op, const std::vector<Var>& inputs);

}  // namespace tide
