// Trace::record: a Backend that records each kernel call it forwards, installed for the tensors of
// one device while the traced function runs (tensor_access.hpp's BackendHook).
#include "program.hpp"
#include "record.hpp"
#include "../tensor_access.hpp"
#include <unordered_map>

namespace tide {
namespace detail {

const char* call_kind_name(CallKind kind) {
  switch (kind) {
    case CallKind::copy: return "copy";
    case CallKind::fill: return "fill";
    case CallKind::unary: return "unary";
    case CallKind::binary: return "binary";
    case CallKind::where: return "where";
    case CallKind::reduce: return "reduce";
    case CallKind::matmul: return "matmul";
    case CallKind::index_select: return "index_select";
    case CallKind::index_add: return "index_add";
    case CallKind::gather: return "gather";
    case CallKind::scatter_add: return "scatter_add";
    case CallKind::lincomb: return "lincomb";
    case CallKind::scaled_row_norms: return "scaled_row_norms";
    case CallKind::dense: return "dense";
    case CallKind::synapse_sums: return "synapse_sums";
    case CallKind::synapse_sums_backward: return "synapse_sums_backward";
    case CallKind::elementwise: return "elementwise";
  }
  return "?";
}

std::string call_name(const Call& c) {
  std::string s = call_kind_name(c.kind);
  if (c.accumulate) s += "_add";
  if (c.kind == CallKind::unary || c.kind == CallKind::binary || c.kind == CallKind::reduce || (c.kind == CallKind::dense && c.has_act))
    s += fmt::format(" {}", op_name(c.op));
  return s;
}

bool reads_arg(const Call& call, std::size_t i) {
  return !call.writes[i] || call.kind == CallKind::index_add || call.kind == CallKind::scatter_add || call.accumulate;
}

namespace {

// What the recorder knows of a buffer made during the trace.
struct TempState {
  bool written = false;  // by a recorded call
  Tensor alias;          // read before any recorded write: its storage (the value was made on the host)
  // A temp whose first use writes part of it (concat's pieces into an empty result) is followed
  // until its first read: when its writes cover every element before that, its starting value is
  // never seen and the plan need not copy it in on every run.
  std::vector<bool> covered;      // per element, while followed
  std::int64_t uncovered = 0;
  bool followed = false, overwritten = false;
};

// Marks the elements a view writes.
void mark_written(TempState& st, const Tensor& t) {
  for_each_offset(t.shape(), t.strides(), t.offset(), [&st](std::int64_t off) {
    if (off >= 0 && off < static_cast<std::int64_t>(st.covered.size()) && !st.covered[static_cast<std::size_t>(off)])
      st.covered[static_cast<std::size_t>(off)] = true, --st.uncovered;
  });
}

bool whole_contiguous(const Tensor& t, const Buffer& b) {
  return t.offset() == 0 && t.numel() == b.numel && t.is_contiguous();
}

class Recorder final : public Backend, public BackendHook {
public:
  // inner: the backend of the device the trace serves; null for a trace without inputs, which
  // serves the device its first kernel runs on.
  Recorder(Backend* inner, Program& program) : inner_(inner), program_(program), start_(next_storage_serial()) {}

  void add_input(const Tensor& t) {
    Buffer b;
    b.kind = BufferKind::input;
    b.input = program_.n_inputs++;
    b.dtype = t.dtype();
    b.device = t.device();
    b.numel = t.numel();
    b.shape = t.shape();
    by_serial_[TensorAccess::storage(t)->serial] = add_buffer(std::move(b), t.offset());
  }

  Arg arg(const Tensor& t, bool written, bool whole_write = false) {
    Arg a;
    if (!t.defined()) return a;
    const int id = buffer_of(t);
    Buffer& b = program_.buffers[static_cast<std::size_t>(id)];
    a.buffer = id;
    a.shape = t.shape();
    a.strides = t.strides();
    a.offset = t.offset() - base_offset_[static_cast<std::size_t>(id)];
    a.dtype = t.dtype();
    if (b.kind == BufferKind::temp) note_temp_use(id, t, written, whole_write);
    return a;
  }

