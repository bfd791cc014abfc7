// solve(): checks the request, builds the per-sample grids (with STEER's draws), appends the
// regularisers' integrand states, picks the gradient kind and splits the result.
#include "combine.hpp"
#include "solve_internal.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/solvers/compile_dynamics.hpp"
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>

namespace tide {

namespace {

// The noisy regularisers' variants kept per regulariser setting and compiled dynamics, over all
// threads (a training run's batch size, its last partial batch, the evaluation's two: 4; more are
// made again, traced afresh, when they return).
constexpr std::size_t kNoisyVariantsKept = 8;

// A noisy solve's slot, leased for its forward pass: the lowest number no other solve in flight
// holds, part of the noisy variant's key, so solves running at once on several threads write their
// noise into tensors of their own, while one thread (or threads taking turns) always gets slot 0
// and keeps its variants. (A discrete gradient's backward reads the rows each evaluation copied,
// not the kept tensor, so the lease ends with the forward pass.)
class NoiseSlot {
public:
  NoiseSlot() {
    const std::lock_guard<std::mutex> lock(mutex_);
    while (held_.count(number_)) ++number_;
    held_.insert(number_);
  }
  ~NoiseSlot() {
    const std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(number_);
  }
  NoiseSlot(const NoiseSlot&) = delete;
  NoiseSlot& operator=(const NoiseSlot&) = delete;
  std::size_t number() const { return number_; }

private:
  std::size_t number_ = 0;
  static inline std::mutex mutex_;
  static inline std::set<std::size_t> held_;
};

// The dynamics a solve integrates, its starting state, and the noise slot it holds (if any).
struct Augmented {
  Dynamics f;
  Var start;
  std::unique_ptr<NoiseSlot> slot;
};

using detail::Grid;

void check_state(const Dynamics& f, const Var& y0, const Var& times) {
  if (!f.var) fail("solve: the dynamics are empty");
  if (!y0.defined()) fail("solve: y0 is undefined");
  if (!is_floating(y0.dtype())) fail("solve: y0 must be f32 or f64, got {}", y0.str());
  if (y0.rank() != 1 && y0.rank() != 2) fail("solve: y0 must be [B, D] or [D], got {}", y0.str());
  if (y0.rank() == 1 && times.defined() && times.rank() == 2) fail("solve: an unbatched y0 {} takes times [T], got {}", y0.str(), times.str());
  if (y0.rank() == 2 && (y0.size(0) < 1 || y0.size(1) < 1)) fail("solve: y0 {} is empty", y0.str());
}

Grid solve_grid(const Var& times, std::int64_t B, const SolveOptions& options) {
  Grid grid = detail::make_grid(times, B, options.mask);
  if (!options.per_sample) {
    for (std::int64_t b = 1; b < B; ++b)
      for (std::int64_t j = 0; j < grid.T; ++j)
        if (grid.at(b, j) != grid.at(0, j) || grid.count[static_cast<std::size_t>(b)] != grid.count[0])
          fail("solve: per_sample = false (one shared step) needs one grid for the batch; sample {} differs at index {}", b, j);
  }
  // one draw for a shared step's one grid: a draw per row would break the rule just checked
  detail::apply_steer(grid, options.steer, options.seed, times.rank() == 2 && options.per_sample);
  return grid;
}

// The dynamics and start state with the regularisers' integrand states appended (m of them).
Augmented augmented(const Dynamics& f, const Var& y0, const SolveOptions& options, std::int64_t m) {
  if (m == 0) return {f, y0, nullptr};
  const Regularisers& reg = options.regularisers;
  const bool noisy = reg.jacobian || reg.trace == Regularisers::Trace::hutchinson_jvp || reg.trace == Regularisers::Trace::hutchinson_vjp;
  Tensor noise;
  if (noisy) {
    Generator gen(options.seed);
    noise = sample_noise(gen, y0.shape(), y0.dtype(), reg.noise).to(y0.device());
  }
  const Var start = concat({y0, Var(Tensor::zeros(Shape{y0.size(0), m}, y0.dtype(), y0.device()))}, 1);
  // When f is compiled, the regularised dynamics compile once per setting and later solves replay
  // them. The estimators' noise, drawn per solve, is written into a tensor kept with the variant
  // (one per batch size and noise slot: a solve running at the same time holds another slot, so
  // none rewrites another's mid-solve), which
  // the plans read by reference; each evaluation copies its rows, so a discrete gradient's backward
  // keeps the noise its solve saw. The adjoint and checkpointed
  // gradients evaluate the dynamics again during the backward pass, when a later solve may have
  // written new noise there: with them a noisy solve runs eagerly on its own noise (as it does on
  // plain dynamics, with no kept tensor to copy into).
  if (noisy && (!is_compiled(f) || (options.gradient != GradientKind::discrete && grad_enabled())))
    return {detail::augment(f, y0.size(1), reg, noise), start, nullptr};
  constexpr const char* kTraces[] = {"", " trace=hutchinson_jvp", " trace=hutchinson_vjp", " trace=exact"};
  std::string key = fmt::format("regularised D={} taylor={} kinetic={}{}{}", y0.size(1), reg.taylor_order, reg.kinetic,
                                kTraces[static_cast<int>(reg.trace)], reg.jacobian ? " jacobian" : "");
  const std::string family = key + " noise ";
  std::unique_ptr<NoiseSlot> slot = noisy ? std::make_unique<NoiseSlot>() : nullptr;
  if (noisy) {
    key = family + fmt::format("{}{} on {} slot {}", dtype_name(noise.dtype()), noise.shape().str(), noise.device().str(),
                               slot->number());
    Tensor kept = variant_state(f, key, [&] { return Tensor::empty(noise.shape(), noise.dtype(), noise.device()); });
    kept.copy_(noise);
    noise = kept;
  }
  const Dynamics g = compiled_variant(f, key, [&](const Dynamics& plain) { return detail::augment(plain, y0.size(1), reg, noise); });
  if (noisy) {
    // the variant reads `noise`: if another solve evicted the key between the two lookups, the
    // variant just made closes over it, so it is registered again for the next solve to write into
    variant_state(f, key, [&] { return noise; });
    // one variant per noise shape and slot, each with its own plans (~15 MB for a small CNF): batch
    // sizes that keep changing would add one per size without bound
    keep_recent_variants(f, family, kNoisyVariantsKept);
  }
  return {g, start, std::move(slot)};
}

// What the dynamics close over and their value at the first times, by one recorded probe
// evaluation: the checkpointed and adjoint gradients' parameters, and the time terms' (below).
struct Probe {
  Tensor f0;                // f(y0, t0), [B, D]
  std::vector<Var> params;  // placeholders on the state's device
};
Probe probe_dynamics(const Dynamics& plain_f, const Var& y_start, const Grid& grid) {
  const std::uint64_t since = node_sequence_barrier();
  EnableGrad enable;
  const Var probe = Var::parameter(y_start.value());
  std::vector<double> t0(static_cast<std::size_t>(grid.B));
  for (std::int64_t b = 0; b < grid.B; ++b) t0[static_cast<std::size_t>(b)] = grid.at(b, 0);
  const Var fy = plain_f(probe, Var(detail::column(t0, y_start.dtype(), y_start.device())), Rows());
  return {fy.value(), closed_over(fy, since)};
}

// The state moved from time s by a step h, to second order in h: the explicit midpoint rule
// y + h f(y + h/2 f(y, s), s + h/2).
Var moved(const Dynamics& f, const Var& y, const Var& s, const Var& h, const Rows& rows) {
  const Var half = 0.5 * h;
  return y + h * f(y + half * f(y, s, rows), s + half, rows);
}

// One time term: the state y at time s moved by direction x h, h = t - t.detach() (0 in value), t
// the time that requires grad, fy = direction x f(y, s) evaluated without a tape. Its first-order
// gradient is h's, g . fy (the exact solution's sensitivity), and nothing else: a first-order
// backward costs that product alone. A recorded backward (create_graph) evaluates `moved` with
// recording on and differentiates it, so that the second derivatives involving the times come out
// (f_y f + f_t, and those with y0 and the parameters, in either order: the parameters are inputs
// here); with fy a constant they were 0 or wrong, silently. Third derivatives through the times
// are not exact.
class TimeTerm final : public CustomBackward {
public:
  // inputs: y, s, h, then the values f closes over
  TimeTerm(Dynamics f, Rows rows, std::vector<Var> inputs, Tensor fy, double direction)
      : f_(std::move(f)), rows_(std::move(rows)), inputs_(std::move(inputs)), fy_(std::move(fy)), direction_(direction) {}
  const char* name() const override { return "solve (time gradient)"; }

