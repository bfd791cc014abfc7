// Differentiable ops on Var: the same names as the tensor-level ops (core/ops.hpp). Primitives
// record one node of the op table; composites (mean, logsumexp, softmax, ...) are built from them
// and therefore differentiable to any order.
#pragma once
#include "tide/autodiff/var.hpp"
#include "tide/core/ops.hpp"
#include <initializer_list>
#include <vector>

namespace tide {

Var unary(Op op, const Var& x, double p0 = 0.0, double p1 = 0.0);
Var binary(Op op, const Var& a, const Var& b);
Var reduce(Op op, const Var& x, AxisSet axes, bool keepdim);

// The ops with a common signature, generated from the op table (core/op_surface.hpp):
//   Var name(const Var& x):  neg abs sign exp expm1 log log1p sqrt rsqrt square reciprocal tanh
//                            sigmoid softplus relu silu gelu erf sin cos
//   Var name(const Var& a, const Var& b):  add sub mul div maximum minimum (and the comparisons
//                            eq ne lt le gt ge, 0/1 values, no gradient); broadcasting
//   Var name(const Var& x, std::vector<std::int64_t> axes = {}, bool keepdim = false):  sum max min
//                            (empty axes: every axis, a scalar)
#define TIDE_OP_VALUE Var
TIDE_DECLARE_GENERATED_OPS
#undef TIDE_OP_VALUE

// Unary ops with scalar parameters, written by hand: each has its own public name or defaults.
inline Var leaky_relu(const Var& x, double slope = 0.01) { return unary(Op::leaky_relu, x, slope); }
inline Var elu(const Var& x, double alpha = 1.0) { return unary(Op::elu, x, alpha); }
inline Var pow(const Var& x, double p) { return unary(Op::pow_scalar, x, p); }
inline Var add_scalar(const Var& x, double c) { return unary(Op::add_scalar, x, c); }
inline Var mul_scalar(const Var& x, double c) { return unary(Op::mul_scalar, x, c); }
inline Var clamp(const Var& x, double lo, double hi) { return unary(Op::clamp, x, lo, hi); }

// where(cond, a, b): three operands, the first a mask.
Var where(const Var& cond, const Var& a, const Var& b);

inline Var operator-(const Var& x) { return neg(x); }
inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator+(const Var& a, double c) { return add_scalar(a, c); }
inline Var operator-(const Var& a, double c) { return add_scalar(a, -c); }
inline Var operator*(const Var& a, double c) { return mul_scalar(a, c); }
inline Var operator/(const Var& a, double c) { return mul_scalar(a, 1.0 / c); }
inline Var operator+(double c, const Var& a) { return add_scalar(a, c); }
inline Var operator-(double c, const Var& a) { return add_scalar(neg(a), c); }
inline Var operator*(double c, const Var& a) { return mul_scalar(a, c); }

// Composite reductions (empty axes = all axes).
Var mean(const Var& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Var logsumexp(const Var& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Var softmax(const Var& x, std::int64_t axis = -1);
Var log_softmax(const Var& x, std::int64_t axis = -1);
Var sum_to(const Var& x, const Shape& shape);

Var matmul(const Var& a, const Var& b);

// Shape and data movement.
Var reshape(const Var& x, const Shape& shape);
Var permute(const Var& x, const Shape& axes);
Var transpose(const Var& x, std::int64_t a = -2, std::int64_t b = -1);
Var unsqueeze(const Var& x, std::int64_t axis);
Var squeeze(const Var& x, std::int64_t axis);
Var flatten(const Var& x);
Var slice(const Var& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
Var select(const Var& x, std::int64_t axis, std::int64_t index);
Var slice_scatter(const Var& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                  std::int64_t stop, std::int64_t step = 1);
Var broadcast_to(const Var& x, const Shape& shape);
Var concat(const std::vector<Var>& parts, std::int64_t axis);
Var stack(const std::vector<Var>& parts, std::int64_t axis = 0);
// Braced lists ({a, b}) pick these over the Jet overloads.
inline Var concat(std::initializer_list<Var> parts, std::int64_t axis) { return concat(std::vector<Var>(parts), axis); }
inline Var stack(std::initializer_list<Var> parts, std::int64_t axis = 0) { return stack(std::vector<Var>(parts), axis); }
std::vector<Var> split(const Var& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
Var index_select(const Var& x, std::int64_t axis, const Tensor& index);
Var index_add(const Var& src, std::int64_t axis, const Tensor& index, std::int64_t size);
Var gather(const Var& x, std::int64_t axis, const Tensor& index);
Var scatter_add(const Var& src, std::int64_t axis, const Tensor& index, const Shape& shape);
Var cast(const Var& x, DType dtype);

// Losses.
Var mse_loss(const Var& prediction, const Var& target);
// Mean cross-entropy of logits [N, C] against class indices (i64 [N]).
Var cross_entropy(const Var& logits, const Tensor& labels);

// The composites above on plain tensors (same values and checks; nothing recorded): a Tensor
// converts to both a Var and a Jet, so these settle which one a call on a Tensor means.
Tensor softmax(const Tensor& x, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);
Tensor mse_loss(const Tensor& prediction, const Tensor& target);
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace tide
