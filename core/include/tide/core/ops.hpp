// Tensor-level ops: validate shapes, dtypes and devices, allocate outputs and dispatch to the
// backend. No recording happens here; the differentiable versions live in autodiff/ (Var).
// Errors name the op and the shapes involved.
#pragma once
#include "tide/core/backend.hpp"
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
Tensor binary(Op op, const Tensor& a, const Tensor& b);
Tensor reduce(Op op, const Tensor& x, AxisSet axes, bool keepdim);

// Elementwise unary.
#define TIDE_DECLARE_UNARY(name) \
  inline Tensor name(const Tensor& x) { return unary(Op::name, x); }
TIDE_DECLARE_UNARY(neg) TIDE_DECLARE_UNARY(abs) TIDE_DECLARE_UNARY(sign)
TIDE_DECLARE_UNARY(exp) TIDE_DECLARE_UNARY(expm1) TIDE_DECLARE_UNARY(log)
TIDE_DECLARE_UNARY(log1p) TIDE_DECLARE_UNARY(sqrt) TIDE_DECLARE_UNARY(rsqrt)
TIDE_DECLARE_UNARY(square) TIDE_DECLARE_UNARY(reciprocal) TIDE_DECLARE_UNARY(tanh)
TIDE_DECLARE_UNARY(sigmoid) TIDE_DECLARE_UNARY(softplus) TIDE_DECLARE_UNARY(relu)
TIDE_DECLARE_UNARY(silu) TIDE_DECLARE_UNARY(gelu) TIDE_DECLARE_UNARY(erf)
TIDE_DECLARE_UNARY(sin) TIDE_DECLARE_UNARY(cos)
#undef TIDE_DECLARE_UNARY
inline Tensor leaky_relu(const Tensor& x, double slope = 0.01) { return unary(Op::leaky_relu, x, slope); }
inline Tensor elu(const Tensor& x, double alpha = 1.0) { return unary(Op::elu, x, alpha); }
inline Tensor pow(const Tensor& x, double p) { return unary(Op::pow_scalar, x, p); }
inline Tensor add_scalar(const Tensor& x, double c) { return unary(Op::add_scalar, x, c); }
inline Tensor mul_scalar(const Tensor& x, double c) { return unary(Op::mul_scalar, x, c); }
inline Tensor clamp(const Tensor& x, double lo, double hi) { return unary(Op::clamp, x, lo, hi); }

// Elementwise binary (NumPy broadcasting) and comparisons (0/1 masks).
#define TIDE_DECLARE_BINARY(name) \
  inline Tensor name(const Tensor& a, const Tensor& b) { return binary(Op::name, a, b); }
TIDE_DECLARE_BINARY(add) TIDE_DECLARE_BINARY(sub) TIDE_DECLARE_BINARY(mul)
TIDE_DECLARE_BINARY(div) TIDE_DECLARE_BINARY(maximum) TIDE_DECLARE_BINARY(minimum)
TIDE_DECLARE_BINARY(eq) TIDE_DECLARE_BINARY(ne) TIDE_DECLARE_BINARY(lt)
TIDE_DECLARE_BINARY(le) TIDE_DECLARE_BINARY(gt) TIDE_DECLARE_BINARY(ge)
#undef TIDE_DECLARE_BINARY
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

// Reductions. Empty `axes` means all axes.
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
// Sums a tensor down to `shape`, the inverse of broadcasting it (the adjoint of broadcast_to).
Tensor sum_to(const Tensor& x, const Shape& shape);

// a[..., M, K] @ b[..., K, N] with broadcast batch axes; 1-d operands are treated as a row
// (left) or a column (right) vector and that axis is dropped from the result, as in NumPy.
Tensor matmul(const Tensor& a, const Tensor& b);

// Data movement.
Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis);
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
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

// Checks used by the op layer and by autodiff: they throw tide::Error naming the op and shapes.
void check_floating(const Tensor& x, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_finite_scalar(double value, const char* op, const char* what);

}  // namespace tide
