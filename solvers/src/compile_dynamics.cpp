// compile_dynamics (compile_dynamics.hpp).
#include "tide/solvers/compile_dynamics.hpp"
#include "tide/core/plan.hpp"
#include <algorithm>
#include <bit>
#include <map>
#include <string>
#include <memory>

namespace tide {
namespace {

// The Var path of a compiled Dynamics: one compiled function for calls over every row, one for
// calls over a subset (the index is its third input). A subset of n rows is padded to the next
// power of two by repeating its last row (and the result cut back to n rows), so that a batch
// shrinking one sample at a time costs log2(B) traces, not B; unless the rows mix
// (CompileOptions::rows_mix), where a padded row would change the others' values.
//
// NoGrad calls over more than 2 * row_block rows replay the subset plan traced for row_block rows
// over blocks of the batch (a block is a subset: its Rows index says which samples, so per-sample
// data gathered by rows follows), so that a large batch's intermediate values stay in cache. That
// is only right for dynamics whose rows do not mix (no batch statistics; CompileOptions::rows_mix
// or row_block = 0 says so). As a safety net, the first `checked_calls` blocked calls also run the whole batch and
// return that result when the two differ; a function whose blocked result differs once, or that
// fails on a block, is never blocked again.
// One variant (compiled_variant): what solves run, the compiled form inside it (for statistics)
// and, once its first trace has failed, why.
struct Variant {
  Dynamics runs, compiled;
  std::shared_ptr<std::string> failure;
};

// Variants of one compiled dynamics, by key, and the form each is made from.
struct Variants {
  VarDynamicsFn plain;  // the dynamics' own function, not compiled
  CompileOptions options;
  std::map<std::string, Variant> made;
  std::map<std::string, Tensor> states;  // variant_state
};

struct CompiledVar {
  CompiledFunction all, subset;
  std::int64_t row_block = 0;  // 0: no blocks
  bool padded = true;          // subsets padded to a power of two (rows that do not mix)
  std::shared_ptr<Variants> variants;
  static constexpr int checked_calls = 8;
  // < 0: that many more calls to check; 0: off (the rows mix); 1: on
  std::shared_ptr<int> blocking = std::make_shared<int>(-checked_calls);
  std::shared_ptr<Tensor> every = std::make_shared<Tensor>();

  Var operator()(const Var& z, const Var& t, const Rows& rows) const {
    // inside another function being traced: the eager form, which that trace records (as a
    // CompiledFunction does; padding a subset would read its row index back to the host)
    if (Trace::active()) return variants->plain(z, t, rows);
    if (rows.all()) {
      if (!blocks_apply(z, t)) return all({z, t});
      return in_blocks(z, t, every_row(z.size(0), z.device()), [&] { return all({z, t}); });
    }
    if (blocks_apply(z, t)) return in_blocks(z, t, rows.index(), [&] { return subset_call(z, t, rows); });
    return subset_call(z, t, rows);
  }

  // 0 .. B-1, the Rows index of an every-row call (kept for the last B asked for).
  Tensor every_row(std::int64_t B, Device device) const {
    if (!every->defined() || every->shape()[0] != B || every->device() != device) {
      std::vector<std::int64_t> v(static_cast<std::size_t>(B));
      for (std::int64_t i = 0; i < B; ++i) v[static_cast<std::size_t>(i)] = i;
      *every = Tensor::from_indices(v, Shape{B}, device);
    }
    return *every;
  }

  // The subset plan over n rows, padded to the next power of two where rows do not mix.
  Var subset_call(const Var& z, const Var& t, const Rows& rows) const {
    const std::int64_t n = z.size(0), m = std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(n, 1)));
    if (m == n || !padded || n == 0) return subset({z, t, Var(rows.index())});  // (no row to pad with)
    std::vector<std::int64_t> local(static_cast<std::size_t>(m)), index = rows.index().to_indices();
    for (std::int64_t i = 0; i < m; ++i) local[static_cast<std::size_t>(i)] = std::min(i, n - 1);
    index.resize(static_cast<std::size_t>(m), index.back());
    const Tensor pad = Tensor::from_indices(local, Shape{m}, z.device());
    const Var out = subset({index_select(z, 0, pad), t.rank() == 0 ? t : index_select(t, 0, pad),
                            Var(Tensor::from_indices(index, Shape{m}, z.device()))});
    return slice(out, 0, 0, n);
  }

  // NoGrad on the CPU (a GPU wants the whole batch in one launch), a batch above two blocks, and a
  // time that is shared (a scalar) or per row.
  bool blocks_apply(const Var& z, const Var& t) const {
    const std::int64_t B = z.rank() > 0 ? z.size(0) : 0;
    return row_block > 0 && *blocking != 0 && !grad_enabled() && z.device().kind == DeviceKind::cpu && B / 2 > row_block &&
           (t.rank() == 0 || t.size(0) == B);
  }

