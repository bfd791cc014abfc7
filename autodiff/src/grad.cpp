// The reverse sweep: collect the nodes the outputs depend on (iteratively), order them by
// recording sequence, and visit each once from the last recorded to the first. All per-sweep
// state lives in the Sweep object, so sweeps over graphs that share nodes (a parameter used by
// several threads' losses) may run concurrently.
#include "tide/autodiff/grad.hpp"
#include "backward.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/ops.hpp"
#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_map>

namespace tide {

namespace {

// Node -> slot, open addressing with linear probing over a power-of-two table: one allocation per
// growth instead of one per node (std::unordered_map's), which the many small sweeps of a VJP
// inside every dynamics evaluation (Hutchinson's trace) felt as a tenth of their time.
class NodeSlots {
public:
  // Inserts n with `slot` unless present; true when inserted.
  bool insert(const Node* n, std::uint32_t slot) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    std::size_t i = home(n);
    while (keys_[i] && keys_[i] != n) i = (i + 1) & (keys_.size() - 1);
    if (keys_[i]) return false;
    keys_[i] = n, slots_[i] = slot, ++size_;
    return true;
  }
  void set(const Node* n, std::uint32_t slot) { slots_[position(n)] = slot; }
  std::int64_t find(const Node* n) const {
    if (keys_.empty()) return -1;
    const std::size_t i = position(n);
    return keys_[i] ? static_cast<std::int64_t>(slots_[i]) : -1;
  }

private:
  std::size_t home(const Node* n) const {
    const auto h = reinterpret_cast<std::uintptr_t>(n) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h >> 20) & (keys_.size() - 1);
  }
  std::size_t position(const Node* n) const {  // n's cell, or the empty cell where it would go
    std::size_t i = home(n);
    while (keys_[i] && keys_[i] != n) i = (i + 1) & (keys_.size() - 1);
    return i;
  }
  void grow() {
    std::vector<const Node*> keys = std::move(keys_);
    std::vector<std::uint32_t> slots = std::move(slots_);
    keys_.assign(std::max<std::size_t>(64, 2 * keys.size()), nullptr);
    slots_.assign(keys_.size(), 0);
    size_ = 0;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i]) insert(keys[i], slots[i]);
  }
  std::vector<const Node*> keys_;
  std::vector<std::uint32_t> slots_;
  std::size_t size_ = 0;
};

struct Sweep {
  std::vector<NodePtr> nodes;  // reverse recording order
  NodeSlots slot;              // node -> index in `nodes`
  // GradOptions::recorded_from: nodes recorded before it, and the wanted inputs, end the sweep (they
  // get gradients, but their backward does not run and their history is not collected)
  std::uint64_t recorded_from = 0;
  std::vector<const Node*> ends;

  bool ends_at(const Node* n) const {
    return recorded_from > 0 && (n->sequence < recorded_from || is_wanted_end(n));
  }
  bool is_wanted_end(const Node* n) const { return std::find(ends.begin(), ends.end(), n) != ends.end(); }

  std::int64_t find(const Node* n) const { return slot.find(n); }
};

// The nodes the outputs depend on, recorded no earlier than `since`: a node's sequence exceeds its
// inputs', so nodes older than every wanted input cannot lie on a path to one (a VJP inside a
// solve's step then visits that step's nodes, not the whole solve recorded before it). With
// `recorded_from` (then `since`), older nodes among `ends` are taken too, and no end's history is.
Sweep collect(const std::vector<Var>& outputs, std::uint64_t since = 0, const std::vector<Var>& ends = {}, bool recorded_from = false) {
  Sweep s;
  if (recorded_from) s.recorded_from = since;
  for (const Var& e : ends)
    if (recorded_from && e.node()) s.ends.push_back(e.node().get());
  std::vector<NodePtr> stack;
  for (const Var& o : outputs)
    if (o.node() && s.slot.insert(o.node().get(), 0)) stack.push_back(o.node());
  while (!stack.empty()) {
    NodePtr n = std::move(stack.back());
    stack.pop_back();
    if (n->sequence >= since && !s.ends_at(n.get()))
      for (const auto& in : n->inputs)
        if (in.node && (in.node->sequence >= since || s.is_wanted_end(in.node.get())) && s.slot.insert(in.node.get(), 0))
          stack.push_back(in.node);
    s.nodes.push_back(std::move(n));
  }
  std::sort(s.nodes.begin(), s.nodes.end(), [](const NodePtr& a, const NodePtr& b) { return a->sequence > b->sequence; });
  for (std::size_t i = 0; i < s.nodes.size(); ++i) s.slot.set(s.nodes[i].get(), static_cast<std::uint32_t>(i));
  return s;
}

