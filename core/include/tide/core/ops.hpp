// Tensor-level ops: validate shapes, dtypes and devices, allocate outputs and dispatch to the
// backend. No recording happens here; the differentiable versions live in autodiff/ (Var).
// Errors name the op and the shapes involved.
#pragma once
#include "tide/core/op_surface.hpp"
#include "tide/core/op_table.hpp"
#include "tide/core/tensor.hpp"
#include <vector>

namespace tide {

// Bit set of axes: bit i set means axis i. all_axes() selects every axis.
using AxisSet = std::uint32_t;
AxisSet axis_set(const std::vector<std::int64_t>& axes, int rank, const char* op);
inline AxisSet all_axes(int rank) { return rank >= 32 ? ~0u : ((1u << rank) - 1u); }

// Generic entries (op must be of the matching kind in the op table).
Tensor unary(Op op, const Tensor& x, double p0 = 0.0, double p1 = 0.0);
// unary's checks of an op's parameters (a finite slope, scalar or exponent; clamp's bounds an interval).
void check_unary_parameters(Op op, double p0, double p1);
// Refuses a reduction over an empty axis of x in op's name, with the caller's shape (a composite's
// primitives would name themselves).
void check_nonempty_axes(const Tensor& x, AxisSet axes, const char* op);
// 1 / the number of elements a mean over `axes` of `shape` reduces, none of whose extents is 0
// (check_nonempty_axes). Their product passes int64 only when a kept extent is 0, an empty
// result whatever the factor: 1 then.
double mean_factor(const Shape& shape, AxisSet axes);
Tensor binary(Op op, const Tensor& a, const Tensor& b);
Tensor reduce(Op op, const Tensor& x, AxisSet axes, bool keepdim);

// The ops with a common signature: name(x), name(a, b) (NumPy broadcasting; comparisons give
// 0/1 masks) and the reductions sum, max, min over `axes` (empty: all axes).
#define TIDE_OP_VALUE Tensor
TIDE_DECLARE_GENERATED_OPS
#undef TIDE_OP_VALUE

// Unary ops with scalar parameters, written by hand: each has its own public name or defaults.
inline Tensor leaky_relu(const Tensor& x, double slope = 0.01) { return unary(Op::leaky_relu, x, slope); }
inline Tensor elu(const Tensor& x, double alpha = 1.0) { return unary(Op::elu, x, alpha); }
inline Tensor pow(const Tensor& x, double p) { return unary(Op::pow_scalar, x, p); }
inline Tensor add_scalar(const Tensor& x, double c) { return unary(Op::add_scalar, x, c); }
inline Tensor mul_scalar(const Tensor& x, double c) { return unary(Op::mul_scalar, x, c); }
inline Tensor clamp(const Tensor& x, double lo, double hi) { return unary(Op::clamp, x, lo, hi); }

// where(cond, a, b): three operands, the first a mask.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double c) { return add_scalar(a, c); }
inline Tensor operator-(const Tensor& a, double c) { return add_scalar(a, -c); }
inline Tensor operator*(const Tensor& a, double c) { return mul_scalar(a, c); }
inline Tensor operator/(const Tensor& a, double c) { return mul_scalar(a, 1.0 / c); }
inline Tensor operator+(double c, const Tensor& a) { return add_scalar(a, c); }
inline Tensor operator*(double c, const Tensor& a) { return mul_scalar(a, c); }

// Composite reductions. Empty `axes` means all axes.
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
// Within a scope on this thread, the CPU's small GEMMs with a transposed right operand (dX = dY W^T
// in a layer's backward; libxsmm runs them on a transposed copy) keep each operand's copy while its
// storage is unchanged (keyed by the storage, its in-place version, position and layout; at most
// 32), so a weight used at every step of a sequence is transposed once. grad's sweep opens one;
// scopes nest, and the copies are freed when the outermost ends.
class TransposeCacheScope {
public:
  TransposeCacheScope();
  ~TransposeCacheScope();
  TransposeCacheScope(const TransposeCacheScope&) = delete;
  TransposeCacheScope& operator=(const TransposeCacheScope&) = delete;
};

// Sums a tensor down to `shape`, the inverse of broadcasting it (the adjoint of broadcast_to).
Tensor sum_to(const Tensor& x, const Shape& shape);

// Hand-written from here on: each op has its own arguments.
// a[..., M, K] @ b[..., K, N] with broadcast batch axes; 1-d operands are treated as a row
// (left) or a column (right) vector and that axis is dropped from the result, as in NumPy.
Tensor matmul(const Tensor& a, const Tensor& b);

// Data movement.
Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis);
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
// split's sizes against axis `axis` (normalised) of `shape`: none negative, their sum (no int64
// overflow on the way) that axis's extent. The one check of every split (Tensor, Var, Jet).
void check_split_sizes(const Shape& shape, int axis, const std::vector<std::int64_t>& sizes);
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);
// Zeros of extent `size` along axis with src's slices added at rows index[j] (adjoint of index_select).
Tensor index_add(const Tensor& src, std::int64_t axis, const Tensor& index, std::int64_t size);
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
// Zeros of `shape` with src added at the gathered positions (adjoint of gather).
Tensor scatter_add(const Tensor& src, std::int64_t axis, const Tensor& index, const Shape& shape);
// Zeros of `shape` with src written into the slice (adjoint of Tensor::slice).
Tensor slice_scatter(const Tensor& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                     std::int64_t stop, std::int64_t step);
Tensor cast(const Tensor& x, DType dtype);

// The views as free functions too, with the Var and Jet overloads' names and defaults: a plain
// Tensor converts to both a Var and a Jet, so without these a call such as transpose(t, 0, 1) on a
// Tensor would be ambiguous between them.
inline Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }
inline Tensor permute(const Tensor& x, const Shape& axes) { return x.permute(axes); }
inline Tensor transpose(const Tensor& x, std::int64_t a = -2, std::int64_t b = -1) { return x.transpose(a, b); }
inline Tensor unsqueeze(const Tensor& x, std::int64_t axis) { return x.unsqueeze(axis); }
inline Tensor squeeze(const Tensor& x, std::int64_t axis) { return x.squeeze(axis); }
inline Tensor flatten(const Tensor& x) { return x.reshape(Shape{x.numel()}); }
inline Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1) {
  return x.slice(axis, start, stop, step);
}
inline Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index) { return x.select(axis, index); }
inline Tensor broadcast_to(const Tensor& x, const Shape& shape) { return x.broadcast_to(shape); }

// Checks used by the op layer and by autodiff: they throw tide::Error naming the op and shapes.
// The comparisons are inline (every op makes several); the messages are built out of line.
namespace detail {
[[noreturn]] void fail_floating(const Tensor& x, const char* op);
[[noreturn]] void fail_same_device(const Tensor& a, const Tensor& b, const char* op);
[[noreturn]] void fail_same_dtype(const Tensor& a, const Tensor& b, const char* op);
}  // namespace detail
inline void check_floating(const Tensor& x, const char* op) {
  if (!x.defined() || !is_floating(x.dtype())) [[unlikely]] detail::fail_floating(x, op);
}
inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (a.device() != b.device()) [[unlikely]] detail::fail_same_device(a, b, op);
}
inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype()) [[unlikely]] detail::fail_same_dtype(a, b, op);
}
void check_finite_scalar(double value, const char* op, const char* what);

}  // namespace tide
