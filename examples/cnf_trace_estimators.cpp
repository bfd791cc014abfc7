// The trace estimators of a continuous normalising flow side by side on one model: the exact
// trace (dims JVPs per evaluation) against Hutchinson's estimate by a JVP (TayNODE's route) and by
// a VJP (FFJORD's), with Gaussian and Rademacher noise. For each: the log-density's mean and
// standard deviation over noise draws (per example, averaged), its bias against the exact value,
// and the time of one log-density evaluation of the batch.
//
//   cnf_trace_estimators [--dims D] [--hidden H] [--batch B] [--draws N]
#include <tide/tide.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace tide;
using namespace tide::models;

namespace {

struct Args {
  std::int64_t dims = 2, hidden = 64, batch = 256;
  int draws = 50;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (v < 1) fail("{} takes a positive integer, got '{}'", k, argv[i + 1]);
    if (k == "--dims") a.dims = v;
    else if (k == "--hidden") a.hidden = v;
    else if (k == "--batch") a.batch = v;
    else if (k == "--draws") a.draws = static_cast<int>(v);
    else fail("unknown option {} (--dims, --hidden, --batch, --draws)", k);
  }
  return a;
}

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  CnfOptions o;
  o.dims = a.dims;
  o.hidden = {a.hidden, a.hidden, a.hidden};
  o.train.ode.rtol = o.train.ode.atol = 1e-6;
  o.test = o.train;
  Generator init(1), data(2);
  const Tensor x = data.normal(Shape{a.batch, a.dims}, 0.0, 1.0, DType::f64);
  NoGrad no_grad;
  const CnfModel exact(o, init);
  Tensor reference;
  const double exact_s = seconds([&] { reference = exact.log_density(Var(x)).value(); });
  const std::vector<double> ref = reference.to_vector();
  std::printf("CNF %lld-%lld-%lld-%lld-%lld (concatsquash, tanh), batch %lld, dopri5 rtol = atol = 1e-6, %d draws\n",
              static_cast<long long>(a.dims), static_cast<long long>(a.hidden), static_cast<long long>(a.hidden),
              static_cast<long long>(a.hidden), static_cast<long long>(a.dims), static_cast<long long>(a.batch), a.draws);
  std::printf("%-16s %-10s %12s %12s %12s\n", "trace", "noise", "mean |bias|", "mean std", "ms / eval");
  std::printf("%-16s %-10s %12s %12s %12.2f\n", "exact", "-", "0", "0", exact_s * 1e3);
  for (CnfTrace trace : {CnfTrace::hutchinson_jvp, CnfTrace::hutchinson_vjp})
    for (Noise noise : {Noise::gaussian, Noise::rademacher}) {
      CnfOptions h = o;
      h.test.trace = trace, h.test.noise = noise;
      Generator same(1), draws(9);
      const CnfModel est(h, same);
      std::vector<double> sum(ref.size(), 0.0), sq(ref.size(), 0.0);
      const double s = seconds([&] {
        for (int d = 0; d < a.draws; ++d) {
          const std::vector<double> v = est.log_density(Var(x), &draws).value().to_vector();
          for (std::size_t i = 0; i < v.size(); ++i) sum[i] += v[i], sq[i] += v[i] * v[i];
        }
      });
      double bias = 0, sd = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        const double m = sum[i] / a.draws;
        bias += std::abs(m - ref[i]) / static_cast<double>(ref.size());
        sd += std::sqrt(std::max(0.0, sq[i] / a.draws - m * m)) / static_cast<double>(ref.size());
      }
      std::printf("%-16s %-10s %12.4f %12.4f %12.2f\n", cnf_trace_names()[static_cast<std::size_t>(trace)].c_str(),
                  noise_name(noise), bias, sd, s / a.draws * 1e3);
    }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cnf_trace_estimators: %s\n", e.what());
  return 1;
}
