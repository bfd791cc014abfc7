// apply_op: an OpCall on plain Vars, one case per op of the op table.
#include "tide/taylor/jet_op.hpp"

namespace tide {

Var apply_op(const OpCall& o, const std::vector<Var>& x) {
  switch (op_info(o.op).kind) {
    case OpKind::unary: return unary(o.op, x[0], o.p0, o.p1);
    case OpKind::binary: case OpKind::compare: return binary(o.op, x[0], x[1]);
    case OpKind::reduce: return reduce(o.op, x[0], o.axes, o.keepdim);
    case OpKind::shape: case OpKind::other: break;
  }
  switch (o.op) {
    case Op::where: return where(x[0], x[1], x[2]);
    case Op::matmul: return matmul(x[0], x[1]);
    case Op::reshape: return reshape(x[0], o.shape);
    case Op::permute: return permute(x[0], o.shape);
    case Op::slice: return slice(x[0], o.axis, o.start, o.stop, o.step);
    case Op::slice_scatter: return slice_scatter(x[0], o.shape, o.axis, o.start, o.stop, o.step);
    case Op::broadcast_to: return broadcast_to(x[0], o.shape);
    case Op::concat: return concat(x, o.axis);
    case Op::index_select: return index_select(x[0], o.axis, o.index);
    case Op::index_add: return index_add(x[0], o.axis, o.index, o.stop);
    case Op::gather: return gather(x[0], o.axis, o.index);
    case Op::scatter_add: return scatter_add(x[0], o.axis, o.index, o.shape);
    case Op::cast: return cast(x[0], o.dtype);
    // handled by kind above; listed instead of a default so a new shape or other op needs a case
    TIDE_UNARY_OPS(TIDE_OP_CASE) TIDE_UNARY_PARAM_OPS(TIDE_OP_CASE) TIDE_BINARY_OPS(TIDE_OP_CASE)
    TIDE_COMPARE_OPS(TIDE_OP_CASE) TIDE_REDUCE_OPS(TIDE_OP_CASE) break;
  }
  fail("internal: apply_op has no case for {}", op_name(o.op));
}

}  // namespace tide
