// Compiled functions (compile.hpp): per signature, a forward plan, and a backward plan split from a
// trace of forward + eager grad().
#include "tide/autodiff/compile.hpp"
#include "tide/core/shared_count.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/core/plan.hpp"
#include <algorithm>
#include <mutex>

namespace tide {

namespace {

struct Signature {
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<Device> devices;
  std::vector<bool> requires_grad;
  bool grad_mode = false;
  // signature_of(inputs) == *this, without building it (a replay checks this on every call)
  bool serves(const std::vector<Var>& inputs, bool grad) const {
    if (grad != grad_mode || inputs.size() != shapes.size()) return false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Var& v = inputs[i];
      if (v.dtype() != dtypes[i] || v.device() != devices[i] || (grad && v.requires_grad()) != requires_grad[i] || !(v.shape() == shapes[i]))
        return false;
    }
    return true;
  }
};

Signature signature_of(const std::vector<Var>& inputs) {
  Signature s;
  s.grad_mode = grad_enabled();
  for (const Var& v : inputs) {
    s.shapes.push_back(v.shape());
    s.dtypes.push_back(v.dtype());
    s.devices.push_back(v.device());
    s.requires_grad.push_back(s.grad_mode && v.requires_grad());
  }
  return s;
}

// One signature's plans. Without `backward` the function is served without a tape node.
struct Entry {
  Signature sig;
  Plan forward, backward;
  std::vector<Var> params;   // the closed-over values the node's gradient flows to (placeholders carrying the nodes)
  std::vector<int> wrt;      // the inputs that get gradients, in the backward plan's output order
  std::vector<int> param_inputs;  // the node's inputs that are params (after the function's own)
  std::vector<Tensor> late_constants;  // what the backward plan reads by reference at each run (the parameters' values)
  std::vector<Tensor> early_constants;  // what only the forward reads so (the create_graph path's re-run reads it too)
  PlanOptions options;
  Trace late;                // the backward's trace, for `adding`
  // Threads differentiating graphs that share a node of this entry (design.md) take turns at the
  // backward plans: a plan runs once at a time, and a replay calls no user code, so none re-enters.
  std::mutex backward_turn;

  // The backward plan that adds the params' gradients into tensors passed after the cotangent
  // (CustomBackward::backward_into), made at its first use.
  const Plan& adding() {
    std::call_once(adding_made_, [&] {
      PlanOptions o = options;
      o.in_place_inputs_from = late.inputs();
      adding_ = Plan(late.adding_outputs(static_cast<int>(wrt.size())), o);
    });
    return adding_;
  }

private:
  std::once_flag adding_made_;
  Plan adding_;
};

std::vector<Tensor> values_of(const std::vector<Var>& vs) {
  std::vector<Tensor> t;
  t.reserve(vs.size());
  for (const Var& v : vs) t.push_back(v.value());
  return t;
}

// The gradients a grad-mode trace computes with the forward: of every input that requires one and
// of every parameter the output depends on, where an eager call defers to grad() and computes only
// those asked for. A backward that fails here (a value it needs modified in place after the forward
// saved it, which an eager grad() of the other inputs never reads) is said to come from the trace.
std::vector<Var> traced_gradients(const Var& y, const std::vector<Var>& wrt, const Tensor& cotangent, std::uint64_t since,
                                  std::size_t n_params) {
  GradOptions opt;
  opt.allow_unused = true;
  opt.recorded_from = since;  // each parameter's own gradient, not also through another computed from it
  try {
    return grad({y}, wrt, {Var(cotangent)}, opt);
  } catch (const SavedValueModifiedError& e) {  // other errors pass as they are (a SolverError keeps its type)
    fail("compile: a compiled call in grad mode traces its backward with its forward, for every input that requires a "
         "gradient and every parameter the function closes over ({} here), and that backward failed: {}. Call it under "
         "NoGrad where no gradient is needed, or leave the values its backward reads unmodified (write into a clone)",
         n_params, e.what());
  }
}

// A function that writes in place into one of its inputs is refused at its trace: a plan writes its
// own copy of such an input (PlanOptions::in_place_inputs_from), so the caller's tensor, and another
// input sharing its storage, would not see the write as they do eagerly. No compiled function of
// the library writes its inputs (compile_dynamics' dynamics, steps and adjoint, the cells' steps).
// The trace ran on copies: the caller's tensors are as they were.
void refuse_input_writes(const Trace& t, const std::vector<Var>& inputs) {
  const std::vector<std::string> writes = t.input_writes();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!writes[i].empty())
      fail("compile: the function writes in place into its input {} ({}, by a {} call); a compiled call would write a "
           "private copy, so the caller's tensor (and another input sharing its storage) would not see the write as "
           "eagerly (refused when traced; the caller's tensors are unchanged): write into a clone of the input, or "
           "return the new value",
           i, inputs[i].value().str(), writes[i]);
}

}  // namespace