  // The traced function has returned: its last call is complete, so the writes it made count
  // before its outputs are read (a result assembled from parts, concat's, then needs no starting
  // value copied in per run).
  void end_calls() { mark_pending(); }

  void finish() {
    mark_pending();
    // a temp only ever read holds a value made on the host: a constant
    for (std::size_t i = 0; i < program_.buffers.size(); ++i) {
      Buffer& b = program_.buffers[i];
      auto it = temps_.find(static_cast<int>(i));
      if (b.kind != BufferKind::temp || it == temps_.end() || !it->second.alias.defined()) continue;
      TempState& st = it->second;
      if (!st.written) {
        b.kind = BufferKind::constant;
        b.constant = st.alias;
        b.made_in_trace = true;
      } else if (st.overwritten || (st.followed && st.uncovered == 0)) {
        b.constant = Tensor();  // written whole before any read: no starting value to copy in
      }
    }
  }

  Call& add(CallKind kind) {
    mark_pending();
    program_.calls.emplace_back();
    program_.calls.back().kind = kind;
    return program_.calls.back();
  }
  void push(Call& c, const Tensor& t, bool written, bool whole_write = false) {
    c.args.push_back(arg(t, written, whole_write));
    c.writes.push_back(written);
    if (written && t.defined() && program_.buffers[static_cast<std::size_t>(c.args.back().buffer)].kind == BufferKind::constant)
      refuse_constant_write(c, t);
  }
  // An output the call adds into (index_add, scatter_add): read as well as written.
  void push_accumulated(Call& c, const Tensor& t) {
    reading_out_ = true;
    push(c, t, true, false);
    reading_out_ = false;
  }
  void push_out(Call& c, const Tensor& t) {
    const bool whole = t.defined() && whole_contiguous(t, program_.buffers[static_cast<std::size_t>(buffer_of(t))]);
    push(c, t, true, whole);
  }

  // ---- BackendHook --------------------------------------------------------------------------------
  // Inside a forwarded call (a fused kernel's default composed from primitives) nothing more is
  // recorded: the call itself is. Outside one, a kernel on another device's backend is refused: it
  // would run once, at the trace, and its result be replayed as a constant.
  Backend& wrap(Backend& backend) override {
    if (depth_ > 0) return backend;
    if (!inner_) inner_ = &backend;
    if (&backend != inner_) refuse_other_device(backend.device());
    return *this;
  }
  void host_read(const Tensor& t) override {
    throw UntraceableError(fmt::format("tracing: the function reads the values of {} back to the host (item, to_vector); a "
                                       "plan replays kernels and cannot follow control flow that depends on values, so this "
                                       "function cannot be compiled",
                                       t.str()));
  }
  // Tensor::to(Device) of src to `to`: only a value made on the host during the trace (from_vector's
  // staging) may be uploaded to the traced device; it is a constant, as its value was fixed then.
  // Any other transfer would freeze the value it moved at the trace (an input, a parameter updated
  // in place later), as would a value downloaded to the host.
  void transfer(const Tensor& src, Device to) {
    if (depth_ > 0 || !src.defined()) return;  // a backend's own staging inside a forwarded call; undefined: to() refuses it
    const bool host_made = src.device().kind == DeviceKind::cpu && TensorAccess::storage(src)->serial >= start_;
    if (!host_made || (inner_ && to != inner_->device()))
      throw UntraceableError(fmt::format("tracing: the function moves {} from {} to {}; a plan replays the kernels of one device "
                                         "and would replay the moved value as a constant, so a device transfer cannot be traced: "
                                         "move the tensors to one device before compiling, or make the transfer outside the "
                                         "traced function",
                                         src.str(), src.device().str(), to.str()));
  }
  // Trace::add_input: an input shaped once the function has run part way (zeros while tracing).
  Tensor late_input(const Shape& shape, DType dtype, Device device) {
    if (!inner_) inner_ = &backend_for(device);
    if (device != inner_->device())
      fail("Trace::add_input: an input on {} for a trace that serves {} (a trace serves one device)", device.str(),
           inner_->device().str());
    Tensor t = Tensor::empty(shape, dtype, device);
    inner_->fill(t, 0.0);  // not recorded: the replay's input takes its place
    add_input(t);
    return t;
  }
  Device traced_device() const { return inner_ ? inner_->device() : Device::cpu(); }

