// solve(): checks the request, builds the per-sample grids (with STEER's draws), appends the
// regularisers' integrand states, picks the gradient kind and splits the result.
#include "combine.hpp"
#include "solve_internal.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/solvers/compile_dynamics.hpp"
#include <cmath>

namespace tide {

namespace {

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
std::pair<Dynamics, Var> augmented(const Dynamics& f, const Var& y0, const SolveOptions& options, std::int64_t m) {
  if (m == 0) return {f, y0};
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
  // (one per batch size), which the plans read by reference; each evaluation copies its rows, so a
  // discrete gradient's backward keeps the noise its solve saw. The adjoint and checkpointed
  // gradients evaluate the dynamics again during the backward pass, when a later solve may have
  // written new noise there: with them a noisy solve runs eagerly on its own noise (as it does on
  // plain dynamics, with no kept tensor to copy into).
  if (noisy && (!is_compiled(f) || (options.gradient != GradientKind::discrete && grad_enabled())))
    return {detail::augment(f, y0.size(1), reg, noise), start};
  constexpr const char* kTraces[] = {"", " trace=hutchinson_jvp", " trace=hutchinson_vjp", " trace=exact"};
  std::string key = fmt::format("regularised D={} taylor={} kinetic={}{}{}", y0.size(1), reg.taylor_order, reg.kinetic,
                                kTraces[static_cast<int>(reg.trace)], reg.jacobian ? " jacobian" : "");
  if (noisy) {
    key += fmt::format(" noise {}{} on {}", dtype_name(noise.dtype()), noise.shape().str(), noise.device().str());
    Tensor kept = variant_state(f, key, [&] { return Tensor::empty(noise.shape(), noise.dtype(), noise.device()); });
    kept.copy_(noise);
    noise = kept;
  }
  return {compiled_variant(f, key, [&](const Dynamics& g) { return detail::augment(g, y0.size(1), reg, noise); }), start};
}

// The first time's gradient: y0 moves with t0 along -f (the exact solution's sensitivity).
Var shift_with_first_time(const Dynamics& f, const Var& y_start, const Var& times) {
  if (times.device() != y_start.device())
    fail("solve: times {} on {} require a gradient but y0 is on {}; put the times on y0's device", times.str(),
         times.device().str(), y_start.device().str());
  const std::int64_t B = y_start.size(0);
  Var t0 = times.rank() == 2 ? slice(times, 1, 0, 1) : reshape(slice(times, 0, 0, 1), Shape{1, 1});
  t0 = cast(t0, y_start.dtype());
  Var f0;
  {
    NoGrad no_grad;
    f0 = f(y_start.detach(), Var(t0.value().broadcast_to(Shape{B, 1}).contiguous()), Rows());
  }
  return y_start - (t0 - t0.detach()) * f0;
}

// The output times' gradients: dy(t_j)/dt_j = f(y(t_j), t_j). At index 0 this cancels the shift
// given to y0 by shift_with_first_time: y(t0) = y0 does not move with t0. A padded entry repeats
// its sample's last valid state, so it moves with that sample's last valid time (its own time is
// not read). Rows that are independent (per_sample: each sample its own steps) go through f in
// one call; with one step for the whole batch (the form for dynamics whose rows mix, a batch
// statistic) f runs once per output index over the batch, as the solve ran it, so that it never
// sees states of different times together.
Var add_output_time_gradient(const Dynamics& f, const Var& ys, const Var& times, const Grid& grid, bool per_sample) {
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
  Var fy;
  {
    NoGrad no_grad;
    if (per_sample) {
      std::vector<std::int64_t> sample(static_cast<std::size_t>(T * B));
      for (std::int64_t i = 0; i < T * B; ++i) sample[static_cast<std::size_t>(i)] = i % B;
      const Rows rows(Tensor::from_indices(sample, Shape{T * B}, ys.device()));
      const Var flat(ys.value().reshape(Shape{T * B, ys.size(2)}));
      fy = reshape(f(flat, Var(tt.value().reshape(Shape{T * B, 1})), rows), ys.shape());
    } else {
      std::vector<Var> each;
      for (std::int64_t j = 0; j < T; ++j) each.push_back(f(Var(ys.value().select(0, j)), Var(tt.value().select(0, j)), Rows()));
      fy = stack(each, 0);
    }
  }
  return ys + (tt - tt.detach()) * fy;
}

// What the dynamics close over, found by one recorded probe evaluation at the first times.
std::vector<Var> closed_over_values(const Dynamics& f, const Var& y_start, const Grid& grid, const detail::Stepper& stepper) {
  const std::uint64_t since = node_sequence_barrier();
  EnableGrad enable;
  const Var probe = Var::parameter(y_start.value());
  std::vector<double> t0(static_cast<std::size_t>(grid.B));
  for (std::int64_t b = 0; b < grid.B; ++b) t0[static_cast<std::size_t>(b)] = grid.at(b, 0);
  const Var fy = stepper.plain_rhs(f)(probe, Var(detail::column(t0, y_start.dtype(), y_start.device())), Rows());
  return closed_over(fy, since);  // placeholders on fy's device, the state's
}

Var integrate_by_kind(const Dynamics& f, const Var& y_start, const Grid& grid, const detail::Plan& plan,
                      const SolveOptions& options, const std::shared_ptr<SolveStats>& stats) {
  const GradientKind kind = options.gradient;
  std::vector<Var> params;
  bool needs_tape = false;
  if (kind != GradientKind::discrete && grad_enabled()) {
    params = closed_over_values(f, y_start, grid, *plan.stepper);
    needs_tape = y_start.requires_grad() || !params.empty();
  }
  if (kind == GradientKind::discrete || !needs_tape) {
    detail::PlainSystem system(f, plan.stepper->output_width());
    return detail::integrate(system, y_start, grid, plan, *stats).ys;
  }
  if (kind == GradientKind::checkpointed) return detail::solve_checkpointed(f, y_start, grid, plan, options.checkpoint_budget, params, stats);
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
  auto [system_f, y_start] = augmented(f, y0, options, m);

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
  if (time_grad) y_start = shift_with_first_time(rhs, y_start, times);
  Var ys = integrate_by_kind(system_f, y_start, grid, plan, options, stats);
  if (time_grad) ys = add_output_time_gradient(rhs, ys, times, grid, options.per_sample);

  Solution out = split_solution(ys, grid, D, names);
  out.stats = stats;
  if (unbatched) out.ys = squeeze(out.ys, 1);
  return out;
}

}  // namespace tide
