// The adjoint gradient kind (ENGINE.md rule 3): the forward solve runs without a tape and records
// one custom node whose backward pass integrates the adjoint ODE backwards (O(1) memory in the
// number of steps, accurate to tolerance), checking its re-integrated state against the forward
// solution at every output time.
#include "combine.hpp"
#include "gradient_common.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/node.hpp"
#include "tide/core/shared_count.hpp"
#include "tide/solvers/compile_dynamics.hpp"
#include <algorithm>
#include <cmath>
#include <limits>

namespace tide::detail {
namespace {

// [y | a] -> [f(y) | -(df/dy)^T a] without a tape: f and its vjp at y. On compiled dynamics this
// runs as a compiled variant of f (AdjointSystem), the forward and the backward sweep in one plan.
Var adjoint_rhs(const Dynamics& f, std::int64_t D, const Var& z, const Var& t, const Rows& rows) {
  const Var a = slice(z, 1, D, 2 * D);
  GradOptions o;
  o.allow_unused = true;
  EnableGrad enable;
  const Var leaf = Var::parameter(slice(z, 1, 0, D).value().contiguous());
  const Var out = f(leaf, t, rows);
  const Var ga = grad({out}, {leaf}, {a.detach()}, o)[0];
  NoGrad no_grad;
  return Var(concat(std::vector<Tensor>{out.value(), neg(ga.value())}, 1));
}

// The tolerances of the adjoint's backward solve (ErrorNorm::doubled) over states [begin, end) of
// [y | a] on `device` (count is the whole system's: the max norm does not read it).
ErrorScale scale_of(const ErrorNorm& norm, std::int64_t begin, std::int64_t end, Device device) {
  ErrorScale s = norm.scale_on(device);
  s.atol = s.atol.slice(0, begin, end).contiguous();
  s.rtol = s.rtol.slice(0, begin, end).contiguous();
  s.mask = s.mask.slice(0, begin, end).contiguous();
  return s;
}

// The drift gap's tolerances over y: per state the looser of the forward's and the backward
// solve's y half (adjoint_rtol / adjoint_atol apply there too). y_fwd carries the forward's error,
// which tighter adjoint tolerances alone would count as thousands of theirs.
ErrorScale drift_scale(const ErrorNorm& forward, const ErrorNorm& backward, std::int64_t D, Device device) {
  ErrorScale s = scale_of(forward, 0, D, device);
  const ErrorScale b = scale_of(backward, 0, D, device);
  s.atol = maximum(s.atol, b.atol), s.rtol = maximum(s.rtol, b.rtol);
  return s;
}

// The relative tolerance the drift's effects are read in: the loosest rtol of the forward's and
// the backward solve's over the controlled states (with absolute tolerances only, the loosest
// atol); a seminorm or regulariser state's tolerance loosens nothing.
double drift_tolerance(const ErrorNorm& forward, const ErrorNorm& backward) {
  double r = 0.0, a = 0.0;
  for (const ErrorNorm* n : {&forward, &backward}) {
    for (std::size_t i = 0; i < n->rtol().size(); ++i) {
      if (i < n->controlled().size() && !n->controlled()[i]) continue;
      r = std::max(r, n->rtol()[i]);
      a = std::max(a, n->atol()[i]);
    }
  }
  return r > 0.0 ? r : a;
}

// The adjoint system on (y, a): y' = f(y), a' = -(df/dy)^T a, integrated backwards. Parameter
// gradients are the integral of a^T df/dtheta, accumulated per accepted step by the method's own
// quadrature (weights -h b_i at the stages, each sample with its own h) in one batched vjp.
class AdjointSystem final : public System {
public:
  AdjointSystem(Dynamics f, std::int64_t D, std::vector<Var> params, std::vector<double> weights, const Tensor& ys,
                const Tensor& g, SolveStats& stats, bool shared_step)
      : f_(std::move(f)), D_(D), params_(std::move(params)), weights_(std::move(weights)), ys_(ys), g_(g), stats_(stats),
        gp_(params_.size()), shared_step_(shared_step) {
    if (is_compiled(f_))
      rhs_ = compiled_variant(f_, fmt::format("adjoint D={}", D), [D](const Dynamics& plain) {
        return Dynamics([plain, D](const Var& z, const Var& t, const Rows& rows) { return adjoint_rhs(plain, D, z, t, rows); });
      });
  }

