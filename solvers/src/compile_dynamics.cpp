// compile_dynamics (compile_dynamics.hpp).
#include "tide/solvers/compile_dynamics.hpp"

namespace tide {
namespace {

// The Var path of a compiled Dynamics: one compiled function for calls over every row, one for
// calls over a subset (the index is its third input).
struct CompiledVar {
  CompiledFunction all, subset;
  Var operator()(const Var& z, const Var& t, const Rows& rows) const {
    return rows.all() ? all({z, t}) : subset({z, t, Var(rows.index())});
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
