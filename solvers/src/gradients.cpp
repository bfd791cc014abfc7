// The checkpointed gradient kind (ENGINE.md rule 3), and what it shares with the adjoint
// (gradient_common.hpp, adjoint.cpp): the forward solve runs without a tape and records one custom
// node whose backward pass replays the accepted steps one at a time, the exact gradient of the
// computed solution.
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

std::vector<Var> with_params(Var first, const std::vector<Var>& params) {
  std::vector<Var> v{std::move(first)};
  v.insert(v.end(), params.begin(), params.end());
  return v;
}

void accumulate(std::vector<Tensor>& acc, const std::vector<Var>& grads, std::size_t skip) {
  for (std::size_t i = skip; i < grads.size(); ++i) {
    Tensor& a = acc[i - skip];
    a = a.defined() ? add(a, grads[i].value()) : grads[i].value().clone();
  }
}

Tensor indices(const std::vector<std::int64_t>& v, Device device) {
  return Tensor::from_indices(v, Shape{static_cast<std::int64_t>(v.size())}, device);
}

Tensor rows_of_g(const Tensor& g, const std::vector<std::int64_t>& flat) {  // g [T, B, D] -> rows
  const Tensor g2 = g.reshape(Shape{g.size(0) * g.size(1), g.size(2)});
  return index_select(g2, 0, indices(flat, g.device()));
}

// These backward passes keep their own tapes, so their results are first order only: a recorded
// backward (create_graph) would silently lose the second-order terms.
void refuse_double_backward(const char* kind) {
  if (grad_enabled())
    fail("grad with create_graph through a solve with the {} gradient: its backward pass is first order only; "
         "use GradientKind::discrete for higher derivatives", kind);
}

// The parameters' versions when the solve ended. The checkpointed and adjoint gradients evaluate f
// again in the backward pass, with the parameters' values then: one modified in place since (an
// optimizer step before this backward) would mix two models silently. Refused, as the discrete
// gradient refuses a modified saved value.
// (The closed-over values are placeholders carrying the nodes; a parameter's own storage is its
// leaf node's. Values computed before the solve have no such handle and are not checked.)
namespace {
const Tensor* parameter_storage(const Var& p) {
  return p.node() && p.node()->leaf ? &static_cast<const LeafNode&>(*p.node()).value : nullptr;
}
}  // namespace
SavedVersions param_versions(const std::vector<Var>& params) {
  return SavedVersions::of(params.size(), [&](std::size_t i) { return parameter_storage(params[i]); });
}
void check_param_versions(const SavedVersions& versions, const std::vector<Var>& params, const char* op) {
  versions.check_each(op, params.size(), [&](std::size_t i) { return parameter_storage(params[i]); },
                      [](std::size_t i) { return fmt::format("parameter {} (its backward pass evaluates f with it again)", i); });
}

// The parameters are what one probe of f at the first times read (solve.cpp's probe_dynamics).
// Dynamics that read another value requiring grad later (a piecewise control that switches on t)
// would give it a gradient of 0, silently: each re-run of f (recorded from `since`) is checked.
void check_reads_only_params(const std::vector<Var>& outputs, std::uint64_t since, const std::vector<Var>& params,
                             const char* kind) {
  for (const Var& out : outputs)
    for (const Var& v : closed_over(out, since))
      if (std::none_of(params.begin(), params.end(), [&](const Var& p) { return p.node() == v.node(); }))
        fail("solve with the {} gradient: the dynamics read a tensor requiring grad ({}) that their first evaluation "
             "(the probe at the first times that finds the parameters) did not read, whose gradient would be missing; "
             "use GradientKind::discrete, or read every parameter on every call",
             kind, v.str());
}

// The gradients of a re-run of f recorded from `since`: its inputs (the step's start rows and the
// parameters) taken as independent, so that a parameter also read through a value computed from it
// before the solve (G = W^T W) gets that path once, from the outer graph, and not again here.
std::vector<Var> rerun_grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs, const std::vector<Var>& cot,
                            std::uint64_t since) {
  GradOptions o;
  o.allow_unused = true;
  o.recorded_from = since;
  std::vector<Var> grads = grad(outputs, inputs, cot, o);
  drop_repeats(inputs, grads);
  return grads;
}

