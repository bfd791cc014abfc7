// JetOp: one op of the core op table together with its attributes, the key under which a Taylor
// rule is looked up. apply_op() runs it on plain Vars (order-0 coefficients, linear ops on
// higher coefficients); the switch there has no default, so a new op without a case does not build.
#pragma once
#include "tide/autodiff/ops.hpp"
#include <vector>

namespace tide {

struct JetOp {
  Op op = Op::neg;
  double p0 = 0.0, p1 = 0.0;        // unary parameters
  AxisSet axes = 0;                 // reductions (normalised for the operand's rank)
  bool keepdim = false;
  Shape shape;                      // reshape, permute, broadcast_to, slice_scatter, scatter_add
  std::int64_t axis = 0, start = 0, stop = 0, step = 1;  // slice, concat, index ops (stop: index_add size)
  Tensor index;                     // index ops
  DType dtype = DType::f64;         // cast
};

// The op on plain values, recorded on the tape like any Var op.
Var apply_op(const JetOp& op, const std::vector<Var>& inputs);

// Linear in its differentiable inputs (every Taylor coefficient maps through the op itself).
bool is_linear(Op op);

}  // namespace tide
