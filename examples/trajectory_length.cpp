// The LTC paper's trajectory-length study (section "Measuring expressivity by trajectory length"):
// neural ODE, CT-RNN and LTC networks with one shared f(x, I) = act(x W + I U + b), weights
// ~ N(0, sigma_w^2 / k) (k = fan-in), biases ~ N(0, sigma_b^2), are driven by the circular input
// I(t) = (sin t, cos t), t in [0, 2 pi], from x(0) = 0 and solved with dopri5 (rtol 1e-6). The
// hidden states at 1,000 times are projected on their first two principal components and the arc
// length of that 2-D curve is the trajectory length.
//   neural ODE  dx/dt = f(x, I)
//   CT-RNN      dx/dt = -x / tau + f(x, I)                 tau = 1
//   LTC         dx/dt = -(1 / tau + f(x, I)) x + f(x, I) A  tau = 1, A ~ N(0, 1)
// Prints a Markdown table: mean (std) over 5 seeds per activation, width and sigma_w, with the
// variance the two components explain.
// Usage: trajectory_length [--quick] [--lap N]
//   --quick  one configuration, 2 seeds
//   --lap N  measure on the N-th lap of the circle, t in [2 pi (N - 1), 2 pi N] (default 1: the
//            paper's protocol; 2 leaves out the transient from x(0) = 0)
#include "cli_args.hpp"
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>

using namespace tide;

namespace {

struct Net {
  Var w, u, b, a;  // [N, N], [2, N], [N], [N]
  Op act;
};

Net make_net(std::int64_t n, double sigma_w, double sigma_b, Op act, std::uint64_t seed) {
  Generator gen(seed);
  const double k = static_cast<double>(n + 2);
  return {Var(gen.normal(Shape{n, n}, 0, sigma_w / std::sqrt(k), DType::f64)),
          Var(gen.normal(Shape{2, n}, 0, sigma_w / std::sqrt(k), DType::f64)),
          Var(gen.normal(Shape{n}, 0, sigma_b, DType::f64)), Var(gen.normal(Shape{n}, 0, 1, DType::f64)), act};
}

// Hidden states [K, N] of one model at K times in [0, 2 pi].
std::vector<double> trajectory(const Net& net, const std::string& model, std::int64_t n, std::int64_t K, int lap) {
  auto dynamics = [&](const Var& x, const Var& t) {
    const Var input = concat({reshape(sin(t), Shape{1, 1}), reshape(cos(t), Shape{1, 1})}, 1);
    const Var f = unary(net.act, matmul(x, net.w) + matmul(input, net.u) + net.b);
    if (model == "neural ODE") return f;
    if (model == "CT-RNN") return f - x;
    return f * net.a - (f + 1.0) * x;  // LTC
  };
  // K samples on the requested lap (and, before a later lap, one time at 0 to start from x(0) = 0).
  std::vector<double> times;
  if (lap > 1) times.push_back(0.0);
  for (std::int64_t i = 0; i < K; ++i)
    times.push_back(2 * std::numbers::pi * (lap - 1 + static_cast<double>(i) / static_cast<double>(K - 1)));
  const std::int64_t T = static_cast<std::int64_t>(times.size());
  SolveOptions options;
  options.rtol = 1e-6, options.atol = 1e-8;
  NoGrad ng;
  const Solution s = solve(dynamics, Var(Tensor::zeros(Shape{1, n}, DType::f64)),
                           Var(Tensor::from_vector(times, Shape{T}, DType::f64)), options);
  std::vector<double> ys = s.ys.value().to_vector();  // [T, 1, N]
  ys.erase(ys.begin(), ys.begin() + (T - K) * n);     // the lap's K samples
  return ys;
}

// Arc length of the projection on the first two principal components, and the variance they explain.
std::pair<double, double> pca_arc_length(std::vector<double> x, std::int64_t K, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) {
    double m = 0;
    for (std::int64_t i = 0; i < K; ++i) m += x[i * n + j];
    m /= static_cast<double>(K);
    for (std::int64_t i = 0; i < K; ++i) x[i * n + j] -= m;
  }
  std::vector<double> c(n * n, 0.0);
  for (std::int64_t i = 0; i < K; ++i)
    for (std::int64_t p = 0; p < n; ++p)
      for (std::int64_t q = 0; q < n; ++q) c[p * n + q] += x[i * n + p] * x[i * n + q];
  double trace = 0;
  for (std::int64_t p = 0; p < n; ++p) trace += c[p * n + p];
  std::vector<std::vector<double>> comps;
  double explained = 0;
  for (int comp = 0; comp < 2; ++comp) {  // power iteration with deflation
    std::vector<double> v(n, 1.0 / std::sqrt(static_cast<double>(n))), next(n);
    v[comp % n] += 0.5;
    double lambda = 0;
    for (int it = 0; it < 2000; ++it) {
      for (std::int64_t p = 0; p < n; ++p) {
        double s = 0;
        for (std::int64_t q = 0; q < n; ++q) s += c[p * n + q] * v[q];
        next[p] = s;
      }
      for (const auto& u : comps) {
        double d = 0;
        for (std::int64_t p = 0; p < n; ++p) d += next[p] * u[p];
        for (std::int64_t p = 0; p < n; ++p) next[p] -= d * u[p];
      }
      double norm = 0;
      for (double e : next) norm += e * e;
      norm = std::sqrt(norm);
      if (norm == 0) break;
      double change = 0;
      for (std::int64_t p = 0; p < n; ++p) change += std::abs(next[p] / norm - v[p]), v[p] = next[p] / norm;
      lambda = norm;
      if (change < 1e-13) break;
    }
    explained += lambda;
    comps.push_back(v);
  }
  double length = 0, px = 0, py = 0;
  for (std::int64_t i = 0; i < K; ++i) {
    double a = 0, b = 0;
    for (std::int64_t p = 0; p < n; ++p) a += x[i * n + p] * comps[0][p], b += x[i * n + p] * comps[1][p];
    if (i > 0) length += std::hypot(a - px, b - py);
    px = a, py = b;
  }
  return {length, trace > 0 ? explained / trace : 1.0};
}

