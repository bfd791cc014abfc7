// OpCall: one op of the op table with its attributes. A built-in op's tape node keeps its OpAttrs
// for its backward rule (autodiff/node.hpp); Taylor mode runs a whole OpCall on plain values and
// looks up its Taylor rule by it (taylor/jet_op.hpp). Each op reads only the fields named for it.
#pragma once
#include "tide/core/op_table.hpp"
#include "tide/core/ops.hpp"

namespace tide {

// The attributes a backward rule reads: what a tape node keeps (an index op's index is its input 1
// there, and a cast's dtype that of its output).
struct OpAttrs {
  Op op = Op::neg;
  double p0 = 0.0, p1 = 0.0;  // unary parameters
  AxisSet axes = 0;           // reductions (normalised for the operand's rank)
  bool keepdim = false;
  Shape shape;                // reshape / broadcast_to / slice_scatter / scatter_add target, permutation
  std::int64_t axis = 0, start = 0, stop = 0, step = 1;  // slice, concat, index ops (stop: index_add's size)
};

struct OpCall : OpAttrs {
  Tensor index;               // index ops in Taylor mode
  DType dtype = DType::f64;   // cast in Taylor mode
};

}  // namespace tide
