// The banded preconditioner (band_preconditioner.hpp): coloured JVPs and an unpivoted band LU.
#include "band_preconditioner.hpp"
#include <cmath>

namespace tide::detail {

namespace {

// The one column of colour c within w of row i, as its offset k = j - i + w in 0 .. 2w.
std::int64_t band_offset(std::int64_t c, std::int64_t i, std::int64_t w) {
  const std::int64_t m = 2 * w + 1;
  return ((c - i + w) % m + m) % m;
}

Tensor colour_seed(const Tensor& like, std::int64_t c, std::int64_t w) {
  const std::int64_t n = like.size(0), d = like.size(1);
  std::vector<double> seed(static_cast<std::size_t>(n * d), 0.0);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t j = c; j < d; j += 2 * w + 1) seed[static_cast<std::size_t>(r * d + j)] = 1.0;
  return Tensor::from_vector(seed, like.shape(), like.dtype(), like.device());
}

}  // namespace

std::vector<double> band_jacobians(const JacobianAction& action, const Tensor& like, std::int64_t w) {
  const std::int64_t n = like.size(0), d = like.size(1), m = 2 * w + 1;
  std::vector<double> band(static_cast<std::size_t>(n * d * m), 0.0);
  for (std::int64_t c = 0; c < std::min(m, d); ++c) {
    const std::vector<double> jv = action(colour_seed(like, c, w)).to_vector();
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t i = 0; i < d; ++i) {
        const std::int64_t k = band_offset(c, i, w), j = i + k - w;
        if (j >= 0 && j < d) band[static_cast<std::size_t>((r * d + i) * m + k)] = jv[static_cast<std::size_t>(r * d + i)];
      }
  }
  return band;
}

void BandFactors::factor(const double* band, double s, std::int64_t d, std::int64_t width) {
  w = width;
  const std::int64_t m = 2 * w + 1;
  lu.assign(band, band + d * m);
  for (double& a : lu) a *= -s;
  for (std::int64_t i = 0; i < d; ++i) lu[static_cast<std::size_t>(i * m + w)] += 1.0;
  auto at = [&](std::int64_t i, std::int64_t j) -> double& { return lu[static_cast<std::size_t>(i * m + j - i + w)]; };
  ok = true;
  for (std::int64_t p = 0; p < d && ok; ++p) {
    const double pivot = at(p, p);
    ok = pivot != 0.0 && std::isfinite(pivot);
    for (std::int64_t i = p + 1; ok && i <= std::min(d - 1, p + w); ++i) {
      const double l = at(i, p) /= pivot;
      for (std::int64_t j = p + 1; j <= std::min(d - 1, p + w); ++j) at(i, j) -= l * at(p, j);
    }
  }
}

void BandFactors::solve(double* x, std::int64_t d, bool transposed) const {
  if (!ok) return;
  const std::int64_t m = 2 * w + 1;
  auto at = [&](std::int64_t i, std::int64_t j) { return lu[static_cast<std::size_t>(i * m + j - i + w)]; };
  if (!transposed) {  // L y = x (unit lower), then U x = y
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = std::max<std::int64_t>(0, i - w); j < i; ++j) x[i] -= at(i, j) * x[j];
    for (std::int64_t i = d - 1; i >= 0; --i) {
      for (std::int64_t j = i + 1; j <= std::min(d - 1, i + w); ++j) x[i] -= at(i, j) * x[j];
      x[i] /= at(i, i);
    }
    return;
  }
  for (std::int64_t i = 0; i < d; ++i) {  // U^T y = x, then L^T x = y
    for (std::int64_t j = std::max<std::int64_t>(0, i - w); j < i; ++j) x[i] -= at(j, i) * x[j];
    x[i] /= at(i, i);
  }
  for (std::int64_t i = d - 1; i >= 0; --i)
    for (std::int64_t j = i + 1; j <= std::min(d - 1, i + w); ++j) x[i] -= at(j, i) * x[j];
}

Tensor apply_band_factors(const std::vector<const BandFactors*>& factors, const Tensor& x, bool transposed) {
  const std::int64_t n = x.size(0), d = x.size(1);
  std::vector<double> v = x.to_vector();
  for (std::int64_t r = 0; r < n; ++r) factors[static_cast<std::size_t>(r)]->solve(v.data() + r * d, d, transposed);
  return Tensor::from_vector(v, x.shape(), x.dtype(), x.device());
}

}  // namespace tide::detail
