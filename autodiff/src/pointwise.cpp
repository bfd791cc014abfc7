// Fused pointwise ops (pointwise.hpp).
#include "tide/autodiff/pointwise.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/ops.hpp"
#include "tide/core/small_blocks.hpp"
#include <algorithm>

namespace tide {
namespace {

Shape broadcast_shape(const PointwiseOp& op, const std::vector<Var>& inputs) {
  if (static_cast<int>(inputs.size()) != op.forward.n_inputs)
    fail("{}: {} inputs expected, got {}", op.name, op.forward.n_inputs, inputs.size());
  Shape out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Var& x = inputs[i];
    if (!x.defined()) fail("{}: input {} is undefined", op.name, i);
    if (x.dtype() != inputs[0].dtype() || x.device() != inputs[0].device())
      fail("{}: input {} is {} on {}, input 0 {} on {}", op.name, i, dtype_name(x.dtype()), x.device().str(),
           dtype_name(inputs[0].dtype()), inputs[0].device().str());
    if (!is_floating(x.dtype())) fail("{}: input {} is {}; floating inputs expected", op.name, i, dtype_name(x.dtype()));
    if (i == 0) out = x.shape();
    else out = broadcast_shapes(out, x.shape(), fmt::format("{} (input {})", op.name, i).c_str());
  }
  return out;
}

std::vector<Tensor> views(const std::vector<Var>& inputs, const Shape& shape) {
  std::vector<Tensor> v;
  v.reserve(inputs.size() + 1);
  for (const Var& x : inputs) v.push_back(x.value().broadcast_to(shape));
  return v;
}

class PointwiseBackward final : public CustomBackward {
public:
  PointwiseBackward(std::shared_ptr<const PointwiseOp> op, std::vector<Var> inputs, std::vector<Tensor> saved, Shape shape)
      : op_(std::move(op)), inputs_(std::move(inputs)), saved_(std::move(saved)), shape_(std::move(shape)), versions_(values()) {}
  const char* name() const override { return op_->name.c_str(); }

  std::vector<Var> backward(const Var& g) override {
    versions_.check(name(), values());
    if (grad_enabled()) return composite_vjp([this](const std::vector<Var>& in) { return std::vector<Var>{op_->composite(in)}; }, inputs_, {g});
    ElementwiseProgram program = op_->backward;
    std::vector<Tensor> full;  // one per distinct gradient value asked for
    std::vector<int> slot(inputs_.size(), -1);
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      const int v = op_->gradient[i];
      if (v < 0 || !inputs_[i].requires_grad()) continue;
      const auto seen = std::find(program.outputs.begin(), program.outputs.end(), v);
      slot[i] = static_cast<int>(seen - program.outputs.begin());
      if (seen != program.outputs.end()) continue;
      program.outputs.push_back(v);
      full.push_back(Tensor::empty(shape_, g.dtype(), g.device()));
    }
    std::vector<Var> out(inputs_.size());
    if (full.empty()) return out;
    std::vector<Tensor> all = views(inputs_, shape_);
    all.insert(all.end(), saved_.begin(), saved_.end());
    all.push_back(g.value().broadcast_to(shape_));
    std::vector<int> kept;  // a compiled plan then keeps only these for the backward
    program = without_unused_inputs(without_dead_steps(program), kept);
    std::vector<Tensor> in;
    for (int i : kept) in.push_back(std::move(all[static_cast<std::size_t>(i)]));
    g.value().backend().elementwise(program, in, full);
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      if (slot[i] >= 0) out[i] = Var(sum_to(full[static_cast<std::size_t>(slot[i])], inputs_[i].shape()));
    return out;
  }

private:
  std::vector<Tensor> values() const {
    std::vector<Tensor> v;
    for (const Var& x : inputs_) v.push_back(x.value());
    return v;
  }

  std::shared_ptr<const PointwiseOp> op_;
  std::vector<Var> inputs_;
  std::vector<Tensor> saved_;  // op_->forward_saving's values after the output; private, so never changed
  Shape shape_;
  SavedVersions versions_;
};

}  // namespace

