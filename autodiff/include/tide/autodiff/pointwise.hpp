// Fused pointwise ops (include this header yourself: tide/tide.hpp leaves it out, since it brings
// in the backend interface): a function of several broadcastable inputs computed elementwise in one pass
// (Backend::elementwise: on the CPU block by block in L1; the CUDA backend runs the program step by
// step through its primitives), recorded as one tape node. Its backward is a second program, also
// one pass, that writes every input's gradient at the output's shape; inputs smaller than the
// output (a bias [H], a per-row time [B, 1]) then get it summed over their broadcast axes. Under
// create_graph the backward differentiates `composite`, the same function in Var ops, recorded, so
// second derivatives work (ENGINE rule 1).
//
// A cell's pointwise tail (gates, mixes, a bias and its activation) is many small eager ops, each
// a pass over memory, an allocation and a node, forward and backward; as one PointwiseOp it is one
// of each. Write the forward once as a template over the value type (Sym for the program, Var for
// the composite: pointwise.hpp in core) and the backward by hand, and test it against the
// composite's gradients (tests/autodiff/test_pointwise.cpp shows how). Build each op once (a
// function-local static, as models/src/cfc.cpp does); recorded nodes share it.
//
// What it buys: one node and one pass forward, one pass backward (only the steps the requested
// gradients need). The backward would recompute what it reads of the forward, so make_pointwise
// finds the costly steps (exp, tanh, sigmoid and the other polynomial-evaluated ops) that the vjp
// computes from the inputs alone and that the forward computes too; a recorded call's forward
// also writes those values (n_saved tensors at the output's shape, one a copy of the output when
// it is the output itself, held by the node for its lifetime, and written even when the inputs
// that read them need no gradient), and the backward reads them instead: each transcendental is evaluated once. The
// cheap arithmetic around them is recomputed. A value is shared only when the vjp spells it as the
// forward does (the same ops, constants and operand order: tanh(a * b + c), not tanh(b * a + c));
// one the forward does not compute stays in the backward.
#pragma once
#include "tide/autodiff/var.hpp"
#include "tide/core/error.hpp"
#include "tide/core/pointwise.hpp"
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tide {

struct PointwiseOp {
  std::string name;
  // The inputs -> one output (outputs[0]).
  ElementwiseProgram forward;
  // The inputs -> the output, then the n_saved values the backward reads (at the output's shape):
  // the forward of a recorded call.
  ElementwiseProgram forward_saving;
  int n_saved = 0;
  // The inputs, the saved values, then the output's cotangent -> nothing yet: `gradient[i]` is the
  // value holding the gradient of input i at the output's shape (-1 when none flows to it); the
  // op asks for the ones its inputs need.
  ElementwiseProgram backward;
  std::vector<int> gradient;
  std::function<Var(const std::vector<Var>&)> composite;
};

namespace detail {
// Given forward, and backward and gradient as the vjp wrote them (the inputs, then the cotangent),
// moves the backward's costly cotangent-free steps that the forward shares into forward_saving
// (make_pointwise's last step; once per op).
void save_costly_values(PointwiseOp& op);
}  // namespace detail

// Builds a PointwiseOp from `fn`, a generic callable (const std::vector<T>&) -> T written with the
// operators of Var and Sym, and `vjp`, (const std::vector<Sym>& inputs, Sym cotangent) -> one Sym
// per input: Sym{} for an input the op is not differentiable in (a flag or a constant such as the
// LSTM's forget bias); pointwise() refuses such an input when it requires a gradient.
template <class F, class G>
std::shared_ptr<const PointwiseOp> make_pointwise(std::string name, int n_inputs, F fn, G vjp) {
  PointwiseOp op;
  op.name = std::move(name);
  {
    PointwiseBuilder b(n_inputs);
    std::vector<Sym> in;
    for (int i = 0; i < n_inputs; ++i) in.push_back(b.input(i));
    op.forward = b.program({fn(in)});
  }
  PointwiseBuilder b(n_inputs + 1);
  std::vector<Sym> in;
  for (int i = 0; i < n_inputs; ++i) in.push_back(b.input(i));
  const std::vector<Sym> d = vjp(in, b.input(n_inputs));
  if (static_cast<int>(d.size()) != n_inputs)
    fail("make_pointwise {}: the vjp gives {} gradients for {} inputs", op.name, d.size(), n_inputs);
  for (const Sym& s : d) op.gradient.push_back(s.builder ? s.id : -1);
  op.backward = b.program({});
  op.composite = [fn](const std::vector<Var>& v) { return Var(fn(v)); };
  detail::save_costly_values(op);
  return std::make_shared<const PointwiseOp>(std::move(op));
}

// op applied to `inputs` (one dtype and device, shapes broadcasting together); throws naming the op
// and the input otherwise. The recorded node holds the op.
Var pointwise(const std::shared_ptr<const PointwiseOp>& op, const std::vector<Var>& inputs);

}  // namespace tide
