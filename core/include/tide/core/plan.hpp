// Compiled plans: a function of tensors traced once and replayed.
//
// Trace::record runs a function once, eagerly, and records every backend call it makes (the
// kernels, not the op layer above them: validation, broadcasting and shape logic run once, at
// trace time). A Plan is a trace made executable: its temporaries live in one arena planned ahead
// (buffers whose lifetimes do not overlap share memory), chains of elementwise ops are fused into
// one pass (Backend::elementwise), and a replay is a loop over prepared kernel calls: no
// allocation per op, no shape logic, no dispatch lookups, no tape. The autodiff layer builds
// compiled functions with compiled backward passes on top of this (autodiff/compile.hpp).
//
// What a trace sees and what it assumes:
//  - A plan serves the shapes, dtypes and devices it was traced with (Plan::matches); a call with
//    others is an error naming the input. Callers keep one plan per signature (a batch size that
//    changes, as when a solver drops finished samples, means one more plan).
//  - A plan replays the kernels of one device: its inputs' (a function without inputs: the device
//    of its first kernel). A kernel on another device's backend, or a transfer between devices
//    (to(device)), while tracing is an error (UntraceableError): its value would be replayed as a
//    constant. Move the tensors before compiling. The one transfer allowed is a value made on the
//    host during the trace (from_vector) uploaded to the traced device: a constant, as below.
//  - Tensors the function reads but did not receive as inputs (parameters, constants) are read by
//    reference at every replay: parameters updated in place (every optimizer does) are seen;
//    a parameter replaced by a new tensor is not (trace again).
//  - Values the function makes on the host during tracing (from_vector, scalar) become constants,
//    and so do the C++ numbers it passes to ops (x * c, clamp bounds): a replay uses the values they
//    had when the function was traced. A value that changes between calls must be a tensor. Such a
//    constant returned as an output is copied per replay (a fresh tensor per call, as eagerly).
//  - The function must not write in place into tensors it did not make or receive (a parameter, a
//    counter it closes over): callers may run it more than once to trace it, so the write would
//    happen more often than eagerly; Trace::record refuses such a trace, naming the tensor, before
//    the write is made (a caller that falls back to the eager function sees the tensor unchanged).
//    A write into an input writes the run's own copy of it (PlanOptions::in_place_inputs_from says
//    otherwise), unseen by the caller; compiled functions refuse one (Trace::input_writes).
//  - The function's control flow must not depend on tensor values: reading values back to the host
//    (item, to_vector) while tracing is an error, and so is drawing random numbers (pass the noise
//    in as an input instead: a replay would repeat the same draw).
//  - A plan is not thread-safe: use one per thread.
// A plan's calls are what a CUDA graph captures; the replay loop is the place to capture one.
#pragma once
#include "tide/core/tensor.hpp"
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tide {

namespace detail {
struct Program;
struct PlanImpl;
struct RunInputs;
}  // namespace detail

using TensorFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// The recorded calls of one run of a function.
class Trace {
public:
  Trace() = default;
  // Runs fn on copies of the inputs (so a tensor fn reads by reference is never taken for one, and
  // the caller's tensors are not written) and records it. The run's results are stored in *results
  // when given.
  static Trace record(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* results = nullptr);
  // Called by the function record() runs: one more input of the trace, numbered after those it
  // has (a value whose shape is known only once the function has run part way: a backward's
  // cotangent, shaped as the output). Returns the tensor the function reads it from (zeros while
  // tracing).
  static Tensor add_input(const Shape& shape, DType dtype, Device device);

  // Splits a trace of a function whose inputs [first_late_input, ...) arrive later (the cotangents
  // of a backward pass) into the part that can run now and the part that must wait. The early part
  // takes the early inputs and returns outputs [0, first_late_output) followed by the residuals:
  // the values the late part reads (except zeros the early part only filled, which the late part
  // fills itself). The late part takes the residuals followed by the late inputs, and returns the
  // outputs [first_late_output, ...). Throws if an early output is written after a late call
  // reads it (that write must run late).
  struct Split;
  Split split(int first_late_input, int first_late_output) const;

  // The same function with outputs [first_output, ...) added into accumulators instead of
  // returned: it takes one more input per such output, after its own (a tensor of that output's
  // shape and dtype), adds the output into it in place and returns the outputs before
  // first_output. A weight's gradient summed over a sequence's steps then costs its product alone
  // (the plan folds the add into the GEMM, as beta = 1). Plan it with in_place_inputs_from set to
  // its first accumulator, or the run adds into copies.
  Trace adding_outputs(int first_output) const;

  // True while record() runs a function on this thread: code that writes tensors through raw
  // pointers (a kernel outside the backend) must take a path of backend calls instead, or the
  // plan would replay a constant, and values cannot be read back to the host.
  static bool active();

  int inputs() const;
  int outputs() const;
  int calls() const;
  // The tensors made before the trace that its calls (or outputs) read by reference at each replay
  // (parameters).
  std::vector<Tensor> constants() const;
  // Per input, the first call that writes into it ("binary mul", "fill"; "" for an input no call
  // writes): a plan writes its own copy of such an input (PlanOptions::in_place_inputs_from).
  std::vector<std::string> input_writes() const;
  bool defined() const { return program_ != nullptr; }
  const detail::Program& program() const { return *program_; }

private:
  explicit Trace(std::shared_ptr<const detail::Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const detail::Program> program_;
};

struct Trace::Split {
  Trace early, late;
  int residuals = 0;
};

struct PlanOptions {
  bool fuse = true;  // fuse chains of elementwise ops into one pass
  // The returned buffers that only outputs from this index on return share one allocation per run
  // (a compiled function's residuals: made together, freed together, never written by the
  // caller); -1: each returned buffer is a tensor of its own.
  int shared_outputs_from = -1;
  // The inputs from this index on that the calls write are the caller's tensors, written in place
  // (each contiguous, sharing storage with no other input); -1: a written input is the run's own
  // copy, and the caller's tensor stays as it was.
  int in_place_inputs_from = -1;
};

struct PlanStats {
  int calls = 0;             // kernel calls per replay (a fused chain counts once)
  int traced_calls = 0;      // kernel calls the trace recorded
  int dead_calls = 0;        // of those, dropped: they write only temporaries nothing later reads, or fill ones overwritten before read
  int merged_values = 0;     // temporaries found to hold another's value (the same kernel on the same values), read from it instead
  int elided_copies = 0;     // of those, copies dropped: the copied value is written in place instead
  int narrowed_products = 0; // of those, copies of a block of a product, made by the product computing that block alone
  int folded_adds = 0;       // of those, adds of a product into an accumulator, done by the product's GEMM instead
  int initialised = 0;       // temporaries that start from a value made on the host, copied in per run
  int fused_chains = 0;      // chains of elementwise ops run as one pass
  int fused_ops = 0;         // the ops in them
  std::size_t arena_bytes = 0;   // the planned temporaries
  std::size_t temp_bytes = 0;    // what the same temporaries take without sharing
};

class Plan {
public:
  Plan() = default;
  explicit Plan(const Trace& trace, PlanOptions options = {});

  // Runs the plan on inputs of the traced signature; returns fresh output tensors. An output that is
  // (a view of) an input is that view of the caller's tensor, the traced view composed with its
  // strides, as the function's was; it is a view of the run's contiguous copy instead where the calls
  // write the input, for outputs from PlanOptions::shared_outputs_from on (residuals), and where no
  // strides on the caller's layout express it (an axis spanning several of its axes: a reshape of a
  // non-contiguous input, a copy eagerly too). An output that is a constant is a view of it (a value
  // made on the host while tracing: a copy per run).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  // The same with `inputs` followed by `last` (a backward's residuals and its cotangent), or by
  // `more` (the cotangent and accumulators).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const Tensor& last) const;
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, std::span<const Tensor> more) const;
  // Whether run() accepts these inputs: their number, shapes, dtypes and devices.
  bool matches(const std::vector<Tensor>& inputs) const;
  bool defined() const { return impl_ != nullptr; }
  const PlanStats& stats() const;
  // One line per call, for debugging and tests.
  std::string listing() const;

private:
  std::vector<Tensor> run_inputs(const detail::RunInputs& inputs) const;
  std::shared_ptr<detail::PlanImpl> impl_;
};

}  // namespace tide