constexpr const char* kUsage =
    "usage: trajectory_length [--quick] [--lap N]\n"
    "\n"
    "The LTC paper's trajectory-length study: neural ODE, CT-RNN and LTC networks driven around a\n"
    "circle; prints the arc length of their hidden states' first two principal components.\n"
    "\n"
    "options:\n"
    "  --quick  one configuration, 2 seeds\n"
    "  --lap N  measure on the N-th lap of the circle (default 1: the paper's protocol)\n";

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int lap = 1;
  const cli::Flags flags = cli::Flags("trajectory_length", kUsage).on("--quick", quick).integer("--lap", 1, 1000, lap);
  if (const auto status = flags.parse(cli::Args(argv + 1, argv + argc))) return *status;
  const std::int64_t K = quick ? 200 : 1000;
  const std::vector<std::pair<const char*, Op>> acts = quick ? std::vector<std::pair<const char*, Op>>{{"tanh", Op::tanh}}
                                                             : std::vector<std::pair<const char*, Op>>{{"tanh", Op::tanh}, {"sigmoid", Op::sigmoid}};
  const std::vector<std::int64_t> widths = quick ? std::vector<std::int64_t>{16} : std::vector<std::int64_t>{16, 64};
  const std::vector<double> sigmas = quick ? std::vector<double>{2.0} : std::vector<double>{1.0, 2.0, 4.0};
  const int seeds = quick ? 2 : 5;
  const char* models[] = {"neural ODE", "CT-RNN", "LTC"};
  std::printf("| activation | width | sigma_w | neural ODE | CT-RNN | LTC | variance explained (ODE / CT / LTC) |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  bool ltc_longest = true;
  for (const auto& [act_name, act] : acts)
    for (std::int64_t n : widths)
      for (double sw : sigmas) {
        std::printf("| %s | %lld | %g |", act_name, static_cast<long long>(n), sw);
        double means[3], expl[3];
        for (int m = 0; m < 3; ++m) {
          double sum = 0, sq = 0, ex = 0;
          for (int seed = 1; seed <= seeds; ++seed) {
            const Net net = make_net(n, sw, 1.0, act, 100 * static_cast<std::uint64_t>(seed) + static_cast<std::uint64_t>(n));
            const auto [len, e] = pca_arc_length(trajectory(net, models[m], n, K, lap), K, n);
            sum += len, sq += len * len, ex += e;
          }
          means[m] = sum / seeds, expl[m] = ex / seeds;
          std::printf(" %.3g (%.2g) |", means[m], std::sqrt(std::max(0.0, sq / seeds - means[m] * means[m])));
        }
        std::printf(" %.2f / %.2f / %.2f |\n", expl[0], expl[1], expl[2]);
        ltc_longest = ltc_longest && means[2] > means[1];
      }
  std::printf("\nLTC longer than CT-RNN in every row: %s\n", ltc_longest ? "yes" : "no");
  return 0;
}
