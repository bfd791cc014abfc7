// The per-sample integration loop (integrate.hpp). Each running sample keeps its own time, step,
// grid position and controller history; a batched step evaluates exactly the running samples, and
// samples leave the batch when they reach their last time. Outputs inside a step come from the
// stepper's dense output; they are assembled into [T, B, D] by one index_select at the end, so the
// whole solve stays one differentiable computation (discrete backprop).
#include "integrate.hpp"
#include "record_budget.hpp"
#include <algorithm>
#include <new>
#include <optional>
#include <utility>
#include <cmath>

namespace tide::detail {

namespace {

struct SampleState {
  double t = 0, h = 0, dir = 1;
  std::int64_t j = 1;              // next grid index to reach
  std::int64_t sub = 0, nsub = 1;  // fixed step: substeps done / per interval
  ControllerHistory history;
  std::int64_t steps = 0;
  bool k1_reused = false;  // the next step's first stage is this sample's last step's last stage
};

Tensor indices(const std::vector<std::int64_t>& v, Device device) {
  return Tensor::from_indices(v, Shape{static_cast<std::int64_t>(v.size())}, device);
}

Var merge_rows(const std::vector<char>& take_new, bool all, const Var& fresh, const Var& old) {
  if (all) return fresh;
  if (std::none_of(take_new.begin(), take_new.end(), [](char c) { return c != 0; })) return old;  // a retry keeps its inputs as they are
  std::vector<double> v(take_new.size());
  for (std::size_t r = 0; r < take_new.size(); ++r) v[r] = take_new[r] ? 1.0 : 0.0;
  const Tensor mask = column(v, fresh.dtype(), fresh.device()).broadcast_to(fresh.shape());
  return where(Var(mask), fresh, old);
}

// The samples still running, in batch order, and the Rows the dynamics see (every row while all
// run). Finished samples leave by compaction: the state and first stage are gathered to the rest.
class ActiveRows {
public:
  ActiveRows(std::vector<std::int64_t> samples, std::int64_t batch, Device device)
      : samples_(std::move(samples)), batch_(batch), device_(device) { update_rows(); }
  const std::vector<std::int64_t>& samples() const { return samples_; }
  const Rows& rows() const { return rows_; }
  std::size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  // keeps the rows whose `done` is false, gathering `y` and `k1` (when defined) to them
  void compact(const std::vector<char>& done, Var& y, Var& k1) {
    std::vector<std::int64_t> keep, kept;
    for (std::size_t r = 0; r < samples_.size(); ++r)
      if (!done[r]) keep.push_back(static_cast<std::int64_t>(r)), kept.push_back(samples_[r]);
    if (keep.size() == samples_.size()) return;
    if (!keep.empty()) {
      const Tensor index = indices(keep, device_);
      y = index_select(y, 0, index);
      if (k1.defined()) k1 = index_select(k1, 0, index);
    }
    samples_ = std::move(kept);
    update_rows();
  }

private:
  void update_rows() { rows_ = static_cast<std::int64_t>(samples_.size()) == batch_ ? Rows() : Rows(indices(samples_, device_)); }
  std::vector<std::int64_t> samples_;
  std::int64_t batch_;
  Device device_;
  Rows rows_;
};

// [n, D] from the rows `sub` (at positions `keep`) and the constant rows of `fill` at `other`.
Var scatter_rows(const Var& sub, const std::vector<std::int64_t>& keep, const Tensor& fill, const std::vector<std::int64_t>& other,
                 Device device) {
  std::vector<std::int64_t> order(keep.size() + other.size());
  for (std::size_t i = 0; i < keep.size(); ++i) order[static_cast<std::size_t>(keep[i])] = static_cast<std::int64_t>(i);
  for (std::size_t i = 0; i < other.size(); ++i) order[static_cast<std::size_t>(other[i])] = static_cast<std::int64_t>(keep.size() + i);
  const Var rest(index_select(fill, 0, indices(other, device)));
  const Var all = keep.empty() ? rest : other.empty() ? sub : concat({sub, rest}, 0);
  return index_select(all, 0, indices(order, device));
}

// The step each running row takes: from t by h, towards target (lands: exactly onto it).
struct Proposal {
  std::vector<double> t, h, target;
  std::vector<char> lands;
};

// Outputs that fall inside one step's accepted rows, and the rows that stop at a grid time.
struct Outputs {
  std::vector<std::int64_t> pos, flat, stop_pos, stop_sample, stop_index;
  std::vector<double> theta;
  std::vector<std::vector<double>> weights;
  bool need_f_new = false;
};

class Integrator {
public:
  Integrator(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats);
  Integration run();

private:
  StepContext context() {
    return StepContext{system_, active_.rows(), active_.samples(), stats_, plan_.count_backward, plan_.norm.atol(), plan_.norm.rtol(),
                       memory_.get()};
  }
  void choose_first_steps();
  Proposal propose();
  void plan_fixed_step(SampleState& x, std::int64_t b, std::size_t r, Proposal& p);
  std::vector<double> decide(const Var& y, const StepResult& st, const Proposal& p, std::vector<char>& accepted);
  void note_infinite_ratios(const StepResult& st, const Proposal& p, const std::vector<double>& ratio);
  void fail_if_hopeless(const StepResult& st, const Proposal& p, const std::vector<char>& rows);
  std::string zero_scale_note(std::size_t r) const;
  void restep_accepted(const Proposal& p, const std::vector<char>& accepted, StepResult& st);
  Outputs advance(const Proposal& p, const std::vector<char>& accepted, const std::vector<double>& ratio);
  void control_step(std::size_t r, const Proposal& p, bool accepted, double ratio, double ratio_power);
  bool ends_sample(std::size_t r, const Proposal& p) const;
  std::string underflow_message(std::size_t r, double ratio, double h_rejected) const;
  void place_outputs(std::size_t r, const Proposal& p, double t_new, Outputs& out);
  void keep_outputs(const Var& y, const StepResult& st, const Var& f_new, Outputs& out);
  void log_step(const Var& y, const Proposal& p, const std::vector<char>& accepted, const Outputs& out);
  bool rejected_non_finite(const std::vector<char>& accepted, const std::vector<double>& ratio) const;
  std::vector<char> finished() const;
  void note_first_stages(const std::vector<char>& rows, bool reused);
  void step_once();
  Var assemble() const;
  [[noreturn]] void fail_at(std::size_t r, const std::string& what, double h);

