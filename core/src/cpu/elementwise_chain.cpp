// The CPU's fused elementwise chains (Backend::elementwise): the chain runs block by block over the
// flat output, the steps of a block in one call of elementwise.cpp's vectorised kernels
// (chain_steps_run), so a value made and consumed inside the chain lives in a small scratch block
// and never goes to memory.
#include "cpu_backend.hpp"
#include "elementwise.hpp"
#include "tensor_access.hpp"
#include <algorithm>
#include <span>
#include <vector>

namespace tide::cpu {
namespace {

constexpr std::int64_t block = 512;
// Scratch a chain may take with a block per step; a longer chain shares blocks (assign_slots).
constexpr std::size_t scratch_budget = 16 * 1024;

// How an input reaches a block: `full` inputs at their own offset, `periodic` ones (a contiguous
// trailing block broadcast over the leading axes, scalars included) from a copy repeated to the
// block's length, any other layout gathered into a scratch block per block.
struct Operand {
  const void* data = nullptr;
  std::int64_t period = 0;           // read at data + start mod period (n: a full input); 0: data itself
  const Tensor* gathered = nullptr;  // any other layout: copied into `slot` block by block
  void* slot = nullptr;
};

// dst[i] = x[flat index start + i] for i < len, x any strided view: runs along the last axis are
// copies (stride 1), fills (stride 0, a value broadcast along it) or strided loops.
template <class T>
void gather_block(const Tensor& x, std::int64_t start, std::int64_t len, T* dst) {
  const Shape& s = x.shape();
  const Shape& st = x.strides();
  const int r = s.rank();
  const T* base = detail::TensorAccess::base<const T>(x) + x.offset();
  if (r == 0) {
    std::fill(dst, dst + len, base[0]);
    return;
  }
  std::int64_t idx[max_rank];
  std::int64_t rem = start;
  for (int a = r - 1; a >= 0; --a) idx[a] = rem % s[a], rem /= s[a];
  const std::int64_t inner = s[r - 1], inner_stride = st[r - 1];
  std::int64_t done = 0;
  while (done < len) {
    std::int64_t off = 0;
    for (int a = 0; a < r; ++a) off += idx[a] * st[a];
    const std::int64_t n = std::min(inner - idx[r - 1], len - done);
    const T* src = base + off;
    if (inner_stride == 1) std::copy(src, src + n, dst + done);
    else if (inner_stride == 0) std::fill(dst + done, dst + done + n, src[0]);
    else for (std::int64_t i = 0; i < n; ++i) dst[done + i] = src[i * inner_stride];
    done += n;
    idx[r - 1] = 0;
    for (int a = r - 2; a >= 0; --a) {
      if (++idx[a] < s[a]) break;
      idx[a] = 0;
    }
  }
}

// The period of a view of shape s whose leading axes are broadcast and whose trailing axes are
// contiguous: their element count, or -1 if the view is not of that form.
std::int64_t period_of(const Tensor& x) {
  const Shape& s = x.shape();
  const Shape& st = x.strides();
  int k = s.rank();
  std::int64_t expect = 1;
  while (k > 0 && (s[k - 1] == 1 || st[k - 1] == expect)) {
    expect *= s[k - 1];
    --k;
  }
  for (int i = 0; i < k; ++i)
    if (s[i] != 1 && st[i] != 0) return -1;
  return expect;
}

// `slot`: scratch of `length` elements for this input. Blocks start at multiples of `length`.
template <class T>
Operand prepare(const Tensor& x, std::int64_t period, std::int64_t length, std::int64_t n, T* slot) {
  Operand op;
  if (period == n || (period > 0 && period % length == 0)) {  // read in place (a long period: at start mod period)
    op.data = detail::TensorAccess::base<const T>(x) + x.offset();
    op.period = period;
    return op;
  }
  if (period > 0 && length % period == 0) {  // a short period: repeated once to the block's length
    const T* src = detail::TensorAccess::base<const T>(x) + x.offset();
    for (std::int64_t i = 0; i < length; i += period) std::copy(src, src + period, slot + i);
    op.data = slot;
    op.period = 0;
    return op;
  }
  op.gathered = &x;
  op.slot = slot;
  return op;
}

// The block length: `block`, or a multiple of a short period that `block` is not one of.
std::int64_t block_length(const std::vector<std::int64_t>& periods, std::int64_t n) {
  std::int64_t length = block;
  for (const std::int64_t p : periods) {
    if (p > 0 && p < n && p < block && block % p != 0) {
      length = (block / p) * p;
      break;
    }
  }
  return std::min(length, std::max<std::int64_t>(n, 1));
}

template <class T> struct ChainScratch {
  std::vector<std::int64_t> periods;  // per input: period_of
  std::vector<T> blocks;
  std::vector<Operand> ops;
  std::vector<T*> value;
  std::vector<int> out_of;
  std::vector<int> slot_of;  // per step not written straight to an output: its scratch block (empty: step k, block k)
  std::vector<int> last_use, free;
  int slots = 0;
};

// Input i's values for the block [start, start + len).
template <class T>
T* block_of(const Operand& op, std::int64_t start, std::int64_t len) {
  if (op.gathered) {
    gather_block(*op.gathered, start, len, static_cast<T*>(op.slot));
    return static_cast<T*>(op.slot);
  }
  const T* p = static_cast<const T*>(op.data);
  return const_cast<T*>(op.period ? p + start % op.period : p);
}

// Refuses steps that are not elementwise and inputs of another dtype; notes each input's period.
template <class T>
void check_chain(const ElementwiseProgram& prog, std::span<const Tensor> inputs, DType dtype, ChainScratch<T>& sc) {
  for (const ElementwiseStep& s : prog.steps)
    if (const OpKind kind = op_info(s.op).kind; kind == OpKind::reduce || kind == OpKind::shape)
      fail("elementwise: {} is not an elementwise op", op_name(s.op));
  if (static_cast<std::size_t>(prog.n_inputs) != inputs.size())
    fail("elementwise: the program reads {} inputs, {} given", prog.n_inputs, inputs.size());
  const int values = prog.n_inputs + static_cast<int>(prog.steps.size());
  for (std::size_t k = 0; k < prog.steps.size(); ++k)
    for (const int v : prog.steps[k].in)
      if (v < -1 || v >= prog.n_inputs + static_cast<int>(k)) fail("elementwise: step {} reads value {}, not made before it", k, v);
  for (const int v : prog.outputs)
    if (v < 0 || v >= values) fail("elementwise: an output names value {} of {}", v, values);
  sc.periods.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || inputs[i].dtype() != dtype)
      fail("elementwise: input {} is {}; the chain's values are {}", i, inputs[i].str(), dtype_name(dtype));
    sc.periods[i] = period_of(inputs[i]);
  }
}

