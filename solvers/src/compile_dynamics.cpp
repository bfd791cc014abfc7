// compile_dynamics (compile_dynamics.hpp).
#include "tide/solvers/compile_dynamics.hpp"
#include "tide/core/plan.hpp"
#include <algorithm>
#include <atomic>
#include <bit>
#include <limits>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <mutex>

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
// or row_block = 0 says so). As a safety net, the first `checked_calls` blocked calls also run the
// whole batch and compare, then calls 16, 32, 64, ... (a coupling that grows with t or the state
// from zero is caught within a doubling of the calls, for ~log2(calls) whole-batch evaluations), and
// so does the first blocked call after a tensor the function reads by reference (a parameter: an
// optimizer step bumps its version) has changed since the last check, so a mixing path that starts
// at zero (a gate initialised to 0) is caught when it moves; a function whose blocked result differs
// once, or that fails on a block, is never blocked again. Between two checks a coupling goes unseen:
// rows_mix is the sure way.

// Why a variant runs eagerly: the error of its first failed trace, set once (the first thread's),
// read by any thread.
class Failure {
public:
  bool failed() const { return failed_.load(); }
  void set(const char* why) {
    const std::lock_guard lock(mutex_);
    if (!failed_) why_ = why, failed_.store(true);
  }
  std::string why() const {
    const std::lock_guard lock(mutex_);
    return why_;
  }

private:
  mutable std::mutex mutex_;
  std::string why_;
  std::atomic<bool> failed_{false};
};

// One variant (compiled_variant): what solves run, the compiled form inside it (for statistics)
// and, once its first trace has failed, why.
struct Variant {
  Dynamics runs, compiled;
  std::shared_ptr<Failure> failure;
  std::uint64_t last_use = 0;  // Variants::uses when last asked for (keep_recent_variants)
};

// Variants of one compiled dynamics, by key, and the form each is made from. Solves on several
// threads ask for them (a backward pass's adjoint or checkpointed steps): the maps are read and
// changed under the mutex.
struct Variants {
  VarDynamicsFn plain;  // the dynamics' own function, not compiled
  CompileOptions options;
  std::mutex mutex;
  std::map<std::string, Variant> made;
  std::map<std::string, Tensor> states;  // variant_state
  std::uint64_t uses = 0;                // a clock for Variant::last_use
};

// The tensors a blocked function reads by reference (the constants of a trace of one block, made
// at its first check) and their versions at the last check.
struct Watched {
  bool known = false;
  std::vector<Tensor> tensors;
  std::vector<std::uint64_t> versions;

  bool changed() const {
    if (!known) return true;
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i].version() != versions[i]) return true;
    return false;
  }
  void note() {
    versions.clear();
    for (const Tensor& t : tensors) versions.push_back(t.version());
  }
};

// Whether a blocked result equals the whole batch's: within tol of max|whole| (relative, so a
// dynamics with small outputs is held to the same standard), with a floor at the dtype's epsilon
// (an all-zero result). NaN: false.
bool same_result(const Tensor& blocked, const Tensor& whole) {
  if (!blocked.defined() || blocked.shape() != whole.shape()) return false;
  if (whole.numel() == 0) return true;
  const bool f64 = whole.dtype() == DType::f64;
  const double tol = f64 ? 1e-9 : 1e-4;
  const double eps = f64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
  return max(abs(sub(blocked, whole))).item() <= tol * std::max(eps, max(abs(whole)).item());
}

// What the copies of one CompiledVar share about its blocks. Solves on several threads may call it
// at once (compile.hpp allows it): `blocking` and `calls` are atomic, the index and the watched
// tensors are read and changed under the mutex (a lock per blocked call, of more than 2 * row_block
// rows, costs nothing next to it).
struct Blocks {
  static constexpr int checked_calls = 8;
  // < 0: that many more calls to check; 0: off (the rows mix, for good); 1: on
  std::atomic<int> blocking{-checked_calls};
  std::atomic<std::uint64_t> calls{0};  // blocked calls begun, checked or not
  std::mutex mutex;
  Tensor every;     // 0 .. n-1 for the largest n asked for (every_row)
  Watched watched;  // what the function reads by reference (watch)