  Var eval(const Var& z, const Var& t, const Rows& rows) override {
    if (grad_enabled() && z.requires_grad()) {
      // differentiated itself (the Jacobian an implicit method's Newton iteration needs)
      const Var y = slice(z, 1, 0, D_), a = slice(z, 1, D_, 2 * D_);
      GradOptions o;
      o.allow_unused = o.create_graph = true;
      const Var out = f_(y, t, rows);
      return concat({out, -grad({out}, {y}, {a}, o)[0]}, 1);
    }
    if (rhs_.var) {
      NoGrad no_grad;  // one plan of f and its vjp, no tape
      return rhs_(z.detach(), t.detach(), rows);
    }
    return adjoint_rhs(f_, D_, z, t, rows);
  }

  // The parameters' gradient by the step's quadrature: sum_i -h b_i a_i^T df/dp at the accepted rows'
  // stage points. With one step for the whole batch (per_sample = false: the form for dynamics whose
  // rows mix, a batch statistic) f runs once per stage over that stage's rows, as the solve ran it;
  // otherwise the rows are independent and all stages' rows go through f in one call.
  void after_step(const std::vector<Var>& stage_z, const std::vector<Var>& stage_t, const std::vector<std::int64_t>& samples,
                  const std::vector<double>& h, const std::vector<char>& accepted) override {
    if (params_.empty()) return;
    std::vector<std::int64_t> pos, sample_ids;
    for (std::size_t r = 0; r < accepted.size(); ++r)
      if (accepted[r]) pos.push_back(static_cast<std::int64_t>(r)), sample_ids.push_back(samples[r]);
    if (pos.empty()) return;
    const Tensor index = indices(pos, stage_z.front().device());
    std::vector<Tensor> zs, ts;
    std::vector<double> w;
    for (std::size_t i = 0; i < stage_z.size(); ++i) {
      if (weights_[i] == 0.0) continue;
      zs.push_back(index_select(stage_z[i].value(), 0, index));
      ts.push_back(index_select(stage_t[i].value(), 0, index));
      std::vector<double> wi;
      for (std::int64_t r : pos) wi.push_back(-h[static_cast<std::size_t>(r)] * weights_[i]);
      if (shared_step_) {
        add_quadrature(zs.back(), ts.back(), sample_ids, wi);
        zs.clear(), ts.clear();
      } else {
        w.insert(w.end(), wi.begin(), wi.end());
      }
    }
    if (zs.empty()) return;
    std::vector<std::int64_t> all_ids;
    for (std::size_t i = 0; i < zs.size(); ++i) all_ids.insert(all_ids.end(), sample_ids.begin(), sample_ids.end());
    add_quadrature(concat(zs, 0), concat(ts, 0), all_ids, w);
  }

  // gp += the vjp of f at the rows z (states and adjoints [n, 2D]) and times t, with weight per row.
  void add_quadrature(const Tensor& z, const Tensor& t, const std::vector<std::int64_t>& sample_ids, const std::vector<double>& weight) {
    const Rows rows(indices(sample_ids, z.device()));
    const std::uint64_t since = node_sequence_barrier();
    EnableGrad enable;
    const Var leaf = Var::parameter(z.slice(1, 0, D_).contiguous());
    const Var out = f_(leaf, Var(t), rows);
    count_shared(stats_.backward_calls);  // threads differentiating one solve share its stats
    check_reads_only_params({out}, since, params_, "adjoint");
    const Tensor cot = mul(z.slice(1, D_, 2 * D_), column(weight, z.dtype(), z.device()));
    accumulate(gp_, rerun_grad({out}, params_, {Var(cot)}, since), 0);
  }

