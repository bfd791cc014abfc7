// Elementwise programs (Backend::elementwise) written as expressions. A PointwiseBuilder hands out
// a Sym per input; the operations below on Syms append steps (Sym op Sym for + - * /, Sym op
// number for + - *, unary minus, every unary, binary and compare op of the common signature by its
// name, pow; any op with parameters through builder.unary(op, x, p0, p1)), so a fused op's forward
// can be written once as a template over the value type and instantiated for Sym (the program)
// and for Var (the recorded composite):
//   PointwiseBuilder p(2);
//   const Sym y = tanh(p.input(0) + p.input(1)) * 1.7159;
//   ElementwiseProgram prog = p.program({y});
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/op_surface.hpp"
#include <vector>

namespace tide {

class PointwiseBuilder;

// A value of the program being built: an input or a step's result.
struct Sym {
  PointwiseBuilder* builder = nullptr;
  int id = -1;
};

class PointwiseBuilder {
public:
  explicit PointwiseBuilder(int n_inputs);
  Sym input(int i);
  Sym unary(Op op, Sym x, double p0 = 0.0, double p1 = 0.0);
  Sym binary(Op op, Sym a, Sym b);
  // The program computing `outputs` (in order) from the inputs.
  ElementwiseProgram program(const std::vector<Sym>& outputs) const;

private:
  void check(Sym x, const char* what) const;  // x is a value of this program
  int n_inputs_;
  std::vector<ElementwiseStep> steps_;
};

// The program without the steps its outputs do not depend on (values renumbered).
ElementwiseProgram without_dead_steps(const ElementwiseProgram& p);

// The program reading only the inputs it uses, renumbered in order; `kept` receives their old
// numbers (the caller passes those inputs).
ElementwiseProgram without_unused_inputs(const ElementwiseProgram& p, std::vector<int>& kept);

// For every value of p, the first value equal to it by construction (itself when none): a step
// repeating an earlier one (the same op, parameters bit for bit, and operands, after the earlier
// merges; operand order counts) is equal to it. Throws for a step reading a later value.
std::vector<int> equal_values(const ElementwiseProgram& p);

// The program with each repeated step replaced by its first equal (equal_values), then without
// dead steps. The ops are pure, so every output keeps its value bit for bit.
ElementwiseProgram with_equal_steps_merged(const ElementwiseProgram& p);

// The builder a value belongs to; throws for a default Sym (no program).
PointwiseBuilder& builder_of(Sym x);

inline Sym operator+(Sym a, Sym b) { return builder_of(a).binary(Op::add, a, b); }
inline Sym operator-(Sym a, Sym b) { return builder_of(a).binary(Op::sub, a, b); }
inline Sym operator*(Sym a, Sym b) { return builder_of(a).binary(Op::mul, a, b); }
inline Sym operator/(Sym a, Sym b) { return builder_of(a).binary(Op::div, a, b); }
inline Sym operator-(Sym a) { return builder_of(a).unary(Op::neg, a); }
inline Sym operator+(Sym a, double c) { return builder_of(a).unary(Op::add_scalar, a, c); }
inline Sym operator-(Sym a, double c) { return builder_of(a).unary(Op::add_scalar, a, -c); }
inline Sym operator*(Sym a, double c) { return builder_of(a).unary(Op::mul_scalar, a, c); }
inline Sym operator+(double c, Sym a) { return a + c; }
inline Sym operator-(double c, Sym a) { return -a + c; }
inline Sym operator*(double c, Sym a) { return a * c; }

// Every unary, binary and compare op of the common signature by its name (tanh(x), maximum(a, b),
// ...), generated from the op table as for Tensor and Var, and pow, so that a formula written as a
// template over the value type reads the same for Sym as for Var.
inline Sym unary(Op op, const Sym& x, double p0 = 0.0, double p1 = 0.0) { return builder_of(x).unary(op, x, p0, p1); }
inline Sym binary(Op op, const Sym& a, const Sym& b) { return builder_of(a).binary(op, a, b); }
#define TIDE_OP_VALUE Sym
TIDE_UNARY_OPS(TIDE_DECLARE_UNARY_OP)
TIDE_BINARY_OPS(TIDE_DECLARE_BINARY_OP)
TIDE_COMPARE_OPS(TIDE_DECLARE_BINARY_OP)
#undef TIDE_OP_VALUE
inline Sym pow(const Sym& x, double p) { return unary(Op::pow_scalar, x, p); }

}  // namespace tide
