// `tide bench solvers`: see bench_solvers.hpp. Timed figures are medians over --repeats samples,
// the cases compared with each other sampled round-robin (timing.hpp); everything is f32. Memory
// figures are the bytes tensors hold (core's memory_stats) at the peak of a solve + backward, above
// what was held before it; they are deterministic and measured once.
#include "bench_solvers.hpp"
#include "machine.hpp"
#include "timing.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

namespace tide::cli {
namespace {

Var f32_times(const std::vector<double>& t) {
  return Var(Tensor::from_vector(t, Shape{static_cast<std::int64_t>(t.size())}, DType::f32));
}
Var last_state(const Solution& s) { return select(s.ys, 0, s.ys.size(0) - 1); }

struct Figures {
  std::int64_t tiny_nfe = 0, tiny_compiled_nfe = 0;
  double tiny_us_per_nfe = NAN, tiny_grad_us_per_nfe = NAN, tiny_f_us = NAN;
  double tiny_compiled_us_per_nfe = NAN, tiny_compiled_grad_us_per_nfe = NAN;  // compile_dynamics
  double tiny_r2_grad_ms = NAN, tiny_r2_grad_compiled_ms = NAN;                // R_2 regularised, with gradient
  double mid_rk4_step_us = NAN, mid_grad_over_fwd = NAN, mid_f_us = NAN;
  double mid_rk4_step_compiled_us = NAN, mid_compiled_grad_us = NAN, mid_grad_us = NAN;
  double spiral_ms_per_iter = NAN, spiral_nfe_per_iter = NAN;
  // the tiny solve against the batch size, with the CPU allocator's cache and without it
  std::vector<std::int64_t> scaling_batch;
  std::vector<double> scaling_ms, scaling_uncached_ms, scaling_compiled_ms;
  std::int64_t adjoint_bytes_100 = 0, adjoint_bytes_10000 = 0, discrete_bytes_100 = 0, discrete_bytes_10000 = 0;
};

// MLP 4 -> 32 (softplus) -> 4 (tanh), batch 64, dopri5 at rtol = atol = 1e-6 over [0, 1]: the
// per-call overhead of the adaptive loop on a network too small to hide it.
void measure_tiny(Figures& f, const TimingPlan& plan) {
  Generator gen(1);
  const MLP mlp({4, 32, 4}, Activation::softplus, gen, {}, Activation::tanh);
  const auto dynamics = [&mlp](const Var& z, const Var&) { return mlp(z); };
  const Var y0(gen.uniform(Shape{64, 4}, -1.0, 1.0));
  const Var times = f32_times({0.0, 1.0});
  SolveOptions o;
  o.method = Method::dopri5;
  o.rtol = o.atol = 1e-6;
  std::int64_t calls = 0, recorded_calls = 0, compiled_calls = 0, compiled_recorded_calls = 0;
  const Dynamics compiled = compile_dynamics(Dynamics(dynamics));
  TimedCase forward([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) calls = solve(dynamics, y0, times, o).stats->calls;
  });
  TimedCase forward_compiled([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) compiled_calls = solve(compiled, y0, times, o).stats->calls;
  });
  TimedCase with_grad = repeated([&] {
    const Solution s = solve(dynamics, y0, times, o);
    backward(sum(square(last_state(s))));
    recorded_calls = s.stats->calls;
  });
  TimedCase with_grad_compiled = repeated([&] {
    const Solution s = solve(compiled, y0, times, o);
    backward(sum(square(last_state(s))));
    compiled_recorded_calls = s.stats->calls;
  });
  TimedCase eval([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(mlp(y0));
  });
  run_interleaved({&forward, &forward_compiled, &with_grad, &with_grad_compiled, &eval}, plan);
  // each side per its own solve's evaluations (the compiled solve may take other steps)
  f.tiny_compiled_nfe = compiled_calls;
  f.tiny_compiled_us_per_nfe = forward_compiled.median_seconds() * 1e6 / static_cast<double>(compiled_calls);
  f.tiny_compiled_grad_us_per_nfe = with_grad_compiled.median_seconds() * 1e6 / static_cast<double>(compiled_recorded_calls);
  f.tiny_nfe = calls;
  f.tiny_f_us = eval.median_seconds() * 1e6;
  f.tiny_us_per_nfe = forward.median_seconds() * 1e6 / static_cast<double>(calls);
  f.tiny_grad_us_per_nfe = with_grad.median_seconds() * 1e6 / static_cast<double>(recorded_calls);
}

