// The matrix-free stage linear solver (stage_linear_solver.hpp): Jacobian-free Newton-Krylov.
// (I - s J) v is formed from exact products J v (System::jacobian_action: forward mode, or the
// double-vjp trick) at the current Newton iterate, and solved per sample by restarted GMRES in the
// norm Newton measures, to gmres_tolerance of the Newton tolerance (an inexact Newton method;
// CVODE's SPGMR does the same). Memory O(batch x state x gmres_restart): no D x D matrix anywhere.
#include "gmres.hpp"
#include "stage_linear_solver.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include <cmath>

namespace tide::detail {

namespace {

GmresSettings gmres_settings(const ImplicitOptions& o) { return GmresSettings{o.gmres_restart, o.gmres_max_iterations}; }

// v -> v - s_r (J_r v) row by row, from the Jacobian's action.
std::function<Tensor(const Tensor&)> newton_matrix(JacobianAction action, const std::vector<double>& s, const Tensor& like) {
  const Tensor s_col = column(s, like.dtype(), like.device());
  return [action = std::move(action), s_col](const Tensor& v) { return sub(v, mul(s_col, action(v))); };
}

// The rows' (I - s J*)^-1 applied to a cotangent by GMRES on the transposed system, with J*^T u
// from reverse sweeps of one evaluation recorded at the stage (kept by this node). First order:
// its backward cannot itself be recorded (the dense solver's can).
class KrylovSensitivity final : public CustomBackward {
public:
  KrylovSensitivity(Var leaf, Var out, std::vector<double> s, const ImplicitOptions& options)
      : leaf_(std::move(leaf)), out_(std::move(out)), s_(std::move(s)), settings_(gmres_settings(options)) {
    settings_.max_iterations *= 4;  // a gradient is asked to a tighter tolerance than a Newton step
  }
  const char* name() const override { return "implicit stage solve (Krylov)"; }

  std::vector<Var> backward(const Var& g) override {
    if (grad_enabled())
      fail("grad with create_graph through a Krylov implicit stage: its backward pass is first order only; "
           "use ImplicitOptions::Jacobian::dense for higher derivatives");
    const Tensor s_col = column(s_, g.dtype(), g.device());
    const std::function<Tensor(const Tensor&)> transposed = [&](const Tensor& u) {
      GradOptions o;
      o.allow_unused = true;
      return sub(u, mul(s_col, grad({out_}, {leaf_}, {Var(u)}, o)[0].value()));
    };
    std::vector<double> tolerance = mean(mul(g.value(), g.value()), {1}).to_vector();
    for (double& t : tolerance) t = 1e-10 * std::sqrt(t);
    return {Var(gmres(transposed, g.value(), Tensor(), tolerance, settings_).x)};
  }

private:
  Var leaf_, out_;
  std::vector<double> s_;
  GmresSettings settings_;
};

class KrylovLinearSolver final : public StageLinearSolver {
public:
  explicit KrylovLinearSolver(const ImplicitOptions& options) : options_(options) {}

  void prepare(StepContext&, const Tensor&, const Var&, const std::vector<double>&) override {}

  Tensor solve(StepContext& ctx, const Tensor& point, const Var& t, const Tensor& b, const std::vector<double>& s,
               const Tensor& weight) override {
    // s |dk - dk_exact| <= gmres_tolerance * newton_tolerance in Newton's norm when |(I - s J)^-1| <= 1
    std::vector<double> tolerance(s.size());
    for (std::size_t r = 0; r < s.size(); ++r) tolerance[r] = options_.gmres_tolerance * options_.newton_tolerance / std::fabs(s[r]);
    const GmresResult out = gmres(newton_matrix(ctx.system.jacobian_action(point, t, ctx.rows), s, b), b, mul(weight, weight),
                                  tolerance, gmres_settings(options_));
    ctx.stats.linear_iterations += out.products;
    return out.x;
  }

  bool current(const StepContext&, std::size_t) const override { return true; }  // linearised at every iterate

  std::vector<char> refresh(StepContext&, const Tensor&, const Var&, const std::vector<double>&, const std::vector<char>& failed,
                            const std::vector<char>&) override {
    return std::vector<char>(failed.size(), 0);
  }

  StageSolve sensitivity(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s) override {
    EnableGrad enable;
    const Var leaf = Var::parameter(point.contiguous());
    const Var out = ctx.eval(leaf, t.detach());
    auto node = std::make_shared<KrylovSensitivity>(leaf, out, s, options_);
    return [node, &ctx, point, t, s, this](const Var& rhs) { return record_custom(solve_value(ctx, point, t, s, rhs.value()), {rhs}, node); };
  }

  bool records_backward() const override { return false; }

private:
  // (I - s J*)^-1 rhs: zero for the stage's rhs (f - f), solved only for another
  Tensor solve_value(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s, const Tensor& rhs) const {
    std::vector<double> tolerance = mean(mul(rhs, rhs), {1}).to_vector();
    bool zero = true;
    for (double& v : tolerance) zero = zero && v == 0.0, v = 1e-10 * std::sqrt(v);
    if (zero) return Tensor::zeros(rhs.shape(), rhs.dtype(), rhs.device());
    return gmres(newton_matrix(ctx.system.jacobian_action(point, t, ctx.rows), s, rhs), rhs, Tensor(), tolerance, gmres_settings(options_)).x;
  }

  const ImplicitOptions& options_;
};

}  // namespace

std::unique_ptr<StageLinearSolver> make_krylov_linear_solver(const ImplicitOptions& options) {
  return std::make_unique<KrylovLinearSolver>(options);
}

}  // namespace tide::detail
