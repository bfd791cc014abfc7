// The per-sample integration loop (integrate.hpp). Each running sample keeps its own time, step,
// grid position and controller history; a batched step evaluates exactly the running samples, and
// samples leave the batch when they reach their last time. Outputs inside a step come from the
// method's dense output; they are assembled into [T, B, D] by one index_select at the end, so the
// whole solve stays one differentiable computation (discrete backprop).
#include "combine.hpp"
#include "integrate.hpp"
#include <cmath>

namespace tide::detail {

namespace {

struct SampleState {
  double t = 0, h = 0, dir = 1;
  std::int64_t j = 1;          // next grid index to reach
  std::int64_t sub = 0, nsub = 1;  // fixed step: substeps done / per interval
  double r1 = 1, r2 = 1;       // previous accepted error ratios
  bool rejected_last = false;
  std::int64_t steps = 0;
};

double controller_factor(const StepController& c, double ratio, const SampleState& s, bool accepted, double k) {
  double f;
  if (ratio == 0.0) f = c.factor_max;
  else if (!std::isfinite(ratio)) f = c.factor_min;
  else f = c.safety * std::pow(ratio, -c.b1 / k) * std::pow(s.r1, -c.b2 / k) * std::pow(s.r2, -c.b3 / k);
  f = std::min(c.factor_max, std::max(c.factor_min, f));
  if (!accepted) f = std::min(f, 1.0);
  if (accepted && s.rejected_last && c.hold_after_reject) f = std::min(f, 1.0);
  if (accepted && c.never_shrink_accepted) f = std::max(f, 1.0);
  return f;
}

Tensor row_mask(const std::vector<char>& keep, std::int64_t d, DType dtype, Device device) {
  std::vector<double> v(keep.size());
  for (std::size_t r = 0; r < keep.size(); ++r) v[r] = keep[r] ? 1.0 : 0.0;
  return column(v, dtype, device).broadcast_to(Shape{static_cast<std::int64_t>(v.size()), d});
}

Var merge_rows(const std::vector<char>& take_new, bool all, const Var& fresh, const Var& old) {
  if (all) return fresh;
  return where(Var(row_mask(take_new, fresh.size(1), fresh.dtype(), fresh.device())), fresh, old);
}

Tensor indices(const std::vector<std::int64_t>& v, Device device) {
  return Tensor::from_indices(v, Shape{static_cast<std::int64_t>(v.size())}, device);
}

Rows rows_of(const std::vector<std::int64_t>& act, std::int64_t B, Device device) {
  if (static_cast<std::int64_t>(act.size()) == B) return Rows();
  return Rows(indices(act, device));
}

double combined(const std::vector<double>& v, bool max_norm) {
  double acc = 0.0;
  for (double x : v) acc = max_norm ? std::max(acc, x) : acc + x * x;
  return max_norm ? acc : std::sqrt(acc / static_cast<double>(std::max<std::size_t>(v.size(), 1)));
}

}  // namespace

Integration integrate(System& system, const Var& y0, const Grid& grid, const Config& config, SolveStats& stats) {
  const std::int64_t B = grid.B, T = grid.T, D = y0.size(1);
  const DType dtype = y0.dtype();
  const Device device = y0.device();  // every tensor the loop makes lives with the state
  const SolveOptions& o = config.options;
  const Tableau* tab = config.tableau;
  // an embedded pair given a step size or unfold count runs as a fixed-step method
  const bool adaptive = tab && tab->adaptive() && o.step_size == 0 && o.unfolds == 0;
  const bool max_norm = o.norm == NormKind::max;
  const double k_exp = adaptive ? std::min(tab->order, tab->error_order) + 1.0 : 1.0;
  const bool shared = !o.per_sample;
  // Methods of order 4 and above without their own interpolant (fehlberg45, dop853: cubic Hermite
  // only) land on every output time instead of interpolating below their order.
  const bool land = config.stop_at_times || (adaptive && tab->interp.empty() && tab->order > 3);
  const bool clip = o.clip_to_end || land;
  // the error control's per-state scales, on the device once per integration
  const ErrorScale scale = adaptive ? error_scale(config.atol_d, config.rtol_d, config.controlled, device) : ErrorScale();

  Integration result;
  std::vector<SampleState> s(static_cast<std::size_t>(B));
  std::vector<Var> pieces{y0};
  std::vector<std::int64_t> piece_flat;  // (j * B + b) of each piece row, in order
  std::vector<std::int64_t> act;
  for (std::int64_t b = 0; b < B; ++b) {
    SampleState& x = s[static_cast<std::size_t>(b)];
    x.t = grid.at(b, 0);
    const std::int64_t c = grid.count[static_cast<std::size_t>(b)];
    x.dir = c > 1 && grid.at(b, c - 1) < x.t ? -1.0 : 1.0;
    piece_flat.push_back(b);
    if (c > 1) act.push_back(b);
  }
  Var y = static_cast<std::int64_t>(act.size()) == B ? y0 : index_select(y0, 0, indices(act, device));
  Var k1;

  auto fail_at = [&](std::size_t r, const std::string& what, double h) {
    const std::int64_t b = act[r];
    const Var row = slice(y.detach(), 0, static_cast<std::int64_t>(r), static_cast<std::int64_t>(r) + 1);
    const Rows one(indices({b}, device));
    const double stiff = stiffness_estimate(system, row, s[static_cast<std::size_t>(b)].t, one, h);
    solver_failure(fmt::format("solve ({}): sample {}: {}", method_name(config.method), b, what), s[static_cast<std::size_t>(b)].t, h,
                   row.value(), stiff, stats);
  };

  // initial step sizes (Hairer, Norsett & Wanner II.4; torchdiffeq's _select_initial_step)
  if (!act.empty()) {
    const std::size_t n = act.size();
    std::vector<double> tv(n);
    for (std::size_t r = 0; r < n; ++r) tv[r] = s[static_cast<std::size_t>(act[r])].t;
    const Rows rows = rows_of(act, B, device);
    if (adaptive && o.first_step <= 0) {
      const bool recorded = grad_enabled();
      NoGrad no_grad;
      const Tensor yv = y.value();
      const Tensor f0 = system.eval(y.detach(), Var(column(tv, dtype, device)), rows).value();
      count_eval(stats, config, act);
      std::vector<double> d0 = row_norm(yv, yv, scale, max_norm);
      std::vector<double> d1 = row_norm(f0, yv, scale, max_norm);
      if (shared) d0.assign(n, combined(d0, max_norm)), d1.assign(n, combined(d1, max_norm));
      std::vector<double> h0(n), t1(n), hd(n);
      for (std::size_t r = 0; r < n; ++r) {
        h0[r] = d0[r] < 1e-5 || d1[r] < 1e-5 ? 1e-6 : 0.01 * d0[r] / d1[r];
        hd[r] = s[static_cast<std::size_t>(act[r])].dir * h0[r];
        t1[r] = tv[r] + hd[r];
      }
      const Tensor y1 = row_combination(Var(yv), row_vector(hd, dtype, device), {1.0}, {Var(f0)}).value();
      const Tensor f1 = system.eval(Var(y1), Var(column(t1, dtype, device)), rows).value();
      count_eval(stats, config, act);
      std::vector<double> d2 = row_norm(sub(f1, f0), yv, scale, max_norm);
      if (shared) d2.assign(n, combined(d2, max_norm));
      for (std::size_t r = 0; r < n; ++r) {
        const double dd = std::max(d1[r], d2[r] / h0[r]);
        const double h1 = dd <= 1e-15 ? std::max(1e-6, h0[r] * 1e-3) : std::pow(0.01 / dd, 1.0 / (tab->error_order + 1.0));
        double h = std::min(100 * h0[r], h1);
        if (!std::isfinite(h)) h = 1e-6;
        s[static_cast<std::size_t>(act[r])].h = s[static_cast<std::size_t>(act[r])].dir * std::min(h, o.max_step);
      }
      k1 = Var(f0);
      if (recorded) k1 = Var();  // recorded solves evaluate stage 1 again, on the recorded state
    } else if (adaptive) {
      for (std::int64_t b : act) s[static_cast<std::size_t>(b)].h = s[static_cast<std::size_t>(b)].dir * std::min(o.first_step, o.max_step);
    }
  }

  while (!act.empty()) {
    const std::size_t n = act.size();
    const Rows rows = rows_of(act, B, device);
    std::vector<double> tv(n), hv(n), target(n);
    std::vector<char> lands(n, 0);
    for (std::size_t r = 0; r < n; ++r) {
      SampleState& x = s[static_cast<std::size_t>(act[r])];
      const std::int64_t b = act[r], last = grid.count[static_cast<std::size_t>(b)] - 1;
      tv[r] = x.t;
      if (!adaptive) {
        const double t0 = grid.at(b, x.j - 1), t1 = grid.at(b, x.j);
        if (x.sub == 0) {
          x.nsub = o.unfolds > 0 ? o.unfolds
                   : o.step_size > 0 ? std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(std::fabs(t1 - t0) / o.step_size - 1e-9)))
                                     : 1;
        }
        hv[r] = (t1 - t0) / static_cast<double>(x.nsub);
        target[r] = t1;
        lands[r] = x.sub + 1 == x.nsub;
        if (lands[r]) hv[r] = t1 - x.t;
      } else {
        target[r] = land ? grid.at(b, x.j) : grid.at(b, last);
        double h = x.dir * std::min(std::fabs(x.h), o.max_step);
        if (clip && x.dir * (x.t + h - target[r]) >= 0) h = target[r] - x.t, lands[r] = 1;
        hv[r] = h;
      }
    }
    if (shared && adaptive) {  // one step for the whole batch: the smallest
      double hmin = hv[0];
      for (double h : hv) if (std::fabs(h) < std::fabs(hmin)) hmin = h;
      for (std::size_t r = 0; r < n; ++r) hv[r] = hmin, lands[r] = tv[r] + hmin == target[r] || hmin == target[r] - tv[r];
    }
    if (!k1.defined() && tab && tab->a[0][0] == 0.0) {
      k1 = system.eval(y, Var(column(tv, dtype, device)), rows);
      count_eval(stats, config, act);
    }
    StepResult st = take_step(system, config, y, k1, tv, hv, rows, stats, act);

