// STEER's figure 3 at small scale: two 1-D CNFs fitted to a mixture of two Gaussians (mog1d), one
// with fixed end time T and one with STEER (T drawn from U(T - b, T + b) at every step), from the
// same initial weights on the same batches. For each, the density the flow gives when stopped at
// a fraction of T: its total-variation distance to the true density and the test NLL. STEER's claim:
// the regularised flow reaches its final shape at an earlier time. Writes the curves as SVG.
//
//   steer_mog [--steps N] [--b B] [--out FILE.svg]
#include "cli_args.hpp"
#include "svg_plot.hpp"
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

using namespace tide;
using namespace tide::models;

namespace {

struct Args {
  int steps = 600;
  double b = 0.5;
  std::string out;
};

constexpr const char* kUsage =
    "usage: steer_mog [--steps N] [--b B] [--out FILE.svg]\n"
    "\n"
    "STEER's figure 3 in small: two 1-D CNFs fitted to a mixture of two Gaussians, with a fixed\n"
    "end time T = 1 and with STEER (T drawn from U(T - b, T + b)); prints the total-variation\n"
    "distance and test NLL of each flow stopped at fractions of T.\n"
    "\n"
    "options:\n"
    "  --steps N       Adam steps per fit (default 600)\n"
    "  --b B           STEER's half-width, 0 < B < 1 (default 0.5)\n"
    "  --out FILE.svg  write the distance against t / T, one line per flow\n";

// nullopt: run; otherwise the exit status (help printed, or a usage error).
std::optional<int> parse(int argc, char** argv, Args& a) {
  const cli::Flags flags = cli::Flags("steer_mog", kUsage)
                               .integer("--steps", 1, 10000000, a.steps)
                               .custom("--b", [&a](std::string_view v) {  // T = 1: the end time stays positive
                                 return cli::parse_double(v, 1e-9, 1 - 1e-9, a.b) ? std::string()
                                                                                  : fmt::format("--b takes a number in (0, 1), got '{}'", v);
                               })
                               .text("--out", a.out);
  return flags.parse(cli::Args(argv + 1, argv + argc));
}

std::shared_ptr<CnfModel> fit(const Tensor& train, const Args& a, double steer) {
  Generator init(1);
  const auto m = make_cnf(nlohmann::json{{"type", "cnf"}, {"hidden", {32, 32}}, {"time_length", 1.0}, {"train_end_time", false},
                                         {"solver", {{"method", "dopri5"}, {"rtol", 1e-5}, {"atol", 1e-5}}}},
                          1, {}, init, DType::f64, "model");
  AdamOptions ao;
  ao.lr = 3e-3;
  Adam opt(m->parameters(), ao);
  data::VectorSet set;
  set.x = train;
  const data::VectorExamples all(set);
  for (int step = 0; step < a.steps; ++step) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = 0; i < 200; ++i) idx.push_back((step * 200 + i) % train.size(0));
    opt.zero_grad();
    Training t;
    t.steer = steer, t.seed = 5, t.step = step;
    backward(m->loss(*all.subset(idx), Mode::train, t).loss);
    opt.step();
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) try {
  Args a;
  if (const auto status = parse(argc, argv, a)) return *status;
  cli::check_output_path(a.out);
  Generator data(3);
  const Tensor train = data::toy_density("mog1d", 20000, data), test = data::toy_density("mog1d", 5000, data);
  std::vector<double> grid;
  for (int i = 0; i < 200; ++i) grid.push_back(-5 + 10 * (i + 0.5) / 200);
  const Var grid_x(Tensor::from_vector(grid, Shape{200, 1}, DType::f64));
  const std::vector<double> fractions{0.25, 0.5, 0.625, 0.75, 0.875, 1.0};
  NoGrad no_grad;
  cli::Plot tv{"mixture of two Gaussians: distance to the true density when the flow stops at t", "t / T",
               "total variation distance", false, {}};
  std::printf("%-18s %8s %10s %12s\n", "model", "t / T", "TV", "test NLL");
  for (double steer : {0.0, a.b}) {
    std::shared_ptr<CnfModel> m;
    {
      EnableGrad enable;
      m = fit(train, a, steer);
    }
    const std::string name = steer > 0 ? fmt::format("STEER b = {:g}", a.b) : "no STEER";
    cli::PlotSeries series{name, {}, {}, steer > 0};
    for (double f : fractions) {
      const std::vector<double> lp = m->log_density(grid_x, nullptr, f).value().to_vector();
      double distance = 0;
      for (std::size_t i = 0; i < grid.size(); ++i) distance += 0.5 * std::abs(std::exp(lp[i]) - std::exp(data::mog1d_log_density(grid[i]))) * 0.05;
      const double nll = -mean(m->log_density(Var(test), nullptr, f)).item();
      std::printf("%-18s %8.3f %10.4f %12.4f\n", name.c_str(), f, distance, nll);
      series.x.push_back(f), series.y.push_back(distance);
    }
    tv.series.push_back(series);
  }
  if (!a.out.empty()) cli::write_svg(a.out, tv);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "steer_mog: %s\n", e.what());
  return 1;
}