// The tiny solve with TayNODE's R_2 integrand, gradient of the final state's and R_2's sums: the
// Taylor recurrences and their backward at every evaluation, eager and compiled (the regularised
// dynamics as one plan per signature: compile_dynamics.hpp).
void measure_tiny_regularised(Figures& f, const TimingPlan& plan) {
  Generator gen(1);
  const MLP mlp({4, 32, 4}, Activation::softplus, gen, {}, Activation::tanh);
  const auto dynamics = [&mlp](const auto& z, const auto&) { return apply(mlp, z); };
  const Var y0(gen.uniform(Shape{64, 4}, -1.0, 1.0));
  const Var times = f32_times({0.0, 1.0});
  SolveOptions o;
  o.method = Method::dopri5;
  o.rtol = o.atol = 1e-6;
  o.regularisers.taylor_order = 2;
  const Dynamics eager(dynamics), compiled = compile_dynamics(eager);
  auto step = [&](const Dynamics& d) {
    return repeated([&] {
      const Solution s = solve(d, y0, times, o);
      backward(sum(square(last_state(s))) + sum(s.taylor));
    });
  };
  TimedCase with_eager = step(eager), with_compiled = step(compiled);
  run_interleaved({&with_eager, &with_compiled}, plan);
  f.tiny_r2_grad_ms = with_eager.median_seconds() * 1e3;
  f.tiny_r2_grad_compiled_ms = with_compiled.median_seconds() * 1e3;
}

// The tiny solve at growing batch sizes, NoGrad, one solve per call; each batch size timed with the
// CPU caching allocator on and off in the same interleaved run (the off case returns every freed
// block to the system, as before the cache existed).
void measure_tiny_scaling(Figures& f, const TimingPlan& plan) {
  Generator gen(1);
  const MLP mlp({4, 32, 4}, Activation::softplus, gen, {}, Activation::tanh);
  const auto dynamics = [&mlp](const Var& z, const Var&) { return mlp(z); };
  const Var times = f32_times({0.0, 1.0});
  SolveOptions o;
  o.method = Method::dopri5;
  o.rtol = o.atol = 1e-6;
  const std::int64_t limit = cpu::memory_counters().cache_limit_bytes;
  for (std::int64_t B : {1, 256, 4096, 65536}) {
    const Var y0(gen.uniform(Shape{B, 4}, -1.0, 1.0));
    auto solves = [&](std::int64_t cache_limit) {
      return TimedCase([&, cache_limit](std::int64_t n) {
        cpu::set_cache_limit(cache_limit);
        NoGrad no_grad;
        for (std::int64_t i = 0; i < n; ++i) do_not_optimize(solve(dynamics, y0, times, o));
      });
    };
    TimedCase cached = solves(limit), uncached = solves(0);
    const Dynamics compiled_dynamics = compile_dynamics(Dynamics(dynamics));
    TimedCase compiled([&](std::int64_t n) {
      cpu::set_cache_limit(limit);
      NoGrad no_grad;
      for (std::int64_t i = 0; i < n; ++i) do_not_optimize(solve(compiled_dynamics, y0, times, o));
    });
    run_interleaved({&cached, &uncached, &compiled}, plan);
    f.scaling_compiled_ms.push_back(compiled.median_seconds() * 1e3);
    f.scaling_batch.push_back(B);
    f.scaling_ms.push_back(cached.median_seconds() * 1e3);
    f.scaling_uncached_ms.push_back(uncached.median_seconds() * 1e3);
  }
  cpu::set_cache_limit(limit);
}