  // The subset plan over the blocks, each result copied into its rows; undefined when a result
  // is not one row per row.
  Tensor run_blocks(const Tensor& z, const Tensor& t, const Tensor& index) const {
    const std::int64_t B = z.shape()[0];
    Tensor out;
    for (std::int64_t r0 = 0; r0 < B; r0 += row_block) {
      const std::int64_t r1 = std::min(B, r0 + row_block);
      const Var zb(z.slice(0, r0, r1)), tb(t.rank() == 0 ? t : t.slice(0, r0, r1));
      const Tensor rows = index.slice(0, r0, r1);
      // the last, shorter block padded like any subset: at most log2(row_block) more plans
      const Tensor y = (r1 - r0 == row_block ? subset({zb, tb, Var(rows)}) : subset_call(zb, tb, Rows(rows))).value();
      if (!out.defined()) {
        if (y.rank() == 0 || y.shape()[0] != r1 - r0) return {};
        Shape shape = y.shape();
        shape[0] = B;
        out = Tensor::empty(shape, y.dtype(), y.device());
      }
      out.slice(0, r0, r1).copy_(y);
    }
    return out;
  }

  // run_blocks, checked against `whole` (the unblocked call) while blocking is on probation.
  template <class Whole>
  Var in_blocks(const Var& z, const Var& t, const Tensor& index, Whole whole) const {
    Tensor out;
    try {
      out = run_blocks(z.value().contiguous(), t.rank() == 0 ? t.value() : t.value().contiguous(), index);
    } catch (const Error&) {
      if (*blocking > 0) throw;  // it worked on blocks before: a real error
    }
    if (*blocking < 0) {
      const Var reference = whole();
      const Tensor w = reference.value();
      const double tol = w.dtype() == DType::f64 ? 1e-9 : 1e-4;
      const bool same = out.defined() && out.shape() == w.shape() &&
                        (w.numel() == 0 || max(abs(sub(out, w))).item() <= tol * std::max(1.0, max(abs(w)).item()));  // NaN: false
      *blocking = same ? (*blocking == -1 ? 1 : *blocking + 1) : 0;
      if (!same) return reference;
    }
    return out.defined() ? Var(out) : whole();
  }
};

// A compiled variant that runs its eager form instead once a trace has failed: a trace that finds
// the function untraceable (Jet code reading values: UntraceableError) for any signature, or any
// error before a call has succeeded; after a success, other errors are the function's own and
// propagate.
struct TracedOrEager {
  VarDynamicsFn compiled, eager;
  std::shared_ptr<std::string> failure;                    // set when running eagerly
  std::shared_ptr<bool> traced = std::make_shared<bool>(false);

  Var operator()(const Var& z, const Var& t, const Rows& rows) const {
    if (!failure->empty()) return eager(z, t, rows);
    try {
      Var out = compiled(z, t, rows);
      *traced = true;
      return out;
    } catch (const UntraceableError& e) {
      *failure = e.what();
    } catch (const Error& e) {
      if (*traced) throw;
      *failure = e.what();
    }
    return eager(z, t, rows);
  }
};

// The CompiledVar behind f: f's own, or that of a variant still running compiled (so a regularised
// dynamics compiles its steps and its adjoint like f does).
const CompiledVar* compiled_var(const Dynamics& f) {
  if (!f.var) return nullptr;
  if (const auto* c = f.var.target<CompiledVar>()) return c;
  if (const auto* v = f.var.target<TracedOrEager>(); v && v->failure->empty()) return v->compiled.target<CompiledVar>();
  return nullptr;
}

}  // namespace

Dynamics compile_dynamics(const Dynamics& f, CompileOptions options) {
  if (!f.var) fail("compile_dynamics: the dynamics has no Var function");
  if (f.var.target<CompiledVar>()) return f;  // already compiled
  const VarDynamicsFn fn = f.var;
  Dynamics out;
  out.var = CompiledVar{
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows()); }, options),
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows(in[2].value())); }, options),
      options.rows_mix ? 0 : options.row_block, !options.rows_mix, std::make_shared<Variants>(Variants{fn, options, {}, {}})};
  out.jet = f.jet;
  return out;
}

bool is_compiled(const Dynamics& f) { return compiled_var(f) != nullptr; }

Dynamics compiled_variant(const Dynamics& f, const std::string& key, const std::function<Dynamics(const Dynamics&)>& make) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return make(f);
  auto& made = c->variants->made;
  if (const auto hit = made.find(key); hit != made.end()) return hit->second.runs;
  Dynamics plain;
  plain.var = c->variants->plain;
  plain.jet = f.jet;
  Variant v;
  const Dynamics eager = make(plain);
  v.compiled = compile_dynamics(eager, c->variants->options);
  v.failure = std::make_shared<std::string>();
  v.runs.var = TracedOrEager{v.compiled.var, eager.var, v.failure};
  v.runs.jet = eager.jet;
  return made.emplace(key, std::move(v)).first->second.runs;
}

Tensor variant_state(const Dynamics& f, const std::string& key, const std::function<Tensor()>& make) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return make();
  auto& states = c->variants->states;
  if (const auto hit = states.find(key); hit != states.end()) return hit->second;
  return states.emplace(key, make()).first->second;
}

CompiledDynamicsStats compiled_stats(const Dynamics& f) {
  const CompiledVar* c = f.var ? f.var.target<CompiledVar>() : nullptr;
  if (!c) return {};
  CompiledDynamicsStats out{c->all.stats(), c->subset.stats(), {}};
  for (const auto& [key, v] : c->variants->made) {
    const CompiledDynamicsStats inner = compiled_stats(v.compiled);
    out.variants.push_back({key, inner.all_rows, inner.subset_rows, *v.failure});
    for (const CompiledVariantStats& nested : inner.variants)  // its own steps and adjoint
      out.variants.push_back({key + " / " + nested.key, nested.all_rows, nested.subset_rows, nested.eager_because});
  }
  return out;
}

}  // namespace tide