struct CompiledFunction::State {
  VarFunction fn;
  CompileOptions options;
  CompileStats stats;
  std::vector<std::shared_ptr<Entry>> entries;
  std::mutex entries_mutex;  // calls from several threads look entries up, and trace, under it

  std::shared_ptr<Entry> entry_for(const std::vector<Var>& inputs);
  std::shared_ptr<Entry> trace(const Signature& sig, const std::vector<Var>& inputs);
  void trace_joint(Entry& e, const std::vector<Var>& inputs);
  static void install_split(Entry& e, const Trace& joint, std::size_t n_inputs);
};

namespace {

// The node of one compiled call: the residuals its forward kept and the backward plan.
class CompiledBackward final : public CustomBackward {
public:
  CompiledBackward(std::shared_ptr<CompiledFunction::State> state, std::shared_ptr<Entry> entry,
                   std::vector<Tensor> residuals, std::vector<Var> inputs)
      : state_(std::move(state)), entry_(std::move(entry)), residuals_(std::move(residuals)), inputs_(std::move(inputs)) {
    adds_into_ = entry_->param_inputs;
    note_versions();
  }
  const char* name() const override { return "compiled function"; }

  // With a tensor for every param's gradient, the plan that adds them in (their GEMMs with
  // beta = 1) instead of returning them for the sweep to add.
  std::vector<Var> backward_into(const Var& g, const std::vector<Tensor>& into) override {
    check_versions(false);
    const std::size_t n = inputs_.size();
    if (grad_enabled() || into.size() != n + entry_->params.size() ||
        std::any_of(into.begin() + static_cast<std::ptrdiff_t>(n), into.end(), [](const Tensor& t) { return !t.defined(); }))
      return backward(g);
    std::vector<Tensor> tail{g.value().contiguous()};
    tail.insert(tail.end(), into.begin() + static_cast<std::ptrdiff_t>(n), into.end());
    std::vector<Tensor> out;
    {
      const std::lock_guard turn(entry_->backward_turn);
      out = entry_->adding().run(residuals_, tail);
    }
    count_shared(state_->stats.backward_calls);
    count_shared(state_->stats.adding_backward);
    std::vector<Var> grads(into.size());
    for (std::size_t k = 0; k < entry_->wrt.size(); ++k) grads[static_cast<std::size_t>(entry_->wrt[k])] = Var(out[k]);
    return grads;
  }

  std::vector<Var> backward(const Var& g) override {
    check_versions(false);
    const std::size_t n = inputs_.size();
    std::vector<Var> grads(n + entry_->params.size());
    if (grad_enabled()) return eager(g);
    // the residuals and then the cotangent as the plan's inputs, without copying the residuals'
    // handles or changing the node (two threads differentiating through it take turns)
    std::vector<Tensor> out;
    {
      const std::lock_guard turn(entry_->backward_turn);
      out = entry_->backward.run(residuals_, g.value().contiguous());
    }
    count_shared(state_->stats.backward_calls);
    for (std::size_t k = 0; k < entry_->wrt.size(); ++k) grads[static_cast<std::size_t>(entry_->wrt[k])] = Var(out[k]);
    for (std::size_t k = 0; k < entry_->params.size(); ++k) grads[n + k] = Var(out[entry_->wrt.size() + k]);
    return grads;
  }

private:
  // What the backward reads, with its versions at the call: the residuals (the plan hands back
  // the caller's tensors where it can, an input, the output or a view of one, and its own buffers,
  // which nobody else writes, otherwise) and the values its plan reads by reference (the
  // parameters); the create_graph path re-runs the function, so also what only the forward reads
  // by reference and the inputs. An in-place change before the backward would give a wrong
  // gradient: the backward refuses it, as the op table's rules do.
  std::size_t checked(bool rerun) const {
    return residuals_.size() + entry_->late_constants.size() + (rerun ? entry_->early_constants.size() + inputs_.size() : 0);
  }
  const Tensor* checked_value(std::size_t i) const {
    const Entry& e = *entry_;
    if (i < residuals_.size()) return &residuals_[i];
    i -= residuals_.size();
    if (i < e.late_constants.size()) return &e.late_constants[i];
    i -= e.late_constants.size();
    return i < e.early_constants.size() ? &e.early_constants[i] : &inputs_[i - e.early_constants.size()].value();
  }
  const char* checked_name(std::size_t i) const {
    const std::size_t n_res = residuals_.size(), n_const = entry_->late_constants.size() + entry_->early_constants.size();
    return i < n_res ? "value kept for its backward (an input or its output)"
                     : i < n_res + n_const ? "closed-over value (a parameter, or another tensor it reads by reference: a compiled noisy regularised solve's noise, which the next such solve rewrites)" : "input (read again under create_graph)";
  }
  void note_versions() {
    versions_ = SavedVersions::of(checked(true), [&](std::size_t i) { return checked_value(i); });
  }
  // The refusal also names the other likely cause: the plans read the tensors they were traced
  // with, so after a closed-over tensor is replaced between calls (not updated in place) the
  // backward reaches the old one, whose own history may since have been modified.
  void check_versions(bool rerun) const {
    try {
      versions_.check_each(name(), checked(rerun), [&](std::size_t i) { return checked_value(i); },
                           [&](std::size_t i) { return checked_name(i); });
    } catch (const Error& e) {
      fail("{}. Or, if a tensor the function closes over was replaced between calls (not updated in place), its plans "
           "still read the one they were traced with: clear the compiled function after replacing it "
           "(CompiledFunction::clear(); clear_compiled(f) for compiled dynamics)",
           e.what());
    }
  }