void check_saved(const OpNode& n) {
  auto report = [&](const char* what, const Tensor& t, std::uint64_t then) {
    throw SavedValueModifiedError(fmt::format("backward of {}: its saved {} ({}) was modified in place after it was saved "
                                              "(version {} then, {} now); clone the value before modifying it, or modify a copy",
                                              op_name(n.call.op), what, t.str(), then, t.version()));
  };
  static const char* names[] = {"input 0", "input 1", "input 2", "output"};
  const std::uint8_t saves = op_info(n.call.op).saves;
  for (int i = 0; i < 4; ++i) {
    if (!(saves & (1u << i))) continue;
    const SavedValue& s = n.saved[saved_index(n.call.op, i)];
    if (s.value.version() != s.version) report(names[i], s.value, s.version);
  }
}

Var accumulate(const Var& acc, const Var& g) { return acc.defined() ? acc + g : g; }

// The gradients of a sweep's nodes as they accumulate. Without create_graph, a slot's tensor made
// by the sweep itself (a sum of two contributions, or the zeros a slice's gradient lands in) is
// private to the slot until its node runs (every contribution arrives before that, in sweep
// order), so later contributions are added into it in place instead of each allocating a new sum;
// a tensor a backward rule returned may be shared with other slots (add passes g on to both
// inputs) and is never written.
class Accumulator {
public:
  Accumulator(std::vector<Var>& grads, bool create_graph)
      : grads_(grads), owned_(grads.size(), 0), zeros_(grads.size()), in_place_(!create_graph) {}

  void add(std::size_t slot, const Var& g) {
    Var& acc = grads_[slot];
    zeros_[slot].valid = false;
    if (!acc.defined()) {
      acc = g, owned_[slot] = 0;
    } else if (owned_[slot] && g.shape() == acc.shape() && g.dtype() == acc.dtype()) {
      Tensor sum = acc.value();
      sum.add_(g.value());
    } else {
      acc = acc + g, owned_[slot] = in_place_;
    }
  }

  // The gradient g of a slice of the input in `slot` (shape `shape`), added into that slice of the
  // slot's gradient: one pass over the slice instead of a zero tensor of the input's shape, the
  // slice written into it, and a full-size sum per slice (an LSTM's four gate slices).
  // A slice of zeros the sweep made that no earlier slice overlaps takes g as it is (a copy: one
  // pass, where an add into a strided slice is a sum and a copy back).
  void add_to_slice(std::size_t slot, const Shape& shape, const OpAttrs& call, const Var& g) {
    Var& acc = grads_[slot];
    ZeroSlices& z = zeros_[slot];
    if (!acc.defined()) {
      acc = Var(Tensor::zeros(shape, g.dtype(), g.device()));
      z = ZeroSlices{true, call.axis, {}};
    } else if (!owned_[slot]) {
      acc = Var(acc.value().clone());
      z.valid = false;
    }
    owned_[slot] = 1;
    Tensor part = acc.value().slice(static_cast<int>(call.axis), call.start, call.stop, call.step);
    if (z.untouched(call)) part.copy_(g.value());
    else part.add_(g.value());
    if (call.axis != z.axis || call.step != 1) z.valid = false;  // ranges of one axis say no more
    z.taken.emplace_back(call.start, call.stop);
  }

  bool in_place() const { return in_place_; }

  // Whether private_tensor can serve this slot: not under create_graph, and the slot holds nothing
  // or a gradient of the input's shape and dtype.
  bool can_share(std::size_t slot, const NodeInput& in) const {
    const Var& acc = grads_[slot];
    return in_place_ && (!acc.defined() || (acc.shape() == in.shape && acc.dtype() == in.dtype));
  }

