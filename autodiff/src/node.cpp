// Var leaves, grad mode, node lifetime and recording.
#include "tide/autodiff/node.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/core/small_blocks.hpp"
#include <algorithm>
#include <atomic>

namespace tide {

namespace {
thread_local bool grad_mode = true;
std::atomic<std::uint64_t> sequence_counter{1};
// Each thread takes sequence numbers in blocks, so recording costs no atomic operation per node.
// The sweep needs only that a node's number exceeds its inputs' (record() enforces it when a graph
// crosses threads); ties between unrelated nodes are harmless.
constexpr std::uint64_t sequence_block = 4096;
thread_local std::uint64_t sequence_next = 0, sequence_end = 0;
thread_local std::uint64_t nodes_taken = 0;  // numbers taken on this thread (nodes recorded)
}  // namespace

bool grad_enabled() { return grad_mode; }
GradModeScope::GradModeScope(bool enabled) : previous_(grad_mode) { grad_mode = enabled; }
GradModeScope::~GradModeScope() { grad_mode = previous_; }

std::uint64_t next_node_sequence() {
  if (sequence_next == sequence_end) {
    sequence_next = sequence_counter.fetch_add(sequence_block, std::memory_order_relaxed);
    sequence_end = sequence_next + sequence_block;
  }
  return sequence_next;
}

std::uint64_t take_node_sequence() {
  const std::uint64_t s = next_node_sequence();
  ++sequence_next;
  ++nodes_taken;
  return s;
}

std::uint64_t node_sequence_barrier() {
  sequence_next = sequence_counter.fetch_add(sequence_block, std::memory_order_relaxed);
  sequence_end = sequence_next + sequence_block;
  return sequence_next;
}

std::uint64_t thread_node_count() { return nodes_taken; }

namespace {
// What an enclosing ~Node will release (input nodes and custom backward objects, type-erased); null
// when none is draining.
thread_local std::vector<std::shared_ptr<void>>* draining = nullptr;

void defer_release(Node& n, std::vector<std::shared_ptr<void>>& work) {
  for (auto& in : n.inputs)
    if (in.node) work.push_back(std::move(in.node));
  // A custom backward object holds its inputs too (a chain of compiled steps, dense layers or
  // pointwise ops would free through it recursively), so it is released from the list as well.
  if (n.custom) work.push_back(std::move(n.custom));
}
}  // namespace

Node::~Node() {
  // Freeing a long chain recursively would overflow the stack (an ODE solve records millions of
  // nodes in a line). The outermost destructor drains a work list; nested ones only append to it.
  if (draining) {
    defer_release(*this, *draining);
    return;
  }
  // Drain when releasing frees a node with inputs of its own: one held by nothing but this node,
  // as often as this node lists it (twice for h + h), and by its custom object (which holds the
  // inputs once more: a chain of compiled steps, dense layers or pointwise ops). Most nodes' inputs
  // are still held elsewhere (by the caller's Vars); they return here at once, which matters: a
  // needless drain cost ~4% of a small eager op.
  bool chain = false;
  for (std::size_t i = 0; i < inputs.size() && !chain; ++i) {
    const NodePtr& n = inputs[i].node;
    if (!n || n->inputs.empty()) continue;
    long listed = 0;
    for (const auto& in : inputs) listed += in.node == n;
    chain = n.use_count() <= (custom ? 2 * listed : listed);
  }
  if (!chain) return;
  thread_local std::vector<std::shared_ptr<void>> work;  // keeps its capacity between calls
  draining = &work;
  defer_release(*this, work);
  while (!work.empty()) {
    std::shared_ptr<void> p = std::move(work.back());
    work.pop_back();
    p.reset();  // a node's destructor appends its inputs and custom object to `work`
  }
  draining = nullptr;
}

Var Var::parameter(Tensor value) {
  if (!value.defined()) fail("Var::parameter: undefined tensor");
  if (!is_floating(value.dtype())) fail("Var::parameter: parameters must be f32 or f64, got {}", value.str());
  if (!value.is_contiguous()) value = value.clone();  // a parameter owns dense storage it can update in place
  auto node = make_pooled<LeafNode>();
  node->leaf = true;
  node->value = value;
  node->sequence = take_node_sequence();
  return Var(std::move(value), std::move(node));
}

bool Var::is_leaf() const { return !node_ || node_->leaf; }

const Tensor& Var::grad() const {
  if (!node_ || !node_->leaf) fail("grad(): only leaves created with Var::parameter hold a gradient ({})", str());
  return static_cast<const LeafNode&>(*node_).grad;
}
void Var::zero_grad() {
  if (node_ && node_->leaf) static_cast<LeafNode&>(*node_).grad = Tensor();
}
void Var::set_grad(const Tensor& g) {
  if (!node_ || !node_->leaf) fail("set_grad: not a parameter ({})", str());
  if (g.defined() && (!(g.shape() == shape()) || g.dtype() != dtype() || g.device() != device()))
    fail("set_grad: gradient {} on {} does not match parameter {} on {}", g.str(), g.device().str(), str(), device().str());
  static_cast<LeafNode&>(*node_).grad = g.defined() && !g.is_contiguous() ? g.clone() : g;
}

namespace {
template <class Range> Var record_impl(Op op, Tensor out, const Range& inputs, OpCall* attrs) {
  bool any = false;
  if (grad_mode)
    for (const Var* v : inputs) any = any || v->requires_grad();
  if (!any) return Var(std::move(out));
  auto node = make_pooled<OpNode>();
  node->call.op = op;
  std::uint64_t after = 0;
  for (const Var* v : inputs)
    if (v->node()) after = std::max(after, v->node()->sequence);
  node->sequence = std::max(take_node_sequence(), after + 1);
  const std::uint8_t saves = op_info(op).saves;
  node->inputs.resize(inputs.size());
  int i = 0;
  for (const Var* v : inputs) {
    NodeInput& in = node->inputs[i];
    in.node = v->node();
    in.shape = v->shape();
    in.dtype = v->dtype();
    if (i < 3 && (saves & (1u << i))) node->saved[saved_index(op, i)] = {v->value(), v->value().version()};
    ++i;
  }
  if (saves & saves::out) node->saved[saved_index(op, 3)] = {out, out.version()};
  if (attrs) {
    node->call = std::move(*attrs);
    node->call.op = op;
  }
  return Var(std::move(out), std::move(node));
}
}  // namespace

Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs) {
  return record_impl(op, std::move(out), inputs, nullptr);
}
Var record(Op op, Tensor out, std::initializer_list<const Var*> inputs, OpCall attrs) {
  return record_impl(op, std::move(out), inputs, &attrs);
}
Var record(Op op, Tensor out, const std::vector<Var>& inputs, OpCall attrs) {
  std::vector<const Var*> ptrs;
  ptrs.reserve(inputs.size());
  for (const Var& v : inputs) ptrs.push_back(&v);
  return record_impl(op, std::move(out), ptrs, &attrs);
}

}  // namespace tide
