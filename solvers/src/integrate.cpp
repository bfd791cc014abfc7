// The per-sample integration loop (integrate.hpp). Each running sample keeps its own time, step,
// grid position and controller history; a batched step evaluates exactly the running samples, and
// samples leave the batch when they reach their last time. Outputs inside a step come from the
// stepper's dense output; they are assembled into [T, B, D] by one index_select at the end, so the
// whole solve stays one differentiable computation (discrete backprop).
#include "integrator.hpp"
#include "record_budget.hpp"
#include <algorithm>
#include <new>
#include <optional>
#include <utility>
#include <cmath>

namespace tide::detail::integration {

namespace {

// The rows of `fresh` where take_new is set (every row when `all`), of `old` elsewhere.
Var merge_rows(const std::vector<char>& take_new, bool all, const Var& fresh, const Var& old) {
  if (all) return fresh;
  if (std::none_of(take_new.begin(), take_new.end(), [](char c) { return c != 0; })) return old;  // a retry keeps its inputs as they are
  std::vector<double> v(take_new.size());
  for (std::size_t r = 0; r < take_new.size(); ++r) v[r] = take_new[r] ? 1.0 : 0.0;
  const Tensor mask = column(v, fresh.dtype(), fresh.device()).broadcast_to(fresh.shape());
  return where(Var(mask), fresh, old);
}

std::vector<std::int64_t> running_samples(const Grid& grid) {
  std::vector<std::int64_t> act;
  for (std::int64_t b = 0; b < grid.B; ++b)
    if (grid.count[static_cast<std::size_t>(b)] > 1) act.push_back(b);
  return act;
}

}  // namespace

Integrator::Integrator(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats)
    : system_(system), grid_(grid), plan_(plan), stats_(stats), stepper_(*plan.stepper), memory_(stepper_.make_memory()), dtype_(y0.dtype()),
      device_(y0.device()), adaptive_(plan.adaptive()), scale_(adaptive_ ? plan.norm.scale_on(device_) : ErrorScale()),
      s_(static_cast<std::size_t>(grid.B)), active_(running_samples(grid), grid.B, device_), pieces_{y0} {
  for (std::int64_t b = 0; b < grid.B; ++b) {
    SampleState& x = s_[static_cast<std::size_t>(b)];
    x.t = grid.at(b, 0);
    const std::int64_t c = grid.count[static_cast<std::size_t>(b)];
    x.dir = c > 1 && grid.at(b, c - 1) < x.t ? -1.0 : 1.0;
    piece_flat_.push_back(b);
  }
  y_ = static_cast<std::int64_t>(active_.size()) == grid.B ? y0 : index_select(y0, 0, indices(active_.samples(), device_));
}

void Integrator::choose_first_steps() {
  if (active_.empty() || !adaptive_) return;
  const std::size_t n = active_.size();
  std::vector<double> tv(n), dir(n);
  for (std::size_t r = 0; r < n; ++r) {
    const SampleState& x = s_[static_cast<std::size_t>(active_.samples()[r])];
    tv[r] = x.t, dir[r] = x.dir;
  }
  StepContext ctx = context();
  const Controller::FirstSteps first = plan_.controller.first_steps(ctx, y_, tv, dir, plan_.norm, scale_);
  for (std::size_t r = 0; r < n; ++r) s_[static_cast<std::size_t>(active_.samples()[r])].h = dir[r] * first.h[r];
  if (first.f0.defined() && stepper_.first_stage_is_f()) k1_ = first.f0;
}

void Integrator::plan_fixed_step(SampleState& x, std::int64_t b, std::size_t r, Proposal& p) {
  const double t0 = grid_.at(b, x.j - 1), t1 = grid_.at(b, x.j);
  if (x.sub == 0) x.nsub = plan_.fixed.per_interval(std::fabs(t1 - t0));
  p.target[r] = t1;
  p.lands[r] = x.sub + 1 == x.nsub;
  // substep k ends at t0 + k (t1 - t0) / n as rounded: the steps' lengths are the differences of
  // representable times, so they add up to the interval (a step below half an ulp of t is 0)
  const double end = p.lands[r] ? t1 : t0 + (t1 - t0) * static_cast<double>(x.sub + 1) / static_cast<double>(x.nsub);
  p.h[r] = end - x.t;
}

// The step that ends at the time a sample reaches, fl(t + h) - t: the state moves by exactly the
// time's advance (for steps of a few ulps of t they differ by up to half an ulp); never 0 when h
// is not (the smallest advance then), so an accepted step always moves the time.
static double representable_step(double t, double h) {
  const double advance = (t + h) - t;
  if (advance != 0.0 || h == 0.0) return advance;
  return std::nextafter(t, h > 0 ? HUGE_VAL : -HUGE_VAL) - t;
}

Proposal Integrator::propose() {
  const std::size_t n = active_.size();
  Proposal p{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n), std::vector<char>(n, 0)};
  const bool land = plan_.lands(), clip = plan_.clips();
  for (std::size_t r = 0; r < n; ++r) {
    const std::int64_t b = active_.samples()[r];
    SampleState& x = s_[static_cast<std::size_t>(b)];
    p.t[r] = x.t;
    if (!adaptive_) {
      plan_fixed_step(x, b, r, p);
      continue;
    }
    p.target[r] = land ? grid_.at(b, x.j) : grid_.at(b, grid_.count[static_cast<std::size_t>(b)] - 1);
    double h = x.dir * plan_.controller.limit(std::fabs(x.h));
    if (clip && x.dir * (x.t + h - p.target[r]) >= 0) h = p.target[r] - x.t, p.lands[r] = 1;
    p.h[r] = p.lands[r] || !plan_.representable_steps ? h : representable_step(x.t, h);
  }
  if (plan_.shared_step && adaptive_) {  // one step for the whole batch: the smallest
    double hmin = p.h[0];
    for (double h : p.h) if (std::fabs(h) < std::fabs(hmin)) hmin = h;
    for (std::size_t r = 0; r < n; ++r) p.h[r] = hmin, p.lands[r] = p.t[r] + hmin == p.target[r] || hmin == p.target[r] - p.t[r];
  }
  return p;
}