  // The slot's tensor, private to it and contiguous, for a custom backward to add a gradient into
  // (CustomBackward::backward_into): zeros when the slot holds none, a copy when it holds one it
  // does not own. Undefined under create_graph, or when the slot holds another shape or dtype.
  Tensor private_tensor(std::size_t slot, const NodeInput& in, Device device) {
    if (!can_share(slot, in)) return Tensor();
    Var& acc = grads_[slot];
    zeros_[slot].valid = false;
    if (!acc.defined()) acc = Var(Tensor::zeros(in.shape, in.dtype, device));
    else if (!owned_[slot] || !acc.value().is_contiguous()) acc = Var(acc.value().clone());
    owned_[slot] = 1;
    return acc.value();
  }

private:
  // The unit-step ranges of one axis written so far into a slot's zeros (valid: the slot still
  // holds zeros outside them).
  struct ZeroSlices {
    bool valid = false;
    std::int64_t axis = 0;
    std::vector<std::pair<std::int64_t, std::int64_t>> taken;
    bool untouched(const OpAttrs& c) const {
      if (!valid || c.axis != axis || c.step != 1) return false;
      for (const auto& [start, stop] : taken)
        if (c.start < stop && start < c.stop) return false;
      return true;
    }
  };

  std::vector<Var>& grads_;
  std::vector<char> owned_;
  std::vector<ZeroSlices> zeros_;
  bool in_place_;
};

// Each node's input slots (-1 for constants), looked up once, and whether its backward must run:
// only if some wanted node lies below it.
struct SweepPlan {
  std::vector<std::int64_t> input_slots;
  std::vector<std::size_t> first_input;  // node i's slots: [first_input[i], first_input[i + 1])
  std::vector<char> needed;

  std::int64_t slot(std::size_t node, std::size_t k) const { return input_slots[first_input[node] + k]; }
  bool feeds_needed(std::size_t node) const {
    for (std::size_t k = first_input[node]; k < first_input[node + 1]; ++k)
      if (input_slots[k] >= 0 && needed[static_cast<std::size_t>(input_slots[k])]) return true;
    return false;
  }
};

SweepPlan plan_sweep(const Sweep& s, const std::vector<char>& wanted) {
  const std::size_t count = s.nodes.size();
  SweepPlan p;
  p.first_input.assign(count + 1, 0);
  for (std::size_t i = 0; i < count; ++i) {
    p.first_input[i] = p.input_slots.size();
    const bool end = s.ends_at(s.nodes[i].get());
    for (const auto& in : s.nodes[i]->inputs) p.input_slots.push_back(in.node && !end ? s.find(in.node.get()) : -1);
  }
  p.first_input[count] = p.input_slots.size();
  p.needed = wanted;
  for (std::size_t i = count; i-- > 0;) p.needed[i] = p.needed[i] || p.feeds_needed(i);
  return p;
}

// The tensors custom node i may add its inputs' gradients into (CustomBackward::adds_into): the
// slots' private tensors, for every input it names when each needs a gradient and lies in a slot of
// its own; else none (the node's plain backward then runs, and no slot is touched).
std::vector<Tensor> accumulators_for(const Sweep& s, std::size_t i, const Var& g, const SweepPlan& plan, Accumulator& acc) {
  const Node& n = *s.nodes[i];
  const std::span<const int> named = n.custom->adds_into();
  auto slot_of = [&](int k) { return k >= 0 && static_cast<std::size_t>(k) < n.inputs.size() ? plan.slot(i, static_cast<std::size_t>(k)) : -1; };
  for (std::size_t j = 0; j < named.size(); ++j) {
    const std::int64_t target = slot_of(named[j]);
    if (target < 0 || !plan.needed[static_cast<std::size_t>(target)] || !acc.can_share(static_cast<std::size_t>(target), n.inputs[static_cast<std::size_t>(named[j])]))
      return {};
    for (std::size_t e = 0; e < j; ++e)
      if (slot_of(named[e]) == target) return {};
  }
  std::vector<Tensor> into(n.inputs.size());
  for (const int k : named)
    into[static_cast<std::size_t>(k)] = acc.private_tensor(static_cast<std::size_t>(slot_of(k)), n.inputs[static_cast<std::size_t>(k)], g.device());
  return into;
}

// gx[k]: the gradient of node i's input k given its output's g (a custom backward or the op's
// rule); a custom node may add some into the sweep's tensors instead (their gx undefined).
void input_gradients(const Sweep& s, std::size_t i, const Var& g, const SweepPlan& plan, Accumulator& acc, std::vector<Var>& gx) {
  const NodePtr& n = s.nodes[i];
  gx.assign(n->inputs.size(), Var());
  if (n->custom) {
    gx = n->custom->adds_into().empty() || !acc.in_place() ? n->custom->backward(g)
                                                          : n->custom->backward_into(g, accumulators_for(s, i, g, plan, acc));
    if (gx.size() != n->inputs.size())
      fail("custom backward {} returned {} gradients for {} inputs", n->custom->name(), gx.size(), n->inputs.size());
    return;
  }
  check_saved(op_node(*n));
  backward_rule(n, g, gx);
}

