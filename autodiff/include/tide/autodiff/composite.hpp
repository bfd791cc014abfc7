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

template <class T> T mean(const T& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const AxisSet set = axis_set(axes, x.rank(), "mean");
  std::int64_t count = 1;
  for (int i = 0; i < x.rank(); ++i)
    if (set & (1u << i)) count *= x.shape()[i];
  if (count == 0) fail("mean: reduction over an empty axis of {}", x.shape().str());
  return reduce(Op::sum, x, set, keepdim) * (1.0 / static_cast<double>(count));
}

template <class T> T logsumexp(const T& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  // y = m + log sum exp(x - m) with m = max(x) held constant: dy/dm = 0, so this is exact at any
  // derivative order, and stable.
  const AxisSet set = axis_set(axes, x.rank(), "logsumexp");
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
template <class T> T log_softmax(const T& x, std::int64_t axis) { return x - logsumexp(x, {axis}, true); }
template <class T> T softmax(const T& x, std::int64_t axis) { return exp(log_softmax(x, axis)); }

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
  if (!(prediction.shape() == target.shape()))
    fail("mse_loss: prediction {} and target {} differ in shape", prediction.shape().str(), target.shape().str());
  return mean(square(prediction - target), {}, false);
}

// Mean cross-entropy of logits [N, C] against class indices (i64 [N]).
template <class T> T cross_entropy(const T& logits, const Tensor& labels) {
  if (logits.rank() != 2) fail("cross_entropy: logits must be [N, C], got {}", logits.shape().str());
  if (labels.dtype() != DType::i64 || labels.rank() != 1 || labels.numel() != logits.shape()[0])
    fail("cross_entropy: labels must be i64 [{}], got {}", logits.shape()[0], labels.str());
  const T picked = gather(log_softmax(logits, 1), 1, labels.reshape(Shape{labels.numel(), 1}));
  return -mean(picked, {}, false);
}

}  // namespace tide::composite
