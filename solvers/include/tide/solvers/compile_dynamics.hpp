// Compiled dynamics: z' = f(z, t) traced into compiled plans (autodiff/compile.hpp), so that the
// thousands of evaluations of a solve, and their gradients, replay prepared kernels instead of
// running the op layer and the tape op by op.
//
//   const Dynamics f = compile_dynamics([&](const Var& z, const Var& t) { return mlp(z); });
//   for (...) solve(f, y0, times, options);   // the first solve traces; the rest replay
//
// Keep the compiled dynamics across solves: its plans are kept per signature (batch size, dtype,
// whether the state requires a gradient, and whether the call evaluates every row or a subset).
// Per-sample solving hands a shrinking subset of rows as samples finish: a subset is padded to the
// next power of two (its last row repeated, the result cut back), so a batch of B costs at most
// about 2 log2(B) traces over a training run (with and without gradient). A dynamics whose rows
// mix (batch statistics: a mean over the batch) must set CompileOptions::rows_mix: a padded row
// would change the others' values; its subsets are then traced per size, and never blocked.
//
// A solve with regularisers (R_K, kinetic energy, the Jacobian term, the CNF's exact or Hutchinson
// trace) compiles the regularised dynamics as a whole, Taylor mode and the estimators' products
// included, once per regulariser setting (compiled_variant below); the estimators' noise, drawn per
// solve, goes into a tensor kept with the variant (variant_state), one variant per batch size and
// noise slot (a solve holds the lowest slot no other solve in flight holds, so concurrent solves on
// several threads never read each other's noise, and one thread always uses slot 0), the 8 most
// recently used kept per setting (more in use at once are traced again as they return; with the
// adjoint or checkpointed gradient a noisy solve runs eagerly: their backward evaluates f again). Explicit Runge-Kutta methods compile a whole step (its stages and their
// combinations: variant "step dopri5", "step rk4 (torchdiffeq)" for SolveOptions::torchdiffeq's
// form; "step rk4 from y" where the step makes its first stage itself: a fixed-step tableau
// without FSAL, a checkpoint's replay), and the adjoint's backward solve compiles f with its vjp
// (variant "adjoint D=<width>").
// f's own plans (all_rows, subset_rows) then serve the calls outside those: the first step's size
// selection, dense output's f at a new state, the implicit methods, the adjoint's parameter vjp. Its plans are in compiled_stats(f).variants; if its first trace fails
// (a Jet path that reads values, say) it runs eagerly from then on, and `eager_because` there says
// why. What runs eagerly: the implicit methods' JVPs and a solve's own Jet calls.
//
// The dynamics must be traceable (core/plan.hpp): no control flow on values, no random draws,
// parameters updated in place; a Rows index is an input of the plan, so per-sample data gathered
// with rows.gather(x) works. A C++ number the function uses (a captured double k in z * k) is a
// constant of the plan, fixed at the trace, and nothing detects a later change to it: hold it in a
// tensor updated in place, or call clear_compiled(f). The plans read the tensors they were traced with: after replacing a
// tensor the function closes over (w = new_value, a derived G = W^T W recomputed per step) rather
// than updating it in place, call clear_compiled(f), as CompiledFunction::clear() for compile().
// SolveOptions carries no switch: a solve runs whatever Dynamics it is given, so turning
// compilation off is passing the plain f.
//
// Row blocks: a NoGrad call over more than 2 * options.row_block rows (1024 by default) replays the
// subset plan traced for row_block rows over blocks of the batch, each with its Rows index, so that
// the intermediates of a large batch (the tiny MLP's hidden layer at B = 65,536 is 8 MB) stay in
// cache. This assumes that rows do not mix: a dynamics with batch statistics sets rows_mix (or
// row_block = 0, which turns blocks off alone). As a safety net the first 8 blocked calls also run the
// whole batch and compare, then calls 16, 32, 64, ... (about log2(calls) whole-batch evaluations in
// all), and so does the first blocked call after a tensor the function reads by reference (a
// parameter, which an optimizer step updates in place) has changed since the last check, so that a
// mixing term that starts at zero (a gate initialised to 0, or one that grows with t or the state)
// is caught once it moves; the two must agree within 1e-9 (f64; 1e-4 f32) of the largest |value| of
// the whole batch's result. A function found to differ (or to fail on a block) is never blocked
// again. The checks are a net, not a proof: the calls between two checks (up to half of them) use
// the blocks, and a coupling that appears between two checks gives wrong values until the next one;
// set rows_mix for a dynamics whose rows mix. Calls with gradients are never blocked.
// compile_dynamics of a compiled f with other options compiles f's plain form afresh with them (with
// the same options it returns f).
#pragma once
#include "tide/autodiff/compile.hpp"
#include "tide/solvers/dynamics.hpp"
#include <functional>
#include <string>
#include <vector>