// MLP 64 -> 64 (tanh) -> 64, batch 256, one RK4 step: where the GEMMs should dominate.
void measure_mid(Figures& f, const TimingPlan& plan) {
  Generator gen(2);
  const MLP mlp({64, 64, 64}, Activation::tanh, gen);
  const auto dynamics = [&mlp](const Var& z, const Var&) { return mlp(z); };
  const Var y0(gen.uniform(Shape{256, 64}, -1.0, 1.0));
  const Var times = f32_times({0.0, 0.1});
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = 1;
  TimedCase forward([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(solve(dynamics, y0, times, o));
  });
  TimedCase with_grad = repeated([&] { backward(sum(last_state(solve(dynamics, y0, times, o)))); });
  const Dynamics compiled = compile_dynamics(Dynamics(dynamics));
  TimedCase forward_compiled([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(solve(compiled, y0, times, o));
  });
  TimedCase with_grad_compiled = repeated([&] { backward(sum(last_state(solve(compiled, y0, times, o)))); });
  TimedCase eval([&](std::int64_t n) {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(mlp(y0));
  });
  run_interleaved({&forward, &forward_compiled, &with_grad, &with_grad_compiled, &eval}, plan);
  f.mid_rk4_step_compiled_us = forward_compiled.median_seconds() * 1e6;
  f.mid_grad_us = with_grad.median_seconds() * 1e6;
  f.mid_compiled_grad_us = with_grad_compiled.median_seconds() * 1e6;
  f.mid_f_us = eval.median_seconds() * 1e6;
  f.mid_rk4_step_us = forward.median_seconds() * 1e6;
  f.mid_grad_over_fwd = with_grad.median_seconds() / forward.median_seconds();
}

// torchdiffeq's examples/ode_demo.py: y' = y^3 A from y0 = (2, 0), 1000 points on [0, 25]; the
// model y' = MLP(y^3) is fitted on 30 consecutive points from a random start, adjoint gradient.
void measure_spiral(Figures& f, const TimingPlan& plan) {
  std::vector<double> tv(1000);
  for (std::size_t i = 0; i < tv.size(); ++i) tv[i] = 25.0 * static_cast<double>(i) / 999.0;
  const Var t = f32_times(tv);
  const Var A(Tensor::from_vector({-0.1, 2.0, -2.0, -0.1}, Shape{2, 2}));
  Var true_y;  // [1000, 1, 2]
  {
    NoGrad no_grad;
    const auto truth = [&A](const Var& y, const Var&) { return matmul(pow(y, 3.0), A); };
    true_y = solve(truth, Var(Tensor::from_vector({2.0, 0.0}, Shape{1, 2})), t).ys;
  }
  Generator gen(3);
  const MLP mlp({2, 50, 2}, Activation::tanh, gen);
  const auto dynamics = [&mlp](const Var& y, const Var&) { return mlp(pow(y, 3.0)); };
  Adam adam(mlp.parameters(), {.lr = 1e-3});
  SolveOptions o;  // dopri5, rtol 1e-7, atol 1e-9
  o.gradient = GradientKind::adjoint;
  const Var batch_t = slice(t, 0, 0, 30);
  std::vector<double> nfe;
  TimedCase iteration = repeated([&] {
    const auto s = static_cast<std::int64_t>(gen.uniform(Shape{1}, 0.0, 970.0, DType::f64).item());
    const Solution pred = solve(dynamics, select(true_y, 0, s), batch_t, o);
    const Var loss = mean(abs(pred.ys - slice(true_y, 0, s, s + 30)));
    adam.zero_grad();
    backward(loss);
    adam.step();
    nfe.push_back(static_cast<double>(pred.stats->calls + pred.stats->backward_calls));
  });
  run_interleaved({&iteration}, plan);
  f.spiral_ms_per_iter = iteration.median_seconds() * 1e3;
  f.spiral_nfe_per_iter = median(nfe);
}

// Bytes held at the peak of solve + backward (above those held before) for `steps` RK4 steps.
std::int64_t solve_peak_bytes(const Dynamics& dynamics, const Var& y0, int steps, GradientKind kind) {
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = steps;
  o.gradient = kind;
  const Var times = f32_times({0.0, 1.0});
  const std::int64_t before = memory_stats().current;
  reset_peak_memory();
  backward(sum(square(last_state(solve(dynamics, y0, times, o)))));
  return memory_stats().peak - before;
}

