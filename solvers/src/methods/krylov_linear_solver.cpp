// The matrix-free stage linear solver (stage_linear_solver.hpp): Jacobian-free Newton-Krylov.
// (I - s J) v is formed from exact products J v (System::jacobian_action: forward mode, or the
// double-vjp trick) at the current Newton iterate, and solved per sample by restarted GMRES in the
// norm Newton measures, to gmres_tolerance of the Newton tolerance (an inexact Newton method;
// CVODE's SPGMR does the same). Memory O(batch x state x gmres_restart): no D x D matrix anywhere.
// With a preconditioner_bandwidth w, GMRES is right-preconditioned by each sample's banded LU of
// I - s J_band (band_preconditioner.hpp), the band kept in ImplicitMemory by the dense path's rules.
#include "gmres.hpp"
#include "stage_linear_solver.hpp"
#include "tide/core/shared_count.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include <cmath>

namespace tide::detail {

namespace {

GmresSettings gmres_settings(const ImplicitOptions& o) { return GmresSettings{o.gmres_restart, o.gmres_max_iterations}; }

using BandSnapshot = std::shared_ptr<const std::vector<BandFactors>>;

// The rows' preconditioner from a snapshot of their band factors (transposed or not); none when null.
LinearMap band_map(const BandSnapshot& band, bool transposed) {
  if (!band) return {};
  return [band, transposed](const Tensor& x) {
    std::vector<const BandFactors*> rows;
    for (const BandFactors& f : *band) rows.push_back(&f);
    return apply_band_factors(rows, x, transposed);
  };
}

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
  KrylovSensitivity(Var leaf, Var out, std::vector<double> s, const ImplicitOptions& options, BandSnapshot band)
      : leaf_(std::move(leaf)), out_(std::move(out)), s_(std::move(s)), settings_(gmres_settings(options)), band_(std::move(band)) {
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
    return {Var(gmres(transposed, g.value(), Tensor(), tolerance, settings_, band_map(band_, true)).x)};
  }

private:
  Var leaf_, out_;
  std::vector<double> s_;
  GmresSettings settings_;
  BandSnapshot band_;  // null: unpreconditioned
};

class KrylovLinearSolver final : public StageLinearSolver {
public:
  KrylovLinearSolver(const ImplicitOptions& options, ImplicitMemory& memory) : options_(options), memory_(memory) {}

  void prepare(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<double>& s) override {
    if (options_.preconditioner_bandwidth < 0) return;
    std::vector<char> renew(ctx.samples.size(), 0);
    for (std::size_t r = 0; r < renew.size(); ++r) renew[r] = needs_band(ctx, r, y.size(1));
    evaluate(ctx, y, t, renew);
    for (std::size_t r = 0; r < renew.size(); ++r) {
      BandRowState& row = memory_.band_row(ctx.samples[r]);
      if (renew[r] || row.factored_s == 0.0 || std::fabs(s[r] / row.factored_s - 1.0) > options_.refactor_ratio)
        factor(ctx, row, s[r], y.size(1));
    }
  }

  Tensor solve(StepContext& ctx, const Tensor& point, const Var& t, const Tensor& b, const std::vector<double>& s,
               const Tensor& weight) override {
    // s |dk - dk_exact| <= gmres_tolerance * newton_tolerance in Newton's norm when |(I - s J)^-1| <= 1
    std::vector<double> tolerance(s.size());
    for (std::size_t r = 0; r < s.size(); ++r) tolerance[r] = options_.gmres_tolerance * options_.newton_tolerance / std::fabs(s[r]);
    const GmresResult out = gmres(newton_matrix(ctx.system.jacobian_action(ctx, point, t), s, b), b, mul(weight, weight),
                                  tolerance, gmres_settings(options_), preconditioner(ctx));
    count_shared(ctx.stats.linear_iterations, static_cast<std::int64_t>(out.products));
    return out.x;
  }

  bool current(const StepContext&, std::size_t) const override { return true; }  // linearised at every iterate

  // Newton is linearised at every iterate, so nothing is retried; a band that served a failed or
  // slow Newton is replaced at the next step.
  std::vector<char> refresh(StepContext& ctx, const Tensor&, const Var&, const std::vector<double>&, const std::vector<char>& failed,
                            const std::vector<char>& slow) override {
    for (std::size_t r = 0; r < failed.size() && options_.preconditioner_bandwidth >= 0; ++r)
      if (failed[r] || slow[r]) memory_.band_row(ctx.samples[r]).stale = true;
    return std::vector<char>(failed.size(), 0);
  }

