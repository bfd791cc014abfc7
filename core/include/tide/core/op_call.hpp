// OpCall: one op of the op table with its attributes. A tape node keeps one for its backward rule
// (autodiff/node.hpp); Taylor mode runs one on plain values and looks up its Taylor rule by it
// (taylor/jet_op.hpp). Each op reads only the fields named for it.
#pragma once
#include "tide/core/op_table.hpp"
#include "tide/core/ops.hpp"

namespace tide {

struct OpCall {
  Op op = Op::neg;
  double p0 = 0.0, p1 = 0.0;  // unary parameters
  AxisSet axes = 0;           // reductions (normalised for the operand's rank)
  bool keepdim = false;
  Shape shape;                // reshape / broadcast_to / slice_scatter / scatter_add target, permutation
  std::int64_t axis = 0, start = 0, stop = 0, step = 1;  // slice, concat, index ops (stop: index_add's size)
  Tensor index;               // index ops in Taylor mode; the tape keeps the index as input 1 instead
  DType dtype = DType::f64;   // cast in Taylor mode; the tape reads it from the output
};

}  // namespace tide