void measure_memory(Figures& f) {
  Generator gen(4);
  const MLP mlp({4, 32, 4}, Activation::softplus, gen, {}, Activation::tanh);
  const Dynamics dynamics = [&mlp](const Var& z, const Var&) { return mlp(z); };
  const Var y0(gen.uniform(Shape{16, 4}, -1.0, 1.0));
  solve_peak_bytes(dynamics, y0, 1, GradientKind::discrete);  // parameter gradients exist from here on
  f.adjoint_bytes_100 = solve_peak_bytes(dynamics, y0, 100, GradientKind::adjoint);
  f.adjoint_bytes_10000 = solve_peak_bytes(dynamics, y0, 10000, GradientKind::adjoint);
  f.discrete_bytes_100 = solve_peak_bytes(dynamics, y0, 100, GradientKind::discrete);
  f.discrete_bytes_10000 = solve_peak_bytes(dynamics, y0, 10000, GradientKind::discrete);
}

// One reported figure; target NaN for figures shown as context only (all targets are upper bounds).
struct Row {
  std::string key;
  double value;
  std::string unit;
  double target;
};

std::vector<Row> rows(const Figures& f) {
  const auto ratio = [](std::int64_t a, std::int64_t b) { return static_cast<double>(a) / static_cast<double>(b); };
  std::vector<Row> out{
      {"tiny_us_per_nfe", f.tiny_us_per_nfe, "us", 2.0},
      {"tiny_nfe", static_cast<double>(f.tiny_nfe), "calls", NAN},
      {"tiny_grad_us_per_nfe", f.tiny_grad_us_per_nfe, "us", NAN},
      {"tiny_f_us", f.tiny_f_us, "us", NAN},
      {"mid_rk4_step_us", f.mid_rk4_step_us, "us", 120.0},
      {"mid_rk4_step_compiled_us", f.mid_rk4_step_compiled_us, "us", NAN},
      {"mid_rk4_grad_us", f.mid_grad_us, "us", NAN},
      {"mid_rk4_grad_compiled_us", f.mid_compiled_grad_us, "us", NAN},
      {"tiny_compiled_us_per_nfe", f.tiny_compiled_us_per_nfe, "us", NAN},
      {"tiny_compiled_nfe", static_cast<double>(f.tiny_compiled_nfe), "calls", NAN},
      {"tiny_compiled_grad_us_per_nfe", f.tiny_compiled_grad_us_per_nfe, "us", NAN},
      {"tiny_r2_grad_ms", f.tiny_r2_grad_ms, "ms", NAN},
      {"tiny_r2_grad_compiled_ms", f.tiny_r2_grad_compiled_ms, "ms", NAN},
      {"mid_grad_over_fwd", f.mid_grad_over_fwd, "x", 3.0},
      {"mid_f_us", f.mid_f_us, "us", NAN},
      {"spiral_ms_per_iter", f.spiral_ms_per_iter, "ms", 2.5},
      {"spiral_nfe_per_iter", f.spiral_nfe_per_iter, "calls", NAN},
      {"adjoint_mem_ratio", ratio(f.adjoint_bytes_10000, f.adjoint_bytes_100), "x", 1.1},
      {"discrete_mem_ratio", ratio(f.discrete_bytes_10000, f.discrete_bytes_100), "x", NAN},
      {"adjoint_peak_bytes_100", static_cast<double>(f.adjoint_bytes_100), "B", NAN},
      {"adjoint_peak_bytes_10000", static_cast<double>(f.adjoint_bytes_10000), "B", NAN},
      {"discrete_peak_bytes_100", static_cast<double>(f.discrete_bytes_100), "B", NAN},
      {"discrete_peak_bytes_10000", static_cast<double>(f.discrete_bytes_10000), "B", NAN},
  };
  for (std::size_t i = 0; i < f.scaling_batch.size(); ++i) {
    out.push_back({fmt::format("tiny_B{}_ms", f.scaling_batch[i]), f.scaling_ms[i], "ms", NAN});
    out.push_back({fmt::format("tiny_B{}_uncached_ms", f.scaling_batch[i]), f.scaling_uncached_ms[i], "ms", NAN});
    out.push_back({fmt::format("tiny_B{}_compiled_ms", f.scaling_batch[i]), f.scaling_compiled_ms[i], "ms", NAN});
  }
  return out;
}