Var pointwise(const std::shared_ptr<const PointwiseOp>& op_ptr, const std::vector<Var>& inputs) {
  if (!op_ptr) fail("pointwise: no op");
  const PointwiseOp& op = *op_ptr;
  const Shape shape = broadcast_shape(op, inputs);
  if (op.gradient.size() != inputs.size()) fail("{}: the op has {} gradients for {} inputs", op.name, op.gradient.size(), inputs.size());
  bool record = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!grad_enabled() || !inputs[i].requires_grad()) continue;
    if (op.gradient[i] < 0)
      fail("{}: input {} requires a gradient, but the op is not differentiable in it (its vjp gives Sym{{}})", op.name, i);
    record = true;
  }
  // out, then the values the backward reads when the call is recorded
  std::vector<Tensor> out(1 + (record ? static_cast<std::size_t>(op.n_saved) : 0));
  for (Tensor& t : out) t = Tensor::empty(shape, inputs[0].dtype(), inputs[0].device());
  out[0].backend().elementwise(record ? op.forward_saving : op.forward, views(inputs, shape), out);
  if (!record) return Var(std::move(out[0]));
  std::vector<Tensor> saved(std::make_move_iterator(out.begin() + 1), std::make_move_iterator(out.end()));
  return record_custom(std::move(out[0]), inputs, make_pooled<PointwiseBackward>(op_ptr, inputs, std::move(saved), shape));
}