  System& system_;
  const Grid& grid_;
  const Plan& plan_;
  SolveStats& stats_;
  const Stepper& stepper_;
  std::unique_ptr<StepperMemory> memory_;  // what the stepper keeps between this integration's steps
  const DType dtype_;
  const Device device_;  // every tensor the loop makes lives with the state
  const bool adaptive_;
  const ErrorScale scale_;
  std::vector<SampleState> s_;
  // why each row's last error ratio was infinite (an InfiniteRatio), for the message when it fails
  std::vector<char> infinite_;
  ActiveRows active_;
  Var y_, k1_;
  std::vector<Var> pieces_;
  std::vector<std::int64_t> piece_flat_;  // (j * B + b) of each piece row, in order
  Integration result_;
};

std::vector<std::int64_t> running_samples(const Grid& grid) {
  std::vector<std::int64_t> act;
  for (std::int64_t b = 0; b < grid.B; ++b)
    if (grid.count[static_cast<std::size_t>(b)] > 1) act.push_back(b);
  return act;
}

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
double representable_step(double t, double h) {
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
// any of which ends the solve: a fixed step cannot shrink, and an unconverged stage kept as it was
// (silently, before) gave values far from the method's. A start state or f there that is not
// finite is named as such first (fail_if_hopeless): no smaller step or other method helps there.
std::vector<double> Integrator::decide(const Var& y, const StepResult& st, const Proposal& p, std::vector<char>& accepted) {
  const std::size_t n = p.t.size();
  accepted.assign(n, 1);
  if (!adaptive_) {
    const std::vector<char> finite = rows_finite(st.y_new.value());
    std::vector<char> bad(n, 0);
    for (std::size_t r = 0; r < n; ++r) bad[r] = !finite[r] || (r < st.failed.size() && st.failed[r]);
    if (std::find(bad.begin(), bad.end(), 1) != bad.end()) fail_if_hopeless(st, p, bad);
    for (std::size_t r = 0; r < st.failed.size() && r < n; ++r) {
      if (st.failed[r] == newton_diverged)
        fail_at(r, "the implicit stages' Newton iteration diverged, also when retried by full Newton (a fixed-step method "
                   "cannot shrink its step; use an adaptive method or a smaller step)" + zero_scale_note(r), p.h[r]);
      if (st.failed[r] == newton_singular)
        fail_at(r, "the implicit stages' Newton matrix I - h gamma J was singular or not finite (J = df/dz not finite at the "
                   "stage, or with an eigenvalue 1 / (h gamma)), also when retried by full Newton, so Newton's linear system has "
                   "no finite solution (a fixed-step method cannot shrink its step; use an adaptive method or another step size)", p.h[r]);
      if (st.failed[r] == newton_unconverged)
        fail_at(r, "the implicit stages' Newton iteration did not converge in newton_max_iterations, nor when retried "
                   "by full Newton (a fixed-step method cannot shrink its step, and keeps no unconverged stage: "
                   "raise newton_max_iterations, take more steps (step_size, unfolds) or use adaptive steps)" + zero_scale_note(r),
                p.h[r]);
    }
    for (std::size_t r = 0; r < n; ++r)
      if (!finite[r])
        fail_at(r, "the state became non-finite (a fixed-step method cannot shrink its step; use an adaptive method or a smaller step)", p.h[r]);
    return std::vector<double>(n, 0.0);
  }
  const std::vector<double> ratio = plan_.norm.ratios(stepper_.error(y, st, scale_), st.failed);
  for (std::size_t r = 0; r < n; ++r) accepted[r] = ratio[r] <= 1.0;
  note_infinite_ratios(st, p, ratio);
  return ratio;
}

// The first entry of row r of x that is not finite (-1: none) and its value, read only to word an error.
std::pair<std::int64_t, double> first_non_finite(const Tensor& x, std::size_t r) {
  const std::vector<double> v = x.select(0, static_cast<std::int64_t>(r)).to_vector();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return {static_cast<std::int64_t>(i), v[i]};
  return {-1, 0.0};
}

// Ends the solve at the first of `rows` (whose step failed) that no smaller step can save: its
// state where the step starts is not finite (y0, at the start), or f there is (stage 1, the same
// at every retry). Both used to end as a step size underflow after thousands of calls, or as a
// fixed step's advice to shrink it. A non-finite later stage is the step control's to reject (f
// outside its domain at a trial point); so is, for a fixed step, f at a state that earlier fixed
// steps reached (it may have blown up or left f's domain: smaller steps may help), so f is judged
// there only at the sample's start. Read only after a step failed.
void Integrator::fail_if_hopeless(const StepResult& st, const Proposal& p, const std::vector<char>& rows) {
  const std::vector<char> state = rows_finite(y_.value());
  const bool first_is_f = stepper_.first_stage_is_f() && !st.k.empty();
  const std::vector<char> stage = first_is_f ? rows_finite(st.k.front().value()) : std::vector<char>(state.size(), 1);
  for (std::size_t r = 0; r < rows.size() && r < state.size(); ++r) {
    if (!rows[r] || (state[r] && stage[r])) continue;
    const std::int64_t b = active_.samples()[r];
    const bool start = !plan_.count_backward && s_[static_cast<std::size_t>(b)].t == grid_.at(b, 0);
    if (!state[r]) {
      const auto [i, v] = first_non_finite(y_.value(), r);
      fail_at(r, start ? fmt::format("y0[{}, {}] = {} is not finite (a solve needs a finite start state)", b, i, v)
                       : fmt::format("state {} = {} is not finite where the step starts (a smaller step starts there too)", i, v),
              p.h[r]);
    }
    if (!adaptive_ && !start) continue;
    const auto [i, v] = first_non_finite(st.k.front().value(), r);
    fail_at(r, fmt::format("the dynamics returned a non-finite value at the finite state the step starts from, f(y, t)[{}, {}] = {}: "
                           "a smaller step starts there too (check the dynamics and their parameters, e.g. a weight that went NaN)", b, i, v),
            p.h[r]);
  }
}

// Why a row's error ratio is infinite, most telling last: a shared step takes the batch's worst.
enum InfiniteRatio : char { ratio_finite = 0, error_infinite = 1, newton_failed = 2, newton_matrix_singular = 3, state_non_finite = 4 };

InfiniteRatio newton_ratio(char failure) {
  return failure == newton_singular ? newton_matrix_singular : failure ? newton_failed : error_infinite;
}

void Integrator::note_infinite_ratios(const StepResult& st, const Proposal& p, const std::vector<double>& ratio) {
  // (read only for a row whose ratio is infinite: nothing to write on the usual step)
  if (std::all_of(ratio.begin(), ratio.end(), [](double x) { return std::isfinite(x); })) return;
  std::vector<char> rows(ratio.size());
  for (std::size_t r = 0; r < ratio.size(); ++r) rows[r] = !std::isfinite(ratio[r]);
  fail_if_hopeless(st, p, rows);
  infinite_.assign(ratio.size(), ratio_finite);
  // read only when a ratio is infinite: a stage that is not finite counts as the state (f(y_new) of
  // an FSAL tableau, an implicit stage whose Newton iterate left f's domain)
  std::vector<char> finite = rows_finite(st.y_new.value());
  for (const Var& k : st.k) {
    const std::vector<char> stage = rows_finite(k.value());
    for (std::size_t r = 0; r < finite.size() && r < stage.size(); ++r) finite[r] = finite[r] && stage[r];
  }
  char worst = ratio_finite;
  for (std::size_t r = 0; r < ratio.size(); ++r) {
    if (std::isfinite(ratio[r])) continue;
    infinite_[r] = !finite[r] ? state_non_finite : newton_ratio(r < st.failed.size() ? st.failed[r] : 0);
    worst = std::max(worst, infinite_[r]);
  }
  if (plan_.shared_step) infinite_.assign(ratio.size(), worst);
}

// A hint for row r when one of its states is exactly 0 with atol = 0 (rtol > 0): pure relative
// control measures it against a zero scale, where a zero error (or Newton correction) counts 0 and
// any other is infinite, so no step can change that state (empty otherwise).
std::string Integrator::zero_scale_note(std::size_t r) const {
  const std::vector<double>& atol = plan_.norm.atol();
  const std::vector<double>& rtol = plan_.norm.rtol();
  if (std::none_of(atol.begin(), atol.end(), [](double a) { return a == 0.0; })) return "";
  const std::vector<double> y = y_.value().select(0, static_cast<std::int64_t>(r)).to_vector();
  for (std::size_t i = 0; i < y.size() && i < atol.size(); ++i)
    if (y[i] == 0.0 && atol[i] == 0.0 && rtol[i] > 0.0)
      return fmt::format("; state {} is exactly 0 with atol = 0: pure relative control (rtol alone) cannot be met where it "
                         "changes from 0, give it atol > 0 (atol_per_state)", i);
  return "";
}

// Whether a rejected row's state or stages went non-finite in this step (read after
// note_infinite_ratios): a Newton failure also rejects with an infinite ratio, at a finite iterate.
bool Integrator::rejected_non_finite(const std::vector<char>& accepted, const std::vector<double>& ratio) const {
  for (std::size_t r = 0; r < accepted.size(); ++r)
    if (!accepted[r] && !std::isfinite(ratio[r]) && r < infinite_.size() && infinite_[r] == state_non_finite) return true;
  return false;
}

// A recorded step some of whose rejected rows went non-finite: even with a zero cotangent, the
// batched backward of those rows' stages gives 0 * NaN in the parameters' gradient. The accepted
// rows' step is taken again on its own (stage 1 reused), and the rejected rows of the result hold
// the previous state (and zero stages) as constants, so nothing the outputs depend on touches the
// non-finite rows. Stage 1 is f at the current state: it stays (rejected rows reuse it).
void Integrator::restep_accepted(const Proposal& p, const std::vector<char>& accepted, StepResult& st) {
  std::vector<std::int64_t> keep, other, samples;
  std::vector<double> t, h;
  for (std::size_t r = 0; r < accepted.size(); ++r) {
    (accepted[r] ? keep : other).push_back(static_cast<std::int64_t>(r));
    if (accepted[r]) samples.push_back(active_.samples()[r]), t.push_back(p.t[r]), h.push_back(p.h[r]);
  }
  StepResult sub;
  if (!keep.empty()) {
    const Tensor index = indices(keep, device_);
    const Rows rows(indices(samples, device_));
    StepContext ctx{system_, rows, samples, stats_, plan_.count_backward, plan_.norm.atol(), plan_.norm.rtol(), memory_.get()};
    const Var k1 = st.k.empty() ? Var() : index_select(st.k.front(), 0, index);
    sub = stepper_.step(ctx, index_select(y_, 0, index), k1, t, h);
  }
  st.y_new = scatter_rows(sub.y_new, keep, y_.value(), other, device_);
  for (std::size_t j = 1; j < st.k.size(); ++j)
    st.k[j] = scatter_rows(sub.k.empty() ? Var() : sub.k[j], keep, Tensor::zeros(st.k[j].shape(), dtype_, device_), other, device_);
}

// Why row r's step h_rejected, rejected with error ratio `ratio`, cannot be retried.
std::string Integrator::underflow_message(std::size_t r, double ratio, double h_rejected) const {
  const double min_step = plan_.controller.min_step();
  const std::string what = min_step > 0 && std::fabs(h_rejected) <= min_step
                               ? fmt::format("a step of min_step = {:g} or less was rejected", min_step)
                               : std::string("the step size underflowed");
  if (std::isfinite(ratio)) return what;
  switch (r < infinite_.size() ? infinite_[r] : char{state_non_finite}) {
    case newton_failed:
      return "the implicit stages' Newton iteration kept failing (the state stayed finite)" + zero_scale_note(r) + " and " + what;
    case newton_matrix_singular:
      return "the implicit stages' Newton matrix I - h gamma J was singular or not finite (J = df/dz not finite at the stage, "
             "or with an eigenvalue 1 / (h gamma)); each such step was rejected and retried smaller, and " + what;
    case error_infinite: return "the error estimate was infinite with a finite state" + zero_scale_note(r) + " and " + what;
    default: return "the state became non-finite and " + what;
  }
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

void Integrator::fail_at(std::size_t r, const std::string& what, double h) {
  const std::int64_t b = active_.samples()[r];
  const Var row = slice(y_.detach(), 0, static_cast<std::int64_t>(r), static_cast<std::int64_t>(r) + 1);
  const Rows one(indices({b}, device_));
  const double t = s_[static_cast<std::size_t>(b)].t;
  const double stiff = stiffness_estimate(system_, row, t, one, h);
  solver_failure(fmt::format("solve ({}): sample {}: {}", stepper_.name(), b, what), t, h, row.value(), stiff, stepper_.stability_limit(), stats_);
}

}  // namespace

Integration integrate(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats) {
  return Integrator(system, y0, grid, plan, stats).run();
}

}  // namespace tide::detail