void print_json(const Figures& f, const BlasInfo& blas, const CpuInfo& cpu, const TimingPlan& plan) {
  nlohmann::json report;
  report["suite"] = "solvers";
  for (const Row& r : rows(f)) {
    const bool count = r.unit == "B" || r.unit == "calls";
    report[r.key] = count ? nlohmann::json(static_cast<std::int64_t>(r.value)) : nlohmann::json(r.value);
    if (!std::isnan(r.target)) report["targets"][r.key] = {{"at_most", r.target}, {"met", r.value <= r.target}};
  }
  report["blas"] = {{"library", blas.library}, {"core_type", blas.core_type}, {"coretype_env", blas.coretype_env},
                    {"threads", blas.threads}};
  report["cpu"] = {{"model", cpu.model}, {"avx512f", cpu.avx512f}, {"avx2", cpu.avx2}, {"fma", cpu.fma},
                   {"elementwise_clone", cpu.elementwise_clone}};
  report["dtype"] = "f32";
  report["repeats"] = plan.repeats;
  std::cout << report.dump(2) << std::endl;
}

void print_text(const Figures& f, const BlasInfo& blas, const CpuInfo& cpu, const TimingPlan& plan) {
  fmt::print("tide bench solvers: f32, median of {} samples per timed figure (each >= {:.0f} ms, after a warm-up)\n",
             plan.repeats, 1e3 * plan.min_sample_seconds);
  fmt::print("cpu   {}  (elementwise clone: {})\n", cpu.model, cpu.elementwise_clone);
  fmt::print("blas  {}\n      core type: {}, OPENBLAS_CORETYPE: {}, threads: {}\n\n", blas.library, blas.core_type,
             blas.coretype_env.empty() ? "(unset)" : blas.coretype_env, blas.threads);
  fmt::print("tiny    MLP 4-32(softplus)-4(tanh), batch 64, dopri5 rtol = atol = 1e-6 on [0, 1]; per batched call\n");
  fmt::print("tiny_r2 the tiny solve with R_2 (TayNODE), gradient of sum(ys[-1]^2) + sum(R_2) per solve\n");
  fmt::print("mid     MLP 64-64(tanh)-64, batch 256, one rk4 step; gradient of sum(ys[-1]) / NoGrad forward\n");
  fmt::print("        (*_f_us: one evaluation of the MLP alone, nothing recorded: the floor per call)\n");
  fmt::print("spiral  torchdiffeq ode_demo: MLP 2-50(tanh)-2 on y^3, 30 points, dopri5 1e-7/1e-9, adjoint, Adam;\n"
             "        forward + backward + step, NFE = forward + backward calls\n");
  fmt::print("memory  tiny MLP, batch 16, rk4 with 10000 vs 100 steps on [0, 1], solve + backward\n");
  fmt::print("tiny_B  the tiny solve at B = 1 .. 65,536, NoGrad, per solve; uncached: the CPU allocator's cache off\n\n");
  fmt::print("{:<26} {:>12} {:<6} {:<8} {}\n", "figure", "value", "unit", "target", "status");
  for (const Row& r : rows(f)) {
    const bool has_target = !std::isnan(r.target);
    fmt::print("{:<26} {:>12.{}f} {:<6} {:<8} {}\n", r.key, r.value, r.unit == "B" || r.unit == "calls" ? 0 : 2, r.unit,
               has_target ? fmt::format("<= {}", r.target) : "", has_target ? (r.value <= r.target ? "met" : "NOT met") : "");
  }
}

}  // namespace

int run_bench_solvers(const BenchSolversOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.05;
  const CpuInfo cpu = read_cpu_info();
  Figures figures;
  measure_tiny(figures, plan);
  measure_tiny_regularised(figures, plan);
  measure_tiny_scaling(figures, plan);
  measure_mid(figures, plan);
  measure_spiral(figures, plan);
  measure_memory(figures);
  const BlasInfo blas = blas_info();  // after the first op, so the engine's thread policy applies
  if (options.json) print_json(figures, blas, cpu, plan);
  else print_text(figures, blas, cpu, plan);
  return 0;
}

}  // namespace tide::cli
