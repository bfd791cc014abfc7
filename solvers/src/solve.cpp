// solve(): checks the request, builds the per-sample grids (with STEER's draws), appends the
// regularisers' integrand states, picks the gradient kind and splits the result.
#include "combine.hpp"
#include "solve_internal.hpp"
#include "tide/autodiff/custom.hpp"
#include <cmath>

namespace tide {

namespace {

using detail::Grid;

Grid make_grid(const Var& times, std::int64_t B, const Tensor& mask) {
  if (!times.defined()) fail("solve: times is undefined");
  if (!is_floating(times.dtype())) fail("solve: times must be f32 or f64, got {}", times.str());
  if (times.rank() != 1 && times.rank() != 2) fail("solve: times must be [T] or [B, T] (per sample), got {}", times.str());
  if (times.rank() == 2 && times.size(0) != B) fail("solve: per-sample times {} do not match the batch of y0 ({} samples)", times.str(), B);
  Grid g;
  g.B = B;
  g.T = times.size(times.rank() - 1);
  if (g.T < 1) fail("solve: times {} is empty", times.str());
  const std::vector<double> tv = times.value().to_vector();
  std::vector<double> mv;
  if (mask.defined()) {
    if (times.rank() != 2) fail("solve: a mask needs per-sample times [B, T]; times is {}", times.str());
    if (!(mask.shape() == times.shape())) fail("solve: mask {} does not match times {}", mask.str(), times.str());
    mv = mask.to_vector();
  }
  g.t.resize(static_cast<std::size_t>(B * g.T));
  g.count.assign(static_cast<std::size_t>(B), g.T);
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t c = g.T;
    if (!mv.empty()) {
      c = 0;
      while (c < g.T && mv[static_cast<std::size_t>(b * g.T + c)] != 0) ++c;
      for (std::int64_t j = c; j < g.T; ++j)
        if (mv[static_cast<std::size_t>(b * g.T + j)] != 0)
          fail("solve: mask row {} is not a prefix (valid at {} after padding at {}); pad sequences at the end", b, j, c);
      if (c == 0) fail("solve: mask row {} has no valid time (a sample needs at least its start time)", b);
    }
    g.count[static_cast<std::size_t>(b)] = c;
    for (std::int64_t j = 0; j < g.T; ++j) {
      const std::int64_t src = times.rank() == 2 ? b * g.T + std::min(j, c - 1) : std::min(j, c - 1);
      const double t = tv[static_cast<std::size_t>(src)];
      if (!std::isfinite(t)) fail("solve: times[{}] of sample {} is not finite ({})", j, b, t);
      g.t[static_cast<std::size_t>(b * g.T + j)] = t;
    }
    for (std::int64_t j = 2; j < c; ++j) {
      const double d0 = g.at(b, j - 1) - g.at(b, j - 2), d1 = g.at(b, j) - g.at(b, j - 1);
      if ((d0 > 0) != (d1 > 0))
        fail("solve: times of sample {} are not monotone (t[{}] = {}, t[{}] = {}, t[{}] = {})", b, j - 2, g.at(b, j - 2), j - 1,
             g.at(b, j - 1), j, g.at(b, j));
    }
    for (std::int64_t j = 1; j < c; ++j)
      if (g.at(b, j) == g.at(b, j - 1))
        fail("solve: times of sample {} repeat a value at index {} ({}); times must be strictly monotone", b, j, g.at(b, j));
  }
  return g;
}

// STEER: training-time draws of each interval's end (steer.per_interval) or of the last time.
void apply_steer(Grid& g, const Steer& steer, std::uint64_t seed, bool per_sample_grid) {
  if (!steer.enabled) return;
  Generator gen(seed ^ 0x5354454552ull);
  const std::int64_t draws = per_sample_grid ? g.B : 1;
  const Tensor u = gen.uniform(Shape{draws, std::max<std::int64_t>(g.T - 1, 1)}, -1.0, 1.0, DType::f64);
  const std::vector<double> uv = u.to_vector();
  for (std::int64_t b = 0; b < g.B; ++b) {
    const std::int64_t c = g.count[static_cast<std::size_t>(b)];
    const std::int64_t row = per_sample_grid ? b : 0;
    std::vector<double> orig(static_cast<std::size_t>(c));
    for (std::int64_t j = 0; j < c; ++j) orig[static_cast<std::size_t>(j)] = g.at(b, j);
    if (steer.per_interval) {
      // each interval's length is drawn from U(|dt| - b_i, |dt| + b_i) with b_i = |dt| - eps
      for (std::int64_t j = 1; j < c; ++j) {
        const double dt = orig[static_cast<std::size_t>(j)] - orig[static_cast<std::size_t>(j - 1)];
        const double bi = std::fabs(dt) - steer.eps;
        if (bi <= 0) fail("solve (STEER): interval {} of sample {} is shorter than eps = {}", j - 1, b, steer.eps);
        const double len = std::fabs(dt) + bi * uv[static_cast<std::size_t>(row * (g.T - 1) + j - 1)];
        g.t[static_cast<std::size_t>(b * g.T + j)] = g.at(b, j - 1) + (dt > 0 ? len : -len);
      }
    } else if (c >= 2) {
      const double span = orig[static_cast<std::size_t>(c - 1)] - orig[static_cast<std::size_t>(c - 2)];
      if (steer.b < 0 || steer.b >= std::fabs(span))
        fail("solve (STEER): b = {} must lie in [0, {}) (the last interval's length)", steer.b, std::fabs(span));
      g.t[static_cast<std::size_t>(b * g.T + c - 1)] = orig[static_cast<std::size_t>(c - 1)] + steer.b * uv[static_cast<std::size_t>(row * (g.T - 1))];
    }
    for (std::int64_t j = c; j < g.T; ++j) g.t[static_cast<std::size_t>(b * g.T + j)] = g.at(b, c - 1);
  }
}

std::vector<double> per_state(const std::vector<double>& given, double scalar, std::int64_t D, const char* what) {
  if (given.empty()) return std::vector<double>(static_cast<std::size_t>(D), scalar);
  if (static_cast<std::int64_t>(given.size()) != D) fail("solve: {} has {} entries for a state of {}", what, given.size(), D);
  for (double v : given)
    if (!(v >= 0) || !std::isfinite(v)) fail("solve: {} has an entry {} (must be finite and >= 0)", what, v);
  return given;
}

void check_options(const SolveOptions& o) {
  if (!(o.rtol >= 0) || !(o.atol >= 0) || !std::isfinite(o.rtol) || !std::isfinite(o.atol))
    fail("solve: rtol = {} and atol = {} must be finite and >= 0", o.rtol, o.atol);
  if (o.max_steps < 1) fail("solve: max_steps = {} must be >= 1", o.max_steps);
  if (!(o.max_step > 0)) fail("solve: max_step = {} must be > 0", o.max_step);
  if (o.min_step < 0) fail("solve: min_step = {} must be >= 0", o.min_step);
  if (o.unfolds < 0) fail("solve: unfolds = {} must be >= 0", o.unfolds);
  if (o.step_size < 0) fail("solve: step_size = {} must be >= 0", o.step_size);
  if (o.checkpoint_budget < 0) fail("solve: checkpoint_budget = {} must be >= 0 (0: one stored state per step)", o.checkpoint_budget);
  if (o.first_step < 0) fail("solve: first_step = {} must be >= 0", o.first_step);
  if (o.newton_max_iterations < 1) fail("solve: newton_max_iterations = {} must be >= 1", o.newton_max_iterations);
  const StepController& c = o.controller;
  if (!(c.safety > 0 && c.safety <= 1) || !(c.factor_min > 0 && c.factor_min < 1) || !(c.factor_max > 1))
    fail("solve: controller {} needs 0 < safety <= 1, 0 < factor_min < 1 < factor_max (got {}, {}, {})", c.name, c.safety,
         c.factor_min, c.factor_max);
}

}  // namespace

