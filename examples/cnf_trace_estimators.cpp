// The trace estimators of a continuous normalising flow side by side on one model: the exact
// trace (dims JVPs per evaluation) against Hutchinson's estimate by a JVP (TayNODE's route) and by
// a VJP (FFJORD's), with Gaussian and Rademacher noise. For each: the log-density's mean and
// standard deviation over noise draws (per example, averaged), its bias against the exact value,
// and the time of one log-density evaluation of the batch: the median of several calls after one
// warm-up call (the first call also traces and compiles the plans), the same for every column.
//
//   cnf_trace_estimators [--dims D] [--hidden H] [--batch B] [--draws N] [--repeats R]
#include "cli_args.hpp"
#include <tide/tide.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace tide;
using namespace tide::models;

namespace {

struct Args {
  std::int64_t dims = 2, hidden = 64, batch = 256;
  int draws = 50, repeats = 5;
};

constexpr const char* kUsage =
    "usage: cnf_trace_estimators [--dims D] [--hidden H] [--batch B] [--draws N] [--repeats R]\n"
    "\n"
    "The exact trace of a CNF against Hutchinson's estimate by a JVP and by a VJP, Gaussian and\n"
    "Rademacher noise: the log-density's bias and spread over noise draws, and ms per evaluation\n"
    "of the batch (the median of the timed calls after one warm-up call).\n"
    "\n"
    "options:\n"
    "  --dims D     data dimension (default 2)\n"
    "  --hidden H   width of the three hidden layers (default 64)\n"
    "  --batch B    points per log-density evaluation (default 256)\n"
    "  --draws N    noise draws per estimator, each one timed (default 50)\n"
    "  --repeats R  timed calls of the exact trace (default 5)\n";

// nullopt: run; otherwise the exit status (help printed, or a usage error).
std::optional<int> parse(int argc, char** argv, Args& a) {
  const cli::Flags flags = cli::Flags("cnf_trace_estimators", kUsage)
                               .integer("--dims", std::int64_t{1}, std::int64_t{100000}, a.dims)
                               .integer("--hidden", std::int64_t{1}, std::int64_t{100000}, a.hidden)
                               .integer("--batch", std::int64_t{1}, std::int64_t{10000000}, a.batch)
                               .integer("--draws", 1, 1000000, a.draws)
                               .integer("--repeats", 1, 1000, a.repeats);
  return flags.parse(cli::Args(argv + 1, argv + argc));
}

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) try {
  Args a;
  if (const auto status = parse(argc, argv, a)) return *status;
  CnfOptions o;
  o.dims = a.dims;
  o.hidden = {a.hidden, a.hidden, a.hidden};
  o.train.ode.rtol = o.train.ode.atol = 1e-6;
  o.test = o.train;
  Generator init(1), data(2);
  const Tensor x = data.normal(Shape{a.batch, a.dims}, 0.0, 1.0, DType::f64);
  NoGrad no_grad;
  const CnfModel exact(o, init);
  const std::vector<double> ref = exact.log_density(Var(x)).value().to_vector();  // also the warm-up
  std::vector<double> exact_s;
  for (int r = 0; r < a.repeats; ++r) exact_s.push_back(seconds([&] { exact.log_density(Var(x)); }));
  std::printf("CNF %lld-%lld-%lld-%lld-%lld (concatsquash, tanh), batch %lld, dopri5 rtol = atol = 1e-6, %d draws\n",
              static_cast<long long>(a.dims), static_cast<long long>(a.hidden), static_cast<long long>(a.hidden),
              static_cast<long long>(a.hidden), static_cast<long long>(a.dims), static_cast<long long>(a.batch), a.draws);
  std::printf("%-16s %-10s %12s %12s %12s\n", "trace", "noise", "mean |bias|", "mean std", "ms / eval");
  std::printf("%-16s %-10s %12s %12s %12.2f\n", "exact", "-", "0", "0", median(exact_s) * 1e3);
  for (CnfTrace trace : {CnfTrace::hutchinson_jvp, CnfTrace::hutchinson_vjp})
    for (Noise noise : {Noise::gaussian, Noise::rademacher}) {
      CnfOptions h = o;
      h.test.trace = trace, h.test.noise = noise;
      Generator same(1), draws(9), warm_up(10);  // the warm-up's own noise leaves the draws as they were
      const CnfModel est(h, same);
      est.log_density(Var(x), &warm_up);
      std::vector<double> sum(ref.size(), 0.0), sq(ref.size(), 0.0), times;
      for (int d = 0; d < a.draws; ++d) {
        Tensor value;
        times.push_back(seconds([&] { value = est.log_density(Var(x), &draws).value(); }));
        const std::vector<double> v = value.to_vector();
        for (std::size_t i = 0; i < v.size(); ++i) sum[i] += v[i], sq[i] += v[i] * v[i];
      }
      double bias = 0, sd = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        const double m = sum[i] / a.draws;
        bias += std::abs(m - ref[i]) / static_cast<double>(ref.size());
        sd += std::sqrt(std::max(0.0, sq[i] / a.draws - m * m)) / static_cast<double>(ref.size());
      }
      std::printf("%-16s %-10s %12.4f %12.4f %12.2f\n", cnf_trace_names()[static_cast<std::size_t>(trace)].c_str(),
                  noise_name(noise), bias, sd, median(times) * 1e3);
    }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cnf_trace_estimators: %s\n", e.what());
  return 1;
}