// Per step: the output its value is written to straight away (the first, if several), or -1.
template <class T> void map_outputs(const ElementwiseProgram& prog, ChainScratch<T>& sc) {
  sc.out_of.assign(prog.steps.size(), -1);
  for (std::size_t j = 0; j < prog.outputs.size(); ++j) {
    const int s = prog.outputs[j] - prog.n_inputs;
    if (s >= 0 && sc.out_of[static_cast<std::size_t>(s)] < 0) sc.out_of[static_cast<std::size_t>(s)] = static_cast<int>(j);
  }
}

// Per step written to scratch: a block that no value still needed holds, so that the scratch of a
// long chain stays as small as its widest point and in L1. A step never writes the block of a value
// it reads (defensive: today's kernels are all safe in place). A step value that is an output is
// written straight to it (map_outputs) and takes no block.
template <class T> void assign_slots(const ElementwiseProgram& prog, ChainScratch<T>& sc) {
  const int n_in = prog.n_inputs, steps = static_cast<int>(prog.steps.size());
  sc.last_use.assign(static_cast<std::size_t>(steps), -1);
  for (int k = 0; k < steps; ++k)
    for (const int v : prog.steps[static_cast<std::size_t>(k)].in)
      if (v >= n_in) sc.last_use[static_cast<std::size_t>(v - n_in)] = k;
  sc.slot_of.assign(static_cast<std::size_t>(steps), -1);
  sc.free.clear();
  sc.slots = 0;
  for (int k = 0; k < steps; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    if (sc.out_of[ku] < 0) {
      if (sc.free.empty()) sc.free.push_back(sc.slots++);
      sc.slot_of[ku] = sc.free.back();
      sc.free.pop_back();
      if (sc.last_use[ku] < 0) sc.free.push_back(sc.slot_of[ku]);  // read by nothing
    }
    for (const int in : prog.steps[ku].in) {  // the values this step read last (a value read twice, once)
      if (in < n_in) continue;
      int& last = sc.last_use[static_cast<std::size_t>(in - n_in)];
      const int slot = sc.slot_of[static_cast<std::size_t>(in - n_in)];
      if (last == k && slot >= 0) sc.free.push_back(slot);
      if (last == k) last = -2;
    }
  }
}

