// Tensor-level ops: validation, output allocation and dispatch to the device's backend.
#include "tide/core/ops.hpp"
#include "tide/core/backend.hpp"
#include <cmath>
#include <fmt/ranges.h>

namespace tide {

namespace detail {
void fail_floating(const Tensor& x, const char* op) {
  if (!x.defined())
    fail("{}: undefined tensor (a value that was never set: a default-constructed one, or a result its "
         "producer did not compute, such as Solution::taylor with regularisers.taylor_order = 0)", op);
  fail("{}: expected a floating tensor (f32 or f64), got {}", op, x.str());
}
void fail_same_device(const Tensor& a, const Tensor& b, const char* op) {
  fail("{}: tensors on different devices: {} on {} and {} on {}", op, a.str(), a.device().str(), b.str(), b.device().str());
}
void fail_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  fail("{}: dtype mismatch: {} and {} (convert one with cast/to)", op, a.str(), b.str());
}
}  // namespace detail
void check_finite_scalar(double value, const char* op, const char* what) {
  if (!std::isfinite(value)) fail("{}: {} must be finite, got {}", op, what, value);
}

AxisSet axis_set(const std::vector<std::int64_t>& axes, int rank, const char* op) {
  if (axes.empty()) return all_axes(rank);
  AxisSet set = 0;
  for (auto a : axes) {
    const int i = normalize_axis(a, rank, op);
    if (set & (1u << i)) fail("{}: axis {} given twice", op, i);
    set |= 1u << i;
  }
  return set;
}


void check_unary_parameters(Op op, double p0, double p1) {
  const char* name = op_name(op).data();
  switch (op) {
    case Op::pow_scalar: check_finite_scalar(p0, name, "the exponent"); break;
    case Op::add_scalar: case Op::mul_scalar: check_finite_scalar(p0, name, "the scalar"); break;
    case Op::leaky_relu: check_finite_scalar(p0, name, "the slope"); break;
    case Op::elu: check_finite_scalar(p0, name, "alpha"); break;
    case Op::clamp:
      if (std::isnan(p0) || std::isnan(p1) || p0 > p1) fail("clamp: bounds [{}, {}] are not an interval", p0, p1);
      break;
    default: break;
  }
}

Tensor unary(Op op, const Tensor& x, double p0, double p1) {
  const char* name = op_name(op).data();
  if (op_info(op).kind != OpKind::unary) fail("unary: {} is not a unary op", name);
  check_floating(x, name);
  check_unary_parameters(op, p0, p1);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  x.backend().unary(op, x, out, p0, p1);
  return out;
}

Tensor binary(Op op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op).data();
  const OpKind kind = op_info(op).kind;
  if (kind != OpKind::binary && kind != OpKind::compare) fail("binary: {} is not a binary op", name);
  check_floating(a, name);
  check_floating(b, name);
  check_same_device(a, b, name);
  check_same_dtype(a, b, name);
  if (a.shape() == b.shape()) {
    Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
    a.backend().binary(op, a, b, out);
    return out;
  }
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  a.backend().binary(op, a.broadcast_to(shape), b.broadcast_to(shape), out);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_floating(cond, "where");
  check_floating(a, "where");
  check_floating(b, "where");
  check_same_device(a, b, "where");
  check_same_device(a, cond, "where");
  check_same_dtype(a, b, "where");
  check_same_dtype(a, cond, "where");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  a.backend().where(cond.broadcast_to(shape), a.broadcast_to(shape), b.broadcast_to(shape), out);
  return out;
}

Tensor reduce(Op op, const Tensor& x, AxisSet axes, bool keepdim) {
  const char* name = op_name(op).data();
  if (op_info(op).kind != OpKind::reduce) fail("reduce: {} is not a reduction", name);
  check_floating(x, name);
  axes &= all_axes(x.rank());
  Shape kept = x.shape(), dropped;
  for (int i = 0; i < x.rank(); ++i) {
    if (axes & (1u << i)) {
      if (x.shape()[i] == 0 && op != Op::sum) fail("{}: reduction over the empty axis {} of {}", name, i, x.str());
      kept[i] = 1;
    } else {
      dropped.push_back(x.shape()[i]);
    }
  }
  Tensor out = Tensor::empty(kept, x.dtype(), x.device());
  if (axes == 0) x.backend().copy(x, out);
  else x.backend().reduce(op, x, axes, out);
  return keepdim ? out : out.reshape(dropped);
}

void check_nonempty_axes(const Tensor& x, AxisSet axes, const char* op) {
  for (int i = 0; i < x.rank(); ++i)
    if ((axes & (1u << i)) && x.shape()[i] == 0) fail("{}: reduction over the empty axis {} of {}", op, i, x.str());
}