// Runs the sweep; `wanted[slot]` marks nodes whose gradient the caller reads afterwards.
std::vector<Var> run_sweep(const Sweep& s, const std::vector<Var>& outputs,
                           const std::vector<Var>& grad_outputs, const std::vector<char>& wanted,
                           bool create_graph) {
  const SweepPlan plan = plan_sweep(s, wanted);
  std::vector<Var> grads(s.nodes.size());
  Accumulator acc(grads, create_graph);
  const TransposeCacheScope weights_transposed_once;  // a weight used at every step: one transposed copy per sweep
  GradModeScope mode(create_graph);  // before the seeds: an output listed twice sums its seeds, recorded too
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].node()) continue;
    const std::int64_t slot = s.find(outputs[i].node().get());
    Var seed = grad_outputs.empty() || !grad_outputs[i].defined()
                   ? Var(Tensor::ones(outputs[i].shape(), outputs[i].dtype(), outputs[i].device()))
                   : grad_outputs[i];
    grads[slot] = accumulate(grads[slot], seed);
  }
  std::vector<Var> gx;
  for (std::size_t i = 0; i < s.nodes.size(); ++i) {
    const NodePtr& n = s.nodes[i];
    if (n->leaf || !plan.needed[i] || !grads[i].defined() || !plan.feeds_needed(i)) continue;
    if (!n->custom && op_node(*n).call.op == Op::slice && acc.in_place()) {
      acc.add_to_slice(static_cast<std::size_t>(plan.slot(i, 0)), n->inputs[0].shape, op_node(*n).call, grads[i]);
    } else {
      input_gradients(s, i, grads[i], plan, acc, gx);
      for (std::size_t k = 0; k < n->inputs.size(); ++k) {
        const std::int64_t target = plan.slot(i, k);
        if (target < 0 || !gx[k].defined() || !plan.needed[static_cast<std::size_t>(target)]) continue;
        if (!(gx[k].shape() == n->inputs[k].shape) || gx[k].dtype() != n->inputs[k].dtype)
          fail("internal error: backward of {} produced a gradient {} for input {}, which is {}{}",
               n->custom ? n->custom->name() : op_name(op_node(*n).call.op), gx[k].str(), k, dtype_name(n->inputs[k].dtype),
               n->inputs[k].shape.str());
        acc.add(static_cast<std::size_t>(target), gx[k]);
      }
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
    if (given && (!(grad_outputs[i].shape() == outputs[i].shape()) || grad_outputs[i].dtype() != outputs[i].dtype() ||
                  grad_outputs[i].device() != outputs[i].device()))
      fail("grad: grad_output {} is {} on {} but output {} is {} on {}", i, grad_outputs[i].str(),
           grad_outputs[i].device().str(), i, outputs[i].str(), outputs[i].device().str());
  }
}

// The storages of a set of tensors: scanned while they are few (no hash map for a small graph's
// call), then found by where each storage starts (every view of one storage gives the same
// start); a match is confirmed with shares_storage_with, so two storages that start at one address
// (empty ones) are never taken for one.
class StorageSet {
public:
  void add(const Tensor& t) {
    if (!t.defined()) return;
    if (by_start_.empty() && few_.size() < few_limit) return few_.push_back(t);
    for (const Tensor& f : few_) by_start_.emplace(start(f), f);
    few_.clear();
    by_start_.emplace(start(t), t);
  }
  void add(const std::vector<Var>& vs) {
    for (const Var& v : vs)
      if (v.defined()) add(v.value());
  }
  bool shares_with(const Tensor& t) const {
    const auto shares = [&t](const Tensor& other) { return t.shares_storage_with(other); };
    if (by_start_.empty()) return std::any_of(few_.begin(), few_.end(), shares);
    const auto [first, last] = by_start_.equal_range(start(t));
    return std::any_of(first, last, [&](const auto& entry) { return shares(entry.second); });
  }

private:
  static constexpr std::size_t few_limit = 32;
  static const void* start(const Tensor& t) {
    return static_cast<const char*>(t.raw_data()) - t.offset() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  }
  std::vector<Tensor> few_;
  std::unordered_multimap<const void*, Tensor> by_start_;
};

