// Node: one recorded op on the tape. It keeps the producing nodes of its inputs (null for
// constants); a built-in op's node (OpNode) also keeps the input and output values its backward
// rule reads (per the op table's `saves` column, with their storage versions at recording time) and
// the op's attributes, a custom node its backward object. Nodes are numbered in recording order;
// grad() sweeps the nodes an output depends on once, in reverse recording order.
#pragma once
#include "tide/autodiff/var.hpp"
#include "tide/core/op_call.hpp"
#include "tide/core/op_table.hpp"
#include "tide/core/ops.hpp"
#include <vector>

namespace tide {

struct NodeInput {
  NodeInput() noexcept {}  // user-provided: a spilled vector's resize would zero each 112-byte entry first
  NodeInput(NodePtr n, const Shape& s, DType d) : node(std::move(n)), shape(s), dtype(d) {}
  NodePtr node;  // null when the input is a constant
  Shape shape;
  DType dtype = DType::f32;
};

// A value a backward rule reads, with its storage version when it was saved.
struct SavedValue {
  Tensor value;
  std::uint64_t version = 0;
};

// A node's inputs: up to three live in the node itself (every op but a long concat), so recording
// an op costs one allocation.
class NodeInputs {
public:
  static constexpr std::size_t inline_capacity = 3;
  void resize(std::size_t n) {
    size_ = n;
    if (n > inline_capacity) spill_.resize(n);
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  NodeInput* begin() { return size_ > inline_capacity ? spill_.data() : inline_; }
  NodeInput* end() { return begin() + size_; }
  const NodeInput* begin() const { return size_ > inline_capacity ? spill_.data() : inline_; }
  const NodeInput* end() const { return begin() + size_; }
  NodeInput& operator[](std::size_t i) { return begin()[i]; }
  const NodeInput& operator[](std::size_t i) const { return begin()[i]; }

private:
  NodeInput inline_[inline_capacity];
  std::vector<NodeInput> spill_;
  std::size_t size_ = 0;
};

class CustomBackward;

// A node of the tape. Custom-backward nodes (custom.hpp: dense layers, fused pointwise ops, stage
// combinations, compiled functions) hold only this; a built-in op's node is an OpNode, and a
// parameter's a LeafNode.
struct Node {
  std::shared_ptr<CustomBackward> custom;  // set for custom-backward nodes (custom.hpp)
  bool leaf = false;
  std::uint64_t sequence = 0;  // recording order
  NodeInputs inputs;

  Node() {}  // user-provided: make_shared's value-initialisation would first zero the whole object (every member has its initialiser)
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node();  // releases long input chains iteratively (no recursion, no stack overflow)
};

// A built-in op's node (neither leaf nor custom): the op, its attributes and what its rule reads.
// Kept out of Node, so that a custom node is a third of the size (the attributes and two saved
// tensors are ~600 bytes).
struct OpNode final : Node {
  OpAttrs call;  // the op and its attributes; index ops keep the i64 index as input 1
  // What the rule reads (the op table's `saves` column, at most two values): the saved inputs in
  // input order, then the output.
  SavedValue saved[max_saved_values];

  const Tensor& saved_input(int i) const { return saved[saved_index(call.op, i)].value; }
  const Tensor& saved_output() const { return saved[saved_index(call.op, 3)].value; }
  OpNode() {}  // user-provided, as Node's
};

// The OpNode behind n, which the caller knows is neither a leaf nor a custom node.
inline const OpNode& op_node(const Node& n) { return static_cast<const OpNode&>(n); }

// A leaf (Var::parameter): no inputs, and the gradient accumulated by backward().
struct LeafNode final : Node {
  LeafNode() {}  // user-provided, as Node's: no zeroing before construction
  Tensor grad;
  // A handle on the parameter's storage (not a copy): a backward pass that reads the parameter
  // again (a checkpointed or adjoint solve's) checks by its version that it was not updated since.
  Tensor value;
};

// Records `op` if grad mode is on and any input requires a gradient; returns the result Var.
// `attrs` holds the op's attributes (its op field is set from `op`).
Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs);
Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs, OpCall attrs);
Var record(Op op, Tensor out, const std::vector<Var>& inputs, OpCall attrs = {});

}  // namespace tide