  // linearised at every iterate already
  void linearise(StepContext&, const Tensor&, const Var&, const std::vector<double>&, const std::vector<char>&) override {}

  StageSolve sensitivity(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s) override {
    EnableGrad enable;
    const Var leaf = Var::parameter(point.contiguous());
    const Var out = ctx.eval(leaf, t.detach());
    const BandSnapshot band = snapshot(ctx);
    auto node = std::make_shared<KrylovSensitivity>(leaf, out, s, options_, band);
    return [node, &ctx, point, t, s, band, this](const Var& rhs) {
      return record_custom(solve_value(ctx, point, t, s, rhs.value(), band), {rhs}, node);
    };
  }

  bool records_backward() const override { return false; }

private:
  // (I - s J*)^-1 rhs: zero for the stage's rhs (f - f), solved only for another
  Tensor solve_value(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s, const Tensor& rhs,
                     const BandSnapshot& band) const {
    std::vector<double> tolerance = mean(mul(rhs, rhs), {1}).to_vector();
    bool zero = true;
    for (double& v : tolerance) zero = zero && v == 0.0, v = 1e-10 * std::sqrt(v);
    if (zero) return Tensor::zeros(rhs.shape(), rhs.dtype(), rhs.device());
    return gmres(newton_matrix(ctx.system.jacobian_action(ctx, point, t), s, rhs), rhs, Tensor(), tolerance, gmres_settings(options_),
                 band_map(band, false))
        .x;
  }

  bool needs_band(const StepContext& ctx, std::size_t r, std::int64_t d) const {
    const BandRowState& row = memory_.band_row(ctx.samples[r]);
    if (row.jacobian_step == memory_.step) return false;
    return !options_.jacobian_reuse || row.jacobian_step < 0 || row.stale ||
           static_cast<std::int64_t>(row.band.size()) != d * (2 * options_.preconditioner_bandwidth + 1) ||
           memory_.step - row.jacobian_step >= options_.jacobian_max_age;
  }

  // New bands at the step's start for the picked rows, from 2w + 1 batched JVPs.
  void evaluate(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<char>& pick) {
    const RowSubset sub(ctx, pick, y.device());
    if (sub.empty()) return;
    StepContext sctx = sub.context(ctx);
    const Tensor z = sub.take(y);
    const std::int64_t w = options_.preconditioner_bandwidth, size = z.size(1) * (2 * w + 1);
    const std::vector<double> band = band_jacobians(sctx.system.jacobian_action(sctx, z, Var(sub.take(t.value()))), z, w);
    count_shared(ctx.stats.jacobian_evaluations, static_cast<std::int64_t>(sub.positions().size()));
    for (std::size_t q = 0; q < sub.positions().size(); ++q) {
      BandRowState& row = memory_.band_row(sctx.samples[q]);
      row.band.assign(band.begin() + static_cast<std::int64_t>(q) * size, band.begin() + static_cast<std::int64_t>(q + 1) * size);
      row.jacobian_step = memory_.step;
      row.stale = false;
    }
  }

  void factor(StepContext& ctx, BandRowState& row, double s, std::int64_t d) {
    row.factors.factor(row.band.data(), s, d, options_.preconditioner_bandwidth);
    row.factored_s = s;
    count_shared(ctx.stats.preconditioner_setups);
  }

  // The rows' kept factors, applied in place (valid while GMRES runs); none without a bandwidth.
  LinearMap preconditioner(const StepContext& ctx) const {
    if (options_.preconditioner_bandwidth < 0) return {};
    std::vector<const BandFactors*> rows;
    for (std::int64_t sample : ctx.samples) rows.push_back(&memory_.band_row(sample).factors);
    return [rows](const Tensor& x) { return apply_band_factors(rows, x, false); };
  }

  // A copy of the rows' factors for a stage's recorded solve, whose backward runs later.
  BandSnapshot snapshot(const StepContext& ctx) const {
    if (options_.preconditioner_bandwidth < 0) return nullptr;
    auto out = std::make_shared<std::vector<BandFactors>>();
    for (std::int64_t sample : ctx.samples) out->push_back(memory_.band_row(sample).factors);
    return out;
  }

  const ImplicitOptions& options_;
  ImplicitMemory& memory_;
};

}  // namespace

std::unique_ptr<StageLinearSolver> make_krylov_linear_solver(const ImplicitOptions& options, ImplicitMemory& memory) {
  return std::make_unique<KrylovLinearSolver>(options, memory);
}

}  // namespace tide::detail
