// compile_dynamics (compile_dynamics.hpp).
#include "tide/solvers/compile_dynamics.hpp"
#include <algorithm>
#include <bit>

namespace tide {
namespace {

// The Var path of a compiled Dynamics: one compiled function for calls over every row, one for
// calls over a subset (the index is its third input). A subset of n rows is padded to the next
// power of two by repeating its last row (and the result cut back to n rows), so that a batch
// shrinking one sample at a time costs log2(B) traces, not B.
struct CompiledVar {
  CompiledFunction all, subset;
  Var operator()(const Var& z, const Var& t, const Rows& rows) const {
    if (rows.all()) return all({z, t});
    const std::int64_t n = z.size(0), m = std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(n, 1)));
    if (m == n) return subset({z, t, Var(rows.index())});
    std::vector<std::int64_t> local(static_cast<std::size_t>(m)), index = rows.index().to_indices();
    for (std::int64_t i = 0; i < m; ++i) local[static_cast<std::size_t>(i)] = std::min(i, n - 1);
    index.resize(static_cast<std::size_t>(m), index.back());
    const Tensor pad = Tensor::from_indices(local, Shape{m}, z.device());
    const Var out = subset({index_select(z, 0, pad), index_select(t, 0, pad), Var(Tensor::from_indices(index, Shape{m}, z.device()))});
    return slice(out, 0, 0, n);
  }
};

}  // namespace

Dynamics compile_dynamics(const Dynamics& f, CompileOptions options) {
  if (!f.var) fail("compile_dynamics: the dynamics has no Var function");
  if (f.var.target<CompiledVar>()) return f;  // already compiled
  const VarDynamicsFn fn = f.var;
  Dynamics out;
  out.var = CompiledVar{
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows()); }, options),
      CompiledFunction([fn](const std::vector<Var>& in) { return fn(in[0], in[1], Rows(in[2].value())); }, options)};
  out.jet = f.jet;
  return out;
}

CompiledDynamicsStats compiled_stats(const Dynamics& f) {
  const CompiledVar* c = f.var ? f.var.target<CompiledVar>() : nullptr;
  if (!c) return {};
  return {c->all.stats(), c->subset.stats()};
}

}  // namespace tide
