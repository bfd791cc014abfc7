// Generator: draws fresh tensors from the backend's counter-based RNG, one stream per draw.
#include "tide/core/random.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/philox.hpp"
#include <cmath>
#include <limits>

namespace tide {

Tensor Generator::draw(RandomKind kind, const Shape& shape, double a, double b, DType dtype, Device device) {
  if (!is_floating(dtype)) fail("random: dtype must be f32 or f64, got {}", dtype_name(dtype));
  Tensor out = Tensor::empty(shape, dtype, device);
  out.backend().random(kind, seed_, stream_++, a, b, out);
  return out;
}

namespace {
// Rounded to T, a draw keeps to [lo, hi) only when both bounds lie in T's finite range (compared
// as doubles: converting a double past it to T is undefined) and a T value lies between them (lo ==
// hi draws lo).
template <class T> void check_fits(double lo, double hi, DType dtype) {
  const double largest = std::numeric_limits<T>::max();
  if (std::abs(lo) > largest || std::abs(hi) > largest)
    fail("uniform: bounds [{}, {}) do not fit {} (largest finite value {})", lo, hi, dtype_name(dtype), std::numeric_limits<T>::max());
  if (lo < hi && philox::smallest_at_least<T>(lo) > philox::largest_below<T>(hi))
    fail("uniform: no {} value lies in [{}, {}); widen the bounds or draw in f64", dtype_name(dtype), lo, hi);
}

// The draws are mean + std z in double, rounded to dtype, with |z| at most sqrt(-2 ln u) for Box-Muller's
// smallest u = 2^-53 (philox.hpp), about 8.57. Refused where that bound passes the dtype's largest value:
// the draw would be inf in f64, and in f32 a double past float's range (undefined to convert). The
// margin covers the rounding of mean + std z.
void check_normal_fits(double mean, double std, DType dtype) {
  static const double largest_z = std::sqrt(-2.0 * std::log(0x1p-53));
  const double largest = dtype == DType::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
  if (std::abs(mean) + largest_z * std <= largest * (1.0 - 1e-12)) return;
  fail("normal: mean {} and std {} can draw values past {}'s largest finite value {} (|mean| + {:.4g} std must stay below it)",
       mean, std, dtype_name(dtype), largest, largest_z);
}
}  // namespace

Tensor Generator::uniform(const Shape& shape, double lo, double hi, DType dtype, Device device) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo <= hi)) fail("uniform: bounds [{}, {}) are not a finite interval", lo, hi);
  // lo + (hi - lo) * u: a width past the largest double would turn every draw into the same value
  if (!std::isfinite(hi - lo)) fail("uniform: bounds [{}, {}) are wider than the largest double; draw in a narrower interval and scale", lo, hi);
  if (dtype == DType::f32) check_fits<float>(lo, hi, dtype);  // (a double bound is its own f64 value)
  return draw(RandomKind::uniform, shape, lo, hi, dtype, device);
}
Tensor Generator::normal(const Shape& shape, double mean, double std, DType dtype, Device device) {
  if (!std::isfinite(mean) || !std::isfinite(std) || std < 0) fail("normal: mean {} and std {} must be finite with std >= 0", mean, std);
  if (is_floating(dtype)) check_normal_fits(mean, std, dtype);  // (draw refuses the others)
  return draw(RandomKind::normal, shape, mean, std, dtype, device);
}
Tensor Generator::rademacher(const Shape& shape, DType dtype, Device device) {
  return draw(RandomKind::rademacher, shape, 0.0, 0.0, dtype, device);
}

}  // namespace tide