  // create_graph: the eager function on the saved inputs, differentiated with recording on.
  std::vector<Var> eager(const Var& g) {
    check_versions(true);
    count_shared(state_->stats.eager_backward);
    const std::uint64_t since = node_sequence_barrier();
    const Var y = state_->fn(inputs_);
    std::vector<Var> wrt;
    for (int i : entry_->wrt) wrt.push_back(inputs_[static_cast<std::size_t>(i)]);
    for (const Var& p : entry_->params) wrt.push_back(p);
    GradOptions opt;
    opt.create_graph = true;
    opt.allow_unused = true;
    opt.recorded_from = since;  // this call's own gradient, not through its inputs' history
    std::vector<Var> d = grad({y}, wrt, {g}, opt);
    drop_repeats(wrt, d);
    std::vector<Var> grads(inputs_.size() + entry_->params.size());
    for (std::size_t k = 0; k < entry_->wrt.size(); ++k) grads[static_cast<std::size_t>(entry_->wrt[k])] = d[k];
    for (std::size_t k = 0; k < entry_->params.size(); ++k) grads[inputs_.size() + k] = d[entry_->wrt.size() + k];
    return grads;
  }

  std::shared_ptr<CompiledFunction::State> state_;
  std::shared_ptr<Entry> entry_;
  std::vector<Tensor> residuals_;
  std::vector<Var> inputs_;
  SavedVersions versions_;  // of checked_value(0 .. checked(true))
};

}  // namespace

std::shared_ptr<Entry> CompiledFunction::State::entry_for(const std::vector<Var>& inputs) {
  const std::lock_guard lock(entries_mutex);  // a trace inside runs the function eagerly: no nested lock
  const bool grad_mode = grad_enabled();
  ++stats.calls;  // under the lock: no second atomic per call
  // the most recently used last: a signature served on every call is not the one dropped when new
  // ones keep arriving (first in, first out retraced it once per max_plans new signatures)
  for (std::size_t i = entries.size(); i-- > 0;)
    if (entries[i]->sig.serves(inputs, grad_mode)) {
      std::rotate(entries.begin() + static_cast<std::ptrdiff_t>(i), entries.begin() + static_cast<std::ptrdiff_t>(i) + 1, entries.end());
      return entries.back();
    }
  const Signature sig = signature_of(inputs);
  auto e = trace(sig, inputs);
  if (static_cast<int>(entries.size()) >= options.max_plans) entries.erase(entries.begin());
  entries.push_back(e);
  ++stats.traces;
  return e;
}

// Traces fn in grad mode as one function of (inputs, cotangent) -> (output, gradients) and splits
// it at the cotangent; without anything to differentiate, that trace is the forward alone.
std::shared_ptr<Entry> CompiledFunction::State::trace(const Signature& sig, const std::vector<Var>& inputs) {
  auto e = std::make_shared<Entry>();
  e->sig = sig;
  e->options = PlanOptions{options.fuse};
  if (sig.grad_mode) {
    trace_joint(*e, inputs);
    return e;
  }
  TensorFunction forward = [&](const std::vector<Tensor>& in) {
    std::vector<Var> vars(in.begin(), in.end());
    return std::vector<Tensor>{fn(vars).value()};
  };
  const Trace t = Trace::record(forward, values_of(inputs));
  refuse_input_writes(t, inputs);
  e->forward = Plan(t, e->options);
  return e;
}

