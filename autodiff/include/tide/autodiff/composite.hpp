// Composite functions written once over any value type T that has the primitive ops (Var for the
// tape, Jet for Taylor mode): mean, logsumexp, softmax, shape helpers and the losses. Because they
// are built from primitives, they are differentiable to any order and Taylor-expandable with no
// rule of their own. T must provide shape(), rank() and value_of(T) (the order-0 value).
#pragma once
#include "tide/core/error.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>
#include <cmath>
#include <vector>

namespace tide::composite {

// A plain tensor is its own value (the Tensor overloads of softmax and the losses in ops.hpp).
inline const Tensor& value_of(const Tensor& x) { return x; }

template <class T> T mean(const T& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const AxisSet set = axis_set(axes, x.rank(), "mean");
  check_nonempty_axes(value_of(x), set, "mean");
  return reduce(Op::sum, x, set, keepdim) * mean_factor(x.shape(), set);
}

template <class T> T logsumexp(const T& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  // y = m + log sum exp(x - m) with m = max(x) held constant: dy/dm = 0, so this is exact at any
  // derivative order, and stable.
  const AxisSet set = axis_set(axes, x.rank(), "logsumexp");
  check_nonempty_axes(value_of(x), set, "logsumexp");
  Tensor m = tide::reduce(Op::max, value_of(x), set, true);
  m = tide::where(tide::eq(tide::abs(m), Tensor::scalar(INFINITY, m.dtype(), m.device())),
                  Tensor::zeros(Shape{}, m.dtype(), m.device()), m);
  const T shift{Var(m)};
  T out = log(reduce(Op::sum, exp(x - shift), set, true)) + shift;
  if (keepdim) return out;
  Shape dropped;
  for (int i = 0; i < x.rank(); ++i)
    if (!(set & (1u << i))) dropped.push_back(x.shape()[i]);
  return reshape(out, dropped);
}
// The axis a softmax normalises over, checked in op's name: in range and not empty.
inline std::int64_t softmax_axis(const Tensor& x, std::int64_t axis, const char* op) {
  const int a = normalize_axis(axis, x.rank(), op);
  check_nonempty_axes(x, AxisSet(1u << a), op);
  return a;
}
template <class T> T log_softmax(const T& x, std::int64_t axis) {
  return x - logsumexp(x, {softmax_axis(value_of(x), axis, "log_softmax")}, true);
}
template <class T> T softmax(const T& x, std::int64_t axis) {
  return exp(x - logsumexp(x, {softmax_axis(value_of(x), axis, "softmax")}, true));
}

template <class T> T sum_to(const T& x, const Shape& shape) {
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

template <class T> T transpose(const T& x, std::int64_t a, std::int64_t b) {
  const int ia = normalize_axis(a, x.rank(), "transpose"), ib = normalize_axis(b, x.rank(), "transpose");
  Shape axes = Shape::filled(x.rank(), 0);
  for (int i = 0; i < x.rank(); ++i) axes[i] = i;
  std::swap(axes[ia], axes[ib]);
  return permute(x, axes);
}

inline Shape unsqueezed(const Shape& s, std::int64_t axis) {
  const int a = normalize_axis(axis, s.rank() + 1, "unsqueeze");
  Shape out;
  for (int i = 0; i < s.rank() + 1; ++i) out.push_back(i == a ? 1 : s[i < a ? i : i - 1]);
  return out;
}
inline Shape squeezed(const Shape& s, std::int64_t axis) {
  const int a = normalize_axis(axis, s.rank(), "squeeze");
  if (s[a] != 1) fail("squeeze: axis {} of {} has size {}, not 1", a, s.str(), s[a]);
  Shape out;
  for (int i = 0; i < s.rank(); ++i)
    if (i != a) out.push_back(s[i]);
  return out;
}
template <class T> T unsqueeze(const T& x, std::int64_t axis) { return reshape(x, unsqueezed(x.shape(), axis)); }
template <class T> T squeeze(const T& x, std::int64_t axis) { return reshape(x, squeezed(x.shape(), axis)); }
template <class T> T flatten(const T& x) { return reshape(x, Shape{x.shape().numel()}); }

template <class T> T select(const T& x, std::int64_t axis, std::int64_t index) {
  const int a = normalize_axis(axis, x.rank(), "select");
  const std::int64_t n = x.shape()[a];
  if (index < -n || index >= n) fail("select: index {} out of range for axis {} of {}", index, a, x.shape().str());
  if (index < 0) index += n;
  return squeeze(slice(x, a, index, index + 1, 1), a);
}

template <class T> T stack(const std::vector<T>& parts, std::int64_t axis) {
  if (parts.empty()) fail("stack: no tensors given");
  // checked here: concat would name the unsqueezed shapes, unsqueeze the axis for one rank more
  const T& first = parts[0];
  normalize_axis(axis, first.rank() + 1, "stack");
  for (std::size_t i = 1; i < parts.size(); ++i)
    if (!(parts[i].shape() == first.shape()) || parts[i].dtype() != first.dtype())
      fail("stack: part {} is {} but part 0 is {}: stack takes equal shapes and dtypes", i, value_of(parts[i]).str(),
           value_of(first).str());
  std::vector<T> expanded;
  expanded.reserve(parts.size());
  for (const T& p : parts) expanded.push_back(unsqueeze(p, axis));
  return concat(expanded, axis);
}

template <class T> std::vector<T> split(const T& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  const int a = normalize_axis(axis, x.rank(), "split");
  check_split_sizes(x.shape(), a, sizes);
  std::vector<T> parts;
  std::int64_t at = 0;
  for (auto s : sizes) { parts.push_back(slice(x, a, at, at + s, 1)); at += s; }
  return parts;
}

template <class T> T mse_loss(const T& prediction, const T& target) {
  if (!(prediction.shape() == target.shape()) || prediction.dtype() != target.dtype())
    fail("mse_loss: prediction {} and target {} differ in shape or dtype", value_of(prediction).str(), value_of(target).str());
  if (prediction.shape().numel() == 0)
    fail("mse_loss: prediction and target {} are empty: no elements to average", value_of(prediction).str());
  return mean(square(prediction - target), {}, false);
}

// Every label of a host tensor in [0, classes). On a device, gather's kernel reports one outside
// (asynchronously, in gather's name): reading them here would stall the stream.
inline void check_labels(const Tensor& labels, std::int64_t classes) {
  if (labels.device() != Device::cpu()) return;
  const Tensor dense = labels.contiguous();
  const std::int64_t* p = dense.data<std::int64_t>();
  for (std::int64_t i = 0; i < dense.numel(); ++i)
    if (p[i] < 0 || p[i] >= classes)
      fail("cross_entropy: label {} at position {} is out of range [0, {}) (the logits' class count)", p[i], i, classes);
}

// Mean cross-entropy of logits [N, C] against class indices (i64 [N]).
template <class T> T cross_entropy(const T& logits, const Tensor& labels) {
  if (logits.rank() != 2) fail("cross_entropy: logits must be [N, C], got {}", logits.shape().str());
  if (labels.dtype() != DType::i64 || labels.rank() != 1 || labels.numel() != logits.shape()[0])
    fail("cross_entropy: labels must be i64 [{}], got {}", logits.shape()[0], labels.str());
  if (logits.shape()[0] == 0 || logits.shape()[1] == 0)
    fail("cross_entropy: logits {} hold no samples or no classes (N and C must be positive)", value_of(logits).str());
  check_labels(labels, logits.shape()[1]);
  const T picked = gather(log_softmax(logits, 1), 1, labels.reshape(Shape{labels.numel(), 1}));
  return -mean(picked, {}, false);
}

}  // namespace tide::composite