    // accept / reject
    std::vector<char> accepted(n, 1);
    std::vector<double> ratio(n, 0.0);
    if (adaptive) {
      std::vector<Tensor> kv;
      for (const Var& kk : st.k) kv.push_back(kk.value());
      const RowError re = row_error(y.value(), st.y_new.value(), kv, tab->e, tab->e3, st.h, scale);
      const double cnt = static_cast<double>(std::max<std::int64_t>(re.count, 1));
      auto dop853 = [&](double s5, double s3) { const double den = s5 + 0.01 * s3; return den > 0 ? s5 / std::sqrt(cnt * den) : 0.0; };
      for (std::size_t r = 0; r < n; ++r) {
        ratio[r] = max_norm ? re.maximum[r] : !tab->e3.empty() ? dop853(re.sumsq[r], re.sumsq3[r]) : std::sqrt(re.sumsq[r] / cnt);
        if (st.failed[r]) ratio[r] = INFINITY;
      }
      if (shared) {
        double s5 = 0, s3 = 0, mx = 0;
        bool bad = false;
        for (std::size_t r = 0; r < n; ++r) s5 += re.sumsq[r], s3 += re.sumsq3[r], mx = std::max(mx, re.maximum[r]), bad = bad || st.failed[r];
        double all = max_norm ? mx : !tab->e3.empty() ? dop853(s5, s3) / std::sqrt(static_cast<double>(n)) : std::sqrt(s5 / (cnt * static_cast<double>(n)));
        if (bad) all = INFINITY;
        ratio.assign(n, all);
      }
      for (std::size_t r = 0; r < n; ++r) accepted[r] = ratio[r] <= 1.0;
    } else {
      const std::vector<char> finite = rows_finite(st.y_new.value());
      for (std::size_t r = 0; r < n; ++r)
        if (!finite[r]) fail_at(r, "the state became non-finite (a fixed-step method cannot shrink its step; use an adaptive method or a smaller step)", hv[r]);
    }
    system.after_step(st.stage_z, st.stage_t, act, hv, accepted);

