// Ops on Jets: the same names and signatures as the Var ops (autodiff/ops.hpp), so dynamics
// written once as a generic function run on Vars (plain evaluation) and on Jets (Taylor mode,
// forward mode, nested forward mode). Each primitive goes through jet_apply(), which applies
// linear ops once to the whole coefficient stack and nonlinear ops by their recurrences.
#pragma once
#include "tide/taylor/jet.hpp"
#include "tide/taylor/jet_op.hpp"

namespace tide {

Jet jet_apply(const OpCall& op, const std::vector<Jet>& inputs);

Jet unary(Op op, const Jet& x, double p0 = 0.0, double p1 = 0.0);
Jet binary(Op op, const Jet& a, const Jet& b);
Jet reduce(Op op, const Jet& x, AxisSet axes, bool keepdim);

// The ops with a common signature, generated from the op table (core/op_surface.hpp).
#define TIDE_OP_VALUE Jet
TIDE_DECLARE_GENERATED_OPS
#undef TIDE_OP_VALUE

// Unary ops with scalar parameters, written by hand: each has its own public name or defaults.
inline Jet leaky_relu(const Jet& x, double slope = 0.01) { return unary(Op::leaky_relu, x, slope); }
inline Jet elu(const Jet& x, double alpha = 1.0) { return unary(Op::elu, x, alpha); }
inline Jet pow(const Jet& x, double p) { return unary(Op::pow_scalar, x, p); }
inline Jet add_scalar(const Jet& x, double c) { return unary(Op::add_scalar, x, c); }
inline Jet mul_scalar(const Jet& x, double c) { return unary(Op::mul_scalar, x, c); }
inline Jet clamp(const Jet& x, double lo, double hi) { return unary(Op::clamp, x, lo, hi); }

// where(cond, a, b): three operands, the first a mask.
Jet where(const Jet& cond, const Jet& a, const Jet& b);

inline Jet operator-(const Jet& x) { return neg(x); }
inline Jet operator+(const Jet& a, const Jet& b) { return add(a, b); }
inline Jet operator-(const Jet& a, const Jet& b) { return sub(a, b); }
inline Jet operator*(const Jet& a, const Jet& b) { return mul(a, b); }
inline Jet operator/(const Jet& a, const Jet& b) { return div(a, b); }
inline Jet operator+(const Jet& a, double c) { return add_scalar(a, c); }
inline Jet operator-(const Jet& a, double c) { return add_scalar(a, -c); }
inline Jet operator*(const Jet& a, double c) { return mul_scalar(a, c); }
inline Jet operator/(const Jet& a, double c) { return mul_scalar(a, 1.0 / c); }
inline Jet operator+(double c, const Jet& a) { return add_scalar(a, c); }
inline Jet operator-(double c, const Jet& a) { return add_scalar(neg(a), c); }
inline Jet operator*(double c, const Jet& a) { return mul_scalar(a, c); }
// Mixed Jet/Var operands: the Var is a constant series.
inline Jet operator+(const Jet& a, const Var& b) { return add(a, Jet(b)); }
inline Jet operator+(const Var& a, const Jet& b) { return add(Jet(a), b); }
inline Jet operator-(const Jet& a, const Var& b) { return sub(a, Jet(b)); }
inline Jet operator-(const Var& a, const Jet& b) { return sub(Jet(a), b); }
inline Jet operator*(const Jet& a, const Var& b) { return mul(a, Jet(b)); }
inline Jet operator*(const Var& a, const Jet& b) { return mul(Jet(a), b); }
inline Jet operator/(const Jet& a, const Var& b) { return div(a, Jet(b)); }
inline Jet operator/(const Var& a, const Jet& b) { return div(Jet(a), b); }

Jet mean(const Jet& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Jet logsumexp(const Jet& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Jet softmax(const Jet& x, std::int64_t axis = -1);
Jet log_softmax(const Jet& x, std::int64_t axis = -1);
Jet sum_to(const Jet& x, const Shape& shape);

Jet matmul(const Jet& a, const Jet& b);

Jet reshape(const Jet& x, const Shape& shape);
Jet permute(const Jet& x, const Shape& axes);
Jet transpose(const Jet& x, std::int64_t a = -2, std::int64_t b = -1);
Jet unsqueeze(const Jet& x, std::int64_t axis);
Jet squeeze(const Jet& x, std::int64_t axis);
Jet flatten(const Jet& x);
Jet slice(const Jet& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
Jet select(const Jet& x, std::int64_t axis, std::int64_t index);
Jet slice_scatter(const Jet& src, const Shape& shape, std::int64_t axis, std::int64_t start,
                  std::int64_t stop, std::int64_t step = 1);
Jet broadcast_to(const Jet& x, const Shape& shape);
Jet concat(const std::vector<Jet>& parts, std::int64_t axis);
Jet stack(const std::vector<Jet>& parts, std::int64_t axis = 0);
inline Jet concat(std::initializer_list<Jet> parts, std::int64_t axis) { return concat(std::vector<Jet>(parts), axis); }
inline Jet stack(std::initializer_list<Jet> parts, std::int64_t axis = 0) { return stack(std::vector<Jet>(parts), axis); }
std::vector<Jet> split(const Jet& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
Jet index_select(const Jet& x, std::int64_t axis, const Tensor& index);
Jet index_add(const Jet& src, std::int64_t axis, const Tensor& index, std::int64_t size);
Jet gather(const Jet& x, std::int64_t axis, const Tensor& index);
Jet scatter_add(const Jet& src, std::int64_t axis, const Tensor& index, const Shape& shape);
Jet cast(const Jet& x, DType dtype);

Jet mse_loss(const Jet& prediction, const Jet& target);
Jet cross_entropy(const Jet& logits, const Tensor& labels);

}  // namespace tide
