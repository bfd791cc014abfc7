// Plan: a trace made executable (plan.hpp). Building one fuses elementwise chains, gives every
// temporary a home (an offset in one arena shared by buffers whose lifetimes do not overlap, or a
// fresh tensor per run when the plan returns it) and prepares each call's tensors; a run patches
// the tensors of the inputs and returned buffers and calls the kernels in order.
#include "accumulate.hpp"
#include "copies.hpp"
#include "fuse.hpp"
#include "live_index.hpp"
#include "program.hpp"
#include "values.hpp"
#include "../tensor_access.hpp"
#include <algorithm>
#include <atomic>
#include <optional>
#include <span>
#include <fmt/format.h>

namespace tide {
namespace detail {

// fresh: a tensor of its own per run; shared: a part of one block per run shared with the other
// such buffers (PlanOptions::shared_outputs_from).
enum class Home : std::uint8_t { unused, input, constant, arena, fresh, shared };

struct PlanImpl {
  Program program;
  PlanStats stats;
  Device device = Device::cpu();
  std::vector<Home> home;
  std::vector<std::int64_t> arena_offset;  // bytes, into the arena (arena buffers) or the shared block
  std::int64_t shared_bytes = 0;           // the shared block's size
  Tensor arena;
  std::vector<std::vector<Tensor>> args;   // per call, prepared
  struct Patch {
    Tensor* view;         // a call's argument (impl.args is not resized after prepare_args)
    std::int64_t offset;  // its offset into the buffer, in elements
  };
  std::vector<std::vector<Patch>> patches;  // per buffer (inputs and fresh ones)
  std::vector<int> bound;                   // the inputs, fresh and shared buffers: what a run binds and releases
  std::vector<int> initialised;             // arena buffers copied from their starting value per run
  std::vector<char> written;                // per buffer: some call writes it (inputs so marked are copied per run)
  int in_place_from = -1;                   // PlanOptions::in_place_inputs_from
  int shared_from = -1;                     // PlanOptions::shared_outputs_from
  std::vector<Tensor> base;                 // per run: the fresh buffers' tensors, and the inputs' own copies
  Tensor block;                             // per run: the shared buffers' block
  // per run: the caller's storages written in place, each with its `scratch` flag from before the run
  std::vector<std::pair<detail::Storage*, bool>> written_inputs;
  mutable std::atomic<bool> busy{false};
};

// A run's inputs: a vector, and optionally more after it (a compiled backward's cotangent and
// accumulators after the residuals its node keeps, passed without copying them or changing the node).
struct RunInputs {
  const std::vector<Tensor>& head;
  std::span<const Tensor> tail = {};
  std::size_t size() const { return head.size() + tail.size(); }
  const Tensor& operator[](std::size_t i) const { return i < head.size() ? head[i] : tail[i - head.size()]; }
};

namespace {

constexpr std::int64_t arena_align = 64;

std::int64_t bytes_of(const Buffer& b) {
  return (b.numel * static_cast<std::int64_t>(dtype_size(b.dtype)) + arena_align - 1) / arena_align * arena_align;
}

Tensor view_of(const Tensor& base, std::int64_t base_offset, const Arg& a) {
  return TensorAccess::view_as(base, a.dtype, a.shape, a.strides, base_offset + a.offset);
}

struct Lifetimes {
  std::vector<int> first, last;  // per buffer: the first and last call touching it (-1: none)
};

Lifetimes lifetimes(const Program& p) {
  Lifetimes l{std::vector<int>(p.buffers.size(), -1), std::vector<int>(p.buffers.size(), -1)};
  for (std::size_t i = 0; i < p.calls.size(); ++i)
    for (const Arg& a : p.calls[i].args)
      if (a.buffer >= 0) {
        const auto b = static_cast<std::size_t>(a.buffer);
        if (l.first[b] < 0) l.first[b] = static_cast<int>(i);
        l.last[b] = static_cast<int>(i);
      }
  return l;
}

// Each buffer's home; returns the arena's buffers. A buffer that starts from a snapshot is live
// from the start.
// Per buffer: 0 not returned, 1 returned by an output before `shared_from` (or any, when it is
// negative): a tensor of its own, 2 returned only from `shared_from` on: a part of the shared block.
std::vector<char> returned_how(const Program& p, int shared_from) {
  std::vector<char> how(p.buffers.size(), 0);
  for (std::size_t j = 0; j < p.outputs.size(); ++j) {
    char& h = how[static_cast<std::size_t>(p.outputs[j].buffer)];
    h = (shared_from < 0 || static_cast<int>(j) < shared_from) ? 1 : (h == 1 ? 1 : 2);
  }
  return how;
}

std::vector<int> assign_homes(PlanImpl& impl, Lifetimes& life, int shared_from) {
  const Program& p = impl.program;
  const std::vector<char> returned = returned_how(p, shared_from);
  std::vector<int> arena;
  impl.written.assign(p.buffers.size(), 0);
  for (const Call& c : p.calls)
    for (std::size_t k = 0; k < c.args.size(); ++k)
      if (c.writes[k] && c.args[k].buffer >= 0) impl.written[static_cast<std::size_t>(c.args[k].buffer)] = 1;
  for (std::size_t b = 0; b < p.buffers.size(); ++b) {
    const Buffer& buf = p.buffers[b];
    if (buf.kind == BufferKind::input) impl.home[b] = Home::input;
    else if (buf.kind == BufferKind::constant) impl.home[b] = Home::constant;
    else if (returned[b]) impl.home[b] = returned[b] == 1 ? Home::fresh : Home::shared;
    else if (life.first[b] >= 0) impl.home[b] = Home::arena, arena.push_back(static_cast<int>(b));
    if (impl.home[b] != Home::unused && buf.kind == BufferKind::temp && buf.constant.defined()) {
      impl.initialised.push_back(static_cast<int>(b));
      life.first[b] = 0;
    }
  }
  return arena;
}

// Homes and arena offsets: buffers live from their first to their last call; a greedy first-fit
// by decreasing size places each where no live-overlapping buffer is. Shared buffers follow each
// other in their block.
void plan_memory(PlanImpl& impl, int shared_from) {
  const Program& p = impl.program;
  impl.home.assign(p.buffers.size(), Home::unused);
  impl.arena_offset.assign(p.buffers.size(), 0);
  Lifetimes life = lifetimes(p);
  std::vector<int> arena = assign_homes(impl, life, shared_from);
  for (std::size_t b = 0; b < p.buffers.size(); ++b)
    if (impl.home[b] == Home::shared) impl.arena_offset[b] = impl.shared_bytes, impl.shared_bytes += bytes_of(p.buffers[b]);
  // Zero-size buffers (an empty batch) in the shared block still need a block to view.
  if (std::find(impl.home.begin(), impl.home.end(), Home::shared) != impl.home.end())
    impl.shared_bytes = std::max<std::int64_t>(impl.shared_bytes, 8);
  std::sort(arena.begin(), arena.end(), [&](int a, int b) { return bytes_of(p.buffers[a]) > bytes_of(p.buffers[b]); });
  LiveIndex placed(p.calls.size());
  std::int64_t total = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> busy;  // [start, end) of live-overlapping placed buffers
  for (int b : arena) {
    const std::int64_t size = bytes_of(p.buffers[b]);
    impl.stats.temp_bytes += static_cast<std::size_t>(size);
    busy.clear();
    placed.each_overlapping(life.first[b], life.last[b], [&](int q) {
      busy.emplace_back(impl.arena_offset[q], impl.arena_offset[q] + bytes_of(p.buffers[q]));
    });
    std::sort(busy.begin(), busy.end());
    std::int64_t at = 0;
    for (const auto& [start, end] : busy) {
      if (at + size <= start) break;
      at = std::max(at, end);
    }
    impl.arena_offset[b] = at;
    total = std::max(total, at + size);
    placed.add(b, life.first[b], life.last[b]);
  }
  impl.stats.arena_bytes = static_cast<std::size_t>(total);
  impl.arena = Tensor::empty(Shape{std::max<std::int64_t>(total / 8, 1)}, DType::f64, impl.device);
  TensorAccess::storage(impl.arena)->scratch = true;
}

// Each call's tensors: views of the arena and the constants now; inputs and fresh buffers are
// patched in at every run.
void prepare_args(PlanImpl& impl) {
  const Program& p = impl.program;
  impl.patches.assign(p.buffers.size(), {});
  impl.bound.clear();
  for (std::size_t b = 0; b < p.buffers.size(); ++b)
    if (impl.home[b] == Home::input || impl.home[b] == Home::fresh || impl.home[b] == Home::shared) impl.bound.push_back(static_cast<int>(b));
  impl.args.resize(p.calls.size());
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    const Call& c = p.calls[i];
    impl.args[i].resize(c.args.size());
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      const Arg& a = c.args[k];
      if (a.buffer < 0) continue;
      const auto b = static_cast<std::size_t>(a.buffer);
      switch (impl.home[b]) {
        case Home::arena:
          impl.args[i][k] = view_of(impl.arena, impl.arena_offset[b] / static_cast<std::int64_t>(dtype_size(a.dtype)), a);
          break;
        case Home::constant: impl.args[i][k] = view_of(p.buffers[b].constant, 0, a); break;
        case Home::input: case Home::fresh: case Home::shared:  // the layout now, the storage at each run
          impl.args[i][k] = TensorAccess::layout(a.dtype, a.shape, a.strides);
          impl.patches[b].push_back({&impl.args[i][k], a.offset});
          break;
        case Home::unused: break;
      }
    }
  }
}

void execute(Backend& be, const Program& p, const Call& c, const std::vector<Tensor>& a) {
  switch (c.kind) {
    case CallKind::copy: be.copy(a[0], a[1]); return;
    case CallKind::fill: be.fill(a[0], c.p0); return;
    case CallKind::unary: be.unary(c.op, a[0], a[1], c.p0, c.p1); return;
    case CallKind::binary: be.binary(c.op, a[0], a[1], a[2]); return;
    case CallKind::where: be.where(a[0], a[1], a[2], a[3]); return;
    case CallKind::reduce: be.reduce(c.op, a[0], c.axes, a[1]); return;
    case CallKind::matmul:
      if (c.accumulate) be.matmul_add(a[0], a[1], a[2]);
      else be.matmul(a[0], a[1], a[2]);
      return;
    case CallKind::index_select: be.index_select(a[0], c.axis, a[1], a[2]); return;
    case CallKind::index_add: be.index_add(a[0], c.axis, a[1], a[2]); return;
    case CallKind::gather: be.gather(a[0], c.axis, a[1], a[2]); return;
    case CallKind::scatter_add: be.scatter_add(a[0], c.axis, a[1], a[2]); return;
    case CallKind::lincomb: be.lincomb(a[0], a[1], std::span<const Tensor>(a).subspan(3), c.coeff, a[2]); return;
    case CallKind::scaled_row_norms: be.scaled_row_norms(a[0], a[1], a[2], a[3], a[4], a[5], a[6]); return;
    case CallKind::dense: be.dense(a[0], a[1], a[2], c.has_act ? std::optional<Op>(c.op) : std::nullopt, c.p0, a[3]); return;
    case CallKind::synapse_sums: be.synapse_sums(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]); return;
    case CallKind::synapse_sums_backward:
      be.synapse_sums_backward(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
      return;
    case CallKind::elementwise: {
      const ElementwiseProgram& prog = p.chains[static_cast<std::size_t>(c.program)];
      const auto n_in = static_cast<std::ptrdiff_t>(prog.n_inputs);
      const std::span<const Tensor> all(a);
      be.elementwise(prog, all.first(static_cast<std::size_t>(n_in)), all.subspan(static_cast<std::size_t>(n_in)));
      return;
    }
  }
}

// Drops the calls whose writes no later call reads and the plan does not return: every buffer
// they write is a temporary whose value is needed by nobody after them (a trace of a forward and
// its gradient records, for example, the zeros grad's sweep makes for gradients that later arrive
// whole). Walks backwards, so chains of such calls go too. Returns how many were dropped.
bool writes_needed(const Call& c, const std::vector<bool>& needed) {
  for (std::size_t k = 0; k < c.args.size(); ++k)
    if (c.writes[k] && (c.args[k].buffer < 0 || needed[static_cast<std::size_t>(c.args[k].buffer)])) return true;
  return false;
}

int drop_dead_calls(Program& p) {
  std::vector<bool> needed(p.buffers.size(), false);
  for (std::size_t b = 0; b < p.buffers.size(); ++b) needed[b] = p.buffers[b].kind != BufferKind::temp;
  for (const Arg& a : p.outputs) needed[static_cast<std::size_t>(a.buffer)] = true;
  std::vector<bool> keep(p.calls.size(), true);
  for (std::size_t i = p.calls.size(); i-- > 0;) {
    const Call& c = p.calls[i];
    keep[i] = writes_needed(c, needed);
    if (!keep[i]) continue;
    for (std::size_t k = 0; k < c.args.size(); ++k)
      if (c.args[k].buffer >= 0 && reads_arg(c, k)) needed[static_cast<std::size_t>(c.args[k].buffer)] = true;
  }
  keep.flip();  // now: the calls to drop
  return drop_calls(p, keep);
}

std::string describe(const Program& p, const Arg& a) {
  if (a.buffer < 0) return "-";
  const Buffer& b = p.buffers[static_cast<std::size_t>(a.buffer)];
  const char* kind = b.kind == BufferKind::input ? "in" : b.kind == BufferKind::constant ? "const" : "t";
  return fmt::format("{}{}{}", kind, b.kind == BufferKind::input ? b.input : a.buffer, a.shape.str());
}

struct BusyGuard {
  std::atomic<bool>& flag;
  explicit BusyGuard(std::atomic<bool>& f) : flag(f) {
    if (flag.exchange(true))
      throw PlanBusyError("Plan::run: this plan is already running (on another thread, or re-entered); use one plan per thread");
  }
  ~BusyGuard() { flag.store(false); }
};

}  // namespace
}  // namespace detail

