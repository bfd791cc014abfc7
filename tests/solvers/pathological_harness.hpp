// The pathological-ODE suite's machinery (test_pathological.cpp holds its table and is the one
// file that includes this): the time guard, the problems with their closed forms, the expected
// outcomes and the runner that checks one (row, method, gradient kind) case against its outcome.
#pragma once
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tide {
namespace {

// ---------------------------------------------------------------------------------------------
// The time guard: a watchdog thread per case. A case that outlives its guard prints its name and
// ends the process (quick_exit, non-zero), so a hang is a failed test, never a stalled CI job.
// Guards are Release seconds, scaled up for Debug / sanitizer builds (and by TIDE_GUARD_SCALE).

double guard_scale() {
#ifdef NDEBUG
  double scale = 1.0;
#else
  double scale = 30.0;  // Debug with AddressSanitizer + UBSan runs the solver loop 10-30x slower
#endif
  if (const char* env = std::getenv("TIDE_GUARD_SCALE")) scale *= std::atof(env) > 0 ? std::atof(env) : 1.0;
  return scale;
}

class Watchdog {
public:
  Watchdog(std::string name, double seconds) : name_(std::move(name)), seconds_(seconds * guard_scale()) {
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!cv_.wait_for(lock, std::chrono::duration<double>(seconds_), [this] { return done_; })) {
        std::fprintf(stderr, "\ntest_pathological: FAILED: case '%s' exceeded its time guard of %.1f s (a hang); ending the test run\n",
                     name_.c_str(), seconds_);
        std::fflush(stderr);
        std::quick_exit(86);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::string name_;
  double seconds_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Problems: dynamics closing over a parameter p, the start state, the time grid and, where one
// exists, the closed form of the solution and of the gradients of L = sum(W * ys).

using Values = std::vector<double>;

// Which pass the dynamics are being called in (dynamics that misbehave only in the backward pass).
enum class Phase { forward, backward };
Phase g_phase = Phase::forward;

struct Problem {
  std::string name;
  std::function<Dynamics(const Var& p)> rhs;  // called once per case: stateful dynamics start fresh
  Values y0;
  Shape y0_shape;
  Values p;
  Shape p_shape;
  Values times;
  Shape times_shape;
  Values mask;                                // [B, T] per-sample grids; empty: none
  DType dtype = DType::f64;
  Values weights;                             // W [T, B, D] of the loss; empty: all ones
  std::function<Values()> exact;              // ys [T, B, D]; empty: no closed form
  std::function<Values()> exact_dy0;          // dL/dy0 [B, D]
  std::function<Values()> exact_dp;           // dL/dp
};

Var tensor(const Values& v, const Shape& s, DType dtype) { return Var(Tensor::from_vector(v, s, dtype)); }

Values linspace(double a, double b, std::int64_t n) {
  Values v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = n == 1 ? a : a + (b - a) * static_cast<double>(i) / static_cast<double>(n - 1);
  return v;
}

Var col(const Var& z, std::int64_t i) { return slice(z, 1, i, i + 1); }
Var at(const Var& p, std::int64_t i) { return slice(p, 0, i, i + 1); }
Var heaviside(const Var& x) { return (sign(x) + 1.0) * 0.5; }

// ---------------------------------------------------------------------------------------------
// Expected outcomes.

enum class Outcome {
  solves,        // ys against the closed form within atol + rtol |exact|; gradients as `grad` says
  solver_error,  // tide::SolverError whose message holds one of `phrases`
  error,         // tide::Error (not necessarily a SolverError) whose message holds one of `phrases`
  user_error,    // the dynamics' own std::runtime_error, unchanged, whose message is `phrases[0]`
};

enum class GradCheck {
  exact,   // dL/dy0 and dL/dp against the closed forms within grad_rtol (relative to their scale)
  finite,  // no closed form: finite, and the checkpointed gradient equals the discrete one (both are
           // the exact gradient of the computed solution) within grad_rtol (0: 1e-9)
  none,    // not computed (stated why at the row)
};

struct Expect {
  Outcome outcome = Outcome::solves;
  double rtol = 1e-6, atol = 1e-9;  // solves: accuracy of ys
  GradCheck grad = GradCheck::exact;
  double grad_rtol = 1e-5, grad_atol = 0.0;
  double adjoint_grad_rtol = 0.0;   // the adjoint's gradient is accurate to the tolerances (0: grad_rtol)
  // errors: the key phrase of the message (alternatives where the method decides which of two
  // honest reports comes first, e.g. an underflowing step or max_steps at a blow-up)
  std::vector<std::string> phrases;
  bool in_backward = false;         // errors: raised by backward(), the forward solve succeeds
  // more checks on a solved case (statistics) or on a SolverError (time, stiffness estimate)
  std::function<void(const Solution&)> check_solution;
  std::function<void(const SolverError&)> check_error;
};

struct Row {
  const Problem* problem;
  std::vector<Method> methods;
  std::vector<GradientKind> kinds;
  std::function<void(SolveOptions&, Method)> options;  // per-row options (steps, tolerances, max_steps)
  Expect expect;
  double guard_s = 10.0;  // Release seconds for one (method, kind) case
};

const std::vector<Method> kFixed = {Method::euler, Method::rk4};
const std::vector<Method> kAdaptive = {Method::bosh3, Method::dopri5, Method::tsit5, Method::dop853};
const std::vector<Method> kImplicit = {Method::kvaerno3};
const std::vector<GradientKind> kKinds = {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint};

std::vector<Method> operator+(std::vector<Method> a, const std::vector<Method>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::vector<Method> kExplicit = kFixed + kAdaptive;
const std::vector<Method> kAll = kFixed + kAdaptive + kImplicit;

// Fixed-step methods take `euler` / `rk4` steps per interval; adaptive ones the given tolerances
// (unfolds on an adaptive method would make it step a fixed schedule without error control).
std::function<void(SolveOptions&, Method)> steps(int euler, int rk4, double rtol = 1e-8, double atol = 1e-10,
                                                  std::int64_t max_steps = 20000) {
  return [=](SolveOptions& o, Method m) {
    if (!tableau(m).adaptive()) o.unfolds = m == Method::euler ? euler : rk4;
    o.rtol = rtol, o.atol = atol;
    o.max_steps = max_steps;
  };
}

// ---------------------------------------------------------------------------------------------
// The runner: one (row, method, kind) case.

// Every entry finite and within atol + rtol |want|; one check per comparison, naming the entry
// that is furthest outside its tolerance (a batch of 20000 would otherwise give 20000 checks).
void check_close(const char* what, const Values& got, const Values& want, double rtol, double atol) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, worst = 0;
  double worst_excess = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = atol + rtol * std::fabs(want[i]);
    const double err = std::fabs(got[i] - want[i]);
    if (std::isfinite(got[i]) && err <= tol) continue;
    const double excess = std::isfinite(err) ? err / std::max(tol, 1e-300) : INFINITY;
    if (bad++ == 0 || excess > worst_excess) worst = i, worst_excess = excess;
  }
  INFO(std::string(what) << ": " << bad << " of " << got.size() << " entries outside the tolerance; worst " << what << "[" << worst << "] = " << got[worst]
            << ", expected " << want[worst] << " (tolerance " << atol + rtol * std::fabs(want[worst]) << ")");
  CHECK(bad == 0);
}

// Gradients compared relative to the largest entry of the expected gradient (entries can be 0),
// plus an absolute floor for gradients that are exactly 0 in closed form.
void check_grad(const char* what, const Values& got, const Values& want, double rtol, double atol) {
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  check_close(what, got, want, 0.0, rtol * scale + atol);
}

// A parameter the backward pass never reached has no gradient: its gradient is 0.
Values grad_of(const Var& v) { return v.grad().defined() ? v.grad().to_vector() : Values(static_cast<std::size_t>(v.value().numel()), 0.0); }

bool holds_one_of(const std::string& what, const std::vector<std::string>& phrases) {
  for (const std::string& p : phrases)
    if (what.find(p) != std::string::npos) return true;
  return false;
}

// After any error: the library is usable (grad mode as before, a fresh solve and backward work).
void check_usable_after_error() {
  CHECK(grad_enabled());
  const Var y0 = Var::parameter(Tensor::ones(Shape{1, 1}, DType::f64));
  const Solution s = solve([](const Var& z, const Var&) { return -z; }, y0, tensor({0.0, 1.0}, Shape{2}, DType::f64));
  backward(sum(select(s.ys, 0, 1)));
  CHECK(s.ys.value().to_vector()[1] == doctest::Approx(std::exp(-1.0)).epsilon(1e-6));
  CHECK(y0.grad().to_vector()[0] == doctest::Approx(std::exp(-1.0)).epsilon(1e-6));
}

std::string case_name(const Row& row, Method m, GradientKind k) {
  return row.problem->name + " / " + method_name(m) + " / " + gradient_kind_name(k);
}

// TIDE_PATHO_VERBOSE=1 prints every case's statistics, error message and time.
bool verbose() { return std::getenv("TIDE_PATHO_VERBOSE") != nullptr; }

struct CaseResult {
  double seconds = 0;
  Values grads;  // GradCheck::finite: dL/dy0 then dL/dp
};

// Runs one case.
CaseResult run_case(const Row& row, Method m, GradientKind k) {
  CaseResult result;
  const Problem& P = *row.problem;
  const Expect& e = row.expect;
  const std::string name = case_name(row, m, k);
  INFO("case: " << name);
  const auto start = std::chrono::steady_clock::now();
  {
    Watchdog dog(name, row.guard_s);
    g_phase = Phase::forward;
    SolveOptions o;
    o.method = m;
    o.gradient = k;
    if (row.options) row.options(o, m);
    if (!P.mask.empty()) o.mask = Tensor::from_vector(P.mask, P.times_shape, DType::f64);
    const Var y0 = Var::parameter(Tensor::from_vector(P.y0, P.y0_shape, P.dtype));
    const Var p = Var::parameter(Tensor::from_vector(P.p, P.p_shape, P.dtype));
    const Var times = tensor(P.times, P.times_shape, DType::f64);
    const Dynamics f = P.rhs(p);
    auto loss = [&](const Solution& s) {
      return P.weights.empty() ? sum(s.ys) : sum(s.ys * Var(Tensor::from_vector(P.weights, s.ys.shape(), P.dtype)));
    };
    if (e.outcome == Outcome::solves) {
      const Solution s = solve(f, y0, times, o);
      const Values ys = s.ys.value().to_vector();
      const std::string summary = s.stats->summary();
      INFO(summary);
      if (verbose()) MESSAGE(name << ": " << summary);
      if (P.exact) check_close("ys", ys, P.exact(), e.rtol, e.atol);
      if (e.check_solution) e.check_solution(s);
      if (e.grad != GradCheck::none) {
        g_phase = Phase::backward;
        backward(loss(s));
        g_phase = Phase::forward;
        const Values gy = grad_of(y0), gp = grad_of(p);
        if (e.grad == GradCheck::exact) {
          const double rtol = k == GradientKind::adjoint && e.adjoint_grad_rtol > 0 ? e.adjoint_grad_rtol : e.grad_rtol;
          check_grad("dL/dy0", gy, P.exact_dy0(), rtol, e.grad_atol);
          check_grad("dL/dp", gp, P.exact_dp(), rtol, e.grad_atol);
        } else {
          for (double g : gy) CHECK(std::isfinite(g));
          for (double g : gp) CHECK(std::isfinite(g));
          result.grads = gy;
          result.grads.insert(result.grads.end(), gp.begin(), gp.end());
        }
      }
    } else {
      bool thrown = false;
      try {
        const Solution s = solve(f, y0, times, o);
        if (e.in_backward) {
          g_phase = Phase::backward;
          backward(loss(s));
        }
      } catch (const SolverError& err) {
        thrown = true;
        const std::string what = err.what();
        INFO("SolverError: " << what);
        if (verbose()) MESSAGE(name << ": SolverError: " << what);
        CHECK(e.outcome != Outcome::user_error);
        CHECK(holds_one_of(what, e.phrases));
        if (e.check_error) e.check_error(err);
      } catch (const Error& err) {
        thrown = true;
        const std::string what = err.what();
        INFO("Error: " << what);
        if (verbose()) MESSAGE(name << ": Error: " << what);
        CHECK(e.outcome == Outcome::error);
        CHECK(holds_one_of(what, e.phrases));
      } catch (const std::runtime_error& err) {
        thrown = true;
        CHECK(e.outcome == Outcome::user_error);
        CHECK(std::string(err.what()) == e.phrases.at(0));
      }
      g_phase = Phase::forward;
      if (!thrown) FAIL_CHECK("no error; expected one holding '" << e.phrases.at(0) << "'");
      check_usable_after_error();
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (verbose()) MESSAGE(name << ": " << result.seconds << " s");
  return result;
}

// Every case of the rows; TIDE_PATHO_FILTER=substring runs only the cases whose name holds it, and
// TIDE_PATHO_STRIDE=k only every k-th row (the sanitizer build in CI, where the whole table takes
// minutes; the Release build runs all of it). Prints the count, the total time and the slowest case.
void run_rows(const std::vector<Row>& rows) {
  const char* filter = std::getenv("TIDE_PATHO_FILTER");
  const char* stride_text = std::getenv("TIDE_PATHO_STRIDE");
  const std::size_t stride = stride_text ? std::max(1, std::atoi(stride_text)) : 1;
  std::size_t row_index = 0;
  std::int64_t cases = 0;
  double total = 0;
  std::vector<std::pair<double, std::string>> per_problem;  // seconds, problem name
  for (const Row& row : rows) {
    if (row_index++ % stride != 0) continue;
    for (Method m : row.methods) {
      Values discrete;  // GradCheck::finite: the discrete gradient, which the checkpointed one must equal
      for (GradientKind k : row.kinds) {
        const std::string name = case_name(row, m, k);
        if (filter && name.find(filter) == std::string::npos) continue;
        CaseResult r;
        try {
          r = run_case(row, m, k);
        } catch (const std::exception& ex) {  // an unexpected exception fails this case, not the rest
          g_phase = Phase::forward;
          const std::string what = ex.what();
          FAIL_CHECK(name << ": unexpected exception: " << what);
        }
        if (k == GradientKind::discrete) discrete = r.grads;
        if (k == GradientKind::checkpointed && !discrete.empty() && !r.grads.empty()) {
          INFO("case: " << name);
          const double rtol = row.expect.grad_rtol > 0 ? row.expect.grad_rtol : 1e-9;
          check_grad("checkpointed against discrete gradient", r.grads, discrete, rtol, 0.0);
        }
        ++cases, total += r.seconds;
        if (per_problem.empty() || per_problem.back().second != row.problem->name) per_problem.emplace_back(0.0, row.problem->name);
        per_problem.back().first += r.seconds;
      }
    }
  }
  std::sort(per_problem.begin(), per_problem.end(), std::greater<>());
  std::string slowest;
  for (std::size_t i = 0; i < per_problem.size() && i < 5; ++i) slowest += fmt::format("{}{} ({:.2f} s)", i ? ", " : "", per_problem[i].second, per_problem[i].first);
  MESSAGE(cases << " cases in " << total << " s; the slowest problems: " << slowest);
}

// ---------------------------------------------------------------------------------------------
// The problems.

// Scalar closed forms y(t; t0, y0, p) with dy/dy0 and dy/dp.
struct Scalar {
  std::function<double(double t, double t0, double y0, double p)> y, dy0, dp;
};

// B independent scalar samples (D = 1): y0 [B], p [B] (per sample, gathered by rows) or [1]
// (shared), times [T] or per sample [B, T] with `counts` valid times. Fills the closed forms of
// ys [T, B, 1] (padding repeats the last valid time) and of the gradients of L = sum(W * ys).
void scalar_closed_forms(Problem& P, const Scalar& c, const std::vector<std::int64_t>& counts = {}) {
  const std::int64_t B = static_cast<std::int64_t>(P.y0.size());
  const bool per_sample_times = P.times_shape.rank() == 2;
  const std::int64_t T = per_sample_times ? P.times_shape[1] : static_cast<std::int64_t>(P.times.size());
  const bool shared_p = P.p.size() == 1;
  const Problem* self = &P;  // the problem outlives its closed forms (kept in the table)
  auto time = [self, T, per_sample_times, counts](std::int64_t b, std::int64_t j) {
    const std::int64_t n = counts.empty() ? T : counts[static_cast<std::size_t>(b)];
    const std::int64_t jj = std::min(j, n - 1);
    return per_sample_times ? self->times[static_cast<std::size_t>(b * T + jj)] : self->times[static_cast<std::size_t>(jj)];
  };
  auto weight = [self, B](std::int64_t j, std::int64_t b) { return self->weights.empty() ? 1.0 : self->weights[static_cast<std::size_t>(j * B + b)]; };
  auto pb = [self, shared_p](std::int64_t b) { return self->p[shared_p ? 0 : static_cast<std::size_t>(b)]; };
  P.exact = [=] {
    Values v(static_cast<std::size_t>(T * B));
    for (std::int64_t j = 0; j < T; ++j)
      for (std::int64_t b = 0; b < B; ++b)
        v[static_cast<std::size_t>(j * B + b)] = c.y(time(b, j), time(b, 0), self->y0[static_cast<std::size_t>(b)], pb(b));
    return v;
  };
  P.exact_dy0 = [=] {
    Values g(static_cast<std::size_t>(B), 0.0);
    for (std::int64_t j = 0; j < T; ++j)
      for (std::int64_t b = 0; b < B; ++b)
        g[static_cast<std::size_t>(b)] += weight(j, b) * c.dy0(time(b, j), time(b, 0), self->y0[static_cast<std::size_t>(b)], pb(b));
    return g;
  };
  P.exact_dp = [=] {
    Values g(self->p.size(), 0.0);
    for (std::int64_t j = 0; j < T; ++j)
      for (std::int64_t b = 0; b < B; ++b)
        g[shared_p ? 0 : static_cast<std::size_t>(b)] += weight(j, b) * c.dp(time(b, j), time(b, 0), self->y0[static_cast<std::size_t>(b)], pb(b));
    return g;
  };
}

// y' = -p y
const Scalar kDecay{[](double t, double t0, double y0, double p) { return y0 * std::exp(-p * (t - t0)); },
                    [](double t, double t0, double, double p) { return std::exp(-p * (t - t0)); },
                    [](double t, double t0, double y0, double p) { return -(t - t0) * y0 * std::exp(-p * (t - t0)); }};
Dynamics decay(const Var& p) { return [p](const Var& z, const Var&, const Rows& rows) { return -(rows.gather(p) * z); }; }
Dynamics decay_shared(const Var& p) { return [p](const Var& z, const Var&) { return -(z * p); }; }

// y' = p y cos t
const Scalar kCos{[](double t, double t0, double y0, double p) { return y0 * std::exp(p * (std::sin(t) - std::sin(t0))); },
                  [](double t, double t0, double, double p) { return std::exp(p * (std::sin(t) - std::sin(t0))); },
                  [](double t, double t0, double y0, double p) {
                    const double s = std::sin(t) - std::sin(t0);
                    return y0 * s * std::exp(p * s);
                  }};
Dynamics cos_rhs(const Var& p) { return [p](const Var& z, const Var& t) { return z * p * cos(t); }; }

Problem scalar(std::string name, std::function<Dynamics(const Var&)> rhs, double y0, double p, Values times, DType dtype = DType::f64) {
  Problem P;
  P.name = std::move(name);
  P.rhs = std::move(rhs);
  P.y0 = {y0};
  P.y0_shape = Shape{1, 1};
  P.p = {p};
  P.p_shape = Shape{1};
  P.times_shape = Shape{static_cast<std::int64_t>(times.size())};
  P.times = std::move(times);
  P.dtype = dtype;
  return P;
}

// A dynamics call counter shared by one case's calls (each case makes fresh dynamics).
using Counter = std::shared_ptr<std::int64_t>;

// Robertson's chemical kinetics (Hairer-Wanner II, IV.10): rate constants p = (0.04, 3e7, 1e4);
// y1 + y2 + y3 is conserved, so dL/dy0 = 2 (1, 1, 1) and dL/dp = 0 for L = sum(ys) over {0, 40}.
Problem robertson(Values times) {
  Problem P;
  P.name = "robertson";
  P.rhs = [](const Var& p) {
    return [p](const Var& z, const Var&) {
      const Var y1 = col(z, 0), y2 = col(z, 1), y3 = col(z, 2);
      const Var k1 = at(p, 0), k2 = at(p, 1), k3 = at(p, 2);
      const Var a = k1 * y1, b = k3 * y2 * y3, c = k2 * y2 * y2;
      return concat({b - a, a - b - c, c}, 1);
    };
  };
  P.y0 = {1, 0, 0};
  P.y0_shape = Shape{1, 3};
  P.p = {0.04, 3e7, 1e4};
  P.p_shape = Shape{3};
  P.times_shape = Shape{static_cast<std::int64_t>(times.size())};
  P.times = std::move(times);
  // y(40), Hairer & Wanner, Solving ODEs II, section IV.10 (kvaerno3 at rtol 1e-10 agrees to 1e-10)
  P.exact = [] { return Values{1, 0, 0, 0.7158270687193992, 9.185534764529256e-6, 0.2841637457458413}; };
  P.exact_dy0 = [] { return Values{2, 2, 2}; };
  P.exact_dp = [] { return Values{0, 0, 0}; };
  return P;
}

// Van der Pol with mu = 1000 in Hairer's scaled form (t = mu tau, eps = 1 / mu^2 = 1e-6):
// y1' = y2, y2' = p ((1 - y1^2) y2 - y1) with p = 1 / eps = 1e6, on [0, 2].
Problem van_der_pol() {
  Problem P;
  P.name = "van der pol (mu = 1000)";
  P.rhs = [](const Var& p) {
    return [p](const Var& z, const Var&) {
      const Var y1 = col(z, 0), y2 = col(z, 1);
      return concat({y2, p * ((1.0 - y1 * y1) * y2 - y1)}, 1);
    };
  };
  P.y0 = {2.0, -0.66666654321121172};
  P.y0_shape = Shape{1, 2};
  P.p = {1e6};
  P.p_shape = Shape{1};
  P.times = {0.0, 2.0};
  P.times_shape = Shape{2};
  // Hairer & Wanner's reference y(2) for vdpol with eps = 1e-6 (kvaerno3 at rtol 1e-9 agrees to 4e-7)
  P.exact = [] { return Values{2.0, -0.66666654321121172, 1.706167732170483, -0.8928097010247975}; };
  return P;
}

// HIRES (Schaefer 1975; the IVP test set): 8 stiff reactions; p = 280 (the y6 y8 rate).
// y7 + y8 is conserved: L = sum over both times of (y7 + y8) has dL/dy0 = 2 (e7 + e8), dL/dp = 0.
Problem hires() {
  Problem P;
  P.name = "hires";
  P.rhs = [](const Var& p) {
    return [p](const Var& z, const Var&) {
      std::vector<Var> y;
      for (std::int64_t i = 0; i < 8; ++i) y.push_back(col(z, i));
      const Var r = p * y[5] * y[7];
      return concat({-1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007, 1.71 * y[0] - 8.75 * y[1],
                     -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4], 8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
                     -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6], -r + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
                     r - 1.81 * y[6], 1.81 * y[6] - r},
                    1);
    };
  };
  P.y0 = {1, 0, 0, 0, 0, 0, 0, 0.0057};
  P.y0_shape = Shape{1, 8};
  P.p = {280};
  P.p_shape = Shape{1};
  P.times = {0.0, 321.8122};
  P.times_shape = Shape{2};
  P.weights = {0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1};
  // y(321.8122), the IVP test set (Mazzia & Magherini; kvaerno3 at rtol 1e-10 agrees to 1e-9)
  P.exact = [] {
    return Values{1, 0, 0, 0, 0, 0, 0, 0.0057,
                  0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4, 0.1175651343283149e-2,
                  0.2386356198831331e-2, 0.6238968252742796e-2, 0.2849998395185769e-2, 0.2850001604814231e-2};
  };
  P.exact_dy0 = [] { return Values{0, 0, 0, 0, 0, 0, 2, 2}; };
  P.exact_dp = [] { return Values{0}; };
  return P;
}

}  // namespace
}  // namespace tide