  // A call that passed its check: one fewer left on probation (0, off, stays off).
  void passed() {
    int now = blocking.load();
    while (now < 0 && !blocking.compare_exchange_weak(now, now == -1 ? 1 : now + 1)) {
    }
  }
  // Whether blocked call number n (from 1) is checked after probation: 16, 32, 64, ..., or the
  // first after a watched tensor changed.
  bool due(std::uint64_t n) {
    if (n >= 2 * checked_calls && std::has_single_bit(n)) return true;
    const std::lock_guard lock(mutex);
    return watched.changed();
  }
};

struct CompiledVar {
  CompiledFunction all, subset;
  std::int64_t row_block = 0;  // 0: no blocks
  bool padded = true;          // subsets padded to a power of two (rows that do not mix)
  std::shared_ptr<Variants> variants;
  std::shared_ptr<Blocks> blocks = std::make_shared<Blocks>();

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

  // 0 .. B-1, the Rows index of an every-row call: the first B of the index kept for the largest
  // batch asked for (so threads calling with different B share it rather than remake it).
  Tensor every_row(std::int64_t B, Device device) const {
    const std::lock_guard lock(blocks->mutex);
    Tensor& every = blocks->every;
    if (!every.defined() || every.shape()[0] < B || every.device() != device) {
      std::vector<std::int64_t> v(static_cast<std::size_t>(B));
      for (std::int64_t i = 0; i < B; ++i) v[static_cast<std::size_t>(i)] = i;
      every = Tensor::from_indices(v, Shape{B}, device);
    }
    return every.shape()[0] == B ? every : every.slice(0, 0, B);
  }

  // The subset plan over n rows, padded to the next power of two where rows do not mix.
  Var subset_call(const Var& z, const Var& t, const Rows& rows) const {
    const std::int64_t n = z.size(0), m = std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(n, 1)));
    if (m == n || !padded || n == 0) return subset({z, t, Var(rows.index())});  // (no row to pad with)
    std::vector<std::int64_t> local(static_cast<std::size_t>(m)), index = rows.index().to_indices();
    for (std::int64_t i = 0; i < m; ++i) local[static_cast<std::size_t>(i)] = std::min(i, n - 1);
    index.resize(static_cast<std::size_t>(m), index.back());
    const Tensor pad = Tensor::from_indices(local, Shape{m}, z.device());
    const bool per_row = t.rank() > 0 && t.size(0) == n;  // else shared: a scalar, or one row broadcast
    const Var out = subset({index_select(z, 0, pad), per_row ? index_select(t, 0, pad) : t,
                            Var(Tensor::from_indices(index, Shape{m}, z.device()))});
    return slice(out, 0, 0, n);
  }

  // NoGrad on the CPU (a GPU wants the whole batch in one launch), a batch above two blocks, and a
  // time that is shared (a scalar) or per row.
  bool blocks_apply(const Var& z, const Var& t) const {
    const std::int64_t B = z.rank() > 0 ? z.size(0) : 0;
    return row_block > 0 && blocks->blocking.load() != 0 && !grad_enabled() && z.device().kind == DeviceKind::cpu && B > 2 * row_block &&
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

  // run_blocks, checked against `whole` (the unblocked call) while blocking is on probation, at
  // calls 16, 32, 64, ... and after a tensor the function reads by reference has changed. A check
  // that passes returns the blocks' result, as an unchecked call does: whether a call was checked
  // (the count restarts in a resumed process) must not change its value in the last bits.
  template <class Whole>
  Var in_blocks(const Var& z, const Var& t, const Tensor& index, Whole whole) const {
    const Tensor zc = z.value().contiguous(), tc = t.rank() == 0 ? t.value() : t.value().contiguous();
    const std::uint64_t n = ++blocks->calls;
    const bool proven = blocks->blocking.load() > 0;
    Tensor out;
    try {
      out = run_blocks(zc, tc, index);
    } catch (const Error&) {
      if (proven) throw;  // it worked on blocks before: a real error
    }
    if (proven && !blocks->due(n)) return out.defined() ? Var(out) : whole();
    const Var reference = whole();
    if (!same_result(out, reference.value()) || !watch(zc, tc, index)) {
      blocks->blocking.store(0);
      return reference;
    }
    blocks->passed();
    return out.defined() ? Var(out) : reference;
  }

  // Notes the versions of what the function reads by reference, found first by a trace of one
  // block; false if that trace fails (then blocks are not watched, so not used).
  bool watch(const Tensor& z, const Tensor& t, const Tensor& index) const {
    bool known = false;
    {
      const std::lock_guard lock(blocks->mutex);
      known = blocks->watched.known;
    }
    std::vector<Tensor> read;  // traced outside the lock: it runs the user's function
    if (!known) {
      const std::int64_t n = std::min(z.shape()[0], row_block);
      const VarDynamicsFn& fn = variants->plain;
      const TensorFunction block = [&fn](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{fn(Var(in[0]), Var(in[1]), Rows(in[2])).value()};
      };
      try {
        read = Trace::record(block, {z.slice(0, 0, n), t.rank() == 0 ? t : t.slice(0, 0, n), index.slice(0, 0, n)}).constants();
      } catch (const Error&) {
        return false;
      }
    }
    const std::lock_guard lock(blocks->mutex);
    Watched& watched = blocks->watched;
    if (!known && !watched.known) watched.tensors = std::move(read), watched.known = true;
    watched.note();
    return true;
  }

  // Drops every plan; the next blocked call checks again (the tensors read may be new ones).
  void clear() const {
    for (CompiledFunction f : {all, subset}) f.clear();  // (copies share the plans)
    const std::lock_guard lock(blocks->mutex);
    blocks->watched = Watched{};
  }
};

