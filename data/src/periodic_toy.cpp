// The latent ODE paper's periodic toy (irregular.hpp): noisy sinusoids, each observed at its own
// sorted uniform times.
#include "tide/data/irregular.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <cmath>
#include <numbers>

namespace tide::data {

IrregularSet periodic_toy(std::int64_t n, Generator& gen, const PeriodicOptions& o) {
  if (n < 1) fail("periodic toy: need at least 1 sequence, got {}", n);
  if (o.points < 1) fail("periodic toy: points must be >= 1, got {}", o.points);
  if (!(o.horizon > 0) || !(o.freq_min <= o.freq_max) || !(o.amp_min <= o.amp_max) || !(o.noise >= 0))
    fail("periodic toy: expected horizon > 0, freq_min <= freq_max, amp_min <= amp_max and noise >= 0");
  const std::int64_t T = o.points;
  const std::vector<double> u = gen.uniform(Shape{n, 3}, 0.0, 1.0, DType::f64).to_vector();
  std::vector<double> t = gen.uniform(Shape{n, T}, 0.0, o.horizon, DType::f64).to_vector();
  const std::vector<double> eps = gen.normal(Shape{n, T}, 0.0, o.noise, DType::f64).to_vector();
  std::vector<double> x(static_cast<std::size_t>(n * T));
  for (std::int64_t s = 0; s < n; ++s) {
    const auto row = t.begin() + s * T;
    std::sort(row, row + T);
    for (std::int64_t k = 1; k < T; ++k)  // ties (probability 0, but floats): nudge to keep times strictly increasing
      row[k] = std::max(row[k], std::nextafter(row[k - 1], INFINITY));
    const double f = o.freq_min + (o.freq_max - o.freq_min) * u[static_cast<std::size_t>(3 * s)];
    const double phi = 2 * std::numbers::pi * u[static_cast<std::size_t>(3 * s + 1)];
    const double a = o.amp_min + (o.amp_max - o.amp_min) * u[static_cast<std::size_t>(3 * s + 2)];
    for (std::int64_t k = 0; k < T; ++k) {
      const auto i = static_cast<std::size_t>(s * T + k);
      x[i] = a * std::sin(2 * std::numbers::pi * f * t[i] + phi) + eps[i];
    }
  }
  IrregularSet out;
  out.name = "periodic";
  out.variables = {"x"};
  out.times = Tensor::from_vector(t, Shape{n, T}, DType::f64);
  out.values = Tensor::from_vector(x, Shape{n, T, 1}, DType::f32);
  out.mask = Tensor::ones(Shape{n, T, 1}, DType::f32);
  out.lengths = Tensor::full(Shape{n}, static_cast<double>(T), DType::i64);
  return out;
}

}  // namespace tide::data
