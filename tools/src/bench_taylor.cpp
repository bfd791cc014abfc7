// `tide bench taylor`: see bench_taylor.hpp. Every K is measured round-robin with f itself, so the
// ratios compare like with like; all figures are medians over --repeats samples, forward only
// (nothing recorded), f64.
#include "bench_taylor.hpp"
#include "cli_args.hpp"
#include "taylor_mlp.hpp"
#include "machine.hpp"
#include "svg_plot.hpp"
#include "timing.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace tide::cli {

namespace {

struct Row {
  int K;
  double f_us, taylor_us, rerun_us, nested_us;  // nested NaN when not timed
  double max_rel_diff;
};

double rel_diff(const Tensor& a, const Tensor& ref) {
  const double scale = tide::reduce(Op::max, tide::abs(ref), all_axes(ref.rank()), false).item();
  const double diff = tide::reduce(Op::max, tide::abs(tide::sub(a, ref)), all_axes(ref.rank()), false).item();
  return diff / std::max(scale, 1e-300);
}

std::vector<Row> measure(const TaylorSize& s, const BenchTaylorOptions& o, const TimingPlan& plan) {
  NoGrad ng;
  const MlpDynamics f(s, 7);
  Generator g(8);
  const Var z(g.uniform(Shape{s.batch, s.d}, -1.0, 1.0, DType::f64));
  const Var t(Tensor::scalar(0.5, DType::f64));
  const JetDynamics jf = [&f](const Jet& y, const Jet& tt) { return f(y, tt); };
  std::vector<Row> rows;
  for (int K = 1; K <= o.kmax; ++K) {
    const bool nested = K <= o.nested_kmax;
    // agreement first (also warms everything up)
    const Tensor inc = ode_derivative(jf, z, t, K, TaylorForm::incremental).value();
    double diff = rel_diff(ode_derivative(jf, z, t, K, TaylorForm::rerun).value(), inc);
    if (nested) diff = std::max(diff, rel_diff(ode_derivative(jf, z, t, K, TaylorForm::nested_jvp).value(), inc));
    TimedCase fc = repeated([&] { do_not_optimize(f(z, t)); });
    TimedCase tc = repeated([&] { do_not_optimize(ode_derivative(jf, z, t, K, TaylorForm::incremental)); });
    TimedCase rc = repeated([&] { do_not_optimize(ode_derivative(jf, z, t, K, TaylorForm::rerun)); });
    TimedCase nc = repeated([&] { do_not_optimize(ode_derivative(jf, z, t, K, TaylorForm::nested_jvp)); });
    std::vector<TimedCase*> cases{&fc, &tc, &rc};
    if (nested) cases.push_back(&nc);
    run_interleaved(cases, plan);
    rows.push_back({K, fc.median_seconds() * 1e6, tc.median_seconds() * 1e6, rc.median_seconds() * 1e6,
                    nested ? nc.median_seconds() * 1e6 : NAN, diff});
  }
  return rows;
}

std::vector<double> column(const std::vector<Row>& rows, double (*get)(const Row&)) {
  std::vector<double> v;
  for (const Row& r : rows) v.push_back(get(r));
  return v;
}

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json size_json(const TaylorSize& s, const std::vector<Row>& rows) {
  nlohmann::json j;
  j["name"] = s.name;
  j["d"] = s.d;
  j["h"] = s.h;
  j["layers"] = s.layers;
  j["batch"] = s.batch;
  auto arr = [&](double (*get)(const Row&)) {
    nlohmann::json a = nlohmann::json::array();
    for (const Row& r : rows) a.push_back(finite_or_null(get(r)));
    return a;
  };
  j["K"] = arr([](const Row& r) { return static_cast<double>(r.K); });
  j["f_us"] = arr([](const Row& r) { return r.f_us; });
  j["taylor_over_f"] = arr([](const Row& r) { return r.taylor_us / r.f_us; });
  j["rerun_over_f"] = arr([](const Row& r) { return r.rerun_us / r.f_us; });
  j["nested_over_f"] = arr([](const Row& r) { return r.nested_us / r.f_us; });
  j["nested_over_taylor"] = arr([](const Row& r) { return r.nested_us / r.taylor_us; });
  j["max_rel_diff"] = arr([](const Row& r) { return r.max_rel_diff; });
  j["taylor_target_met"] = arr([](const Row& r) { return r.taylor_us <= 1.2 * (r.K + 1) * r.f_us ? 1.0 : 0.0; });
  return j;
}

void print_text(const TaylorSize& s, const std::vector<Row>& rows) {
  fmt::print("\n{}: d = {}, h = {}, {} tanh layers, batch {}, f64; one f = {:.1f} us (median over K rows)\n", s.name, s.d, s.h,
             s.layers, s.batch, median(column(rows, [](const Row& r) { return r.f_us; })));
  fmt::print("  {:>2}  {:>11}  {:>11}  {:>11}  {:>13}  {:>12}  {}\n", "K", "taylor / f", "rerun / f", "nested / f", "nested/taylor",
             "max rel diff", "taylor <= 1.2(K+1) f");
  for (const Row& r : rows)
    fmt::print("  {:>2}  {:>11.2f}  {:>11.2f}  {:>11.2f}  {:>13.2f}  {:>12.1e}  {}\n", r.K, r.taylor_us / r.f_us, r.rerun_us / r.f_us,
               r.nested_us / r.f_us, r.nested_us / r.taylor_us, r.max_rel_diff,
               r.taylor_us <= 1.2 * (r.K + 1) * r.f_us ? "met" : "NOT met");
}

Plot cost_plot(const TaylorSize& s, const std::vector<Row>& rows) {
  Plot p;
  p.title = fmt::format("Cost of d^K z/dt^K, tanh MLP d={} h={} batch {} (f64)", s.d, s.h, s.batch);
  p.x_label = "order K";
  p.y_label = "time / one evaluation of f";
  p.log_y = true;
  const auto K = column(rows, [](const Row& r) { return static_cast<double>(r.K); });
  p.series.push_back({"Taylor (incremental)", K, column(rows, [](const Row& r) { return r.taylor_us / r.f_us; })});
  p.series.push_back({"Taylor (re-run)", K, column(rows, [](const Row& r) { return r.rerun_us / r.f_us; })});
  p.series.push_back({"nested JVP", K, column(rows, [](const Row& r) { return r.nested_us / r.f_us; })});
  PlotSeries target{"1.2 (K+1)", K, {}, true};
  for (double k : K) target.y.push_back(1.2 * (k + 1));
  p.series.push_back(target);
  return p;
}

}  // namespace