// The error ratios of an adaptive step (accept when <= 1). A fixed step is accepted unless its
// implicit stages' Newton iteration failed even on a last try by full Newton (diverged, met a
// singular or non-finite Newton matrix, or did not converge: ImplicitStages::retry_fixed) or it
// left the finite numbers,
// any of which ends the solve (check_fixed_step): a fixed step cannot shrink, and an unconverged
// stage kept as it was (silently, before) gave values far from the method's. A start state or f
// there that is not finite is named as such first (fail_if_hopeless): no smaller step or other
// method helps there.
std::vector<double> Integrator::decide(const Var& y, const StepResult& st, const Proposal& p, std::vector<char>& accepted) {
  const std::size_t n = p.t.size();
  accepted.assign(n, 1);
  if (!adaptive_) {
    check_fixed_step(st, p);
    return std::vector<double>(n, 0.0);
  }
  const std::vector<double> ratio = plan_.norm.ratios(stepper_.error(y, st, scale_), st.failed);
  for (std::size_t r = 0; r < n; ++r) accepted[r] = ratio[r] <= 1.0;
  note_infinite_ratios(st, p, ratio);
  return ratio;
}

// Statistics, the controller's next step size and the step budget of row r.
void Integrator::control_step(std::size_t r, const Proposal& p, bool accepted, double ratio, double ratio_power) {
  const std::int64_t b = active_.samples()[r];
  SampleState& x = s_[static_cast<std::size_t>(b)];
  ++x.steps;
  if (!plan_.count_backward) ++(accepted ? stats_.accepted : stats_.rejected)[static_cast<std::size_t>(b)];
  if (adaptive_) {
    double h_next = p.h[r] * plan_.controller.next_factor(ratio, ratio_power, accepted, x.history);
    if (!accepted) {
      const double retry = plan_.controller.retry(x.t, h_next, p.h[r]);
      if (retry == 0.0) fail_at(r, underflow_message(r, ratio, p.h[r]), p.h[r]);  // the step that failed, not the next one
      h_next = retry;
    }
    // a step shortened to land on a time says nothing against the longer step proposed before
    x.h = accepted && p.lands[r] ? x.dir * std::max(std::fabs(h_next), std::fabs(x.h)) : h_next;
  }
  const std::int64_t count = grid_.count[static_cast<std::size_t>(b)];
  if (x.steps >= plan_.controller.max_steps() && !(accepted && ends_sample(r, p)))
    fail_at(r, fmt::format("max_steps = {} reached before t = {}", plan_.controller.max_steps(), grid_.at(b, count - 1)), p.h[r]);
}

// Whether row r's step, accepted, ends its sample (as finished() will find): it lands on the last
// time or, without clip_to_end, steps past it. Such a step is within max_steps when it is the max_steps-th.
bool Integrator::ends_sample(std::size_t r, const Proposal& p) const {
  const std::int64_t b = active_.samples()[r];
  const SampleState& x = s_[static_cast<std::size_t>(b)];
  const std::int64_t count = grid_.count[static_cast<std::size_t>(b)];
  if (p.lands[r]) return x.j + 1 >= count;
  return adaptive_ && !plan_.clips() && x.dir * (p.t[r] + p.h[r] - grid_.at(b, count - 1)) >= 0;
}