namespace tide {

Dynamics compile_dynamics(const Dynamics& f, CompileOptions options = {});

// Whether f is a compile_dynamics result, or a variant of one (below) still running compiled: its
// steps and adjoint compile with it.
bool is_compiled(const Dynamics& f);

// Drops the plans of compiled f (every-row and subset calls) and all its variants (steps,
// adjoint, regularised forms) with their kept tensors: the next calls trace again (a variant whose
// first trace failed is tried again too). Call it after replacing a tensor the
// dynamics closes over (not updating it in place), whose old value the plans would go on reading.
// Nothing when f is not compiled.
void clear_compiled(const Dynamics& f);

// A dynamics made from f by `make` (the solvers' regularised dynamics: f with R_K or kinetic-energy
// integrands appended), compiled when f is compiled and kept with f under `key`, so that every
// later call with the same key (every solve with the same regularisers) replays the same plans.
// `make` receives f's uncompiled form and must depend on nothing but it and the key. If the first
// trace fails (Jet code that cannot be traced), the variant runs eagerly from then on. When f is
// not compiled this is make(f).
Dynamics compiled_variant(const Dynamics& f, const std::string& key, const std::function<Dynamics(const Dynamics&)>& make);

// Drops, beyond the `keep` most recently used variants of f whose key starts with `family`, the
// others and their kept tensors (variant_state under the same key): a family made per shape (the
// noisy regularisers' variants, one per batch size) stays bounded. Nothing when f is not compiled.
void keep_recent_variants(const Dynamics& f, const std::string& family, std::size_t keep);

// A tensor kept with compiled f under `key` (made by `make` the first time; when f is not
// compiled, make() every time). A variant whose function captures it reads it by reference at
// every replay, so a caller that writes new values into it in place before a solve feeds the
// plans data that changes per solve (the CNF estimators' noise) without tracing again. A backward
// plan reads it by reference too: copy it inside the function (as a value of the trace) where the
// backward must see what the forward saw. Anything that runs the function again after the caller
// may have written new values (the adjoint's and checkpointing's backward solves, a create_graph
// backward, which re-runs it eagerly) sees the new values: solve() uses it for discrete gradients
// and NoGrad solves only.
Tensor variant_state(const Dynamics& f, const std::string& key, const std::function<Tensor()>& make);

// A variant's plans (the regularised dynamics of solves with R_K or kinetic energy: key
// "regularised D=.. taylor=.. kinetic=..", with " trace=exact" for the CNF's exact trace) and, when it runs eagerly because its first trace
// failed, the error that trace raised (empty while it is compiled).
struct CompiledVariantStats {
  std::string key;
  CompileStats all_rows, subset_rows;
  std::string eager_because;
};

// The compiled functions behind a compiled Dynamics' Var path (every-row and subset calls) and
// its variants, for statistics; all empty for a Dynamics that is not compiled.
struct CompiledDynamicsStats {
  CompileStats all_rows, subset_rows;
  std::vector<CompiledVariantStats> variants;
};
CompiledDynamicsStats compiled_stats(const Dynamics& f);

}  // namespace tide
