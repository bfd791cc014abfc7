// The mmRNN paper's table 2: the norm of the gradient of the last hidden state with respect to the
// first, d sum(h_T) / d state_0, for an ODE-RNN and an mmRNN (64 units, input 1, dt ~ U(0.5, 1.5),
// inputs N(0, 1)) at initialisation, for sequence lengths 5, 10, 25, 50, mean and standard
// deviation over 3 seeds. The mmRNN runs the paper's variant (forget bias 1, Euler x4). Prints a
// Markdown table.
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>

using namespace tide;
using namespace tide::models;

double gradient_norm(const Cell& cell, std::int64_t T, std::uint64_t seed) {
  Generator data(1000 + seed);
  const Tensor x = data.normal(Shape{1, T, 1}, 0, 1, DType::f64);
  const Tensor dt = data.uniform(Shape{1, T}, 0.5, 1.5, DType::f64);
  const Var s0 = Var::parameter(data.normal(Shape{1, cell.state_size()}, 0, 0.1, DType::f64));
  Var s = s0;
  for (std::int64_t t = 0; t < T; ++t) s = cell.step(Var(x.select(1, t)), s, Var(dt.slice(1, t, t + 1).contiguous()));
  const Var g = grad(sum(cell.output(s)), s0);
  double n = 0;
  for (double v : g.value().to_vector()) n += v * v;
  return std::sqrt(n);
}

int main() {
  std::printf("| model | T = 5 | T = 10 | T = 25 | T = 50 |\n|---|---|---|---|---|\n");
  for (const char* name : {"ode_rnn", "mmrnn"}) {
    std::printf("| %s |", name);
    for (std::int64_t T : {5, 10, 25, 50}) {
      double sum = 0, sq = 0;
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        Generator gen(seed);
        const nlohmann::json spec = {{"type", name}, {"hidden", 64}};
        const double v = gradient_norm(*make_cell(spec, 1, gen, DType::f64), T, seed);
        sum += v, sq += v * v;
      }
      const double mean = sum / 3, sd = std::sqrt(std::max(0.0, sq / 3 - mean * mean));
      std::printf(" %.2f ± %.2f |", mean, sd);
    }
    std::printf("\n");
  }
  return 0;
}