namespace detail {
namespace {

// The ops evaluated by polynomials and range reductions: worth a store and a load to evaluate once.
bool costly(Op op) {
  switch (op) {
    case Op::exp: case Op::expm1: case Op::log: case Op::log1p: case Op::tanh: case Op::sigmoid: case Op::softplus:
    case Op::silu: case Op::gelu: case Op::erf: case Op::sin: case Op::cos: case Op::elu: case Op::pow_scalar:
      return true;
    default:
      return false;
  }
}

// Per value of a backward program (inputs, then the cotangent): whether it depends on the cotangent.
std::vector<char> reads_cotangent(const ElementwiseProgram& b) {
  std::vector<char> dep(static_cast<std::size_t>(b.n_inputs) + b.steps.size(), 0);
  dep[static_cast<std::size_t>(b.n_inputs - 1)] = 1;
  for (std::size_t k = 0; k < b.steps.size(); ++k)
    for (int in : b.steps[k].in)
      if (in >= 0 && dep[static_cast<std::size_t>(in)]) dep[static_cast<std::size_t>(b.n_inputs) + k] = 1;
  return dep;
}

// b (n inputs, then the cotangent) reading each step value v with slot[v] >= 0 from input
// n + slot[v] instead of computing it (k slots, the cotangent after them); its outputs are the
// gradients (those >= 0, in order), its dead steps dropped.
ElementwiseProgram reading_saved(const ElementwiseProgram& b, const std::vector<int>& slot, int k, const std::vector<int>& gradient) {
  const int n = b.n_inputs - 1;
  std::vector<int> id(static_cast<std::size_t>(b.n_inputs) + b.steps.size(), -1);
  for (int i = 0; i < n; ++i) id[static_cast<std::size_t>(i)] = i;
  id[static_cast<std::size_t>(n)] = n + k;
  ElementwiseProgram out;
  out.n_inputs = n + k + 1;
  for (std::size_t t = 0; t < b.steps.size(); ++t) {
    const std::size_t v = static_cast<std::size_t>(b.n_inputs) + t;
    if (slot[v] >= 0) {
      id[v] = n + slot[v];
      continue;
    }
    ElementwiseStep s = b.steps[t];
    for (int& in : s.in)
      if (in >= 0) in = id[static_cast<std::size_t>(in)];
    id[v] = out.n_inputs + static_cast<int>(out.steps.size());
    out.steps.push_back(s);
  }
  for (int g : gradient)
    if (g >= 0) out.outputs.push_back(id[static_cast<std::size_t>(g)]);
  return without_dead_steps(out);
}

bool reads(const ElementwiseProgram& p, int value) {
  for (const ElementwiseStep& s : p.steps)
    if (std::find(s.in.begin(), s.in.end(), value) != s.in.end()) return true;
  return std::find(p.outputs.begin(), p.outputs.end(), value) != p.outputs.end();
}

// The forward, then b's cotangent-free steps (they read only the op's inputs); `at` receives each
// copied b value's number in the result (-1 for the others).
ElementwiseProgram forward_with(const ElementwiseProgram& forward, const ElementwiseProgram& b, const std::vector<char>& dep,
                                std::vector<int>& at) {
  ElementwiseProgram f = forward;
  at.assign(static_cast<std::size_t>(b.n_inputs) + b.steps.size(), -1);
  for (int i = 0; i < forward.n_inputs; ++i) at[static_cast<std::size_t>(i)] = i;
  for (std::size_t t = 0; t < b.steps.size(); ++t) {
    if (dep[static_cast<std::size_t>(b.n_inputs) + t]) continue;
    ElementwiseStep s = b.steps[t];
    for (int& in : s.in)
      if (in >= 0) in = at[static_cast<std::size_t>(in)];
    at[static_cast<std::size_t>(b.n_inputs) + t] = f.n_inputs + static_cast<int>(f.steps.size());
    f.steps.push_back(s);
  }
  return f;
}

// The candidates: slot[v] for each costly cotangent-free value v of b whose equal in f (the
// forward followed by b's cotangent-free steps, `at` mapping b's values into it) is one of the
// forward's own steps; equal values share a slot. Returns each slot's value in f.
std::vector<int> shared_costly_values(const ElementwiseProgram& b, const std::vector<char>& dep, const ElementwiseProgram& f,
                                      const std::vector<int>& at, int forward_end, std::vector<int>& slot) {
  const std::vector<int> equal = equal_values(f);
  std::vector<int> first_of;
  slot.assign(at.size(), -1);
  for (std::size_t v = static_cast<std::size_t>(b.n_inputs); v < at.size(); ++v) {
    if (dep[v] || !costly(b.steps[v - static_cast<std::size_t>(b.n_inputs)].op)) continue;
    const int e = equal[static_cast<std::size_t>(at[v])];
    if (e >= forward_end) continue;
    const auto seen = std::find(first_of.begin(), first_of.end(), e);
    slot[v] = static_cast<int>(seen - first_of.begin());
    if (seen == first_of.end()) first_of.push_back(e);
  }
  return first_of;
}

}  // namespace

// Saved: each costly cotangent-free value of the vjp that the forward computes too (a value only
// the vjp needs costs the same in either pass, plus a store and a load), once per equal value,
// and only those the backward still reads when they are inputs (not one read only by another).
void save_costly_values(PointwiseOp& op) {
  const ElementwiseProgram& b = op.backward;
  const int n = op.forward.n_inputs;
  if (b.n_inputs != n + 1 || !op.forward_saving.outputs.empty()) fail("make_pointwise {}: the backward program is already split", op.name);
  const std::vector<char> dep = reads_cotangent(b);
  std::vector<int> at, slot;
  ElementwiseProgram f = forward_with(op.forward, b, dep, at);
  const std::vector<int> first_of = shared_costly_values(b, dep, f, at, n + static_cast<int>(op.forward.steps.size()), slot);
  const ElementwiseProgram first = reading_saved(b, slot, static_cast<int>(first_of.size()), op.gradient);
  std::vector<int> kept_slot(first_of.size(), -1);  // a slot read only by another saved value's steps is dropped
  for (std::size_t j = 0; j < first_of.size(); ++j)
    if (reads(first, n + static_cast<int>(j))) {
      kept_slot[j] = static_cast<int>(f.outputs.size()) - 1;
      f.outputs.push_back(first_of[j]);
    }
  for (int& s : slot)
    if (s >= 0) s = kept_slot[static_cast<std::size_t>(s)];
  op.n_saved = static_cast<int>(f.outputs.size()) - 1;
  op.forward_saving = with_equal_steps_merged(f);
  ElementwiseProgram back = reading_saved(b, slot, op.n_saved, op.gradient);
  std::size_t next = 0;
  for (int& g : op.gradient)
    if (g >= 0) g = back.outputs[next++];
  back.outputs.clear();
  op.backward = std::move(back);
}

}  // namespace detail

}  // namespace tide