  Var at_stop(const Var& z, const std::vector<std::int64_t>& position, const std::vector<std::int64_t>& samples,
              const std::vector<std::int64_t>& index) override {
    if (state_scale.atol.defined()) check_drift(z.value(), position, samples, index);
    // y <- the forward solution there (as torchdiffeq does), a <- a + dL/dy(t_j)
    Tensor out = z.value().clone();
    for (std::size_t q = 0; q < position.size(); ++q) {
      const std::int64_t j = forward_index(samples[q], index[q]);
      Tensor row = out.select(0, position[q]);
      row.slice(0, 0, D_).copy_(ys_.select(0, j).select(0, samples[q]));
      row.slice(0, D_, 2 * D_).add_(g_.select(0, j).select(0, samples[q]));
    }
    return Var(out);
  }

  const Grid* forward = nullptr;  // the forward solve's grid: stop i of sample b is its time count - 1 - i
  // With adaptive steps (with fixed steps no tolerance governs the solve and nothing is checked):
  // the gap's tolerances over y (drift_scale) and the relative tolerance the effects are read in
  ErrorScale state_scale;
  double relative_tolerance = 0.0;
  const std::vector<Tensor>& param_grads() const { return gp_; }

private:
  std::int64_t forward_index(std::int64_t b, std::int64_t i) const { return forward->count[static_cast<std::size_t>(b)] - 1 - i; }

  // The re-integrated y against the forward solution at a stop. The gap, the largest
  // |y_back - y_fwd| / (atol + rtol |y_fwd|) over the controlled states, is no test alone: a decay
  // y' = -p y grows backwards like e^(p t) and drifts by 1e38 tolerances with a correct gradient (a'
  // reads no y, and a^T df/dp = -a y stays at the tolerance: a dy is conserved). Past the gap's
  // limit in some row, what the drift does to the gradient over the interval dt since the last stop
  // is measured for those rows (f and its vjp twice, three parameter vjps: that rare path only), in units of rtol and of the quantity's
  // own size, so that a loss scaled by c (which scales a, the integrand and the gradient) moves
  // nothing:
  //   adjoint, per row:    max |a'(y_back) - a'(y_fwd)| dt / (rtol max |a|),  a' = -(df/dy)^T a
  //   params, rows summed: max |v(y_back) - v(y_fwd)| / (rtol max(|v(y_fwd)|, |gradient so far|)),
  //                        v(y) = dt a^T df/dtheta at y (the parameter gradient's integrand)
  // and the solve refused where either passes its limit. Sizes have a floor at the rounding of the
  // loss's largest cotangent (an adjoint decayed to 1e-25 of it moves nothing that matters). The
  // common case costs one [n, 2] read back per stop.
  void check_drift(const Tensor& z, const std::vector<std::int64_t>& position, const std::vector<std::int64_t>& samples,
                   const std::vector<std::int64_t>& index) const {
    std::vector<std::int64_t> flat(samples.size());
    for (std::size_t q = 0; q < samples.size(); ++q) flat[q] = forward_index(samples[q], index[q]) * ys_.size(1) + samples[q];
    const Tensor rows_at = indices(position, z.device());
    const Tensor fwd = rows_of_g(ys_, flat), back = index_select(z.slice(1, 0, D_), 0, rows_at);
    const std::vector<double> gap = row_norm(sub(back, fwd), fwd, state_scale, true);
    // the effects are measured on the rows past the gap's limit only: below it they are no test
    std::vector<std::int64_t> over, over_samples, over_index;
    for (std::size_t q = 0; q < gap.size(); ++q)
      if (!(gap[q] <= drift_gap_limit)) over.push_back(static_cast<std::int64_t>(q)), over_samples.push_back(samples[q]), over_index.push_back(index[q]);
    if (over.empty()) return;
    const Tensor pick = indices(over, z.device());
    const Tensor b = index_select(back, 0, pick), f = index_select(fwd, 0, pick);
    const Tensor a = index_select(index_select(z.slice(1, D_, 2 * D_), 0, rows_at), 0, pick);
    const DriftEffect effect = drift_effect(b, f, a, over_samples, over_index);
    for (std::size_t k = 0; k < over.size(); ++k)
      if (!(effect.adjoint[k] <= drift_effect_limit) || !(effect.params <= drift_effect_limit))
        drift_error(b, f, k, over_samples[k], over_index[k], gap[static_cast<std::size_t>(over[k])], effect);
  }