// The grid times inside row r's accepted step (one when landing or stepping a fixed schedule).
void Integrator::place_outputs(std::size_t r, const Proposal& p, double t_new, Outputs& out) {
  const std::int64_t b = active_.samples()[r];
  SampleState& x = s_[static_cast<std::size_t>(b)];
  const std::int64_t count = grid_.count[static_cast<std::size_t>(b)];
  const bool lands = p.lands[r];
  while (x.j < count) {
    const double tj = grid_.at(b, x.j);
    const bool on_target = lands && tj == p.target[r];
    if (!(on_target || x.dir * (tj - t_new) <= 0) || (!adaptive_ && !lands)) break;
    const double theta = on_target ? 1.0 : (tj - p.t[r]) / p.h[r];
    bool f_new = false;
    out.weights.push_back(stepper_.dense_weights(theta, p.h[r], &f_new));
    out.theta.push_back(theta);
    out.need_f_new = out.need_f_new || f_new;
    out.pos.push_back(static_cast<std::int64_t>(r));
    out.flat.push_back(x.j * grid_.B + b);
    if (plan_.stop_at_times) out.stop_pos.push_back(static_cast<std::int64_t>(r)), out.stop_sample.push_back(b), out.stop_index.push_back(x.j);
    ++x.j;
    if (!adaptive_) x.sub = 0;
    if (plan_.lands() || !adaptive_) break;
  }
}

Outputs Integrator::advance(const Proposal& p, const std::vector<char>& accepted, const std::vector<double>& ratio) {
  Outputs out;
  const std::vector<double> powers = adaptive_ ? plan_.controller.ratio_powers(ratio) : std::vector<double>(ratio.size(), 1.0);
  for (std::size_t r = 0; r < p.t.size(); ++r) {
    control_step(r, p, accepted[r], ratio[r], powers[r]);
    if (!accepted[r]) continue;
    SampleState& x = s_[static_cast<std::size_t>(active_.samples()[r])];
    const double t_new = p.lands[r] ? p.target[r] : p.t[r] + p.h[r];
    if (!adaptive_) ++x.sub;
    place_outputs(r, p, t_new, out);
    x.t = t_new;
  }
  return out;
}

void Integrator::keep_outputs(const Var& y, const StepResult& st, const Var& f_new, Outputs& out) {
  if (out.pos.empty()) return;
  std::vector<Var> vecs{y, st.y_new};
  for (const Var& k : st.k) vecs.push_back(k);
  if (f_new.defined()) vecs.push_back(f_new);
  for (auto& w : out.weights) w.resize(vecs.size(), 0.0);
  pieces_.push_back(gathered_combination(vecs, out.pos, out.weights));
  piece_flat_.insert(piece_flat_.end(), out.flat.begin(), out.flat.end());
}

void Integrator::log_step(const Var& y, const Proposal& p, const std::vector<char>& accepted, const Outputs& out) {
  if (!plan_.keep_log) return;
  StepLog log;
  std::vector<std::int64_t> pos, where_in_log(p.t.size(), -1);
  for (std::size_t r = 0; r < p.t.size(); ++r) {
    if (!accepted[r]) continue;
    where_in_log[r] = static_cast<std::int64_t>(pos.size());
    pos.push_back(static_cast<std::int64_t>(r));
    log.samples.push_back(active_.samples()[r]), log.t.push_back(p.t[r]), log.h.push_back(p.h[r]);
  }
  if (pos.empty()) return;
  if (plan_.log_states) log.y = index_select(y.value(), 0, indices(pos, device_));
  const Tableau* tab = stepper_.tableau();
  if (tab && tab->reuse_last_stage) {  // the values only with the states (budgeted replays carry them)
    if (plan_.log_states && k1_.defined()) log.k1 = index_select(k1_.value(), 0, indices(pos, device_));
    for (const std::int64_t b : log.samples) log.k1_reused.push_back(k1_.defined() && s_[static_cast<std::size_t>(b)].k1_reused);
  }
  for (std::size_t q = 0; q < out.pos.size(); ++q) {
    log.out_row.push_back(where_in_log[static_cast<std::size_t>(out.pos[q])]);
    log.out_index.push_back(out.flat[q] / grid_.B);
    log.out_theta.push_back(out.theta[q]);
  }
  result_.log.push_back(std::move(log));
}

// Whether each of the `rows` samples' next first stage is its last step's last stage (the log
// keeps it for the replays of tableaus that reuse a stage other than f at the new state).
void Integrator::note_first_stages(const std::vector<char>& rows, bool reused) {
  for (std::size_t r = 0; r < rows.size(); ++r)
    if (rows[r]) s_[static_cast<std::size_t>(active_.samples()[r])].k1_reused = reused;
}