// Padded outputs (mask 0) repeat the sample's last valid state: their cotangents belong to it.
Tensor fold_padding(const Tensor& g_in, const Grid& grid) {
  Tensor g = g_in.clone();
  for (std::int64_t b = 0; b < grid.B; ++b) {
    const std::int64_t last = grid.count[static_cast<std::size_t>(b)] - 1;
    for (std::int64_t j = last + 1; j < grid.T; ++j) g.select(0, last).select(0, b).add_(g.select(0, j).select(0, b));
  }
  return g;
}

namespace {

// Where a checkpointed replay stands: the full state and, for tableaus that reuse their last
// stage, each sample's last stage (undefined before any step).
struct Replayed {
  Tensor state, last_stage;
};

// One replayed segment's steps in order: each step's start rows and (tableaus that reuse their last
// stage) its logged first stage. Held by the backward pass that replayed it, never in the shared
// log, so that threads differentiating one solve at once (design.md) do not share it.
struct Segment {
  std::vector<Tensor> y, k1;
};

class CheckpointBackward final : public CustomBackward {
public:
  CheckpointBackward(Dynamics f, Grid grid, Plan plan, std::vector<StepLog> log, std::vector<Var> params,
                     std::shared_ptr<SolveStats> stats)
      : f_(std::move(f)), grid_(std::move(grid)), plan_(std::move(plan)), log_(std::move(log)),
        params_(std::move(params)), versions_(param_versions(params_)), stats_(std::move(stats)) {
    plan_.count_backward = true;
  }
  const char* name() const override { return "solve (checkpointed)"; }

  std::vector<Var> backward(const Var& g_var) override {
    refuse_double_backward("checkpointed");
    check_param_versions(versions_, params_, name());
    if (!snapshots_.empty()) start_version_.check(name(), {snapshots_.front().state}, {"y0 (the first checkpoint, replayed from)"});
    NoGrad outer;
    const Tensor g = fold_padding(g_var.value(), grid_);
    Tensor a = Tensor::zeros(Shape{grid_.B, g.size(2)}, g.dtype(), g.device());
    // carries_stage(): the cotangent each sample's previous last stage owes; local, as a, so that
    // threads differentiating one solve at once (design.md) do not share it
    Tensor a_stage = carries_stage() ? Tensor::zeros(a.shape(), a.dtype(), a.device()) : Tensor();
    std::vector<Tensor> gp(params_.size());
    const std::int64_t n = static_cast<std::int64_t>(log_.size());
    if (snapshots_.empty()) {
      for (std::int64_t s = n; s-- > 0;) {
        const StepLog& step = log_[static_cast<std::size_t>(s)];
        backprop_step(step, step.y, step.k1, g, a, a_stage, gp);
      }
    } else {
      // budgeted: recompute one segment's start states from its snapshot, then go back through it
      for (std::int64_t seg = static_cast<std::int64_t>(snapshots_.size()); seg-- > 0;) {
        const std::int64_t begin = seg * stride_, end = std::min(n, begin + stride_);
        Segment states;
        replay(snapshots_[static_cast<std::size_t>(seg)], begin, end, &states);
        for (std::int64_t s = end; s-- > begin;) {
          const std::size_t i = static_cast<std::size_t>(s - begin);
          backprop_step(log_[static_cast<std::size_t>(s)], states.y[i], states.k1[i], g, a, a_stage, gp);
          states.y[i] = states.k1[i] = Tensor();  // one segment's states at a time, freed as they are used
        }
      }
    }
    std::vector<Var> out{Var(add(a, g.select(0, 0)))};  // ys[0] is y0 itself
    for (std::size_t i = 0; i < params_.size(); ++i)
      out.emplace_back(gp[i].defined() ? gp[i] : Tensor::zeros(params_[i].shape(), params_[i].dtype(), g.device()));
    return out;
  }