// g as a tensor its caller may update in place: dense, and its own storage. Pass-through rules
// (add's, a reshape's) hand one cotangent to several inputs, or the caller's grad_output itself.
// `taken`: the storages of the outputs, inputs, grad_outputs and the gradients returned so far.
Tensor private_gradient(const Tensor& g, const StorageSet& taken) {
  if (!g.is_contiguous()) return g.contiguous();
  return taken.shares_with(g) ? g.clone() : g;
}

// Each input's gradient from the sweep's (zeros where none flowed); without create_graph, each is
// made private (private_gradient) against everything the caller holds or is handed.
std::vector<Var> returned_gradients(const Sweep& s, const std::vector<Var>& grads, const std::vector<Var>& outputs,
                                    const std::vector<Var>& inputs, const std::vector<Var>& grad_outputs, bool create_graph) {
  std::vector<Var> result;
  result.reserve(inputs.size());
  StorageSet taken;
  if (!create_graph)
    for (const std::vector<Var>* vs : {&outputs, &inputs, &grad_outputs}) taken.add(*vs);
  for (const Var& input : inputs) {
    const std::int64_t slot = input.node() ? s.find(input.node().get()) : -1;
    Var g = slot >= 0 ? grads[slot] : Var();
    if (!g.defined()) g = Var(Tensor::zeros(input.shape(), input.dtype(), input.device()));
    if (!create_graph) {
      g = Var(private_gradient(g.value(), taken));
      taken.add(g.value());
    }
    result.push_back(std::move(g));
  }
  return result;
}

}  // namespace

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, GradOptions options) {
  check_outputs(outputs, grad_outputs);
  std::uint64_t since = std::numeric_limits<std::uint64_t>::max();
  for (const Var& input : inputs) since = std::min(since, input.node() ? input.node()->sequence : since);
  const Sweep s = options.recorded_from > 0 ? collect(outputs, options.recorded_from, inputs, true)
                                            : collect(outputs, since == std::numeric_limits<std::uint64_t>::max() ? 0 : since);
  std::vector<char> wanted(s.nodes.size(), 0);
  const bool constant = std::none_of(outputs.begin(), outputs.end(), [](const Var& y) { return y.requires_grad(); });
  if (constant && !outputs.empty() && !inputs.empty() && !options.allow_unused)
    fail("grad: no output requires a gradient (output 0, {}, was computed from constants or under NoGrad; a gradient "
         "is one of these unless the grad() that made it had create_graph)", outputs[0].str());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::int64_t slot = inputs[i].node() ? s.find(inputs[i].node().get()) : -1;
    if (slot >= 0) wanted[slot] = 1;
    else if (!options.allow_unused)
      fail("grad: input {} ({}) {}; pass allow_unused to get zeros", i, inputs[i].str(),
           inputs[i].node() ? "is not used to compute the outputs" : "does not require a gradient");
  }
  const std::vector<Var> grads = run_sweep(s, outputs, grad_outputs, wanted, options.create_graph);
  return returned_gradients(s, grads, outputs, inputs, grad_outputs, options.create_graph);
}

Var grad(const Var& output, const Var& input, GradOptions options) {
  return grad(std::vector<Var>{output}, std::vector<Var>{input}, {}, options)[0];
}

void backward(const Var& loss, const Var& grad_output) {
  if (loss.defined() && !loss.requires_grad())
    fail("backward: the loss ({}) does not depend on any parameter (it was computed from constants "
         "or under NoGrad)", loss.str());
  const std::vector<Var> outputs{loss};
  const std::vector<Var> seeds = grad_output.defined() ? std::vector<Var>{grad_output} : std::vector<Var>{};
  check_outputs(outputs, seeds);
  const Sweep s = collect(outputs);
  std::vector<char> wanted(s.nodes.size(), 0);
  for (std::size_t i = 0; i < s.nodes.size(); ++i) wanted[i] = s.nodes[i]->leaf;
  const std::vector<Var> grads = run_sweep(s, outputs, seeds, wanted, false);
  for (std::size_t i = 0; i < s.nodes.size(); ++i) {
    if (!s.nodes[i]->leaf || !grads[i].defined()) continue;
    Tensor& acc = static_cast<LeafNode&>(*s.nodes[i]).grad;
    // Out of place: the accumulator may be a tensor the caller handed to set_grad, or a view.
    acc = acc.defined() ? add(acc, grads[i].value()) : grads[i].value().clone();
  }
}

}  // namespace tide