  std::vector<Var> backward(const Var& g) override {
    std::vector<Var> d(inputs_.size());
    if (!grad_enabled()) {
      d[0] = g, d[2] = sum_to(g * Var(fy_), inputs_[2].shape());
      return d;
    }
    const std::uint64_t since = node_sequence_barrier();
    const Var out = moved(f_, inputs_[0], inputs_[1], direction_ * inputs_[2], rows_);
    for (const Var& v : closed_over(out, since))
      if (std::none_of(inputs_.begin(), inputs_.end(), [&](const Var& x) { return x.node() == v.node(); }))
        fail("grad with create_graph through the times' gradient of a solve: the dynamics read a tensor requiring grad "
             "({}) that their first evaluation (the probe at the first times) did not, whose second derivatives with "
             "the times would be missing; read every parameter on every call",
             v.str());
    GradOptions o;
    o.create_graph = o.allow_unused = true;
    o.recorded_from = since;  // the inputs as independent: each gets the path through this term alone
    d = grad({out}, inputs_, {g}, o);
    drop_repeats(inputs_, d);
    return d;
  }

private:
  Dynamics f_;
  Rows rows_;
  std::vector<Var> inputs_;
  Tensor fy_;
  double direction_;
};

Var time_term(const Dynamics& f, const Rows& rows, const Var& y, const Var& s, const Var& h, const Tensor& f_ys,
              double direction, const std::vector<Var>& params) {
  std::vector<Var> inputs{y, s, h};
  inputs.insert(inputs.end(), params.begin(), params.end());
  const Tensor fy = direction > 0 ? f_ys : neg(f_ys);
  const Tensor out = add(y.value(), mul(h.value(), fy));  // y, as h is 0
  auto fn = std::make_shared<TimeTerm>(f, rows, inputs, fy, direction);
  return record_custom(out, inputs, fn);
}

// The first time's gradient: y0 is the state at t0, so the state at the grid's first time is y0
// moved back from t0 to t0.detach() (along -f to first order).
Var shift_with_first_time(const Dynamics& f, const Var& y_start, const Var& times, const Probe& probe) {
  if (times.device() != y_start.device())
    fail("solve: times {} on {} require a gradient but y0 is on {}; put the times on y0's device", times.str(),
         times.device().str(), y_start.device().str());
  const std::int64_t B = y_start.size(0);
  Var t0 = times.rank() == 2 ? slice(times, 1, 0, 1) : reshape(slice(times, 0, 0, 1), Shape{1, 1});
  t0 = cast(t0, y_start.dtype());
  Var t0_rows = t0;  // one t0 per row, [B, 1], as f gets its times during the solve
  if (times.rank() == 1) {
    const std::vector<std::int64_t> first(static_cast<std::size_t>(B), 0);
    t0_rows = index_select(t0, 0, Tensor::from_indices(first, Shape{B}, t0.device()));
  }
  return time_term(f, Rows(), y_start, t0_rows, t0 - t0.detach(), probe.f0, -1.0, probe.params);
}

// The output times' gradients: dy(t_j)/dt_j = f(y(t_j), t_j). At index 0 this cancels the shift
// given to y0 by shift_with_first_time: y(t0) = y0 does not move with t0. A padded entry repeats
// its sample's last valid state, so it moves with that sample's last valid time (its own time is
// not read). Rows that are independent (per_sample: each sample its own steps) go through f in
// one call; with one step for the whole batch (the form for dynamics whose rows mix, a batch
// statistic) f runs once per output index over the batch, as the solve ran it, so that it never
// sees states of different times together.
Var add_output_time_gradient(const Dynamics& f, const Var& ys, const Var& times, const Grid& grid, bool per_sample,
                             const std::vector<Var>& params) {
  const std::int64_t T = ys.size(0), B = grid.B;
  std::vector<std::int64_t> at(static_cast<std::size_t>(T * B));  // [T, B]: where times holds each entry's time
  for (std::int64_t j = 0; j < T; ++j)
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t used = std::min(j, grid.count[static_cast<std::size_t>(b)] - 1);
      at[static_cast<std::size_t>(j * B + b)] = times.rank() == 2 ? b * T + used : used;
    }
  const Var flat_times = reshape(times, Shape{times.numel()});
  const Var tt = reshape(cast(index_select(flat_times, 0, Tensor::from_indices(at, Shape{T * B}, times.device())), ys.dtype()),
                         Shape{T, B, 1});
  const Var grid_t = tt.detach(), h = tt - grid_t;  // each output moved from its grid time to its time
  const auto term = [&](const Var& y, const Var& s, const Var& step, const Rows& rows) {
    Tensor fy;
    {
      NoGrad no_grad;
      fy = f(y.detach(), s, rows).value();
    }
    return time_term(f, rows, y, s, step, fy, 1.0, params);
  };
  if (per_sample) {
    std::vector<std::int64_t> sample(static_cast<std::size_t>(T * B));
    for (std::int64_t i = 0; i < T * B; ++i) sample[static_cast<std::size_t>(i)] = i % B;
    const Rows rows(Tensor::from_indices(sample, Shape{T * B}, ys.device()));
    const Shape rows_of_one{T * B, 1};
    return reshape(term(reshape(ys, Shape{T * B, ys.size(2)}), reshape(grid_t, rows_of_one), reshape(h, rows_of_one), rows),
                   ys.shape());
  }
  std::vector<Var> each;
  for (std::int64_t j = 0; j < T; ++j) each.push_back(term(select(ys, 0, j), select(grid_t, 0, j), select(h, 0, j), Rows()));
  return stack(each, 0);
}

// The adjoint's backward tolerances, where given, against the state's rounding, as solve() checks
// the forward's: below it the backward solve would shrink its steps until max_steps.
void check_adjoint_attainable(const detail::Plan& plan, const SolveOptions& o, const Tensor& y0) {
  if (!plan.adaptive() || (o.adjoint_rtol <= 0 && o.adjoint_atol <= 0)) return;  // fixed steps read no tolerance
  try {
    plan.norm.doubled(o.adjoint_atol, o.adjoint_rtol).check_attainable(y0);
  } catch (const Error& e) {
    std::string why = e.what();
    if (why.rfind("solve: ", 0) == 0) why.erase(0, 7);
    fail("solve with GradientKind::adjoint: the backward solve's tolerances adjoint_rtol = {:g}, adjoint_atol = {:g} "
         "(0: the forward's) cannot be met: {} (read rtol / atol there as adjoint_rtol / adjoint_atol)",
         o.adjoint_rtol, o.adjoint_atol, why);
  }
}

Var integrate_by_kind(const Dynamics& f, const Var& y_start, const Grid& grid, const detail::Plan& plan,
                      const SolveOptions& options, const std::vector<Var>& params, const std::shared_ptr<SolveStats>& stats) {
  const GradientKind kind = options.gradient;
  const bool needs_tape = kind != GradientKind::discrete && grad_enabled() && (y_start.requires_grad() || !params.empty());
  if (!needs_tape) {
    detail::PlainSystem system(f, plan.stepper->output_width());
    return detail::integrate(system, y_start, grid, plan, *stats).ys;
  }
  if (kind == GradientKind::checkpointed) return detail::solve_checkpointed(f, y_start, grid, plan, options.checkpoint_budget, params, stats);
  check_adjoint_attainable(plan, options, y_start.value());
  return detail::solve_adjoint(f, y_start, grid, plan, options.adjoint_atol, options.adjoint_rtol, params, stats);
}

// +1 per sample whose times increase, -1 where they decrease: the penalties are integrals over
// |dt|, and an integrand state that ran backwards holds minus its penalty. Undefined when every
// sample runs forwards.
Tensor penalty_signs(const Grid& grid, Device device) {
  std::vector<double> sign(static_cast<std::size_t>(grid.B), 1.0);
  bool any = false;
  for (std::int64_t b = 0; b < grid.B; ++b)
    if (grid.at(b, grid.count[static_cast<std::size_t>(b)] - 1) < grid.at(b, 0)) sign[static_cast<std::size_t>(b)] = -1.0, any = true;
  return any ? Tensor::from_vector(sign, Shape{grid.B}, DType::f64).to(device) : Tensor();
}

// The state and the regularisers' integrals at each sample's last time.
Solution split_solution(const Var& ys, const Grid& grid, std::int64_t D, const std::vector<std::string>& names) {
  const std::int64_t B = grid.B, m = static_cast<std::int64_t>(names.size());
  Solution out;
  out.end_times = Tensor::from_vector(grid.t, Shape{B, grid.T}, DType::f64);
  out.ys = m > 0 ? slice(ys, 2, 0, D) : ys;
  if (m == 0) return out;
  std::vector<std::int64_t> last(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) last[static_cast<std::size_t>(b)] = (grid.count[static_cast<std::size_t>(b)] - 1) * B + b;
  const Var final_rows = index_select(reshape(ys, Shape{grid.T * B, D + m}), 0, Tensor::from_indices(last, Shape{B}, ys.device()));
  const Tensor signs = penalty_signs(grid, ys.device());
  for (std::int64_t i = 0; i < m; ++i) {
    const std::string& name = names[static_cast<std::size_t>(i)];
    Var v = select(final_rows, 1, D + i);
    if (signs.defined() && name != "logp_change") v = v * Var(signs.to(v.dtype()));
    if (name == "taylor") out.taylor = v;
    else if (name == "kinetic") out.kinetic = v;
    else if (name == "jacobian") out.jacobian = v;
    else out.logp_change = v;
  }
  return out;
}

// An unbatched y0's results: its one sample's, without the batch axis.
void drop_batch_axis(Solution& out) {
  out.ys = squeeze(out.ys, 1);
  for (Var* integral : {&out.taylor, &out.kinetic, &out.jacobian, &out.logp_change})
    if (integral->defined()) *integral = squeeze(*integral, 0);
  out.end_times = out.end_times.select(0, 0);
}

}  // namespace

