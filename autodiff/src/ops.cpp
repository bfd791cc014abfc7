// Var ops: compute with the tensor-level op, then record the node. Composites are plain code over
// the primitives.
#include "tide/autodiff/ops.hpp"
#include "tide/autodiff/node.hpp"
#include <cmath>
#include <numeric>

namespace tide {

Var unary(Op op, const Var& x, double p0, double p1) {
  OpAttrs attrs;
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
  OpAttrs attrs;
  attrs.axes = axes & all_axes(x.rank());
  attrs.keepdim = keepdim;
  return record(op, tide::reduce(op, x.value(), attrs.axes, keepdim), {&x}, std::move(attrs));
}
Var sum(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce(Op::sum, x, axis_set(axes, x.rank(), "sum"), keepdim);
}
Var max(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce(Op::max, x, axis_set(axes, x.rank(), "max"), keepdim);
}
Var min(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce(Op::min, x, axis_set(axes, x.rank(), "min"), keepdim);
}
Var mean(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const AxisSet set = axis_set(axes, x.rank(), "mean");
  std::int64_t count = 1;
  for (int i = 0; i < x.rank(); ++i)
    if (set & (1u << i)) count *= x.shape()[i];
  if (count == 0) fail("mean: reduction over an empty axis of {}", x.str());
  return reduce(Op::sum, x, set, keepdim) * (1.0 / static_cast<double>(count));
}
Var logsumexp(const Var& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  // y = m + log sum exp(x - m) with m = max(x) held constant: dy/dm = 0, so this is exact at any
  // derivative order, and stable.
  const AxisSet set = axis_set(axes, x.rank(), "logsumexp");
  Tensor m = tide::reduce(Op::max, x.value(), set, true);
  m = tide::where(tide::eq(tide::abs(m), Tensor::scalar(INFINITY, m.dtype(), m.device())),
                  Tensor::zeros(Shape{}, m.dtype(), m.device()), m);
  Var out = log(reduce(Op::sum, exp(x - Var(m)), set, true)) + Var(m);
  if (keepdim) return out;
  Shape dropped;
  for (int i = 0; i < x.rank(); ++i)
    if (!(set & (1u << i))) dropped.push_back(x.shape()[i]);
  return reshape(out, dropped);
}
Var log_softmax(const Var& x, std::int64_t axis) { return x - logsumexp(x, {axis}, true); }
Var softmax(const Var& x, std::int64_t axis) { return exp(log_softmax(x, axis)); }

Var sum_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (shape.rank() > x.rank()) fail("sum_to: cannot sum {} down to the higher rank {}", x.shape().str(), shape.str());
  const int lead = x.rank() - shape.rank();
  AxisSet axes = 0;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < lead) { axes |= 1u << i; continue; }
    const std::int64_t target = shape[i - lead];
    if (target == 1 && x.shape()[i] != 1) axes |= 1u << i;
    else if (target != x.shape()[i]) fail("sum_to: {} is not a broadcast of {}", x.shape().str(), shape.str());
  }
  return reshape(reduce(Op::sum, x, axes, true), shape);
}

