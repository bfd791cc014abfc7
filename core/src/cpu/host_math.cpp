// host_math.hpp on the CPU: vecmath's exp and log, one clone per instruction set; built with
// -ffp-contract=off, so that every clone computes the same values.
#include "tide/core/host_math.hpp"
#include "clones.hpp"
#include "tide/core/error.hpp"
#include "vecmath.hpp"
#include <cmath>
#include <utility>
#include <vector>

namespace tide {
namespace {
TIDE_CLONES void pow_positive(const double* x, double e, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = cpu::vm::exp(e * cpu::vm::log(x[i]));
}
}  // namespace

void pow_each(std::span<const double> x, double e, std::span<double> out) {
  if (x.size() != out.size()) fail("pow_each: {} values in, room for {} out", x.size(), out.size());
  if (!std::isfinite(e)) {
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = std::pow(x[i], e);
    return;
  }
  // the values outside the vector form's domain, kept before out (which may be x) is written
  std::vector<std::pair<std::size_t, double>> other;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(x[i] > 0.0) || !std::isfinite(x[i])) other.emplace_back(i, x[i]);
  pow_positive(x.data(), e, out.data(), x.size());
  for (const auto& [i, v] : other) out[i] = std::pow(v, e);
}

}  // namespace tide