    // outputs inside accepted steps, step-size updates and statistics
    std::vector<std::int64_t> out_pos, out_flat, stop_pos, stop_sample, stop_index;
    std::vector<double> out_theta;
    std::vector<std::vector<double>> weights;
    bool need_f_new = false;
    std::vector<double> t_new(n);
    bool all_accepted = true;
    for (std::size_t r = 0; r < n; ++r) {
      const std::int64_t b = act[r];
      SampleState& x = s[static_cast<std::size_t>(b)];
      ++x.steps;
      all_accepted = all_accepted && accepted[r];
      if (!config.count_backward) ++(accepted[r] ? stats.accepted : stats.rejected)[static_cast<std::size_t>(b)];
      if (adaptive) {
        const double f = controller_factor(o.controller, ratio[r], x, accepted[r], k_exp);
        if (accepted[r]) x.r2 = x.r1, x.r1 = std::max(ratio[r], 1e-10);
        x.rejected_last = !accepted[r];
        const double h_next = hv[r] * f;
        if (!accepted[r] && (std::fabs(h_next) <= o.min_step || x.t + h_next == x.t || std::fabs(h_next) < 1e-14 * std::max(1.0, std::fabs(x.t))))
          fail_at(r, std::isfinite(ratio[r]) ? "the step size underflowed" : "the state became non-finite and the step size underflowed", h_next);
        // a step shortened to land on a time says nothing against the longer step proposed before
        x.h = accepted[r] && lands[r] ? x.dir * std::max(std::fabs(h_next), std::fabs(x.h)) : h_next;
      }
      if (x.steps >= o.max_steps && !(accepted[r] && lands[r] && x.j + 1 >= grid.count[static_cast<std::size_t>(b)]))
        fail_at(r, fmt::format("max_steps = {} reached before t = {}", o.max_steps, grid.at(b, grid.count[static_cast<std::size_t>(b)] - 1)), hv[r]);
      if (!accepted[r]) continue;
      t_new[r] = lands[r] ? target[r] : tv[r] + hv[r];
      if (!adaptive) ++x.sub;
      const std::int64_t count = grid.count[static_cast<std::size_t>(b)];
      while (x.j < count) {
        const double tj = grid.at(b, x.j);
        const bool inside = lands[r] && tj == target[r] ? true : x.dir * (tj - t_new[r]) <= 0;
        if (!inside || (!adaptive && !lands[r])) break;
        const double theta = lands[r] && tj == target[r] ? 1.0 : (tj - tv[r]) / hv[r];
        bool f_new = false;
        weights.push_back(tab ? dense_weights(config, theta, hv[r], &f_new) : std::vector<double>{0, 1});
        out_theta.push_back(theta);
        need_f_new = need_f_new || f_new;
        out_pos.push_back(static_cast<std::int64_t>(r));
        out_flat.push_back(x.j * B + b);
        if (config.stop_at_times) stop_pos.push_back(static_cast<std::int64_t>(r)), stop_sample.push_back(b), stop_index.push_back(x.j);
        ++x.j;
        if (!adaptive) x.sub = 0;
        if (land || !adaptive) break;
      }
      x.t = t_new[r];
    }
    Var f_new;
    if (need_f_new) {
      f_new = system.eval(st.y_new, Var(column(t_new, dtype, device)), rows);
      count_eval(stats, config, act);
    }
    if (!out_pos.empty()) {
      std::vector<Var> vecs{y, st.y_new};
      if (tab) for (const Var& kk : st.k) vecs.push_back(kk);
      if (need_f_new) vecs.push_back(f_new);
      for (auto& w : weights) w.resize(vecs.size(), 0.0);
      pieces.push_back(gathered_combination(vecs, out_pos, weights));
      piece_flat.insert(piece_flat.end(), out_flat.begin(), out_flat.end());
    }
    if (config.keep_log) {
      StepLog log;
      std::vector<std::int64_t> pos, where_in_log(n, -1);
      for (std::size_t r = 0; r < n; ++r)
        if (accepted[r]) where_in_log[r] = static_cast<std::int64_t>(pos.size()), pos.push_back(static_cast<std::int64_t>(r)), log.samples.push_back(act[r]), log.t.push_back(tv[r]), log.h.push_back(hv[r]);
      if (!pos.empty()) {
        if (config.log_states) log.y = index_select(y.value(), 0, indices(pos, device));
        for (std::size_t q = 0; q < out_pos.size(); ++q) {
          log.out_row.push_back(where_in_log[static_cast<std::size_t>(out_pos[q])]);
          log.out_index.push_back(out_flat[q] / B);
          log.out_theta.push_back(out_theta[q]);
        }
        result.log.push_back(std::move(log));
      }
    }
    // the next state and first stage
    Var y_next = merge_rows(accepted, all_accepted, st.y_new, y);
    Var k1_next;
    if (tab && tab->fsal && !st.k.empty()) k1_next = merge_rows(accepted, all_accepted, st.k.back(), k1.defined() ? k1 : st.k.front());
    else if (need_f_new) k1_next = merge_rows(accepted, all_accepted, f_new, st.k.front());
    else if (tab && !all_accepted) k1_next = Var();  // recomputed for all rows
    if (!stop_pos.empty()) {
      y_next = system.at_stop(y_next, stop_pos, stop_sample, stop_index);
      k1_next = Var();
    }
    // samples that reached their last time leave the batch
    std::vector<std::int64_t> keep, kept_samples;
    for (std::size_t r = 0; r < n; ++r) {
      const std::int64_t b = act[r];
      const SampleState& x = s[static_cast<std::size_t>(b)];
      const std::int64_t count = grid.count[static_cast<std::size_t>(b)];
      const bool done = x.j >= count && (clip ? x.t == grid.at(b, count - 1) || !adaptive : x.dir * (x.t - grid.at(b, count - 1)) >= 0);
      if (!done) keep.push_back(static_cast<std::int64_t>(r)), kept_samples.push_back(b);
    }
    if (keep.size() != n) {
      const Tensor index = indices(keep, device);
      if (!keep.empty()) {
        y_next = index_select(y_next, 0, index);
        if (k1_next.defined()) k1_next = index_select(k1_next, 0, index);
      }
      act = std::move(kept_samples);
    }
    y = std::move(y_next);
    k1 = std::move(k1_next);
  }

  // assemble [T, B, D]: padded entries take the sample's last valid output
  std::vector<std::int64_t> row_of_flat(static_cast<std::size_t>(T * B), -1);
  for (std::size_t q = 0; q < piece_flat.size(); ++q) row_of_flat[static_cast<std::size_t>(piece_flat[q])] = static_cast<std::int64_t>(q);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t last = grid.count[static_cast<std::size_t>(b)] - 1;
    for (std::int64_t j = last + 1; j < T; ++j) row_of_flat[static_cast<std::size_t>(j * B + b)] = row_of_flat[static_cast<std::size_t>(last * B + b)];
  }
  for ([[maybe_unused]] std::int64_t v : row_of_flat) TIDE_ASSERT(v >= 0);
  const Var all = pieces.size() == 1 ? pieces[0] : concat(pieces, 0);
  result.ys = reshape(index_select(all, 0, indices(row_of_flat, device)), Shape{T, B, D});
  return result;
}

}  // namespace tide::detail