  // Runs steps [begin, end) forward without a tape from `from` (the full state [B, D], and for
  // carries_stage() each sample's last stage), keeping each step's start rows (and first stage) in
  // `keep` when given; returns the same after them.
  Replayed replay(Replayed from, std::int64_t begin, std::int64_t end, Segment* keep) const {
    NoGrad no_grad;
    PlainSystem system(f_, plan_.stepper->output_width());
    Tensor state = from.state.clone(), last = from.last_stage;
    for (std::int64_t s = begin; s < end; ++s) {
      const StepLog& step = log_[static_cast<std::size_t>(s)];
      const Tensor index = indices(step.samples, state.device());
      const Tensor y = index_select(state, 0, index);
      const Rows rows(index);
      StepContext ctx = context(system, rows, step.samples);
      const Tensor k1 = last.defined() ? index_select(last, 0, index) : Tensor();
      if (keep) keep->y.push_back(y), keep->k1.push_back(k1);
      const StepResult st = plan_.stepper->step(ctx, Var(y), first_stage(step, Var(y), ctx, Var(k1)), step.t, step.h);
      state = add(state, index_add(sub(st.y_new.value(), y), 0, index, grid_.B));
      if (carries_stage()) {  // the rows' last stages, the next step's first where reused
        const Tensor k_last = st.k.back().value();
        if (!last.defined()) last = Tensor::zeros(state.shape(), state.dtype(), state.device());
        last = add(last, index_add(sub(k_last, index_select(last, 0, index)), 0, index, grid_.B));
      }
    }
    return {state, last};
  }

  // The first snapshot is y0's own storage when y0 is contiguous (no copy): its version is kept,
  // and a y0 modified in place before the backward pass is refused, as the discrete gradient does.
  void set_snapshots(std::vector<Replayed> snapshots, std::int64_t stride) {
    snapshots_ = std::move(snapshots);
    stride_ = stride;
    if (!snapshots_.empty()) start_version_ = SavedVersions{snapshots_.front().state};
  }

private:
  // The first stage a logged step used: none logged (the step makes f at its start), else per row
  // `logged` where it was the sample's last step's last stage and f at the start elsewhere.
  static Var first_stage(const StepLog& step, const Var& y, StepContext& ctx, const Var& logged) {
    const auto reused = [](char c) { return c != 0; };
    if (!logged.defined() || std::none_of(step.k1_reused.begin(), step.k1_reused.end(), reused)) return Var();
    if (std::all_of(step.k1_reused.begin(), step.k1_reused.end(), reused)) return logged;
    std::vector<double> mask(step.k1_reused.begin(), step.k1_reused.end());
    const Var f = ctx.eval(y, Var(column(step.t, y.dtype(), y.device())));
    return where(Var(column(mask, y.dtype(), y.device())), logged, f);
  }

  StepContext context(System& system, const Rows& rows, const std::vector<std::int64_t>& samples) const {
    return StepContext{system, rows, samples, *stats_, true, plan_.norm.atol(), plan_.norm.rtol(), nullptr};  // replays keep nothing across steps
  }

  // Back through one logged step from its start rows `y_start` (and logged first stage `k1`).
  void backprop_step(const StepLog& step, const Tensor& y_start, const Tensor& k1, const Tensor& g, Tensor& a, Tensor& a_stage,
                     std::vector<Tensor>& gp) {
    const std::int64_t B = grid_.B;
    const Tensor index = indices(step.samples, g.device());
    const Rows rows(index);
    PlainSystem system(f_, plan_.stepper->output_width());
    const std::uint64_t since = node_sequence_barrier();
    EnableGrad enable;
    const Var y = Var::parameter(y_start);
    StepContext ctx = context(system, rows, step.samples);
    const Var k1_in = k1.defined() ? Var::parameter(k1) : Var();
    StepResult st = plan_.stepper->step(ctx, y, first_stage(step, y, ctx, k1_in), step.t, step.h);
    std::vector<Var> outputs{st.y_new};
    std::vector<Var> cot{Var(index_select(a, 0, index))};
    if (carries_stage()) {  // the cotangent of the last stage, from the sample's next step's first stage
      outputs.push_back(st.k.back());
      cot.emplace_back(index_select(a_stage, 0, index));
    }
    if (!step.out_row.empty()) {
      outputs.push_back(dense_outputs(step, ctx, y, st));
      std::vector<std::int64_t> flat;
      for (std::size_t q = 0; q < step.out_row.size(); ++q)
        flat.push_back(step.out_index[q] * B + step.samples[static_cast<std::size_t>(step.out_row[q])]);
      cot.emplace_back(rows_of_g(g, flat));
    }
    check_reads_only_params(outputs, since, params_, "checkpointed");
    std::vector<Var> inputs = with_params(y, params_);
    if (k1_in.defined()) inputs.push_back(k1_in);
    std::vector<Var> grads = rerun_grad(outputs, inputs, cot, since);
    NoGrad no_grad;
    a = add(a, index_add(sub(grads[0].value(), index_select(a, 0, index)), 0, index, B));  // a[rows] = dL/dy_start
    if (carries_stage()) {  // a_stage[rows] = dL/dk1: owed by each sample's previous step's last stage
      const Tensor dk1 = k1_in.defined() ? grads.back().value() : Tensor::zeros(y_start.shape(), y_start.dtype(), y_start.device());
      a_stage = add(a_stage, index_add(sub(dk1, index_select(a_stage, 0, index)), 0, index, B));
    }
    if (k1_in.defined()) grads.pop_back();
    accumulate(gp, grads, 1);
  }

