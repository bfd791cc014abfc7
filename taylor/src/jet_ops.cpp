// The Jet versions of the Var ops: each builds its OpCall and goes through jet_apply(); the
// composites are the shared templates of composite.hpp.
#include "tide/taylor/jet_ops.hpp"
#include "tide/autodiff/composite.hpp"
#include "jet_access.hpp"

namespace tide {

using detail::JetAccess;

namespace {
OpCall op_of(Op op) {
  OpCall o;
  o.op = op;
  return o;
}
}  // namespace

Jet unary(Op op, const Jet& x, double p0, double p1) {
  OpCall o = op_of(op);
  o.p0 = p0;
  o.p1 = p1;
  return jet_apply(o, {x});
}
Jet binary(Op op, const Jet& a, const Jet& b) { return jet_apply(op_of(op), {a, b}); }
Jet where(const Jet& cond, const Jet& a, const Jet& b) {
  if (cond.levels() > 0 || JetAccess::trace_slot(cond) >= 0) return jet_apply(op_of(Op::where), {cond.detach(), a, b});
  return jet_apply(op_of(Op::where), {cond, a, b});
}

Jet reduce(Op op, const Jet& x, AxisSet axes, bool keepdim) {
  OpCall o = op_of(op);
  o.axes = axes & all_axes(x.rank());
  o.keepdim = keepdim;
  return jet_apply(o, {x});
}
Jet mean(const Jet& x, const std::vector<std::int64_t>& axes, bool keepdim) { return composite::mean(x, axes, keepdim); }
Jet logsumexp(const Jet& x, const std::vector<std::int64_t>& axes, bool keepdim) { return composite::logsumexp(x, axes, keepdim); }
Jet softmax(const Jet& x, std::int64_t axis) { return composite::softmax(x, axis); }
Jet log_softmax(const Jet& x, std::int64_t axis) { return composite::log_softmax(x, axis); }
Jet sum_to(const Jet& x, const Shape& shape) { return composite::sum_to(x, shape); }

Jet matmul(const Jet& a, const Jet& b) { return jet_apply(op_of(Op::matmul), {a, b}); }

Jet reshape(const Jet& x, const Shape& shape) {
  OpCall o = op_of(Op::reshape);
  o.shape = x.primal().value().reshape(shape).shape();  // validates and resolves -1
  if (o.shape == x.shape()) return x;
  return jet_apply(o, {x});
}
Jet permute(const Jet& x, const Shape& axes) {
  OpCall o = op_of(Op::permute);
  o.shape = axes;
  for (int i = 0; i < axes.rank(); ++i) o.shape[i] = normalize_axis(axes[i], x.rank(), "permute");
  x.primal().value().permute(o.shape);  // validates
  return jet_apply(o, {x});
}
Jet transpose(const Jet& x, std::int64_t a, std::int64_t b) { return composite::transpose(x, a, b); }
Jet unsqueeze(const Jet& x, std::int64_t axis) { return composite::unsqueeze(x, axis); }
Jet squeeze(const Jet& x, std::int64_t axis) { return composite::squeeze(x, axis); }
Jet flatten(const Jet& x) { return composite::flatten(x); }
Jet slice(const Jet& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  OpCall o = op_of(Op::slice);
  o.axis = axis;
  o.start = start;
  o.stop = stop;
  o.step = step;
  return jet_apply(o, {x});
}
Jet select(const Jet& x, std::int64_t axis, std::int64_t index) { return composite::select(x, axis, index); }
Jet slice_scatter(const Jet& src, const Shape& shape, std::int64_t axis, std::int64_t start, std::int64_t stop,
                  std::int64_t step) {
  OpCall o = op_of(Op::slice_scatter);
  o.shape = shape;
  o.axis = axis;
  o.start = start;
  o.stop = stop;
  o.step = step;
  return jet_apply(o, {src});
}
Jet broadcast_to(const Jet& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OpCall o = op_of(Op::broadcast_to);
  o.shape = shape;
  x.primal().value().broadcast_to(shape);  // validates
  return jet_apply(o, {x});
}
Jet concat(const std::vector<Jet>& parts, std::int64_t axis) {
  if (parts.empty()) fail("concat: no tensors given");
  OpCall o = op_of(Op::concat);
  o.axis = axis;
  return jet_apply(o, parts);
}
Jet stack(const std::vector<Jet>& parts, std::int64_t axis) { return composite::stack(parts, axis); }
std::vector<Jet> split(const Jet& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  return composite::split(x, sizes, axis);
}
Jet index_select(const Jet& x, std::int64_t axis, const Tensor& index) {
  OpCall o = op_of(Op::index_select);
  o.axis = axis;
  o.index = index;
  return jet_apply(o, {x});
}
Jet index_add(const Jet& src, std::int64_t axis, const Tensor& index, std::int64_t size) {
  OpCall o = op_of(Op::index_add);
  o.axis = axis;
  o.index = index;
  o.stop = size;
  return jet_apply(o, {src});
}
Jet gather(const Jet& x, std::int64_t axis, const Tensor& index) {
  OpCall o = op_of(Op::gather);
  o.axis = axis;
  o.index = index;
  return jet_apply(o, {x});
}
Jet scatter_add(const Jet& src, std::int64_t axis, const Tensor& index, const Shape& shape) {
  OpCall o = op_of(Op::scatter_add);
  o.axis = axis;
  o.index = index;
  o.shape = shape;
  return jet_apply(o, {src});
}
Jet cast(const Jet& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  OpCall o = op_of(Op::cast);
  o.dtype = dtype;
  return jet_apply(o, {x});
}

Jet mse_loss(const Jet& prediction, const Jet& target) { return composite::mse_loss(prediction, target); }
Jet cross_entropy(const Jet& logits, const Tensor& labels) { return composite::cross_entropy(logits, labels); }

}  // namespace tide