// The block [start, start + len): its steps, then the outputs that are inputs or repeat a value.
template <class T>
void run_block(const ElementwiseProgram& prog, ChainScratch<T>& sc, std::span<const Tensor> outputs, T* scratch,
               std::int64_t length, std::int64_t start, std::int64_t len) {
  const std::size_t n_in = sc.ops.size(), steps = prog.steps.size();
  std::vector<T*>& value = sc.value;
  for (std::size_t i = 0; i < n_in; ++i) value[i] = block_of<T>(sc.ops[i], start, len);
  for (std::size_t k = 0; k < steps; ++k)
    value[n_in + k] = sc.out_of[k] >= 0 ? detail::output_data<T>(outputs[static_cast<std::size_t>(sc.out_of[k])]) + start
                                        : scratch + static_cast<std::ptrdiff_t>(sc.slot_of.empty() ? static_cast<int>(k) : sc.slot_of[k]) * length;
  chain_steps_run(prog.steps.data(), steps, value.data(), n_in, len);
  for (std::size_t j = 0; j < prog.outputs.size(); ++j) {
    const int v = prog.outputs[j];
    const int s = v - prog.n_inputs;
    if (s >= 0 && sc.out_of[static_cast<std::size_t>(s)] == static_cast<int>(j)) continue;
    const T* src = value[static_cast<std::size_t>(v)];
    std::copy(src, src + len, detail::output_data<T>(outputs[j]) + start);
  }
}

template <class T>
void run_chain(const ElementwiseProgram& prog, std::span<const Tensor> inputs, std::span<const Tensor> outputs) {
  thread_local ChainScratch<T> sc;
  check_chain(prog, inputs, outputs[0].dtype(), sc);
  const std::int64_t n = outputs[0].numel();
  const std::int64_t length = block_length(sc.periods, n);
  map_outputs(prog, sc);
  if (static_cast<std::size_t>(length) * prog.steps.size() * sizeof(T) > scratch_budget) {
    assign_slots(prog, sc);
  } else {  // a short chain or short blocks: a block per step costs less than the bookkeeping
    sc.slot_of.clear();
    sc.slots = static_cast<int>(prog.steps.size());
  }
  const auto slots = static_cast<std::size_t>(sc.slots);
  // grown, never shrunk: a resize down and up again would zero the regrown part on every call
  if (const std::size_t need = static_cast<std::size_t>(length) * (slots + inputs.size()); sc.blocks.size() < need) sc.blocks.resize(need);
  T* scratch = sc.blocks.data();
  sc.ops.clear();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    sc.ops.push_back(prepare<T>(inputs[i], sc.periods[i], length, n, scratch + static_cast<std::ptrdiff_t>(slots + i) * length));
  sc.value.assign(inputs.size() + prog.steps.size(), nullptr);
  for (std::int64_t start = 0; start < n; start += length) run_block(prog, sc, outputs, scratch, length, start, std::min(length, n - start));
}

}  // namespace

void CpuBackend::elementwise(const ElementwiseProgram& program, std::span<const Tensor> inputs,
                             std::span<const Tensor> outputs) {
  if (outputs.size() != program.outputs.size())
    fail("elementwise: the program writes {} outputs, {} given", program.outputs.size(), outputs.size());
  if (outputs.empty() || outputs[0].numel() == 0) return;
  if (outputs[0].dtype() == DType::f32) run_chain<float>(program, inputs, outputs);
  else if (outputs[0].dtype() == DType::f64) run_chain<double>(program, inputs, outputs);
  else fail("elementwise: floating outputs expected, got {}", outputs[0].str());
}

}  // namespace tide::cpu