using namespace detail;

Plan::Plan(const Trace& trace, PlanOptions options) {
  if (!trace.defined()) fail("Plan: the trace is empty");
  impl_ = std::make_shared<PlanImpl>();
  PlanImpl& impl = *impl_;
  impl.program = trace.program();
  impl.in_place_from = options.in_place_inputs_from;
  impl.shared_from = options.shared_outputs_from;
  impl.stats.traced_calls = static_cast<int>(impl.program.calls.size());
  impl.device = impl.program.device;
  impl.stats.dead_calls = drop_dead_calls(impl.program);
  impl.stats.merged_values = merge_equal_values(impl.program, options.shared_outputs_from);
  if (impl.stats.merged_values > 0) impl.stats.dead_calls += drop_dead_calls(impl.program);  // the merged values' makers
  if (options.fuse) {
    const FuseCounts counts = fuse_elementwise(impl.program);
    impl.stats.fused_chains = counts.chains;
    impl.stats.fused_ops = counts.ops;
  }
  impl.stats.elided_copies = elide_copies(impl.program);  // after fusion, which wants whole temporaries
  impl.stats.narrowed_products = narrow_products(impl.program);
  impl.stats.dead_calls += drop_covered_fills(impl.program);  // a value overwritten before it is read
  if (backend_for(impl.device).fuses_matmul_add()) impl.stats.folded_adds = fold_product_adds(impl.program);
  impl.stats.calls = static_cast<int>(impl.program.calls.size());
  plan_memory(impl, options.shared_outputs_from);
  impl.stats.initialised = static_cast<int>(impl.initialised.size());
  prepare_args(impl);
}

