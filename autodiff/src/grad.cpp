// The reverse sweep: collect the nodes the outputs depend on (iteratively), order them by
// recording sequence, and visit each once from the last recorded to the first.
#include "tide/autodiff/grad.hpp"
#include "backward.hpp"
#include "tide/autodiff/ops.hpp"
#include <algorithm>
#include <atomic>

namespace tide {

namespace {

std::atomic<std::uint64_t> sweep_counter{1};

struct Sweep {
  std::vector<Node*> nodes;  // reverse recording order
  std::vector<NodePtr> owners;
  std::uint64_t mark;
};

Sweep collect(const std::vector<Var>& outputs) {
  Sweep s;
  s.mark = sweep_counter.fetch_add(1);
  std::vector<Node*> stack;
  for (const Var& o : outputs)
    if (o.node() && o.node()->sweep_mark != s.mark) {
      o.node()->sweep_mark = s.mark;
      stack.push_back(o.node().get());
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    s.nodes.push_back(n);
    for (auto& in : n->inputs)
      if (in.node && in.node->sweep_mark != s.mark) {
        in.node->sweep_mark = s.mark;
        stack.push_back(in.node.get());
      }
  }
  std::sort(s.nodes.begin(), s.nodes.end(), [](Node* a, Node* b) { return a->sequence > b->sequence; });
  for (std::size_t i = 0; i < s.nodes.size(); ++i) s.nodes[i]->sweep_slot = static_cast<std::uint32_t>(i);
  return s;
}

void check_saved(const Node& n) {
  auto report = [&](const char* what, const Tensor& t, std::uint64_t then) {
    fail("backward of {}: its saved {} ({}) was modified in place after it was saved "
         "(version {} then, {} now); clone the value before modifying it, or modify a copy",
         op_name(n.op), what, t.str(), then, t.version());
  };
  static const char* names[] = {"input 0", "input 1", "input 2"};
  for (std::size_t i = 0; i < n.inputs.size() && i < 3; ++i)
    if (n.inputs[i].saved.defined() && n.inputs[i].saved.version() != n.inputs[i].saved_version)
      report(names[i], n.inputs[i].saved, n.inputs[i].saved_version);
  if (n.saved_output.defined() && n.saved_output.version() != n.saved_output_version)
    report("output", n.saved_output, n.saved_output_version);
}

Var accumulate(const Var& acc, const Var& g) { return acc.defined() ? acc + g : g; }

// Runs the sweep; `wanted[slot]` marks nodes whose gradient the caller reads afterwards.
std::vector<Var> run_sweep(const Sweep& s, const std::vector<Var>& outputs,
                           const std::vector<Var>& grad_outputs, std::vector<char> wanted,
                           bool create_graph) {
  const std::size_t count = s.nodes.size();
  // A node needs its backward run only if some wanted node lies below it.
  std::vector<char> needed(wanted);
  for (std::size_t i = count; i-- > 0;) {
    const Node* n = s.nodes[i];
    for (const auto& in : n->inputs)
      if (in.node && needed[in.node->sweep_slot]) { needed[i] = 1; break; }
  }
  std::vector<Var> grads(count);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const NodePtr& node = outputs[i].node();
    if (!node) continue;
    Var seed = grad_outputs.empty() || !grad_outputs[i].defined()
                   ? Var(Tensor::ones(outputs[i].shape(), outputs[i].dtype(), outputs[i].device()))
                   : grad_outputs[i];
    grads[node->sweep_slot] = accumulate(grads[node->sweep_slot], seed);
  }
  GradModeScope mode(create_graph);
  std::vector<Var> gx;
  for (std::size_t i = 0; i < count; ++i) {
    Node* n = s.nodes[i];
    if (n->leaf || !needed[i] || !grads[i].defined()) continue;
    bool below = false;
    for (const auto& in : n->inputs) below = below || (in.node && needed[in.node->sweep_slot]);
    if (!below) continue;
    check_saved(*n);
    gx.assign(n->inputs.size(), Var());
    backward_rule(s.owners[i], grads[i], gx);
    for (std::size_t k = 0; k < n->inputs.size(); ++k) {
      const NodePtr& target = n->inputs[k].node;
      if (!target || !gx[k].defined() || !needed[target->sweep_slot]) continue;
      if (!(gx[k].shape() == n->inputs[k].shape))
        fail("internal error: backward of {} produced a gradient of shape {} for input {} of shape {}",
             op_name(n->op), gx[k].shape().str(), k, n->inputs[k].shape.str());
      grads[target->sweep_slot] = accumulate(grads[target->sweep_slot], gx[k]);
    }
    if (!wanted[i]) grads[i] = Var();  // free intermediate gradients as soon as they are used
  }
  return grads;
}

void check_outputs(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    fail("grad: {} grad_outputs given for {} outputs", grad_outputs.size(), outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].defined()) fail("grad: output {} is undefined", i);
    const bool given = !grad_outputs.empty() && grad_outputs[i].defined();
    if (!given && outputs[i].numel() != 1)
      fail("grad: output {} has shape {}; pass grad_outputs for non-scalar outputs", i, outputs[i].shape().str());
    if (given && !(grad_outputs[i].shape() == outputs[i].shape()))
      fail("grad: grad_output {} has shape {} but output {} has shape {}", i, grad_outputs[i].shape().str(), i, outputs[i].shape().str());
  }
}