  // ---- Backend ------------------------------------------------------------------------------------
  Device device() const override { return inner_->device(); }
  const char* name() const override { return inner_->name(); }
  void* allocate(std::size_t bytes) override { return inner_->allocate(bytes); }
  void deallocate(void* p, std::size_t bytes) noexcept override { inner_->deallocate(p, bytes); }
  void copy_to_host(const void* s, void* d, std::size_t n) override {
    (void)s, (void)d, (void)n;
    throw UntraceableError("tracing: the function copies device values to the host; a plan cannot follow control flow "
                           "that depends on values, so this function cannot be compiled");
  }
  void copy_from_host(const void* s, void* d, std::size_t n) override { inner_->copy_from_host(s, d, n); }
  void synchronize() override { inner_->synchronize(); }

  void copy(const Tensor& src, const Tensor& dst) override {
    Call& c = add(CallKind::copy);
    push(c, src, false);
    push_out(c, dst);
    forward([&] { inner_->copy(src, dst); });
  }
  void fill(const Tensor& dst, double value) override {
    Call& c = add(CallKind::fill);
    c.p0 = value;
    push_out(c, dst);
    forward([&] { inner_->fill(dst, value); });
  }
  void unary(Op op, const Tensor& x, const Tensor& out, double p0, double p1) override {
    Call& c = add(CallKind::unary);
    c.op = op, c.p0 = p0, c.p1 = p1;
    push(c, x, false);
    push_out(c, out);
    forward([&] { inner_->unary(op, x, out, p0, p1); });
  }
  void binary(Op op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    Call& c = add(CallKind::binary);
    c.op = op;
    push(c, a, false);
    push(c, b, false);
    push_out(c, out);
    forward([&] { inner_->binary(op, a, b, out); });
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override {
    Call& c = add(CallKind::where);
    c.op = Op::where;
    push(c, cond, false);
    push(c, a, false);
    push(c, b, false);
    push_out(c, out);
    forward([&] { inner_->where(cond, a, b, out); });
  }
  void reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& out) override {
    Call& c = add(CallKind::reduce);
    c.op = op, c.axes = axes;
    push(c, x, false);
    push_out(c, out);
    forward([&] { inner_->reduce(op, x, axes, out); });
  }
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override {
    Call& c = add(CallKind::matmul);
    push(c, a, false);
    push(c, b, false);
    push_out(c, out);
    forward([&] { inner_->matmul(a, b, out); });
  }
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override {
    indexed(CallKind::index_select, x, axis, index, out, false);
    forward([&] { inner_->index_select(x, axis, index, out); });
  }
  void index_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override {
    indexed(CallKind::index_add, src, axis, index, out, true);
    forward([&] { inner_->index_add(src, axis, index, out); });
  }
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override {
    indexed(CallKind::gather, x, axis, index, out, false);
    forward([&] { inner_->gather(x, axis, index, out); });
  }
  void scatter_add(const Tensor& src, int axis, const Tensor& index, const Tensor& out) override {
    indexed(CallKind::scatter_add, src, axis, index, out, true);
    forward([&] { inner_->scatter_add(src, axis, index, out); });
  }
  void random(RandomKind, std::uint64_t, std::uint64_t, double, double, const Tensor&) override {
    throw UntraceableError("tracing: the function draws random numbers; a replay would repeat the same draw, so pass "
                           "the noise in as an input instead");
  }
  void lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs, const std::vector<double>& coeff,
               const Tensor& row_scale) override {
    Call& c = add(CallKind::lincomb);
    c.coeff = coeff;
    push_out(c, out);
    push(c, base, false);
    push(c, row_scale, false);
    for (const Tensor& x : xs) push(c, x, false);
    forward([&] { inner_->lincomb(out, base, xs, coeff, row_scale); });
  }
  void scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                        const Tensor& mask, const Tensor& out) override {
    Call& c = add(CallKind::scaled_row_norms);
    for (const Tensor* t : {&err, &a, &b, &atol, &rtol, &mask}) push(c, *t, false);
    push_out(c, out);
    forward([&] { inner_->scaled_row_norms(err, a, b, atol, rtol, mask, out); });
  }
  bool fuses_dense() const override { return inner_->fuses_dense(); }
  void dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) override {
    if (!inner_->fuses_dense()) return Backend::dense(x, w, b, act, p0, out);  // its primitives, recorded
    Call& c = add(CallKind::dense);
    c.has_act = act.has_value();
    c.op = act.value_or(Op::neg);
    c.p0 = p0;
    push(c, x, false);
    push(c, w, false);
    push(c, b, false);
    push_out(c, out);
    forward([&] { inner_->dense(x, w, b, act, p0, out); });
  }
  void synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu, const Tensor& erev,
                    const Tensor& num0, const Tensor& den0, const Tensor& num, const Tensor& den) override {
    Call& c = add(CallKind::synapse_sums);
    for (const Tensor* t : {&pre, &w, &sigma, &mu, &erev, &num0, &den0}) push(c, *t, false);
    push_out(c, num);
    push_out(c, den);
    forward([&] { inner_->synapse_sums(pre, w, sigma, mu, erev, num0, den0, num, den); });
  }
  void synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                             const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre,
                             const Tensor& gw, const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev) override {
    Call& c = add(CallKind::synapse_sums_backward);
    for (const Tensor* t : {&pre, &w, &sigma, &mu, &erev, &gnum, &gden}) push(c, *t, false);
    for (const Tensor* t : {&gpre, &gw, &gsigma, &gmu, &gerev}) push_out(c, *t);
    forward([&] { inner_->synapse_sums_backward(pre, w, sigma, mu, erev, gnum, gden, gpre, gw, gsigma, gmu, gerev); });
  }
  void elementwise(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<const Tensor> outputs) override {
    Call& c = add(CallKind::elementwise);
    c.program = static_cast<int>(program_.chains.size());
    program_.chains.push_back(p);
    for (const Tensor& t : inputs) push(c, t, false);
    for (const Tensor& t : outputs) push_out(c, t);
    forward([&] { inner_->elementwise(p, inputs, outputs); });
  }

