// The data of a trace (plan.hpp): buffers, the calls that read and write them, the outputs. The
// recorder (record.cpp) makes one, split.cpp cuts one in two, plan.cpp turns one into a replay.
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/plan.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tide::detail {

// The backend methods a trace records (Backend's kernels, fused ones included, and the fused
// elementwise chains plan.cpp makes).
enum class CallKind : std::uint8_t {
  copy, fill, unary, binary, where, reduce, matmul, index_select, index_add, gather, scatter_add,
  lincomb, scaled_row_norms, dense, synapse_sums, synapse_sums_backward, elementwise
};
const char* call_kind_name(CallKind kind);
struct Call;
// A call's kind and op, as listings and messages name it ("binary mul", "matmul_add", "fill").
std::string call_name(const Call& call);

// How a trace's buffer gets its memory and its value at a replay.
enum class BufferKind : std::uint8_t {
  input,     // the replay's input number `input`
  constant,  // a tensor the trace read but did not make (a parameter; a value made on the host)
  temp,      // made by the traced calls
};

struct Buffer {
  BufferKind kind = BufferKind::temp;
  int input = -1;
  DType dtype = DType::f32;
  Device device = Device::cpu();
  std::int64_t numel = 0;  // elements of dtype in the buffer's base view
  // input: the input's shape; constant and temp: [numel]. Arguments' offsets count from its start.
  Shape shape;
  Tensor constant;         // constant: the tensor (base view); temp: the value it starts with, if any
  bool made_in_trace = false;  // constant: made on the host while tracing (a fresh value per call: returned as a copy)
};

// One tensor argument of a call: a strided view of one buffer (buffer -1: an undefined tensor).
struct Arg {
  int buffer = -1;
  Shape shape, strides;
  std::int64_t offset = 0;
  DType dtype = DType::f32;
};

struct Call {
  CallKind kind = CallKind::copy;
  Op op = Op::neg;
  double p0 = 0.0, p1 = 0.0;
  std::uint32_t axes = 0;
  int axis = 0;
  bool has_act = false;           // dense: apply op
  bool accumulate = false;        // matmul: add the product into the output (Backend::matmul_add)
  std::vector<double> coeff;      // lincomb
  std::vector<Arg> args;          // in the backend method's order (lincomb: out, base, row_scale, xs...)
  std::vector<bool> writes;       // per argument: written by the call (index_add and scatter_add also read it)
  int program = -1;               // elementwise: its index in Program::chains
};

struct Program {
  std::vector<Buffer> buffers;
  std::vector<Call> calls;
  std::vector<Arg> outputs;
  int n_inputs = 0;
  std::vector<ElementwiseProgram> chains;
  Device device = Device::cpu();  // the device the trace serves: its inputs' (without inputs, its first kernel's)
};

// Facts about arguments and buffers that the passes share (copies.cpp, accumulate.cpp).
inline std::int64_t numel_of(const Arg& a) {
  std::int64_t n = 1;
  for (std::int64_t d : a.shape) n *= d;
  return n;
}
// Calls f(offset) for every element of a view (shape, strides, offset), last axis fastest.
template <class F> void for_each_offset(const Shape& shape, const Shape& strides, std::int64_t offset, F f) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(shape.rank()), 0);
  std::int64_t at = offset;
  for (std::int64_t e = 0, n = shape.numel(); e < n; ++e) {
    f(at);
    for (int d = shape.rank(); d-- > 0;) {
      std::int64_t& i = index[static_cast<std::size_t>(d)];
      at += strides[d];
      if (++i < shape[d]) break;
      at -= strides[d] * shape[d];
      i = 0;
    }
  }
}
inline bool contiguous_arg(const Arg& a) {
  std::int64_t expected = 1;
  for (std::size_t d = a.shape.size(); d-- > 0;) {
    if (a.shape[d] != 1 && a.strides[d] != expected) return false;
    expected *= a.shape[d];
  }
  return true;
}
// The kernels the fusion pass joins into chains (with same-layout copies, fuse.cpp).
inline bool elementwise_kind(CallKind k) { return k == CallKind::unary || k == CallKind::binary || k == CallKind::where; }
inline bool temp(const Program& p, int b) { return b >= 0 && p.buffers[static_cast<std::size_t>(b)].kind == BufferKind::temp; }
// Whether a is the whole of its temporary buffer, contiguous from its start.
inline bool whole_temp(const Program& p, const Arg& a) {
  return temp(p, a.buffer) && a.offset == 0 && contiguous_arg(a) && numel_of(a) == p.buffers[static_cast<std::size_t>(a.buffer)].numel;
}
// How often each buffer is an argument, an output counting twice (a pass never removes one).
inline std::vector<int> use_counts(const Program& p) {
  std::vector<int> uses(p.buffers.size(), 0);
  for (const Call& c : p.calls)
    for (const Arg& a : c.args)
      if (a.buffer >= 0) ++uses[static_cast<std::size_t>(a.buffer)];
  for (const Arg& a : p.outputs)
    if (a.buffer >= 0) uses[static_cast<std::size_t>(a.buffer)] += 2;
  return uses;
}

// The last call before `at`, not dropped, touching buffer b (`at` itself when none).
inline std::size_t last_toucher(const Program& p, std::size_t at, int b, const std::vector<bool>& drop) {
  for (std::size_t w = at; w-- > 0;) {
    if (drop[w]) continue;
    for (const Arg& a : p.calls[w].args)
      if (a.buffer == b) return w;
  }
  return at;
}

// Removes the calls marked in `drop`, keeping the others' order; returns how many went.
inline int drop_calls(Program& p, const std::vector<bool>& drop) {
  std::vector<Call> kept;
  for (std::size_t i = 0; i < p.calls.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(p.calls[i]));
  const int dropped = static_cast<int>(p.calls.size() - kept.size());
  p.calls = std::move(kept);
  return dropped;
}

// Whether argument i of a call is read (everything not purely written: outputs of accumulating
// kernels, and of a matmul that adds into its output, are read too).
bool reads_arg(const Call& call, std::size_t i);

}  // namespace tide::detail