  struct DriftEffect {
    std::vector<double> adjoint;  // per row
    double params = 0.0;          // the rows together
  };

  DriftEffect drift_effect(const Tensor& back, const Tensor& fwd, const Tensor& a, const std::vector<std::int64_t>& samples,
                           const std::vector<std::int64_t>& index) const {
    std::vector<double> t, dt;
    for (std::size_t q = 0; q < samples.size(); ++q) {
      const std::int64_t j = forward_index(samples[q], index[q]);
      t.push_back(forward->at(samples[q], j));
      dt.push_back(std::fabs(forward->at(samples[q], j + 1) - t.back()));
    }
    const Rows rows(indices(samples, a.device()));
    const Var tc(column(t, a.dtype(), a.device()));
    const Tensor step = column(dt, a.dtype(), a.device());
    const auto rhs = [&](const Tensor& y) {
      return adjoint_rhs(f_, D_, Var(concat(std::vector<Tensor>{y, a}, 1)), tc, rows).value().slice(1, D_, 2 * D_);
    };
    const double loss_scale = max_abs(g_), rounding = unit_roundoff(a.dtype()) * loss_scale;
    const std::vector<double> moved = row_max_abs(mul(sub(rhs(back), rhs(fwd)), step)), size = row_max_abs(a);
    DriftEffect out;
    // per row, the adjoint raised to the loss's largest cotangent where smaller, times dt: formed as
    // (a / max|a|) (dt max(max|a|, loss scale)), which cannot overflow as loss / max|a| can (an
    // adjoint decayed to a subnormal)
    std::vector<double> norm, raise;
    for (std::size_t q = 0; q < moved.size(); ++q) {
      out.adjoint.push_back(relative(moved[q], std::max(size[q], rounding)));
      norm.push_back(size[q] > 0.0 ? size[q] : 1.0);
      raise.push_back(dt[q] * std::max(size[q], loss_scale));
    }
    const Tensor raised = mul(div(a, column(norm, a.dtype(), a.device())), column(raise, a.dtype(), a.device()));
    out.params = param_effect(back, fwd, mul(a, step), raised, tc, rows);
    return out;
  }

  // The parameters' vjp of f with `cot` at back against fwd, relative to the largest of the gradient
  // so far, the vjp at fwd, and the rounding of the vjp with the raised cotangent `raised_cot`.
  double param_effect(const Tensor& back, const Tensor& fwd, const Tensor& cot, const Tensor& raised_cot, const Var& t,
                      const Rows& rows) const {
    if (params_.empty()) return 0.0;
    const auto vjp = [&](const Tensor& y, const Tensor& c) {
      const std::uint64_t since = node_sequence_barrier();
      EnableGrad enable;
      const Var out = f_(Var::parameter(y.contiguous()), t, rows);
      return rerun_grad({out}, params_, {Var(c)}, since);
    };
    const std::vector<Var> at_back = vjp(back, cot), at_fwd = vjp(fwd, cot), raised = vjp(fwd, raised_cot);
    double moved = 0.0, size = 0.0;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      moved = larger(moved, max_abs(sub(at_back[i].value(), at_fwd[i].value())));
      size = larger(larger(size, max_abs(at_fwd[i].value())), unit_roundoff(cot.dtype()) * max_abs(raised[i].value()));
      if (gp_[i].defined()) size = larger(size, max_abs(gp_[i]));
    }
    return relative(moved, size);
  }

  double relative(double change, double size) const {  // the floor only keeps 0 / 0 at 0
    return change / (relative_tolerance * size + std::numeric_limits<double>::min());
  }
  static double larger(double a, double b) { return std::isnan(b) ? b : std::max(a, b); }  // NaN wins
  static double unit_roundoff(DType dtype) { return dtype == DType::f32 ? 0x1p-24 : 0x1p-53; }
  static double max_abs(const Tensor& x) { return max(abs(x.to(DType::f64))).item(); }
  static std::vector<double> row_max_abs(const Tensor& x) { return max(abs(x.to(DType::f64)), {1}, false).to_vector(); }