double mean_factor(const Shape& shape, AxisSet axes) {
  std::int64_t count = 1;
  for (int i = 0; i < shape.rank(); ++i)
    if ((axes & (1u << i)) && __builtin_mul_overflow(count, shape[i], &count)) return 1.0;
  return 1.0 / static_cast<double>(count);
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const AxisSet set = axis_set(axes, x.rank(), "mean");
  check_nonempty_axes(x, set, "mean");
  return mul_scalar(reduce(Op::sum, x, set, keepdim), mean_factor(x.shape(), set));
}
Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const AxisSet set = axis_set(axes, x.rank(), "logsumexp");
  check_nonempty_axes(x, set, "logsumexp");
  Tensor m = reduce(Op::max, x, set, true);
  // A row of -inf (or +inf) would give inf - inf; shift by zero there instead.
  m = where(eq(abs(m), Tensor::scalar(INFINITY, m.dtype(), m.device())), Tensor::zeros(Shape{}, m.dtype(), m.device()), m);
  Tensor s = log(reduce(Op::sum, exp(sub(x, m)), set, true));
  Tensor out = add(s, m);
  if (keepdim) return out;
  Shape dropped;
  for (int i = 0; i < x.rank(); ++i)
    if (!(set & (1u << i))) dropped.push_back(x.shape()[i]);
  return out.reshape(dropped);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
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
  return reduce(Op::sum, x, axes, true).reshape(shape);
}

namespace {
// [m, k] @ [k, n], no batch axes: nothing to broadcast. Its own function, so that `out` is built in
// the caller's return slot (matmul's other path returns another tensor, which rules out NRVO there).
Tensor plain_matmul(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(Shape{a.shape()[0], b.shape()[1]}, a.dtype(), a.device());
  a.backend().matmul(a, b, out);
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_floating(a_in, "matmul");
  check_floating(b_in, "matmul");
  check_same_device(a_in, b_in, "matmul");
  check_same_dtype(a_in, b_in, "matmul");
  if (a_in.rank() == 0 || b_in.rank() == 0) fail("matmul: scalar operand ({} @ {})", a_in.shape().str(), b_in.shape().str());
  if (a_in.rank() == 2 && b_in.rank() == 2 && a_in.shape()[1] == b_in.shape()[0]) return plain_matmul(a_in, b_in);
  const Tensor a = a_in.rank() == 1 ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_in.rank() == 1 ? b_in.unsqueeze(1) : b_in;
  const std::int64_t m = a.shape().back(2), k = a.shape().back(1), n = b.shape().back(1);
  if (b.shape().back(2) != k)
    fail("matmul: inner extents differ: {} @ {} ({} vs {})", a_in.shape().str(), b_in.shape().str(), k, b.shape().back(2));
  Shape batch_a, batch_b;
  for (int i = 0; i < a.rank() - 2; ++i) batch_a.push_back(a.shape()[i]);
  for (int i = 0; i < b.rank() - 2; ++i) batch_b.push_back(b.shape()[i]);
  Shape shape;
  try {
    shape = broadcast_shapes(batch_a, batch_b, "matmul");
  } catch (const Error&) {
    fail("matmul: batch axes of {} and {} cannot be broadcast together", a_in.shape().str(), b_in.shape().str());
  }
  Shape sa = shape, sb = shape;
  sa.push_back(m); sa.push_back(k);
  sb.push_back(k); sb.push_back(n);
  shape.push_back(m); shape.push_back(n);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  a.backend().matmul(a.broadcast_to(sa), b.broadcast_to(sb), out);
  if (a_in.rank() == 1) out = out.squeeze(-2);
  if (b_in.rank() == 1) out = out.squeeze(-1);
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis) {
  if (parts.empty()) fail("concat: no tensors given");
  const Tensor& first = parts[0];
  if (first.rank() == 0) fail("concat: cannot concatenate rank-0 tensors (unsqueeze them first)");
  const int a = normalize_axis(axis, first.rank(), "concat");
  Shape shape = first.shape();
  shape[a] = 0;
  for (const Tensor& p : parts) {
    check_same_device(first, p, "concat");
    check_same_dtype(first, p, "concat");
    bool ok = p.rank() == first.rank();
    for (int i = 0; ok && i < p.rank(); ++i) ok = i == a || p.shape()[i] == first.shape()[i];
    if (!ok) fail("concat: shapes {} and {} differ outside axis {}", first.shape().str(), p.shape().str(), a);
    if (__builtin_add_overflow(shape[a], p.shape()[a], &shape[a]))
      fail("concat: the extents along axis {} add up past a 64-bit integer (a part of shape {})", a, p.shape().str());
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::int64_t at = 0;
  for (const Tensor& p : parts) {
    first.backend().copy(p, out.slice(a, at, at + p.shape()[a]));
    at += p.shape()[a];
  }
  return out;
}

void check_split_sizes(const Shape& shape, int axis, const std::vector<std::int64_t>& sizes) {
  std::int64_t total = 0;
  for (auto s : sizes) {
    if (s < 0) fail("split: negative size {} in sizes [{}] (axis {} of {})", s, fmt::join(sizes, ", "), axis, shape.str());
    if (__builtin_add_overflow(total, s, &total))
      fail("split: sizes [{}] add up past a 64-bit integer (axis {} of {} has extent {})", fmt::join(sizes, ", "), axis,
           shape.str(), shape[axis]);
  }
  if (total != shape[axis]) fail("split: sizes add up to {} but axis {} of {} has extent {}", total, axis, shape.str(), shape[axis]);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  const int a = normalize_axis(axis, x.rank(), "split");
  check_split_sizes(x.shape(), a, sizes);
  std::vector<Tensor> parts;
  std::int64_t at = 0;
  for (auto s : sizes) { parts.push_back(x.slice(a, at, at + s)); at += s; }
  return parts;
}

namespace {
void check_index(const Tensor& index, const char* op) {
  if (!index.defined()) fail("{}: undefined index tensor", op);
  if (index.dtype() != DType::i64) fail("{}: index tensor must be i64, got {}", op, index.str());
}
// The shape of a result the caller names, checked in op's name (Tensor::empty would name itself).
void check_result_shape(const Shape& shape, const char* op) {
  for (int i = 0; i < shape.rank(); ++i)
    if (shape[i] < 0) fail("{}: the result shape {} has a negative extent", op, shape.str());
}
}  // namespace

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_floating(x, "index_select");
  check_index(index, "index_select");
  check_same_device(x, index, "index_select");
  if (index.rank() != 1) fail("index_select: index must be 1-d, got shape {}", index.shape().str());
  const int a = normalize_axis(axis, x.rank(), "index_select");
  Shape shape = x.shape();
  shape[a] = index.numel();
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  x.backend().index_select(x, a, index.contiguous(), out);
  return out;
}

Tensor index_add(const Tensor& src, std::int64_t axis, const Tensor& index, std::int64_t size) {
  check_floating(src, "index_add");
  check_index(index, "index_add");
  check_same_device(src, index, "index_add");
  const int a = normalize_axis(axis, src.rank(), "index_add");
  if (index.rank() != 1 || index.numel() != src.shape()[a])
    fail("index_add: index of shape {} does not match axis {} of {}", index.shape().str(), a, src.shape().str());
  if (size < 0) fail("index_add: negative size {} (the result's extent along axis {})", size, a);
  Shape shape = src.shape();
  shape[a] = size;
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  src.backend().index_add(src, a, index.contiguous(), out);
  return out;
}

namespace {
void check_gather_shapes(const Shape& data, const Shape& index, int axis, const char* op) {
  bool ok = data.rank() == index.rank();
  for (int i = 0; ok && i < data.rank(); ++i) ok = i == axis || data[i] == index[i];
  if (!ok) fail("{}: index shape {} must equal data shape {} outside axis {}", op, index.str(), data.str(), axis);
}
}  // namespace

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_floating(x, "gather");
  check_index(index, "gather");
  check_same_device(x, index, "gather");
  const int a = normalize_axis(axis, x.rank(), "gather");
  check_gather_shapes(x.shape(), index.shape(), a, "gather");
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  x.backend().gather(x, a, index.contiguous(), out);
  return out;
}

