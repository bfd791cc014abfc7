// The data of a trace (plan.hpp): buffers, the calls that read and write them, the outputs. The
// recorder (record.cpp) makes one, split.cpp cuts one in two, plan.cpp turns one into a replay.
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/plan.hpp"
#include <cstdint>
#include <optional>
#include <vector>

namespace tide::detail {

// The backend methods a trace records (Backend's kernels, fused ones included, and the fused
// elementwise chains plan.cpp makes).
enum class CallKind : std::uint8_t {
  copy, fill, unary, binary, where, reduce, matmul, index_select, index_add, gather, scatter_add,
  lincomb, scaled_row_norms, dense, synapse_sums, synapse_sums_backward, elementwise
};
const char* call_kind_name(CallKind kind);

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
};

// Whether argument i of a call is read (everything not purely written: outputs of accumulating
// kernels are read too).
bool reads_arg(const Call& call, std::size_t i);

}  // namespace tide::detail
