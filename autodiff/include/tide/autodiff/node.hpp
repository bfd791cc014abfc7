// Node: one recorded op on the tape. It keeps the producing nodes of its inputs (null for
// constants), the input and output values its backward rule reads (per the op table's `saves`
// column, with their storage versions at recording time) and the op's attributes. Nodes are
// numbered in recording order; grad() sweeps the nodes an output depends on once, in reverse
// recording order.
#pragma once
#include "tide/autodiff/var.hpp"
#include "tide/core/op_table.hpp"
#include "tide/core/ops.hpp"
#include <vector>

namespace tide {

struct NodeInput {
  NodePtr node;       // null when the input is a constant
  Tensor saved;       // defined when the rule reads this input
  std::uint64_t saved_version = 0;
  Shape shape;
  DType dtype = DType::f32;
};

struct OpAttrs {
  double p0 = 0.0, p1 = 0.0;  // unary parameters
  AxisSet axes = 0;           // reductions
  bool keepdim = false;
  Shape shape;                // reshape / broadcast / scatter target, permutation
  std::int64_t axis = 0, start = 0, stop = 0, step = 1;  // index ops: input 1 is the i64 index
};

struct Node {
  Op op = Op::neg;
  bool leaf = false;
  std::uint64_t sequence = 0;  // recording order
  std::vector<NodeInput> inputs;
  Tensor saved_output;
  std::uint64_t saved_output_version = 0;
  OpAttrs attrs;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node();  // releases long input chains iteratively (no recursion, no stack overflow)
};

// A leaf (Var::parameter): no inputs, and the gradient accumulated by backward().
struct LeafNode final : Node {
  Tensor grad;
};

std::uint64_t next_node_sequence();

// Records `op` if grad mode is on and any input requires a gradient; returns the result Var.
Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs);
Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs, OpAttrs attrs);
Var record(Op op, Tensor out, const std::vector<Var>& inputs, OpAttrs attrs = {});

}  // namespace tide