  // The grid outputs inside a replayed step, interpolated from its stages (recorded).
  Var dense_outputs(const StepLog& step, StepContext& ctx, const Var& y, const StepResult& st) const {
    std::vector<std::vector<double>> w;
    bool need_f_new = false;
    for (std::size_t q = 0; q < step.out_row.size(); ++q) {
      bool f_new = false;
      w.push_back(plan_.stepper->dense_weights(step.out_theta[q], step.h[static_cast<std::size_t>(step.out_row[q])], &f_new));
      need_f_new = need_f_new || f_new;
    }
    std::vector<Var> vecs{y, st.y_new};
    for (const Var& k : st.k) vecs.push_back(k);
    if (need_f_new) {
      std::vector<double> t1(step.t.size());
      for (std::size_t r = 0; r < t1.size(); ++r) t1[r] = step.t[r] + step.h[r];
      vecs.push_back(ctx.eval(st.y_new, Var(column(t1, y.dtype(), y.device()))));
    }
    for (auto& row : w) row.resize(vecs.size(), 0.0);
    return gathered_combination(vecs, step.out_row, w);
  }

  // Tableaus whose first stage is the last step's last stage, not f at the step's start.
  bool carries_stage() const { return plan_.stepper->tableau() && plan_.stepper->tableau()->reuse_last_stage; }

  Dynamics f_;
  Grid grid_;
  Plan plan_;
  std::vector<StepLog> log_;
  std::vector<Var> params_;
  SavedVersions versions_;
  std::shared_ptr<SolveStats> stats_;
  std::vector<Replayed> snapshots_;  // budgeted: full states (and last stages) before steps 0, stride, 2 stride, ...
  std::int64_t stride_ = 0;
  SavedVersions start_version_;  // budgeted: the first snapshot's (y0's storage)
};

}  // namespace

Var solve_checkpointed(const Dynamics& f, const Var& y0, const Grid& grid, const Plan& plan, std::int64_t budget,
                       const std::vector<Var>& params, const std::shared_ptr<SolveStats>& stats) {
  Plan logged = plan;
  logged.keep_log = true;
  logged.log_states = budget <= 0;
  PlainSystem system(f, plan.stepper->output_width());
  Integration run;
  {
    NoGrad no_grad;
    run = integrate(system, y0.detach(), grid, logged, *stats);
  }
  const std::int64_t n = static_cast<std::int64_t>(run.log.size());
  auto fn = std::make_shared<CheckpointBackward>(f, grid, logged, std::move(run.log), params, stats);
  if (budget > 0) {
    // Budgeted (two-level) checkpointing: at most `budget` full states, placed uniformly once the
    // number of steps is known (one extra forward pass), and one segment of step states at a time.
    const std::int64_t stride = std::max<std::int64_t>(1, (n + budget - 1) / budget);
    std::vector<Replayed> snapshots;
    Replayed state{y0.value().contiguous(), Tensor()};
    for (std::int64_t begin = 0; begin < n; begin += stride) {
      snapshots.push_back(state);
      state = fn->replay(state, begin, std::min(n, begin + stride), nullptr);
    }
    fn->set_snapshots(std::move(snapshots), stride);
  }
  return record_custom(run.ys.value(), with_params(y0, params), fn);
}

}  // namespace tide::detail