Var matmul(const Var& a, const Var& b) {
  if (a.rank() == 1) return squeeze(matmul(unsqueeze(a, 0), b), b.rank() == 1 ? -1 : -2);
  if (b.rank() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  return record(Op::matmul, tide::matmul(a.value(), b.value()), {&a, &b});
}

Var reshape(const Var& x, const Shape& shape) {
  Tensor out = x.value().reshape(shape);
  if (out.shape() == x.shape()) return x;
  OpAttrs attrs;
  attrs.shape = out.shape();
  return record(Op::reshape, std::move(out), {&x}, std::move(attrs));
}
Var permute(const Var& x, const Shape& axes) {
  OpAttrs attrs;
  attrs.shape = axes;
  for (int i = 0; i < axes.rank(); ++i) attrs.shape[i] = normalize_axis(axes[i], x.rank(), "permute");
  return record(Op::permute, x.value().permute(axes), {&x}, std::move(attrs));
}
Var transpose(const Var& x, std::int64_t a, std::int64_t b) {
  const int ia = normalize_axis(a, x.rank(), "transpose"), ib = normalize_axis(b, x.rank(), "transpose");
  Shape axes = Shape::filled(x.rank(), 0);
  for (int i = 0; i < x.rank(); ++i) axes[i] = i;
  std::swap(axes[ia], axes[ib]);
  return permute(x, axes);
}
Var unsqueeze(const Var& x, std::int64_t axis) { return reshape(x, x.value().unsqueeze(axis).shape()); }
Var squeeze(const Var& x, std::int64_t axis) { return reshape(x, x.value().squeeze(axis).shape()); }
Var flatten(const Var& x) { return reshape(x, Shape{x.numel()}); }

Var slice(const Var& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  const int a = normalize_axis(axis, x.rank(), "slice");
  Tensor out = x.value().slice(a, start, stop, step);
  OpAttrs attrs;
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
Var select(const Var& x, std::int64_t axis, std::int64_t index) {
  const int a = normalize_axis(axis, x.rank(), "select");
  const std::int64_t n = x.shape()[a];
  if (index < -n || index >= n) fail("select: index {} out of range for axis {} of {}", index, a, x.shape().str());
  if (index < 0) index += n;
  return squeeze(slice(x, a, index, index + 1), a);
}
Var slice_scatter(const Var& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                  std::int64_t stop, std::int64_t step) {
  OpAttrs attrs;
  attrs.shape = shape;
  attrs.axis = normalize_axis(axis, shape.rank(), "slice_scatter");
  attrs.start = start;
  attrs.stop = stop;
  attrs.step = step;
  return record(Op::slice_scatter, tide::slice_scatter(src.value(), shape, axis, start, stop, step), {&src}, std::move(attrs));
}
Var broadcast_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OpAttrs attrs;
  attrs.shape = shape;
  return record(Op::broadcast_to, x.value().broadcast_to(shape), {&x}, std::move(attrs));
}
Var concat(const std::vector<Var>& parts, std::int64_t axis) {
  std::vector<Tensor> values;
  values.reserve(parts.size());
  for (const Var& p : parts) values.push_back(p.value());
  Tensor out = tide::concat(values, axis);
  OpAttrs attrs;
  attrs.axis = normalize_axis(axis, parts[0].rank(), "concat");
  return record(Op::concat, std::move(out), parts, std::move(attrs));
}
Var stack(const std::vector<Var>& parts, std::int64_t axis) {
  if (parts.empty()) fail("stack: no tensors given");
  std::vector<Var> expanded;
  expanded.reserve(parts.size());
  for (const Var& p : parts) expanded.push_back(unsqueeze(p, axis));
  return concat(expanded, axis);
}
std::vector<Var> split(const Var& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  const int a = normalize_axis(axis, x.rank(), "split");
  tide::split(x.value(), sizes, a);  // validates
  std::vector<Var> parts;
  std::int64_t at = 0;
  for (auto s : sizes) { parts.push_back(slice(x, a, at, at + s)); at += s; }
  return parts;
}
Var index_select(const Var& x, std::int64_t axis, const Tensor& index) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpAttrs attrs;
  attrs.axis = normalize_axis(axis, x.rank(), "index_select");
  return record(Op::index_select, tide::index_select(x.value(), axis, index), {&x, &index_var}, std::move(attrs));
}
Var index_add(const Var& src, std::int64_t axis, const Tensor& index, std::int64_t size) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpAttrs attrs;
  attrs.axis = normalize_axis(axis, src.rank(), "index_add");
  attrs.stop = size;
  return record(Op::index_add, tide::index_add(src.value(), axis, index, size), {&src, &index_var}, std::move(attrs));
}
Var gather(const Var& x, std::int64_t axis, const Tensor& index) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpAttrs attrs;
  attrs.axis = normalize_axis(axis, x.rank(), "gather");
  return record(Op::gather, tide::gather(x.value(), axis, index), {&x, &index_var}, std::move(attrs));
}
Var scatter_add(const Var& src, std::int64_t axis, const Tensor& index, const Shape& shape) {
  const Var index_var(index);  // a constant input: saved and version-checked
  OpAttrs attrs;
  attrs.axis = normalize_axis(axis, src.rank(), "scatter_add");
  attrs.shape = shape;
  return record(Op::scatter_add, tide::scatter_add(src.value(), axis, index, shape), {&src, &index_var}, std::move(attrs));
}
Var cast(const Var& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  if (!is_floating(dtype)) fail("cast: differentiable values must stay floating, asked for {}", dtype_name(dtype));
  return record(Op::cast, tide::cast(x.value(), dtype), {&x});
}

Var mse_loss(const Var& prediction, const Var& target) {
  if (!(prediction.shape() == target.shape()))
    fail("mse_loss: prediction {} and target {} differ in shape", prediction.shape().str(), target.shape().str());
  return mean(square(prediction - target));
}

Var cross_entropy(const Var& logits, const Tensor& labels) {
  if (logits.rank() != 2) fail("cross_entropy: logits must be [N, C], got {}", logits.shape().str());
  if (labels.dtype() != DType::i64 || labels.rank() != 1 || labels.numel() != logits.size(0))
    fail("cross_entropy: labels must be i64 [{}], got {}", logits.size(0), labels.str());
  const Var picked = gather(log_softmax(logits, 1), 1, labels.reshape(Shape{labels.numel(), 1}));
  return -mean(picked);
}

}  // namespace tide