private:
  [[noreturn]] void refuse_other_device(Device other) const {
    throw UntraceableError(fmt::format("tracing: the function runs a kernel on {} while the trace serves {}; a plan replays the "
                                       "kernels of one device, so a device transfer (to(device)) or another device's kernel "
                                       "cannot be traced: move the tensors to one device before compiling, or make the transfer "
                                       "outside the traced function",
                                       other.str(), inner_->device().str()));
  }
  // A write into a tensor the function neither made nor received (a parameter, a counter it closes
  // over): every replay would repeat it, and each new signature's trace too, so its effect would
  // not be the eager one's. Refused, naming the tensor, before the kernel writes it: a caller that
  // falls back to the eager function then sees the tensor as it was.
  [[noreturn]] void refuse_constant_write(const Call& c, const Tensor& t) const {
    fail("Trace::record: the function writes in place ({} op) into a tensor it closes over ({}): every replay "
         "(and each trace) would repeat the write, which the eager function makes once per call (refused before writing); pass the tensor as an input, or "
         "write it outside the traced function",
         call_kind_name(c.kind), t.str());
  }

  template <class F> void forward(F&& f) {
    ++depth_;
    try {
      f();
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
  }

  void indexed(CallKind kind, const Tensor& x, int axis, const Tensor& index, const Tensor& out, bool accumulate) {
    Call& c = add(kind);
    c.axis = axis;
    push(c, x, false);
    push(c, index, false);
    if (accumulate) push_accumulated(c, out);
    else push_out(c, out);
  }

  int add_buffer(Buffer b, std::int64_t base_offset) {
    program_.buffers.push_back(std::move(b));
    base_offset_.push_back(base_offset);
    return static_cast<int>(program_.buffers.size()) - 1;
  }

  int buffer_of(const Tensor& t) {
    const Storage* s = TensorAccess::storage(t);
    auto it = by_serial_.find(s->serial);
    if (it != by_serial_.end()) return it->second;
    Buffer b;
    b.dtype = t.dtype();
    b.device = t.device();
    b.numel = static_cast<std::int64_t>(s->bytes / dtype_size(t.dtype()));
    b.shape = Shape{b.numel};
    if (s->serial < start_) {  // made before the trace: a parameter or constant, read by reference
      b.kind = BufferKind::constant;
      b.constant = TensorAccess::view_as(t, t.dtype(), b.shape, Shape{1}, 0);
    }
    const int id = add_buffer(std::move(b), 0);
    by_serial_[s->serial] = id;
    return id;
  }

  // A temp's first recorded use decides whether it starts with a value made on the host: a read (or
  // a write that leaves part of it, or adds to it) before any recorded write means it does.
  void note_temp_use(int id, const Tensor& t, bool written, bool whole_write) {
    TempState& st = temps_[id];
    Buffer& b = program_.buffers[static_cast<std::size_t>(id)];
    follow_coverage(id, st, b, t, written && !reading_out_, whole_write);
    if (!st.written && !st.alias.defined() && !(written && whole_write))
      st.alias = TensorAccess::view_as(t, b.dtype, b.shape, Shape{1}, 0);
    if (written && !st.written && st.alias.defined()) {  // keep the starting value before this call overwrites it
      Tensor copy = Tensor::empty(b.shape, b.dtype, b.device);
      inner_->copy(st.alias, copy);
      b.constant = copy;
    }
    st.written = st.written || written;
  }

  // TempState::covered: a temp first written in part is followed; a pure write is marked once its
  // call is complete (a read by the same call must not count it), a read ends the following.
  void follow_coverage(int id, TempState& st, const Buffer& b, const Tensor& t, bool pure_write, bool whole_write) {
    constexpr std::int64_t kMaxFollowed = std::int64_t{1} << 24;
    if (!st.written && !st.alias.defined() && pure_write && !whole_write && b.numel <= kMaxFollowed) {
      st.followed = true;
      st.covered.assign(static_cast<std::size_t>(b.numel), false);
      st.uncovered = b.numel;
    }
    if (!st.followed) return;
    if (pure_write) {
      pending_.emplace_back(id, t);
      return;
    }
    st.overwritten = st.uncovered == 0;  // the first read: was every element written before it?
    st.followed = false;
    st.covered = {};
  }
  void mark_pending() {
    for (const auto& [id, t] : pending_) {
      TempState& st = temps_[id];
      if (!st.followed) continue;
      mark_written(st, t);
      if (st.uncovered == 0) st.overwritten = true, st.followed = false, st.covered = {};
    }
    pending_.clear();
  }

  Backend* inner_;
  Program& program_;
  std::vector<std::pair<int, Tensor>> pending_;
  bool reading_out_ = false;
  std::uint64_t start_;
  std::unordered_map<std::uint64_t, int> by_serial_;
  std::vector<std::int64_t> base_offset_;
  std::unordered_map<int, TempState> temps_;
  int depth_ = 0;
};