Solution solve(const Dynamics& f, const Var& y0_in, const Var& times, const SolveOptions& options) {
  check_state(f, y0_in, times);
  const bool unbatched = y0_in.rank() == 1;
  const Var y0 = unbatched ? unsqueeze(y0_in, 0) : y0_in;
  const std::int64_t B = y0.size(0), D = y0.size(1);
  if (B < 1 || D < 1) fail("solve: y0 {} is empty", y0.str());
  const std::vector<std::string> names = detail::regulariser_names(options.regularisers);
  const std::int64_t m = static_cast<std::int64_t>(names.size());
  // The solve runs on y0's device: every tensor it makes goes there (the grids and the statistics
  // are host data; end_times is returned on the host by design).
  const detail::Plan plan = detail::make_plan(options, D, m);
  if (plan.stepper->adaptive()) plan.norm.check_attainable(y0.value());
  const Grid grid = solve_grid(times, B, options);
  if (m > 0 && plan.stepper->output_width() != 1)
    fail("solve: regularisers need dynamics of the plain form z' = f(z, t); {} takes split dynamics", plan.stepper->name());
  Augmented aug = augmented(f, y0, options, m);  // (its noise slot held to the end of the forward pass)
  const Dynamics system_f = aug.f;
  Var y_start = aug.start;

  auto stats = std::make_shared<SolveStats>();
  stats->nfe.assign(static_cast<std::size_t>(B), 0);
  stats->accepted.assign(static_cast<std::size_t>(B), 0);
  stats->rejected.assign(static_cast<std::size_t>(B), 0);

  if (grad_enabled() && times.requires_grad() && options.steer.enabled)
    fail("solve: the times {} require a gradient, but with STEER the solve ends at drawn times, which carry none "
         "(it was 0, silently); pass times.detach(), or draw the end times yourself as differentiable values", times.str());
  const bool time_grad = grad_enabled() && times.requires_grad();
  // the time gradients read dz/dt itself: the plain form of split dynamics (ltc_fused's concat(a, c))
  const Dynamics rhs = time_grad ? plan.stepper->plain_rhs(system_f) : Dynamics();
  Probe probe;
  if (time_grad || (options.gradient != GradientKind::discrete && grad_enabled()))
    probe = probe_dynamics(plan.stepper->plain_rhs(system_f), y_start, grid);
  if (time_grad) y_start = shift_with_first_time(rhs, y_start, times, probe);
  Var ys = integrate_by_kind(system_f, y_start, grid, plan, options, probe.params, stats);
  if (time_grad) ys = add_output_time_gradient(rhs, ys, times, grid, options.per_sample, probe.params);

  Solution out = split_solution(ys, grid, D, names);
  out.stats = stats;
  if (unbatched) drop_batch_axis(out);
  return out;
}

}  // namespace tide