// The joint function of (inputs, cotangent): the output, then the gradients of the inputs that
// require one and of the parameters fn closes over (found at the trace: e.params). The cotangent
// is an input the trace adds once the output is known (Trace::add_input): fn runs once, in the
// caller's grad mode, and a function that calls grad() itself or writes a tensor it should not
// (refused before the write) is seen as the eager call sees it. When the output does not require
// a gradient, the trace holds the forward alone (the grad-mode run recorded the same kernels).
void CompiledFunction::State::trace_joint(Entry& e, const std::vector<Var>& inputs) {
  bool differentiable = false;
  TensorFunction joint = [&](const std::vector<Tensor>& in) {
    std::vector<Var> vars;
    std::vector<Var> wrt;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      vars.push_back(e.sig.requires_grad[i] ? Var::parameter(in[i]) : Var(in[i]));
      if (e.sig.requires_grad[i]) wrt.push_back(vars.back()), e.wrt.push_back(static_cast<int>(i));
    }
    const std::uint64_t since = node_sequence_barrier();
    const Var y = fn(vars);
    if (!y.requires_grad()) return std::vector<Tensor>{y.value()};
    differentiable = true;
    for (const Var& p : closed_over(y, since)) {
      const bool is_input = std::any_of(wrt.begin(), wrt.end(), [&](const Var& w) { return w.node() == p.node(); });
      if (!is_input) e.params.push_back(p);
    }
    for (const Var& p : e.params) wrt.push_back(p);
    const Tensor cotangent = Trace::add_input(y.shape(), y.dtype(), y.device());
    std::vector<Tensor> out{y.value()};
    for (const Var& v : traced_gradients(y, wrt, cotangent, since, e.params.size())) out.push_back(v.value());
    return out;
  };
  const Trace t = Trace::record(joint, values_of(inputs));
  refuse_input_writes(t, inputs);
  if (differentiable) {
    install_split(e, t, inputs.size());
    return;
  }
  e.wrt.clear();
  e.forward = Plan(t, e.options);
}

// The joint trace split at the cotangent: the forward plan keeps the residuals the backward reads.
void CompiledFunction::State::install_split(Entry& e, const Trace& joint, std::size_t n_inputs) {
  const Trace::Split parts = joint.split(static_cast<int>(n_inputs), 1);
  PlanOptions forward_options = e.options;
  forward_options.shared_outputs_from = 1;  // the residuals after the output: one allocation per run
  e.forward = Plan(parts.early, forward_options);
  e.backward = Plan(parts.late, e.options);
  e.late = parts.late;
  for (std::size_t k = 0; k < e.params.size(); ++k) e.param_inputs.push_back(static_cast<int>(n_inputs + k));
  e.late_constants = parts.late.constants();
  for (const Tensor& c : parts.early.constants())
    if (std::none_of(e.late_constants.begin(), e.late_constants.end(), [&](const Tensor& l) { return l.shares_storage_with(c); }))
      e.early_constants.push_back(c);
}

CompiledFunction::CompiledFunction(VarFunction fn, CompileOptions options) : state_(std::make_shared<State>()) {
  if (!fn) fail("compile: no function given");
  if (options.max_plans < 1) fail("compile: max_plans must be >= 1 (signatures kept), got {}", options.max_plans);
  state_->fn = std::move(fn);
  state_->options = options;
}

Var CompiledFunction::operator()(const std::vector<Var>& inputs) const {
  if (!state_) fail("CompiledFunction: called without a function (default-constructed)");
  // Inside another function being traced the eager form runs, so that trace records its ops (a plan
  // replayed here would write buffers the outer trace never sees).
  if (Trace::active()) return state_->fn(inputs);
  const std::shared_ptr<Entry> e = state_->entry_for(inputs);
  std::vector<Tensor> out;
  try {
    out = e->forward.run(values_of(inputs));
  } catch (const PlanBusyError&) {  // running on another thread (or re-entered): this call eagerly
    return state_->fn(inputs);
  }
  if (!e->backward.defined()) return Var(out[0]);
  const Tensor y = out[0];
  out.erase(out.begin());
  std::vector<Var> node_inputs(inputs);
  for (const Var& p : e->params) node_inputs.push_back(p);
  return record_custom(y, node_inputs, std::make_shared<CompiledBackward>(state_, e, std::move(out), inputs));
}

const CompileStats& CompiledFunction::stats() const {
  static const CompileStats none;
  return state_ ? state_->stats : none;
}

void CompiledFunction::clear() {
  if (!state_) return;
  const std::lock_guard lock(state_->entries_mutex);
  state_->entries.clear();
}

}  // namespace tide