// Owning pointers in sweep order (the rules need shared ownership of the node they run).
void attach_owners(Sweep& s, const std::vector<Var>& outputs) {
  s.owners.assign(s.nodes.size(), nullptr);
  for (const Var& o : outputs)
    if (o.node()) s.owners[o.node()->sweep_slot] = o.node();
  for (Node* n : s.nodes)
    for (auto& in : n->inputs)
      if (in.node) s.owners[in.node->sweep_slot] = in.node;
}

}  // namespace

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, GradOptions options) {
  check_outputs(outputs, grad_outputs);
  Sweep s = collect(outputs);
  attach_owners(s, outputs);
  std::vector<char> wanted(s.nodes.size(), 0);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const NodePtr& node = inputs[i].node();
    if (node && node->sweep_mark == s.mark) wanted[node->sweep_slot] = 1;
    else if (!options.allow_unused)
      fail("grad: input {} ({}) {}; pass allow_unused to get zeros", i, inputs[i].str(),
           node ? "is not used to compute the outputs" : "does not require a gradient");
  }
  std::vector<Var> grads = run_sweep(s, outputs, grad_outputs, wanted, options.create_graph);
  std::vector<Var> result;
  result.reserve(inputs.size());
  for (const Var& input : inputs) {
    const NodePtr& node = input.node();
    Var g = node && node->sweep_mark == s.mark ? grads[node->sweep_slot] : Var();
    if (!g.defined()) g = Var(Tensor::zeros(input.shape(), input.dtype(), input.device()));
    if (!options.create_graph) g = g.detach();
    result.push_back(std::move(g));
  }
  return result;
}

Var grad(const Var& output, const Var& input, GradOptions options) {
  return grad(std::vector<Var>{output}, std::vector<Var>{input}, {}, options)[0];
}

void backward(const Var& loss, const Var& grad_output) {
  const std::vector<Var> outputs{loss};
  const std::vector<Var> seeds = grad_output.defined() ? std::vector<Var>{grad_output} : std::vector<Var>{};
  check_outputs(outputs, seeds);
  Sweep s = collect(outputs);
  attach_owners(s, outputs);
  std::vector<char> wanted(s.nodes.size(), 0);
  for (std::size_t i = 0; i < s.nodes.size(); ++i) wanted[i] = s.nodes[i]->leaf;
  const std::vector<Var> grads = run_sweep(s, outputs, seeds, wanted, false);
  for (std::size_t i = 0; i < s.nodes.size(); ++i) {
    Node* n = s.nodes[i];
    if (!n->leaf || !grads[i].defined()) continue;
    const Tensor& g = grads[i].value();
    Tensor& acc = static_cast<LeafNode*>(n)->grad;
    if (acc.defined()) acc.add_(g);
    else acc = g.clone();  // own the storage: later in-place accumulation must not alias
  }
}

}  // namespace tide
