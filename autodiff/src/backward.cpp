// The backward rule (VJP) of every op in the op table, each written in differentiable Var ops so
// that with create_graph the backward pass is itself recorded (ENGINE.md rule 1). The switch has
// no default: an op without a rule does not compile (-Werror=switch).
#include "backward.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/plan.hpp"
#include <cmath>
#include <map>
#include <span>

namespace tide {

namespace {

// The program of op's pointwise rule, inputs (g, then x and y where the op saves them), built once
// per op (and exponent) and thread.
const ElementwiseProgram& rule_program(Op op, double p0) {
  thread_local std::map<std::pair<Op, double>, ElementwiseProgram> programs;
  const std::pair<Op, double> key{op, op == Op::pow_scalar ? p0 : 0.0};
  if (const auto it = programs.find(key); it != programs.end()) return it->second;
  if (programs.size() >= 64) programs.clear();  // many exponents: the cache stays small
  const std::uint8_t saves = op_info(op).saves;
  PointwiseBuilder b(1 + ((saves & saves::in0) ? 1 : 0) + ((saves & saves::out) ? 1 : 0));
  int next = 1;
  const Sym g = b.input(0);
  const Sym x = (saves & saves::in0) ? b.input(next++) : Sym{};
  const Sym y = (saves & saves::out) ? b.input(next++) : Sym{};
  return programs.emplace(key, b.program({pointwise_rule<Sym>(op, g, x, y, p0)})).first->second;
}

// The input gradient of a node whose rule is pointwise: Var ops when the sweep records
// (create_graph) or a plan is traced (its fusion joins their passes with their neighbours');
// otherwise one elementwise program, on the CPU one pass, one allocation and one call where the
// Var ops made two to eleven of each (a backend without its own elementwise runs the steps one at
// a time). The same kernels either way, so the same values. The sweep has checked that g has the
// input's dtype (grad.cpp): the program's kernels take their operands as they are.
Var pointwise_gradient(const NodePtr& self, const Var& g) {
  const OpNode& n = op_node(*self);
  const std::uint8_t saves = op_info(n.call.op).saves;
  if (grad_enabled() || Trace::active()) {
    const Var x = (saves & saves::in0) ? Var(n.saved_input(0), n.inputs[0].node) : Var();
    const Var y = (saves & saves::out) ? Var(n.saved_output(), self) : Var();
    return pointwise_rule<Var>(n.call.op, g, x, y, n.call.p0);
  }
  Tensor in[3];
  std::size_t count = 0;
  in[count++] = g.value();
  if (saves & saves::in0) in[count++] = n.saved_input(0);
  if (saves & saves::out) in[count++] = n.saved_output();
  const Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  g.value().backend().elementwise(rule_program(n.call.op, n.call.p0), std::span<const Tensor>(in, count),
                                  std::span<const Tensor>(&out, 1));
  return Var(out);
}

// A constant 0/1 mask (no gradient flows through a mask).
Var mask(Op cmp, const Tensor& a, double b) {
  return Var(tide::binary(cmp, a, Tensor::scalar(b, a.dtype(), a.device())));
}
Var keepdim_view(const Var& g, const OpNode& n) {
  if (n.call.keepdim) return g;
  Shape kept = n.inputs[0].shape;
  for (int i = 0; i < kept.rank(); ++i)
    if (n.call.axes & (1u << i)) kept[i] = 1;
  return reshape(g, kept);
}
}  // namespace

void backward_rule(const NodePtr& self, const Var& g, std::vector<Var>& gx) {
  const OpNode& n = op_node(*self);
  // Inputs and output as Vars that keep their place in the graph (for create_graph).
  auto in = [&](int i) { return Var(n.saved_input(i), n.inputs[i].node); };
  auto out = [&]() { return Var(n.saved_output(), self); };
  auto shape = [&](int i) -> const Shape& { return n.inputs[i].shape; };
  const double p0 = n.call.p0, p1 = n.call.p1;

  switch (n.call.op) {
    // ---- unary: d/dx f(x) ------------------------------------------------------------------
    case Op::neg: gx[0] = -g; return;
    case Op::abs: gx[0] = g * Var(tide::sign(n.saved_input(0))); return;
    case Op::sign: return;  // zero almost everywhere
    case Op::exp: gx[0] = g * out(); return;
    case Op::log: gx[0] = g / in(0); return;
    case Op::relu: gx[0] = g * mask(Op::gt, n.saved_input(0), 0.0); return;
    case Op::leaky_relu: {                                                     // 1 or slope
      const Tensor m = tide::binary(Op::gt, n.saved_input(0), Tensor::scalar(0.0, n.inputs[0].dtype, n.saved_input(0).device()));
      gx[0] = g * Var(tide::add_scalar(tide::mul_scalar(m, 1.0 - p0), p0));
      return;
    }
    case Op::elu: {                                                            // 1 or alpha e^x
      // e^x with x replaced by 0 where x > 0: the branch where() does not select must stay finite,
      // or its zero cotangent times inf would be NaN in the second derivative; where() (unlike
      // minimum, which splits a tie) gives x its whole gradient at x = 0, the branch taken there
      const Var x = in(0);
      const Var zero(Tensor::zeros(Shape{}, x.dtype(), x.device()));
      const Var positive = mask(Op::gt, x.value(), 0.0);
      gx[0] = where(positive, g, g * exp(where(positive, zero, x)) * p0);
      return;
    }
    case Op::expm1: case Op::log1p: case Op::sqrt: case Op::rsqrt: case Op::square: case Op::reciprocal:
    case Op::tanh: case Op::sigmoid: case Op::softplus: case Op::silu: case Op::gelu: case Op::erf:
    case Op::sin: case Op::cos:
      gx[0] = pointwise_gradient(self, g);
      return;
    case Op::pow_scalar:
      if (p0 == 0.0) return;
      gx[0] = p0 == 1.0 ? g : pointwise_gradient(self, g);
      return;
    case Op::add_scalar: gx[0] = g; return;
    case Op::mul_scalar: gx[0] = g * p0; return;
    case Op::clamp: {                                                          // 1 inside [lo, hi]
      const Tensor& x = n.saved_input(0);
      gx[0] = g * Var(tide::mul(mask(Op::ge, x, p0).value(), mask(Op::le, x, p1).value()));
      return;
    }

    // ---- binary with broadcasting: reduce each gradient back to its operand's shape ---------
    case Op::add: gx[0] = sum_to(g, shape(0)); gx[1] = sum_to(g, shape(1)); return;
    case Op::sub: gx[0] = sum_to(g, shape(0)); gx[1] = sum_to(-g, shape(1)); return;
    case Op::mul: gx[0] = sum_to(g * in(1), shape(0)); gx[1] = sum_to(g * in(0), shape(1)); return;
    case Op::div: {
      const Var a = in(0), b = in(1);
      gx[0] = sum_to(g / b, shape(0));
      gx[1] = sum_to(-(g * a) / square(b), shape(1));                        // -a / b^2
      return;
    }
    case Op::maximum:
    case Op::minimum: {  // the gradient goes to the selected operand; ties split it evenly
      const Tensor& a = n.saved_input(0);
      const Tensor& b = n.saved_input(1);
      const Tensor first = tide::add(tide::binary(n.call.op == Op::maximum ? Op::gt : Op::lt, a, b),
                                     tide::mul_scalar(tide::eq(a, b), 0.5));
      gx[0] = sum_to(g * Var(first), shape(0));
      gx[1] = sum_to(g * Var(tide::add_scalar(tide::neg(first), 1.0)), shape(1));
      return;
    }
    case Op::eq: case Op::ne: case Op::lt: case Op::le: case Op::gt: case Op::ge: return;
    case Op::where: {
      const Var c(n.saved_input(0));
      const Var zero(Tensor::zeros(Shape{}, g.dtype(), g.device()));
      gx[1] = sum_to(where(c, g, zero), shape(1));
      gx[2] = sum_to(where(c, zero, g), shape(2));
      return;
    }

    // ---- reductions ----------------------------------------------------------------------
    case Op::sum: gx[0] = broadcast_to(keepdim_view(g, n), shape(0)); return;
    case Op::max:
    case Op::min: {  // to the extremal elements, split evenly between ties; a NaN output to its NaNs
      const Tensor& x = n.saved_input(0);
      Shape kept = shape(0);
      for (int i = 0; i < kept.rank(); ++i)
        if (n.call.axes & (1u << i)) kept[i] = 1;
      const Tensor extremum = n.saved_output().reshape(kept);
      // NaN equals nothing: without the second term a NaN slice's share is 0 / 0 (NaN even for g = 0)
      const Tensor hit = tide::add(tide::eq(x, extremum), tide::mul(tide::ne(x, x), tide::ne(extremum, extremum)));
      const Tensor share = tide::div(hit, tide::reduce(Op::sum, hit, n.call.axes, true));
      gx[0] = broadcast_to(keepdim_view(g, n), shape(0)) * Var(share);
      return;
    }

    // ---- matmul: dA = G B^T, dB = A^T G (summed over broadcast batch axes); none for a
    // constant operand (a map made on the host, data) ---------------------------------------
    case Op::matmul: {
      const Var a = in(0), b = in(1);
      if (n.inputs[0].node) gx[0] = sum_to(matmul(g, transpose(b)), shape(0));
      if (!n.inputs[1].node) return;
      if (b.rank() == 2 && a.rank() > 2) {
        // shared weight: one GEMM over all batch rows instead of a batched GEMM and a sum
        std::int64_t rows = 1;  // batch x M, the same for a and g
        for (int i = 0; i + 1 < a.rank(); ++i) rows *= a.shape()[i];
        gx[1] = matmul(transpose(reshape(a, Shape{rows, a.shape().back()})), reshape(g, Shape{rows, g.shape().back()}));
      } else {
        gx[1] = sum_to(matmul(transpose(a), g), shape(1));
      }
      return;
    }

    // ---- shape ops: each one's adjoint ---------------------------------------------------
    case Op::reshape: gx[0] = reshape(g, shape(0)); return;
    case Op::permute: {
      Shape inverse = n.call.shape;
      for (int i = 0; i < inverse.rank(); ++i) inverse[static_cast<int>(n.call.shape[i])] = i;
      gx[0] = permute(g, inverse);
      return;
    }
    case Op::slice:
      gx[0] = slice_scatter(g, shape(0), n.call.axis, n.call.start, n.call.stop, n.call.step);
      return;
    case Op::slice_scatter: gx[0] = slice(g, n.call.axis, n.call.start, n.call.stop, n.call.step); return;
    case Op::broadcast_to: gx[0] = sum_to(g, shape(0)); return;
    case Op::concat: {
      std::int64_t at = 0;
      for (std::size_t i = 0; i < n.inputs.size(); ++i) {
        const std::int64_t len = n.inputs[i].shape[static_cast<int>(n.call.axis)];
        gx[i] = slice(g, n.call.axis, at, at + len);
        at += len;
      }
      return;
    }
    case Op::index_select:
      gx[0] = index_add(g, n.call.axis, n.saved_input(1), shape(0)[static_cast<int>(n.call.axis)]);
      return;
    case Op::index_add: gx[0] = index_select(g, n.call.axis, n.saved_input(1)); return;
    case Op::gather: gx[0] = scatter_add(g, n.call.axis, n.saved_input(1), shape(0)); return;
    case Op::scatter_add: gx[0] = gather(g, n.call.axis, n.saved_input(1)); return;
    case Op::cast: gx[0] = cast(g, n.inputs[0].dtype); return;
  }
}

}  // namespace tide
