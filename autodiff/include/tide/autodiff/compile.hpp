// Compiled functions of Vars: the eager function traced once per input signature into compiled
// plans (core/plan.hpp), a forward plan and, when gradients are needed, a backward plan.
//
// A call in grad mode with something to differentiate (an input that requires a gradient, or a
// parameter the function closes over) runs the forward plan and records ONE tape node for the
// whole function; the node's backward runs the backward plan on the residuals the forward plan
// kept. The backward plan is traced from the same eager backward rules the tape runs, split from
// the forward at the cotangent (Trace::split), so compiled and eager gradients are the same
// arithmetic. Where the sweep already holds a sum of the closed-over parameters' gradients (the
// function runs at every step of a sequence), a second backward plan adds into it instead
// (Trace::adding_outputs): a weight's gradient goes in with its GEMM, beta = 1. Double backward (a grad() with create_graph through the node) falls back to the
// eager function: it re-runs it on the saved inputs and differentiates that, recorded. Like the
// eager rules, the node's backward refuses (naming the value) what it reads that was modified in
// place since the call: a residual that is the caller's input or output, a parameter its plan
// reads by reference (an optimizer step between a call and its backward), and under create_graph
// also the inputs and what only the forward reads. Jets are
// not inputs or outputs of a compiled function, but a function of Vars that uses Taylor mode
// inside (ode_derivative, ode_taylor: the incremental trace computes with Var ops) compiles, and
// its backward plan gives the R_K gradient; the finiteness check of the highest coefficient is then
// the caller's (taylor/ode_taylor.hpp).
//
// A signature is the inputs' shapes, dtypes, devices and whether each requires a gradient, plus
// grad mode; each new one is traced once (up to max_plans are kept; stats().traces counts them).
// The function returns one Var: pack several outputs into one (concat) and slice them after; one
// that is (a view of) an input is a view of the caller's tensor, as a slice, transpose or broadcast
// is eagerly, whatever its strides (Plan::run). Unlike eagerly, a reshape, select or unsqueeze of a
// non-contiguous input (eager ones copy) is a view too where the caller's strides express it: an
// in-place write into such an output reaches the input (clone() it first). It must be traceable (plan.hpp): no control flow
// on tensor values, no random draws, no in-place writes into tensors it closes over (a replay would
// repeat the write; refused before it is made) or into its inputs (a replay would write a private
// copy, unseen by the caller and by another input sharing the storage; refused at the trace, naming
// the input and the call, the caller's tensors unchanged: write into a clone), parameters
// updated in place between calls; C++ numbers it uses (a captured double in x * c) are read when it is traced
// and fixed from then on: make a value that changes between calls a tensor (an input, or a
// parameter updated in place). Call clear() after replacing a parameter tensor or changing such
// a number. Called inside another function being traced, a compiled function runs its eager form,
// which that trace records. Threads: one compiled function may be called, and differentiated
// through, from several threads at once (its traces are looked up under a lock; threads take turns
// at a backward plan); a call that finds its forward plan running on another thread runs eagerly
// (the same values to rounding), so for speed give each thread that calls it at once its own.
#pragma once
#include "tide/autodiff/var.hpp"
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace tide {

using VarFunction = std::function<Var(const std::vector<Var>&)>;

struct CompileOptions {
  bool fuse = true;   // fuse elementwise chains (PlanOptions::fuse)
  int max_plans = 32;  // signatures kept; the least recently used is dropped beyond it (and traced again when it returns)
  // compile_dynamics only: NoGrad calls over more than 2 * row_block rows replay a row_block-row
  // plan over blocks of the batch, so that intermediates stay in cache (0: never; see compile_dynamics.hpp)
  std::int64_t row_block = 1024;
  // compile_dynamics only: the rows of a batch interact (batch statistics, a mean over the batch):
  // no row blocks and no padded subsets, so a subset of rows costs a trace per size
  bool rows_mix = false;
  bool operator==(const CompileOptions&) const = default;
};

struct CompileStats {
  std::int64_t traces = 0;          // signatures traced
  std::int64_t calls = 0;           // forward calls served by a plan (or, one busy on another thread, eagerly)
  std::int64_t backward_calls = 0;  // backward passes served by a plan
  std::int64_t adding_backward = 0; // of those, passes that added the parameters' gradients into the sweep's sums
  std::int64_t eager_backward = 0;  // backward passes that fell back to the eager function (create_graph)
};

class CompiledFunction {
public:
  CompiledFunction() = default;
  explicit CompiledFunction(VarFunction fn, CompileOptions options = {});

  Var operator()(const std::vector<Var>& inputs) const;
  bool defined() const { return state_ != nullptr; }
  const CompileStats& stats() const;
  // Drops every plan: the next call traces again. Call it after replacing (not updating in place)
  // a tensor the function closes over: the plans go on reading the one they were traced with
  // (stale values, and gradients to the old tensor). For compiled dynamics: clear_compiled(f)
  // (solvers/compile_dynamics.hpp), which clears its variants too.
  void clear();

  struct State;

private:
  std::shared_ptr<State> state_;
};

// Compiles fn (CompiledFunction(fn, options)).
inline CompiledFunction compile(VarFunction fn, CompileOptions options = {}) { return CompiledFunction(std::move(fn), options); }

}  // namespace tide
