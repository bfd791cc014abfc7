// Wall-clock timing for the `tide bench` commands (std::chrono::steady_clock). Each measured call
// is warmed up, then timed in samples that loop it long enough (tens of milliseconds) that clock
// resolution and one-off interruptions do not matter; the median sample is reported. The cases of
// one run are sampled round-robin, so figures compared with each other (engine vs direct BLAS, GEMM
// vs FMA peak) see the same machine conditions even on a shared, noisy machine.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace tide::cli {

// Keeps `value` (and what it points to) alive as far as the optimiser can tell, so a measured
// call whose result is unused is not removed.
template <class T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

struct TimingPlan {
  int repeats = 7;                    // samples per case; the median is reported
  double min_sample_seconds = 0.025;  // each sample loops the call at least this long
  double warmup_seconds = 0.01;       // untimed calls before calibration
};

// The median of `values`, NaNs (a peer that failed) left out: the mean of the two middle values
// for an even count; NaN when none is left. Every figure the benches report as a median is this.
inline double median(std::vector<double> values) {
  std::erase_if(values, [](double v) { return std::isnan(v); });
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.empty() ? NAN : values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// One measured call. `loop(n)` runs it n times; per-sample setup (a NoGrad scope, say) goes in
// there, outside the n calls.
struct TimedCase {
  TimedCase(std::function<void(std::int64_t)> loop_n_times, std::int64_t min_calls_per_sample = 1)
      : loop(std::move(loop_n_times)), min_calls(min_calls_per_sample) {}

  std::function<void(std::int64_t)> loop;
  std::int64_t min_calls = 1;          // per sample, whatever the calibration says
  std::int64_t calls_per_sample = 1;   // set by calibrate()
  std::vector<double> samples;         // seconds per call
  // Set for a case timed by someone else (a peer process): runs n calls and returns the seconds
  // per call it measured; take_sample records that instead of its own clock.
  std::function<double(std::int64_t)> self_timed;

  double median_seconds() const { return median(samples); }
};

// A case timed by its callee: `seconds_per_call(n)` runs n calls and says what they took.
inline TimedCase timed_by_callee(std::function<double(std::int64_t)> seconds_per_call) {
  TimedCase c([seconds_per_call](std::int64_t n) { seconds_per_call(n); });
  c.self_timed = std::move(seconds_per_call);
  return c;
}

// A case that calls `call()` n times.
template <class Call>
TimedCase repeated(Call call, std::int64_t min_calls = 1) {
  return TimedCase(
      [call = std::move(call)](std::int64_t n) mutable {
        for (std::int64_t i = 0; i < n; ++i) call();
      },
      min_calls);
}

inline double elapsed_seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Seconds that n calls of `c` take: the callee's own figure for a case timed by its callee (the
// length of a peer's sample is what the peer measures), else the wall clock.
inline double run_seconds(TimedCase& c, std::int64_t n) {
  if (c.self_timed) return c.self_timed(n) * static_cast<double>(n);
  const auto start = std::chrono::steady_clock::now();
  c.loop(n);
  return elapsed_seconds(start);
}

inline constexpr std::int64_t most_calls_per_run = std::int64_t{1} << 30;  // where a call that takes no time stops calibrating

// The calls that last `wanted` seconds when n calls took `seconds`, at least `fewest` (also when
// the time is not a positive number: a callee that failed).
inline std::int64_t calls_for(double wanted, double seconds, std::int64_t n, std::int64_t fewest) {
  const double calls = std::ceil(wanted * static_cast<double>(n) / seconds);
  return std::isfinite(calls) ? std::max(fewest, static_cast<std::int64_t>(std::min<double>(calls, most_calls_per_run))) : fewest;
}

// Warms the case up (caches, allocator pools, lazy initialisation, a plan traced on first use),
// then sizes its samples from runs of its own after the warm-up: runs of 1, 2, 4, ... calls until
// one lasts the warm-up's length, that run once more, and the faster of the two (a run the machine
// slowed down would size the samples short). The warm-up's own mean would count a slow first call
// and give samples far shorter than min_sample_seconds. A callee that fails (NaN) keeps min_calls.
inline void calibrate(TimedCase& c, const TimingPlan& plan) {
  const auto start = std::chrono::steady_clock::now();
  do {
    c.loop(1);
  } while (elapsed_seconds(start) < plan.warmup_seconds);
  std::int64_t n = 1;
  double seconds = run_seconds(c, n);
  while (seconds < plan.warmup_seconds && n < most_calls_per_run) {
    n *= 2;
    seconds = run_seconds(c, n);
  }
  seconds = std::min(seconds, run_seconds(c, n));
  c.calls_per_sample = calls_for(plan.min_sample_seconds, seconds, n, c.min_calls);
}

inline void take_sample(TimedCase& c) {
  if (c.self_timed) {
    c.samples.push_back(c.self_timed(c.calls_per_sample));
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  c.loop(c.calls_per_sample);
  c.samples.push_back(elapsed_seconds(start) / static_cast<double>(c.calls_per_sample));
}

// Calibrates every case, then takes plan.repeats rounds of one sample from each case in turn.
inline void run_interleaved(const std::vector<TimedCase*>& cases, const TimingPlan& plan) {
  for (TimedCase* c : cases) calibrate(*c, plan);
  for (int r = 0; r < plan.repeats; ++r)
    for (TimedCase* c : cases) take_sample(*c);
}

}  // namespace tide::cli