  [[noreturn]] void drift_error(const Tensor& back, const Tensor& fwd, std::size_t q, std::int64_t b, std::int64_t i, double gap,
                                const DriftEffect& effect) const {
    const double t = forward->at(b, forward_index(b, i));
    const Tensor fwd_row = fwd.select(0, static_cast<std::int64_t>(q)).to(DType::f64);
    const double apart = max(abs(sub(back.select(0, static_cast<std::int64_t>(q)).to(DType::f64), fwd_row))).item();
    throw SolverError(fmt::format("the adjoint's backward re-integration of the state drifted from the forward solution: at t = "
                                  "{:.17g} (sample {}) it is {:.3g} away, {:.3g} x the tolerance (the largest |y_back - y_forward| / "
                                  "(atol + rtol |y_forward|), the looser of the forward's and the adjoint's); past {:g} x it is "
                                  "refused where, over the interval, the drift moves the adjoint or the parameter gradient by over "
                                  "{:g} x rtol of its size (here the adjoint by {:.3g} x, the parameter gradient by {:.3g} x), so "
                                  "the adjoint followed another path and its gradient is wrong. Use GradientKind::checkpointed "
                                  "(the exact gradient of the computed solution)",
                                  t, b, apart, gap, drift_gap_limit, drift_effect_limit, effect.adjoint[q], effect.params),
                      t, NAN, std::sqrt(sum(square(fwd_row)).item()), NAN, stats_);
  }

  // Measured (rtol units): past the gap's limit, legitimate solves are decays (the solvers suite's
  // linear decays, gaps 1e34 to 1.4e39: adjoint 0, parameters <= 2.4e-3; kvaerno3 to t = 1e6, gap
  // 1e5: 0 and 2.7e-4). Refused: van der Pol, mu = 2, rtol 1e-6 at any loss scale (gaps 1.2e4 to
  // 1.4e7, adjoint 1.9e5 to 6.9e7), the coupled linear system (gap 1e21, parameters 4.9e4 at rtol
  // 1e-3 to 5e8), y' = -50 (y - cos t) at t = 0, 3 (gap 1e66, parameters 8.8e2 to 6.7e3: dL/dk 1 %
  // to 80 x off). Below the gap's limit the effects are no test: gaps up to 420 (a larger latent
  // ODE, tide train) and 357 (sqrt(|y|) near 0), where the adjoint effect reaches 4.5e6 and the
  // parameters' 5.6e4 on correct gradients; tide train (32 configs), spiral_fit: gaps below 30.
  static constexpr double drift_gap_limit = 3e3, drift_effect_limit = 1e2;

  Dynamics f_;
  Dynamics rhs_;  // the compiled adjoint_rhs when f_ is compiled dynamics
  std::int64_t D_;
  std::vector<Var> params_;
  std::vector<double> weights_;  // the stepper's quadrature weights over one step
  Tensor ys_, g_;
  SolveStats& stats_;
  std::vector<Tensor> gp_;
  bool shared_step_;
};

class AdjointBackward final : public CustomBackward {
public:
  AdjointBackward(Dynamics f, Grid grid, Plan plan, double atol, double rtol, Tensor ys, std::vector<Var> params,
                  std::shared_ptr<SolveStats> stats)
      : f_(std::move(f)), grid_(std::move(grid)), forward_norm_(plan.norm), plan_(backward_plan(std::move(plan), atol, rtol)),
        ys_(std::move(ys)), params_(std::move(params)), versions_(param_versions(params_)), stats_(std::move(stats)) {}
  const char* name() const override { return "solve (adjoint)"; }