bool Plan::matches(const std::vector<Tensor>& inputs) const {
  if (!impl_ || static_cast<int>(inputs.size()) != impl_->program.n_inputs) return false;
  for (const Buffer& b : impl_->program.buffers) {
    if (b.kind != BufferKind::input) continue;
    const Tensor& x = inputs[static_cast<std::size_t>(b.input)];
    if (!x.defined() || !(x.shape() == b.shape) || x.dtype() != b.dtype || x.device() != b.device) return false;
  }
  return true;
}

namespace detail {
namespace {

// The run's own tensors: each input (checked against the traced signature) and a fresh tensor for
// each returned buffer, patched into the calls' arguments. A contiguous input the calls do not
// write is patched in from the caller's tensor itself, and the shared buffers from the run's
// block: neither takes a handle of its own (a reference count and a tensor per buffer per run).
void bind_storage(PlanImpl& impl, std::size_t b, const Tensor& t, std::int64_t offset) {
  detail::Storage* storage = TensorAccess::storage(t);
  for (const PlanImpl::Patch& patch : impl.patches[b]) TensorAccess::bind(*patch.view, storage, offset + patch.offset);
}

// A storage a run writes call by call, some of it more than once (in-place ops, adds into an
// accumulator), with no version bump: nothing may key on its version (the transpose cache).
Tensor scratch(Tensor t) {
  TensorAccess::storage(t)->scratch = true;
  return t;
}

void check_input(const Buffer& buf, const Tensor& x) {
  if (!x.defined() || !(x.shape() == buf.shape) || x.dtype() != buf.dtype || x.device() != buf.device)
    fail("Plan::run: input {} is {} on {}; the plan was traced with {}{} on {} (trace a plan for these inputs)",
         buf.input, x.defined() ? x.str() : std::string("undefined"), x.defined() ? x.device().str() : std::string("-"),
         dtype_name(buf.dtype), buf.shape.str(), buf.device.str());
}

// The caller's tensor x, which the run writes in place as an in-place op would: scratch while the
// run writes it (no copy keyed on its version), a new version after (release).
void write_in_place(PlanImpl& impl, const Buffer& buf, const Tensor& x) {
  if (!x.is_contiguous())
    fail("Plan::run: input {} is written in place and must be contiguous; it is {} with strides {}", buf.input, x.str(),
         x.strides().str());
  detail::Storage* st = TensorAccess::storage(x);
  impl.written_inputs.emplace_back(st, st->scratch);
  st->scratch = true;
}

void bind_input(PlanImpl& impl, std::size_t b, const Tensor& x) {
  const Buffer& buf = impl.program.buffers[b];
  check_input(buf, x);
  // an input the calls write into (a residual that a backward adds to, as grad's sweep can
  // into a slice of a gradient) is the run's own copy: the caller's tensor stays as it was,
  // so a second run starts from the same values; unless the plan was told to write it in place
  const bool in_place = impl.in_place_from >= 0 && buf.input >= impl.in_place_from;
  if (in_place && impl.written[b]) write_in_place(impl, buf, x);
  if ((!impl.written[b] || in_place) && x.is_contiguous()) return bind_storage(impl, b, x, x.offset());
  impl.base[b] = impl.written[b] ? scratch(x.clone()) : x.contiguous();
  bind_storage(impl, b, impl.base[b], impl.base[b].offset());
}

// An input written in place must not share storage with another input (plan.hpp): the run would
// read values it has already changed.
void check_in_place(const PlanImpl& impl, const RunInputs& inputs) {
  for (std::size_t b = 0; b < impl.program.buffers.size(); ++b) {
    const Buffer& buf = impl.program.buffers[b];
    if (buf.kind != BufferKind::input || !impl.written[b] || buf.input < impl.in_place_from) continue;
    const Tensor& x = inputs[static_cast<std::size_t>(buf.input)];
    for (std::size_t j = 0; j < inputs.size(); ++j)
      if (static_cast<int>(j) != buf.input && inputs[j].defined() && x.defined() && inputs[j].shares_storage_with(x))
        fail("Plan::run: input {} is written in place and shares storage with input {}", buf.input, j);
  }
}

void bind(PlanImpl& impl, const RunInputs& inputs) {
  const Program& p = impl.program;
  if (impl.in_place_from >= 0) check_in_place(impl, inputs);
  impl.base.resize(p.buffers.size());
  impl.block = impl.shared_bytes > 0 ? scratch(Tensor::empty(Shape{impl.shared_bytes / 8}, DType::f64, impl.device)) : Tensor();
  for (const int bi : impl.bound) {
    const auto b = static_cast<std::size_t>(bi);
    const Buffer& buf = p.buffers[b];
    switch (impl.home[b]) {
      case Home::input: bind_input(impl, b, inputs[static_cast<std::size_t>(buf.input)]); break;
      case Home::fresh:
        impl.base[b] = scratch(Tensor::empty(buf.shape, buf.dtype, buf.device));
        bind_storage(impl, b, impl.base[b], impl.base[b].offset());
        break;
      case Home::shared: bind_storage(impl, b, impl.block, impl.arena_offset[b] / static_cast<std::int64_t>(dtype_size(buf.dtype))); break;
      case Home::arena: case Home::constant: case Home::unused: break;
    }
  }
}

// Buffers that start from a value made on the host get it back.
void initialise(PlanImpl& impl, Backend& be) {
  for (int b : impl.initialised) {
    const auto i = static_cast<std::size_t>(b);
    const Buffer& buf = impl.program.buffers[i];
    Arg whole;
    whole.shape = buf.shape, whole.strides = contiguous_strides(buf.shape), whole.dtype = buf.dtype;  // [numel]: a temp's
    const Tensor dst = impl.home[i] == Home::fresh ? impl.base[i]
                       : impl.home[i] == Home::shared
                           ? view_of(impl.block, impl.arena_offset[i] / static_cast<std::int64_t>(dtype_size(buf.dtype)), whole)
                           : view_of(impl.arena, impl.arena_offset[i] / static_cast<std::int64_t>(dtype_size(buf.dtype)), whole);
    be.copy(buf.constant, dst);
  }
}

// The view `a` of an input buffer (traced contiguous) taken on the caller's tensor x itself, whatever
// its strides: each axis of `a` that moves walks one axis of x, as a slice, select, transpose,
// unsqueeze or broadcast of the input does. None when an axis of `a` spans several of x's (a reshape
// merging axes: on a non-contiguous x that is no view, and eager reshape copies too).
std::optional<Tensor> view_on_caller(const Tensor& x, const Arg& a) {
  if (a.dtype != x.dtype()) return std::nullopt;
  const Shape& shape = x.shape();
  const Shape packed = contiguous_strides(shape);
  std::vector<std::int64_t> reach(static_cast<std::size_t>(shape.rank()));  // per axis of x: the last index the view reaches
  std::int64_t offset = x.offset(), rest = a.offset;
  for (int d = 0; d < shape.rank(); ++d) {
    reach[static_cast<std::size_t>(d)] = rest / packed[d], rest %= packed[d];
    offset += reach[static_cast<std::size_t>(d)] * x.strides()[d];
  }
  Shape strides = a.strides;
  for (int i = 0; i < a.shape.rank(); ++i) {
    if (a.shape[i] == 1 || a.strides[i] == 0) continue;  // never moves, or a broadcast axis: as traced
    if (a.strides[i] < 0) return std::nullopt;
    int d = 0;
    while (d < shape.rank() && packed[d] > a.strides[i]) ++d;  // the outermost axis it can walk without a carry
    if (d == shape.rank() || a.strides[i] % packed[d] != 0) return std::nullopt;
    const std::int64_t step = a.strides[i] / packed[d];
    reach[static_cast<std::size_t>(d)] += step * (a.shape[i] - 1);
    strides[i] = step * x.strides()[d];
  }
  for (int d = 0; d < shape.rank(); ++d)
    if (reach[static_cast<std::size_t>(d)] >= shape[d]) return std::nullopt;
  return TensorAccess::view_as(x, a.dtype, a.shape, strides, offset);
}

// An output that is (a view of) an input: a view of the caller's tensor, as the function's was.
// Of the run's own copy where the calls write the input (the caller's is not to see the writes),
// for residuals (PlanOptions::shared_outputs_from: a backward reads them, contiguous, and nobody
// writes them), and where the view cannot be taken on the caller's layout (view_on_caller).
Tensor input_output(const PlanImpl& impl, std::size_t j, const Arg& a, const Tensor& caller) {
  const auto b = static_cast<std::size_t>(a.buffer);
  const Tensor& own = impl.base[b];
  if (!own.defined()) return view_of(caller, caller.offset(), a);
  const bool residual = impl.shared_from >= 0 && static_cast<int>(j) >= impl.shared_from;
  if (!impl.written[b] && !residual && caller.numel() > 0)
    if (std::optional<Tensor> v = view_on_caller(caller, a)) return *v;
  return view_of(own, own.offset(), a);
}

std::vector<Tensor> collect(const PlanImpl& impl, const RunInputs& inputs) {
  const Program& p = impl.program;
  std::vector<Tensor> out;
  out.reserve(p.outputs.size());
  for (std::size_t j = 0; j < p.outputs.size(); ++j) {
    const Arg& a = p.outputs[j];
    const auto b = static_cast<std::size_t>(a.buffer);
    switch (impl.home[b]) {
      case Home::input: out.push_back(input_output(impl, j, a, inputs[static_cast<std::size_t>(p.buffers[b].input)])); break;
      case Home::fresh: out.push_back(view_of(impl.base[b], impl.base[b].offset(), a)); break;
      case Home::shared: out.push_back(view_of(impl.block, impl.arena_offset[b] / static_cast<std::int64_t>(dtype_size(p.buffers[b].dtype)), a)); break;
      case Home::constant: {
        // a value the function made on the host is a fresh tensor per call, as it was eagerly (a
        // view of the one traced would carry a caller's in-place write into the next call's result)
        const Tensor v = view_of(p.buffers[b].constant, 0, a);
        out.push_back(p.buffers[b].made_in_trace ? v.clone() : v);
        break;
      }
      case Home::arena: case Home::unused: fail("Plan::run: output buffer without a home (internal error)");
    }
  }
  return out;
}

// Drops the run's tensors, so that the plan holds no reference to the caller's values.
void release(PlanImpl& impl) {
  for (const int bi : impl.bound) {
    const auto b = static_cast<std::size_t>(bi);
    if (impl.base[b].defined()) impl.base[b] = Tensor();
    for (const PlanImpl::Patch& patch : impl.patches[b]) TensorAccess::unbind(*patch.view);
  }
  impl.block = Tensor();
  for (auto& [storage, was_scratch] : impl.written_inputs) ++storage->version, storage->scratch = was_scratch;
  impl.written_inputs.clear();
}

}  // namespace
}  // namespace detail

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs) const { return run_inputs(RunInputs{inputs}); }

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs, const Tensor& last) const {
  return run_inputs(RunInputs{inputs, std::span<const Tensor>(&last, 1)});
}

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs, std::span<const Tensor> more) const {
  return run_inputs(RunInputs{inputs, more});
}