struct HookGuard {
  BackendHook* previous;
  explicit HookGuard(BackendHook* hook) : previous(backend_hook) { backend_hook = hook; }
  ~HookGuard() { backend_hook = previous; }
};

}  // namespace
}  // namespace detail

bool Trace::active() { return detail::backend_hook != nullptr; }

namespace detail {
namespace {
Recorder* active_recorder() { return dynamic_cast<Recorder*>(backend_hook); }
}  // namespace

void check_traced_transfer(const Tensor& src, Device to) {
  if (Recorder* r = active_recorder()) r->transfer(src, to);
}
}  // namespace detail

Tensor Trace::add_input(const Shape& shape, DType dtype, Device device) {
  detail::Recorder* r = detail::active_recorder();
  if (!r) fail("Trace::add_input: no trace is being recorded on this thread (call it from the function Trace::record runs)");
  return r->late_input(shape, dtype, device);
}

Trace Trace::record(const TensorFunction& fn, const std::vector<Tensor>& inputs, std::vector<Tensor>* results) {
  using namespace detail;
  if (backend_hook) fail("Trace::record: already tracing on this thread (a traced function cannot trace another)");
  std::vector<Tensor> ins;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined()) fail("Trace::record: input {} is undefined", i);
    if (x.device() != inputs[0].device())
      fail("Trace::record: input {} is on {}, input 0 on {}; a trace serves one device", i, x.device().str(), inputs[0].device().str());
    // each input in storage of its own: buffers are told by storage, so a tensor the function
    // reads by reference (a parameter passed as an input too, or one an input views) stays apart
    // from it, and a write into an input while tracing leaves the caller's tensor alone, as a replay does
    ins.push_back(x.clone());
  }
  auto program = std::make_shared<Program>();
  Recorder recorder(ins.empty() ? nullptr : &backend_for(ins[0].device()), *program);
  for (const Tensor& x : ins) recorder.add_input(x);
  std::vector<Tensor> out;
  {
    HookGuard guard(&recorder);
    out = fn(ins);
    recorder.end_calls();
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!out[i].defined()) fail("Trace::record: output {} of the traced function is undefined", i);
      program->outputs.push_back(recorder.arg(out[i], false));
    }
  }
  recorder.finish();
  program->device = recorder.traced_device();
  if (results) *results = std::move(out);
  return Trace(std::move(program));
}