// A compiled variant that runs its eager form instead once a trace has failed: a trace that finds
// the function untraceable (Jet code reading values: UntraceableError) for any signature, or any
// error before a call has succeeded; after a success, other errors are the function's own and
// propagate.
// Its state is shared by its copies and atomic: threads call it at once (a backward on each).
struct TracedOrEager {
  VarDynamicsFn compiled, eager;
  std::shared_ptr<Failure> failure;  // set when running eagerly
  std::shared_ptr<std::atomic<bool>> traced = std::make_shared<std::atomic<bool>>(false);

  Var operator()(const Var& z, const Var& t, const Rows& rows) const {
    if (failure->failed()) return eager(z, t, rows);
    try {
      Var out = compiled(z, t, rows);
      traced->store(true);
      return out;
    } catch (const UntraceableError& e) {
      failure->set(e.what());
    } catch (const Error& e) {
      if (traced->load()) throw;
      failure->set(e.what());
    }
    return eager(z, t, rows);
  }
};

// The CompiledVar behind f: f's own, or that of a variant still running compiled (so a regularised
// dynamics compiles its steps and its adjoint like f does).
const CompiledVar* compiled_var(const Dynamics& f) {
  if (!f.var) return nullptr;
  if (const auto* c = f.var.target<CompiledVar>()) return c;
  if (const auto* v = f.var.target<TracedOrEager>(); v && !v->failure->failed()) return v->compiled.target<CompiledVar>();
  return nullptr;
}

std::shared_ptr<Variants> variants_of(const VarDynamicsFn& plain, const CompileOptions& options) {
  auto v = std::make_shared<Variants>();
  v->plain = plain, v->options = options;
  return v;
}

}  // namespace