Tensor scatter_add(const Tensor& src, std::int64_t axis, const Tensor& index, const Shape& shape) {
  check_floating(src, "scatter_add");
  check_index(index, "scatter_add");
  check_same_device(src, index, "scatter_add");
  const int a = normalize_axis(axis, src.rank(), "scatter_add");
  if (!(src.shape() == index.shape())) fail("scatter_add: src {} and index {} differ in shape", src.shape().str(), index.shape().str());
  check_gather_shapes(shape, index.shape(), a, "scatter_add");
  check_result_shape(shape, "scatter_add");
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  src.backend().scatter_add(src, a, index.contiguous(), out);
  return out;
}

Tensor slice_scatter(const Tensor& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                     std::int64_t stop, std::int64_t step) {
  check_floating(src, "slice_scatter");
  check_result_shape(shape, "slice_scatter");
  normalize_axis(axis, shape.rank(), "slice_scatter");
  if (step <= 0) fail("slice_scatter: step must be positive, got {}", step);
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  Tensor view = out.slice(axis, start, stop, step);
  if (!(view.shape() == src.shape()))
    fail("slice_scatter: source {} does not fit slice {} of {}", src.shape().str(), view.shape().str(), shape.str());
  src.backend().copy(src, view);
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  if (!x.defined()) fail("cast: undefined tensor");
  return x.to(dtype);
}

}  // namespace tide