std::vector<Tensor> Plan::run_inputs(const RunInputs& inputs) const {
  if (!impl_) fail("Plan::run: the plan is empty");
  if (Trace::active())
    fail("Plan::run: a plan cannot run inside a function being traced (its kernels bypass the trace); "
         "run the function it was traced from instead");
  PlanImpl& impl = *impl_;
  const Program& p = impl.program;
  if (static_cast<int>(inputs.size()) != p.n_inputs) fail("Plan::run: {} inputs given, the plan takes {}", inputs.size(), p.n_inputs);
  BusyGuard guard(impl.busy);
  struct Release {
    PlanImpl& impl;
    ~Release() { release(impl); }
  } release_at_exit{impl};
  bind(impl, inputs);
  Backend& be = impl.arena.backend();
  initialise(impl, be);
  for (std::size_t i = 0; i < p.calls.size(); ++i) execute(be, p, p.calls[i], impl.args[i]);
  return collect(impl, inputs);
}

const PlanStats& Plan::stats() const {
  static const PlanStats none;
  return impl_ ? impl_->stats : none;
}

std::string Plan::listing() const {
  if (!impl_) return "(empty plan)\n";
  const Program& p = impl_->program;
  std::string s;
  for (const Call& c : p.calls) {
    s += call_name(c);
    if (c.kind == CallKind::elementwise) {
      s += " [";
      for (const ElementwiseStep& st : p.chains[static_cast<std::size_t>(c.program)].steps) s += fmt::format(" {}", op_name(st.op));
      s += " ]";
    }
    for (const Arg& a : c.args) s += fmt::format(" {}", describe(p, a));
    s += "\n";
  }
  return s;
}

}  // namespace tide