Dynamics compile_dynamics(const Dynamics& f, CompileOptions options) {
  if (!f.var) fail("compile_dynamics: the dynamics has no Var function");
  VarDynamicsFn fn = f.var;
  if (const auto* c = f.var.target<CompiledVar>()) {
    if (c->variants->options == options) return f;  // already compiled so: keep its plans
    fn = c->variants->plain;  // compiled with other options (rows_mix, say): compiled afresh from its plain form
  }
  Dynamics out;
  out.var = CompiledVar{
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows()); }, options),
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows(in[2].value())); }, options),
      options.rows_mix ? 0 : options.row_block, !options.rows_mix, variants_of(fn, options)};
  out.jet = f.jet;
  return out;
}

bool is_compiled(const Dynamics& f) { return compiled_var(f) != nullptr; }

void clear_compiled(const Dynamics& f) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return;
  c->clear();
  // the variants go with their plans and kept tensors (made again when asked for, a variant whose
  // trace failed traced again): clearing each left their entries, and one per noise shape, behind
  Variants& v = *c->variants;
  const std::lock_guard lock(v.mutex);
  v.made.clear(), v.states.clear();
}

void keep_recent_variants(const Dynamics& f, const std::string& family, std::size_t keep) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return;
  Variants& v = *c->variants;
  const std::lock_guard lock(v.mutex);
  std::vector<std::pair<std::uint64_t, std::string>> members;  // (last use, key), the family's
  for (const auto& [key, variant] : v.made)
    if (key.starts_with(family)) members.emplace_back(variant.last_use, key);
  if (members.size() <= keep) return;
  std::sort(members.begin(), members.end(), std::greater<>());
  for (std::size_t i = keep; i < members.size(); ++i) v.made.erase(members[i].second), v.states.erase(members[i].second);
}

Dynamics compiled_variant(const Dynamics& f, const std::string& key, const std::function<Dynamics(const Dynamics&)>& make) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return make(f);
  Variants& vs = *c->variants;
  {
    const std::lock_guard lock(vs.mutex);
    if (const auto hit = vs.made.find(key); hit != vs.made.end()) {
      hit->second.last_use = ++vs.uses;
      return hit->second.runs;
    }
  }
  Dynamics plain;  // made outside the lock: make and compile_dynamics run user code
  plain.var = vs.plain;
  plain.jet = f.jet;
  Variant v;
  const Dynamics eager = make(plain);
  v.compiled = compile_dynamics(eager, vs.options);
  v.failure = std::make_shared<Failure>();
  v.runs.var = TracedOrEager{v.compiled.var, eager.var, v.failure};
  v.runs.jet = eager.jet;
  const std::lock_guard lock(vs.mutex);
  const auto at = vs.made.emplace(key, std::move(v)).first;  // (another thread's, if it made one meanwhile)
  at->second.last_use = ++vs.uses;
  return at->second.runs;
}

Tensor variant_state(const Dynamics& f, const std::string& key, const std::function<Tensor()>& make) {
  const CompiledVar* c = compiled_var(f);
  if (!c) return make();
  const std::lock_guard lock(c->variants->mutex);
  auto& states = c->variants->states;
  if (const auto hit = states.find(key); hit != states.end()) return hit->second;
  return states.emplace(key, make()).first->second;
}

CompiledDynamicsStats compiled_stats(const Dynamics& f) {
  const CompiledVar* c = f.var ? f.var.target<CompiledVar>() : nullptr;
  if (!c) return {};
  CompiledDynamicsStats out{c->all.stats(), c->subset.stats(), {}};
  const std::lock_guard lock(c->variants->mutex);
  for (const auto& [key, v] : c->variants->made) {
    const CompiledDynamicsStats inner = compiled_stats(v.compiled);
    out.variants.push_back({key, inner.all_rows, inner.subset_rows, v.failure->why()});
    for (const CompiledVariantStats& nested : inner.variants)  // its own steps and adjoint
      out.variants.push_back({key + " / " + nested.key, nested.all_rows, nested.subset_rows, nested.eager_because});
  }
  return out;
}

}  // namespace tide