Solution solve(const Dynamics& f, const Var& y0_in, const Var& times, const SolveOptions& options) {
  if (!f.var) fail("solve: the dynamics are empty");
  if (!y0_in.defined()) fail("solve: y0 is undefined");
  if (!is_floating(y0_in.dtype())) fail("solve: y0 must be f32 or f64, got {}", y0_in.str());
  if (y0_in.rank() != 1 && y0_in.rank() != 2) fail("solve: y0 must be [B, D] or [D], got {}", y0_in.str());
  check_options(options);
  const bool unbatched = y0_in.rank() == 1;
  const Var y0 = unbatched ? unsqueeze(y0_in, 0) : y0_in;
  const std::int64_t B = y0.size(0), D = y0.size(1);
  if (B < 1 || D < 1) fail("solve: y0 {} is empty", y0.str());
  // The solve runs on y0's device: every tensor it makes goes there (the grids and the statistics
  // are host data; end_times is returned on the host by design).
  const Device device = y0.device();
  if (unbatched && times.rank() == 2) fail("solve: an unbatched y0 {} takes times [T], got {}", y0_in.str(), times.str());

  Grid grid = make_grid(times, B, options.mask);
  if (!options.per_sample) {
    for (std::int64_t b = 1; b < B; ++b)
      for (std::int64_t j = 0; j < grid.T; ++j)
        if (grid.at(b, j) != grid.at(0, j) || grid.count[static_cast<std::size_t>(b)] != grid.count[0])
          fail("solve: per_sample = false (one shared step) needs one grid for the batch; sample {} differs at index {}", b, j);
  }
  apply_steer(grid, options.steer, options.seed, times.rank() == 2);

  detail::Config config;
  config.method = options.method;
  config.options = options;
  if (options.method != Method::ltc_fused) config.tableau = &tableau(options.method);
  else if (options.regularisers.any()) fail("solve: regularisers need a Runge-Kutta method (ltc_fused's dynamics return the split a, c)");
  const Regularisers& reg = options.regularisers;
  const std::vector<std::string> names = detail::regulariser_names(reg);
  const std::int64_t m = static_cast<std::int64_t>(names.size());
  config.atol_d = per_state(options.atol_per_state, options.atol, D, "atol_per_state");
  config.rtol_d = per_state(options.rtol_per_state, options.rtol, D, "rtol_per_state");
  config.controlled.assign(static_cast<std::size_t>(D), 1);
  for (std::int64_t i : options.seminorm) {
    if (i < 0 || i >= D) fail("solve: seminorm index {} is outside the state (0..{})", i, D - 1);
    config.controlled[static_cast<std::size_t>(i)] = 0;
  }
  for (std::int64_t i = 0; i < m; ++i) {
    config.atol_d.push_back(options.atol);
    config.rtol_d.push_back(options.rtol);
    config.controlled.push_back(reg.error_control ? 1 : 0);
  }

  Dynamics system_f = f;
  Var y_start = y0;
  if (m > 0) {
    const bool noisy = reg.jacobian || reg.trace == Regularisers::Trace::hutchinson_jvp || reg.trace == Regularisers::Trace::hutchinson_vjp;
    Tensor noise;
    if (noisy) {
      Generator gen(options.seed);
      noise = sample_noise(gen, y0.shape(), y0.dtype(), reg.noise).to(device);
    }
    system_f = detail::augment(f, D, reg, noise);
    y_start = concat({y0, Var(Tensor::zeros(Shape{B, m}, y0.dtype(), device))}, 1);
  }

  auto stats = std::make_shared<SolveStats>();
  stats->nfe.assign(static_cast<std::size_t>(B), 0);
  stats->accepted.assign(static_cast<std::size_t>(B), 0);
  stats->rejected.assign(static_cast<std::size_t>(B), 0);

  // the first time's gradient: y0 moves with t0 along -f (the exact solution's sensitivity)
  const bool time_grad = grad_enabled() && times.requires_grad() && !options.steer.enabled;
  if (time_grad && times.device() != device)
    fail("solve: times {} on {} require a gradient but y0 is on {}; put the times on y0's device", times.str(),
         times.device().str(), device.str());
  Var t_col0;
  if (time_grad) {
    t_col0 = times.rank() == 2 ? slice(times, 1, 0, 1) : reshape(slice(times, 0, 0, 1), Shape{1, 1});
    t_col0 = cast(t_col0, y0.dtype());
    Var f0;
    {
      NoGrad no_grad;
      f0 = system_f(y_start.detach(), Var(t_col0.value().broadcast_to(Shape{B, 1}).contiguous()), Rows());
    }
    y_start = y_start - (t_col0 - t_col0.detach()) * f0;
  }

  Var ys;
  const GradientKind kind = options.gradient;
  std::vector<Var> params;
  bool needs_tape = false;
  if (kind != GradientKind::discrete && grad_enabled()) {
    // find what the dynamics close over by one recorded probe evaluation
    const std::uint64_t since = next_node_sequence();
    EnableGrad enable;
    const Var probe = Var::parameter(y_start.value());
    std::vector<double> t0(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) t0[static_cast<std::size_t>(b)] = grid.at(b, 0);
    const Var t0c = Var(detail::column(t0, y0.dtype(), device));
    const Var fy = options.method == Method::ltc_fused ? fused_rhs(system_f, options.fused_b)(probe, t0c, Rows()) : system_f(probe, t0c, Rows());
    params = closed_over(fy, since);  // placeholders on fy's device, the state's
    needs_tape = y_start.requires_grad() || !params.empty();
  }
  if (kind == GradientKind::discrete || !needs_tape) {
    detail::PlainSystem system(system_f, options.method == Method::ltc_fused ? 2 : 1);
    ys = detail::integrate(system, y_start, grid, config, *stats).ys;
  } else if (kind == GradientKind::checkpointed) {
    ys = detail::solve_checkpointed(system_f, y_start, grid, config, params, stats);
  } else {
    ys = detail::solve_adjoint(system_f, y_start, grid, config, params, stats);
  }

  if (time_grad) {
    // the output times' gradients: dy(t_j)/dt_j = f(y(t_j), t_j)
    const std::int64_t T = grid.T;
    Var tt = times.rank() == 2 ? transpose(times, 0, 1) : reshape(times, Shape{T, 1});
    tt = cast(reshape(broadcast_to(tt, Shape{T, B}), Shape{T, B, 1}), y0.dtype());
    Var fy;
    {
      NoGrad no_grad;
      std::vector<std::int64_t> sample(static_cast<std::size_t>(T * B));
      for (std::int64_t i = 0; i < T * B; ++i) sample[static_cast<std::size_t>(i)] = i % B;
      const Rows rows(Tensor::from_indices(sample, Shape{T * B}, device));
      const Tensor flat = ys.value().reshape(Shape{T * B, ys.size(2)});
      fy = reshape(system_f(Var(flat), Var(tt.value().reshape(Shape{T * B, 1})), rows), ys.shape());
    }
    // at index 0 this cancels the shift given to y0 above: y(t0) = y0 does not move with t0
    ys = ys + (tt - tt.detach()) * fy;
  }

  Solution out;
  out.stats = stats;
  out.end_times = Tensor::from_vector(grid.t, Shape{B, grid.T}, DType::f64);
  out.ys = m > 0 ? slice(ys, 2, 0, D) : ys;
  if (m > 0) {
    std::vector<std::int64_t> last(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) last[static_cast<std::size_t>(b)] = (grid.count[static_cast<std::size_t>(b)] - 1) * B + b;
    const Var final_rows = index_select(reshape(ys, Shape{grid.T * B, D + m}), 0, Tensor::from_indices(last, Shape{B}, device));
    for (std::int64_t i = 0; i < m; ++i) {
      const Var v = select(final_rows, 1, D + i);
      const std::string& name = names[static_cast<std::size_t>(i)];
      if (name == "taylor") out.taylor = v;
      else if (name == "kinetic") out.kinetic = v;
      else if (name == "jacobian") out.jacobian = v;
      else out.logp_change = v;
    }
  }
  if (unbatched) out.ys = squeeze(out.ys, 1);
  return out;
}

}  // namespace tide
