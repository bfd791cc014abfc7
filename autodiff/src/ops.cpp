// Var ops: compute with the tensor-level op, then record the node. Composites are plain code over
// the primitives.
#include "tide/autodiff/ops.hpp"
#include "tide/autodiff/composite.hpp"
#include "tide/autodiff/node.hpp"
#include <cmath>
#include <numeric>

namespace tide {

Var unary(Op op, const Var& x, double p0, double p1) {
  OpCall attrs;
  attrs.p0 = p0;
  attrs.p1 = p1;
  return record(op, tide::unary(op, x.value(), p0, p1), {&x}, std::move(attrs));
}

Var binary(Op op, const Var& a, const Var& b) {
  Tensor out = tide::binary(op, a.value(), b.value());
  if (op_info(op).kind == OpKind::compare) return Var(std::move(out));  // masks carry no gradient
  return record(op, std::move(out), {&a, &b});
}

Var where(const Var& cond, const Var& a, const Var& b) {
  return record(Op::where, tide::where(cond.value(), a.value(), b.value()), {&cond, &a, &b});
}

Var reduce(Op op, const Var& x, AxisSet axes, bool keepdim) {
  OpCall attrs;
  attrs.axes = axes & all_axes(x.rank());
  attrs.keepdim = keepdim;
  return record(op, tide::reduce(op, x.value(), attrs.axes, keepdim), {&x}, std::move(attrs));
}
Var mean(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) { return composite::mean(x, axes, keepdim); }
Var logsumexp(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) { return composite::logsumexp(x, axes, keepdim); }
Var log_softmax(const Var& x, std::int64_t axis) { return composite::log_softmax(x, axis); }
Var softmax(const Var& x, std::int64_t axis) { return composite::softmax(x, axis); }
Var sum_to(const Var& x, const Shape& shape) { return composite::sum_to(x, shape); }

Var matmul(const Var& a, const Var& b) {
  if (a.rank() == 1 || b.rank() == 1) {  // checked as given: the unsqueezed operands' error would name other shapes
    if (a.rank() == 0 || b.rank() == 0) fail("matmul: scalar operand ({} @ {})", a.shape().str(), b.shape().str());
    const std::int64_t k = a.shape().back(), bk = b.shape().back(b.rank() == 1 ? 1 : 2);
    if (k != bk) fail("matmul: inner extents differ: {} @ {} ({} vs {})", a.shape().str(), b.shape().str(), k, bk);
  }
  if (a.rank() == 1) return squeeze(matmul(unsqueeze(a, 0), b), b.rank() == 1 ? -1 : -2);
  if (b.rank() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  return record(Op::matmul, tide::matmul(a.value(), b.value()), {&a, &b});
}

Var reshape(const Var& x, const Shape& shape) {
  Tensor out = x.value().reshape(shape);
  if (out.shape() == x.shape()) return x;
  OpCall attrs;
  attrs.shape = out.shape();
  return record(Op::reshape, std::move(out), {&x}, std::move(attrs));
}
Var permute(const Var& x, const Shape& axes) {
  OpCall attrs;
  attrs.shape = axes;
  for (int i = 0; i < axes.rank(); ++i) attrs.shape[i] = normalize_axis(axes[i], x.rank(), "permute");
  return record(Op::permute, x.value().permute(axes), {&x}, std::move(attrs));
}
Var transpose(const Var& x, std::int64_t a, std::int64_t b) { return composite::transpose(x, a, b); }
Var unsqueeze(const Var& x, std::int64_t axis) { return composite::unsqueeze(x, axis); }
Var squeeze(const Var& x, std::int64_t axis) { return composite::squeeze(x, axis); }
Var flatten(const Var& x) { return composite::flatten(x); }

Var slice(const Var& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  const int a = normalize_axis(axis, x.rank(), "slice");
  Tensor out = x.value().slice(a, start, stop, step);
  OpCall attrs;
  attrs.axis = a;
  // store the normalised bounds so the adjoint sees the same elements
  const std::int64_t n = x.shape()[a];
  attrs.start = std::clamp<std::int64_t>(start < 0 ? start + n : start, 0, n);
  attrs.step = step;
  // one past the last element taken (no overflow for huge steps)
  const std::int64_t count = out.shape()[a];
  attrs.stop = count == 0 ? attrs.start : attrs.start + (count - 1) * step + 1;
  return record(Op::slice, std::move(out), {&x}, std::move(attrs));
}
Var select(const Var& x, std::int64_t axis, std::int64_t index) { return composite::select(x, axis, index); }
Var slice_scatter(const Var& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                  std::int64_t stop, std::int64_t step) {
  OpCall attrs;
  attrs.shape = shape;
  attrs.axis = normalize_axis(axis, shape.rank(), "slice_scatter");
  attrs.start = start;
  attrs.stop = stop;
  attrs.step = step;
  return record(Op::slice_scatter, tide::slice_scatter(src.value(), shape, axis, start, stop, step), {&src}, std::move(attrs));
}
Var broadcast_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OpCall attrs;
  attrs.shape = shape;
  return record(Op::broadcast_to, x.value().broadcast_to(shape), {&x}, std::move(attrs));
}
Var concat(const std::vector<Var>& parts, std::int64_t axis) {
  std::vector<Tensor> values;
  values.reserve(parts.size());
  for (const Var& p : parts) values.push_back(p.value());
  Tensor out = tide::concat(values, axis);
  OpCall attrs;
  attrs.axis = normalize_axis(axis, parts[0].rank(), "concat");
  return record(Op::concat, std::move(out), parts, std::move(attrs));
}
Var stack(const std::vector<Var>& parts, std::int64_t axis) { return composite::stack(parts, axis); }
std::vector<Var> split(const Var& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  return composite::split(x, sizes, axis);
}
Var index_select(const Var& x, std::int64_t axis, const Tensor& index) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpCall attrs;
  attrs.axis = normalize_axis(axis, x.rank(), "index_select");
  return record(Op::index_select, tide::index_select(x.value(), axis, index), {&x, &index_var}, std::move(attrs));
}
Var index_add(const Var& src, std::int64_t axis, const Tensor& index, std::int64_t size) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpCall attrs;
  attrs.axis = normalize_axis(axis, src.rank(), "index_add");
  attrs.stop = size;
  return record(Op::index_add, tide::index_add(src.value(), axis, index, size), {&src, &index_var}, std::move(attrs));
}
Var gather(const Var& x, std::int64_t axis, const Tensor& index) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpCall attrs;
  attrs.axis = normalize_axis(axis, x.rank(), "gather");
  return record(Op::gather, tide::gather(x.value(), axis, index), {&x, &index_var}, std::move(attrs));
}
Var scatter_add(const Var& src, std::int64_t axis, const Tensor& index, const Shape& shape) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpCall attrs;
  attrs.axis = normalize_axis(axis, src.rank(), "scatter_add");
  attrs.shape = shape;
  return record(Op::scatter_add, tide::scatter_add(src.value(), axis, index, shape), {&src, &index_var}, std::move(attrs));
}
Var cast(const Var& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  if (!is_floating(dtype)) fail("cast: differentiable values must stay floating, asked for {}", dtype_name(dtype));
  return record(Op::cast, tide::cast(x.value(), dtype), {&x});
}

Var mse_loss(const Var& prediction, const Var& target) { return composite::mse_loss(prediction, target); }
Var cross_entropy(const Var& logits, const Tensor& labels) { return composite::cross_entropy(logits, labels); }

Tensor softmax(const Tensor& x, std::int64_t axis) { return composite::softmax(x, axis); }
Tensor log_softmax(const Tensor& x, std::int64_t axis) { return composite::log_softmax(x, axis); }
Tensor mse_loss(const Tensor& prediction, const Tensor& target) { return composite::mse_loss(prediction, target); }
Tensor cross_entropy(const Tensor& logits, const Tensor& labels) { return composite::cross_entropy(logits, labels); }

}  // namespace tide
