// Generator: draws fresh tensors from the backend's counter-based RNG, one stream per draw.
#include "tide/core/random.hpp"
#include "tide/core/backend.hpp"
#include <cmath>

namespace tide {

Tensor Generator::draw(RandomKind kind, const Shape& shape, double a, double b, DType dtype, Device device) {
  if (!is_floating(dtype)) fail("random: dtype must be f32 or f64, got {}", dtype_name(dtype));
  Tensor out = Tensor::empty(shape, dtype, device);
  out.backend().random(kind, seed_, stream_++, a, b, out);
  return out;
}

Tensor Generator::uniform(const Shape& shape, double lo, double hi, DType dtype, Device device) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) fail("uniform: bounds [{}, {}) are not a finite interval", lo, hi);
  return draw(RandomKind::uniform, shape, lo, hi, dtype, device);
}
Tensor Generator::normal(const Shape& shape, double mean, double std, DType dtype, Device device) {
  if (!std::isfinite(mean) || !std::isfinite(std) || std < 0) fail("normal: mean {} and std {} must be finite with std >= 0", mean, std);
  return draw(RandomKind::normal, shape, mean, std, dtype, device);
}
Tensor Generator::rademacher(const Shape& shape, DType dtype, Device device) {
  return draw(RandomKind::rademacher, shape, 0.0, 0.0, dtype, device);
}

}  // namespace tide
