// The Jacobian's action v -> (df/dz) v of a System (integrate.hpp), for matrix-free Newton-Krylov:
// forward mode on Jets when the dynamics run on them (one jvp per product), else the double-vjp
// trick on any differentiable eval (one recorded evaluation and one recorded vjp per point, one
// reverse sweep per product). Both are exact; neither uses finite differences.
#include "integrate.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/taylor/forward.hpp"

namespace tide::detail {

// J v = d/du <J^T u, v>: J^T u is recorded (create_graph) once per point, linear in u.
JacobianAction System::jacobian_action(StepContext& ctx, const Tensor& z, const Var& t) {
  EnableGrad enable;
  const Var leaf = Var::parameter(z.contiguous());
  const Var out = eval(leaf, t.detach(), ctx.rows);
  ctx.count();  // an evaluation of f like any other (the dense path's Jacobians count theirs)
  const Var u = Var::parameter(Tensor::zeros(out.shape(), out.dtype(), out.device()));
  GradOptions o;
  o.create_graph = true;
  o.allow_unused = true;
  const Var jtu = grad({out}, {leaf}, {u}, o)[0];
  return [jtu, u](const Tensor& v) {
    if (!jtu.requires_grad()) return Tensor::zeros(v.shape(), v.dtype(), v.device());  // f does not depend on z
    GradOptions once;
    once.allow_unused = true;
    return grad({jtu}, {u}, {Var(v)}, once)[0].value();
  };
}

JacobianAction PlainSystem::jacobian_action(StepContext& ctx, const Tensor& z, const Var& t) {
  if (!f_.jet || width_ != 1) return System::jacobian_action(ctx, z, t);
  return [f = f_, z, t = t.detach(), rows = ctx.rows](const Tensor& v) {
    NoGrad no_grad;
    const JetFn at = [&](const Jet& x) { return f.jet(x, Jet(t), rows); };
    return jvp(at, Jet(Var(z)), Jet(Var(v))).second.primal().value();
  };
}

}  // namespace tide::detail