std::vector<char> Integrator::finished() const {
  const bool clip = plan_.clips();
  std::vector<char> done(active_.size());
  for (std::size_t r = 0; r < done.size(); ++r) {
    const std::int64_t b = active_.samples()[r];
    const SampleState& x = s_[static_cast<std::size_t>(b)];
    const std::int64_t count = grid_.count[static_cast<std::size_t>(b)];
    const double last = grid_.at(b, count - 1);
    done[r] = x.j >= count && (clip ? x.t == last || !adaptive_ : x.dir * (x.t - last) >= 0);
  }
  return done;
}

Integration Integrator::run() {
  choose_first_steps();
  // a recording solve (the discrete gradient) keeps every step's tape: bounded by the plan's budget
  std::optional<RecordBudget> budget;
  if (grad_enabled()) budget.emplace(plan_.max_record_bytes);
  std::int64_t steps = 0;
  try {
    for (; !active_.empty(); ++steps) {
      step_once();
      if (budget && !active_.empty() && budget->exceeded()) fail_at(0, budget->message(steps + 1, false), 0.0);
    }
  } catch (const std::bad_alloc&) {
    if (!budget) throw;
    fail("{}", budget->message(steps, true));
  }
  result_.ys = assemble();
  return std::move(result_);
}

void Integrator::step_once() {
  const Proposal p = propose();
  StepContext ctx = context();
  if (!k1_.defined() && stepper_.first_stage_is_f() && !stepper_.makes_first_stage(ctx, y_))
    k1_ = ctx.eval(y_, Var(column(p.t, dtype_, device_)));
  StepResult st = stepper_.step(ctx, y_, k1_, p.t, p.h);
  std::vector<char> accepted;
  const std::vector<double> ratio = decide(y_, st, p, accepted);
  // only a step that recorded a graph can carry NaN to a gradient; the restep's accepted rows take
  // new Newton iterations (and Jacobians), so it is not taken where it is not needed
  if (st.y_new.requires_grad() && rejected_non_finite(accepted, ratio)) restep_accepted(p, accepted, st);
  system_.after_step(st.stage_z, st.stage_t, active_.samples(), p.h, accepted);
  Outputs out = advance(p, accepted, ratio);
  bool all_accepted = true;
  for (char a : accepted) all_accepted = all_accepted && a;
  Var f_new;
  if (out.need_f_new) {
    std::vector<double> t_new(p.t.size());
    for (std::size_t r = 0; r < t_new.size(); ++r) t_new[r] = s_[static_cast<std::size_t>(active_.samples()[r])].t;
    f_new = ctx.eval(st.y_new, Var(column(t_new, dtype_, device_)));
  }
  keep_outputs(y_, st, f_new, out);
  log_step(y_, p, accepted, out);
  // the next state and first stage
  Var y_next = merge_rows(accepted, all_accepted, st.y_new, y_);
  Var k1_next;
  if (stepper_.fsal() && !st.k.empty()) k1_next = merge_rows(accepted, all_accepted, st.k.back(), k1_.defined() ? k1_ : st.k.front());
  else if (f_new.defined()) k1_next = merge_rows(accepted, all_accepted, f_new, st.k.front());
  note_first_stages(accepted, stepper_.fsal() && !st.k.empty());
  if (!out.stop_pos.empty()) {
    y_next = system_.at_stop(y_next, out.stop_pos, out.stop_sample, out.stop_index);
    k1_next = Var();
    note_first_stages(std::vector<char>(accepted.size(), 1), false);
  }
  active_.compact(finished(), y_next, k1_next);
  y_ = std::move(y_next);
  k1_ = std::move(k1_next);
}

// [T, B, D]: padded entries take the sample's last valid output.
Var Integrator::assemble() const {
  const std::int64_t B = grid_.B, T = grid_.T;
  std::vector<std::int64_t> row_of_flat(static_cast<std::size_t>(T * B), -1);
  for (std::size_t q = 0; q < piece_flat_.size(); ++q) row_of_flat[static_cast<std::size_t>(piece_flat_[q])] = static_cast<std::int64_t>(q);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t last = grid_.count[static_cast<std::size_t>(b)] - 1;
    for (std::int64_t j = last + 1; j < T; ++j) row_of_flat[static_cast<std::size_t>(j * B + b)] = row_of_flat[static_cast<std::size_t>(last * B + b)];
  }
  for ([[maybe_unused]] std::int64_t v : row_of_flat) TIDE_ASSERT(v >= 0);
  const Var all = pieces_.size() == 1 ? pieces_[0] : concat(pieces_, 0);
  return reshape(index_select(all, 0, indices(row_of_flat, device_)), Shape{T, B, pieces_[0].size(1)});
}

}  // namespace tide::detail::integration

namespace tide::detail {

Integration integrate(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats) {
  return integration::Integrator(system, y0, grid, plan, stats).run();
}

}  // namespace tide::detail