std::vector<std::string> Trace::input_writes() const {
  std::vector<std::string> out(static_cast<std::size_t>(inputs()));
  if (!program_) return out;
  const detail::Program& p = *program_;
  for (const detail::Call& c : p.calls)
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      const int b = c.args[k].buffer;
      if (!c.writes[k] || b < 0 || p.buffers[static_cast<std::size_t>(b)].kind != detail::BufferKind::input) continue;
      std::string& first = out[static_cast<std::size_t>(p.buffers[static_cast<std::size_t>(b)].input)];
      if (first.empty()) first = detail::call_name(c);
    }
  return out;
}

int Trace::inputs() const { return program_ ? program_->n_inputs : 0; }
int Trace::outputs() const { return program_ ? static_cast<int>(program_->outputs.size()) : 0; }
int Trace::calls() const { return program_ ? static_cast<int>(program_->calls.size()) : 0; }
// (a split's parts share the whole trace's buffer table: only those its own calls and outputs use)
std::vector<Tensor> Trace::constants() const {
  std::vector<Tensor> out;
  if (!program_) return out;
  const detail::Program& p = *program_;
  std::vector<char> used(p.buffers.size(), 0);
  for (const detail::Call& c : p.calls)
    for (const detail::Arg& a : c.args)
      if (a.buffer >= 0) used[static_cast<std::size_t>(a.buffer)] = 1;
  for (const detail::Arg& a : p.outputs) used[static_cast<std::size_t>(a.buffer)] = 1;
  for (std::size_t b = 0; b < p.buffers.size(); ++b)
    if (used[b] && p.buffers[b].kind == detail::BufferKind::constant) out.push_back(p.buffers[b].constant);
  return out;
}

}  // namespace tide
