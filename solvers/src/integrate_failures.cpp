// Why an integration step failed (integrator.hpp): the rows no smaller step can save, why a
// row's error ratio is infinite, the accepted rows of a step retaken apart from rows that went
// non-finite, and the messages that end a solve.
#include "integrator.hpp"
#include <algorithm>
#include <cmath>

namespace tide::detail::integration {

namespace {

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

// The first entry of row r of x that is not finite (-1: none) and its value, read only to word an error.
std::pair<std::int64_t, double> first_non_finite(const Tensor& x, std::size_t r) {
  const std::vector<double> v = x.select(0, static_cast<std::int64_t>(r)).to_vector();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return {static_cast<std::int64_t>(i), v[i]};
  return {-1, 0.0};
}

InfiniteRatio newton_ratio(char failure) {
  return failure == newton_singular ? newton_matrix_singular : failure ? newton_failed : error_infinite;
}

}  // namespace

// Ends the solve at a fixed step whose implicit stages' Newton iteration failed even on its last
// try by full Newton (ImplicitStages::retry_fixed), or that left the finite numbers.
void Integrator::check_fixed_step(const StepResult& st, const Proposal& p) {
  const std::size_t n = p.t.size();
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

void Integrator::fail_at(std::size_t r, const std::string& what, double h) {
  const std::int64_t b = active_.samples()[r];
  const Var row = slice(y_.detach(), 0, static_cast<std::int64_t>(r), static_cast<std::int64_t>(r) + 1);
  const Rows one(indices({b}, device_));
  const double t = s_[static_cast<std::size_t>(b)].t;
  const double stiff = stiffness_estimate(system_, row, t, one, h);
  solver_failure(fmt::format("solve ({}): sample {}: {}", stepper_.name(), b, what), t, h, row.value(), stiff, stepper_.stability_limit(), stats_);
}

}  // namespace tide::detail::integration