int run_bench_taylor(const BenchTaylorOptions& options) {
  check_output_path(options.svg);  // before the measurements, which take a while
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.02;
  std::vector<TaylorSize> sizes = options.sizes;
  if (sizes.empty()) sizes = {{"default", 64, 64, 2, 256}, {"latent-ODE", 20, 50, 2, 150}};
  const CpuInfo cpu = read_cpu_info();
  std::vector<std::vector<Row>> results;
  for (const TaylorSize& s : sizes) results.push_back(measure(s, options, plan));
  const BlasInfo blas = blas_info();
  // the figures first: a plot that cannot be written loses no results
  const auto write_plot = [&] {
    if (!options.svg.empty()) write_svg(options.svg, cost_plot(sizes[0], results[0]));
  };
  if (options.json) {
    nlohmann::json report = size_json(sizes[0], results[0]);
    report["suite"] = "taylor";
    report["sizes"] = nlohmann::json::array();
    for (std::size_t i = 0; i < sizes.size(); ++i) report["sizes"].push_back(size_json(sizes[i], results[i]));
    report["repeats"] = plan.repeats;
    report["cpu"] = cpu.model;
    report["blas"] = {{"library", blas.library}, {"core_type", blas.core_type}, {"OPENBLAS_CORETYPE", blas.coretype_env},
                      {"threads", blas.threads}};
    std::cout << report.dump(2) << std::endl;
    write_plot();
    return 0;
  }
  fmt::print("tide bench taylor: d^K z/dt^K for z' = f(z, t), time as a multiple of one f, medians of {} samples\n", plan.repeats);
  fmt::print("cpu: {}\nblas: {} (kernels {}, OPENBLAS_CORETYPE={}, {} thread{})\n", cpu.model, blas.library, blas.core_type,
             blas.coretype_env.empty() ? "unset" : blas.coretype_env, blas.threads, blas.threads == 1 ? "" : "s");
  for (std::size_t i = 0; i < sizes.size(); ++i) print_text(sizes[i], results[i]);
  fmt::print("\ntargets: taylor <= 1.2 (K+1) f for every K; nested/taylor >= 4 at K = 3 and >= 25 at K = 5; max rel diff <= 1e-10\n");
  std::fflush(stdout);
  write_plot();
  if (!options.svg.empty()) fmt::print("plot: {}\n", options.svg);
  return 0;
}

}  // namespace tide::cli