  std::vector<Var> backward(const Var& g_var) override {
    refuse_double_backward("adjoint");
    check_param_versions(versions_, params_, name());
    NoGrad no_grad;
    const Tensor g = fold_padding(g_var.value(), grid_);
    const std::int64_t B = grid_.B, T = grid_.T, D = ys_.size(2);
    // each sample's grid reversed
    Grid back = grid_;
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t c = grid_.count[static_cast<std::size_t>(b)];
      for (std::int64_t i = 0; i < T; ++i) back.t[static_cast<std::size_t>(b * T + i)] = grid_.at(b, std::max<std::int64_t>(c - 1 - i, 0));
    }
    std::vector<std::int64_t> last(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) last[static_cast<std::size_t>(b)] = (grid_.count[static_cast<std::size_t>(b)] - 1) * B + b;
    const Tensor y_end = rows_of_g(ys_, last), g_end = rows_of_g(g, last);
    AdjointSystem system(plain_f_, D, params_, plan_.stepper->quadrature_weights(), ys_, g, *stats_, plan_.shared_step);
    system.forward = &grid_;
    if (plan_.adaptive()) {
      system.state_scale = drift_scale(forward_norm_, plan_.norm, D, ys_.device());
      system.relative_tolerance = drift_tolerance(forward_norm_, plan_.norm);
    }
    const Integration run = integrate_adjoint(system, Var(concat(std::vector<Tensor>{y_end, g_end}, 1)), back);
    // the adjoint at t0 (the stop there added nothing yet: outputs are taken before stops)
    std::vector<std::int64_t> first(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) first[static_cast<std::size_t>(b)] = (grid_.count[static_cast<std::size_t>(b)] - 1) * B + b;
    const Tensor a0 = rows_of_g(run.ys.value(), first).slice(1, D, 2 * D);
    std::vector<Var> out{Var(add(a0, g.select(0, 0)))};
    // samples with a single time: dL/dy0 is g[0] alone (the rows above hold g_end for them)
    for (std::int64_t b = 0; b < B; ++b)
      if (grid_.count[static_cast<std::size_t>(b)] == 1) out[0].value().select(0, b).copy_(g.select(0, 0).select(0, b));
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Tensor& gp = system.param_grads()[i];
      out.emplace_back(gp.defined() ? gp : Tensor::zeros(params_[i].shape(), params_[i].dtype(), g.device()));
    }
    return out;
  }

private:
  // A failure of the backward solve says where it happened and what avoids it.
  Integration integrate_adjoint(AdjointSystem& system, const Var& start, const Grid& back) {
    try {
      return integrate(system, start, back, plan_, *stats_);
    } catch (const SolverError& e) {
      throw SolverError(fmt::format("in the adjoint's backward solve (the adjoint system integrated from the last time back to "
                                    "the first): {}; the checkpointed gradient replays the forward steps instead of "
                                    "re-integrating backwards",
                                    e.what()),
                        e.time, e.step, e.state_norm, e.stiffness_estimate, e.stats);
    }
  }

  // The adjoint system on [y, a] solved backwards by the plain form's stepper, landing on every
  // grid time, the adjoint tolerances where given (ErrorNorm::doubled: the state half under the
  // forward's control, every adjoint state controlled).
  Plan backward_plan(Plan plan, double atol, double rtol) {
    plain_f_ = plan.stepper->plain_rhs(f_);
    plan.stepper = plan.stepper->plain_stepper(plan.stepper);
    plan.norm = plan.norm.doubled(atol, rtol);
    plan.stop_at_times = true;
    plan.keep_log = false;
    plan.count_backward = true;
    return plan;
  }
  Dynamics f_, plain_f_;
  Grid grid_;
  ErrorNorm forward_norm_;  // the forward solve's (plan_ holds the backward solve's)
  Plan plan_;
  Tensor ys_;
  std::vector<Var> params_;
  SavedVersions versions_;
  std::shared_ptr<SolveStats> stats_;
};

}  // namespace

Var solve_adjoint(const Dynamics& f, const Var& y0, const Grid& grid, const Plan& plan, double adjoint_atol,
                  double adjoint_rtol, const std::vector<Var>& params, const std::shared_ptr<SolveStats>& stats) {
  PlainSystem system(f, plan.stepper->output_width());
  Integration run;
  {
    NoGrad no_grad;
    run = integrate(system, y0.detach(), grid, plan, *stats);
  }
  auto fn = std::make_shared<AdjointBackward>(f, grid, plan, adjoint_atol, adjoint_rtol, run.ys.value(), params, stats);
  return record_custom(run.ys.value(), with_params(y0, params), fn);
}

}  // namespace tide::detail
