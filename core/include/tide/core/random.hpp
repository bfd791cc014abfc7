// Seeded counter-based random numbers (Philox-4x32-10). A Generator holds a seed and a stream
// counter; every draw uses a fresh stream, and element i of a draw depends only on (seed, stream,
// i). The same seed gives the same numbers on every run, on every backend and for any thread count.
#pragma once
#include "tide/core/tensor.hpp"
#include <cstdint>

namespace tide {

enum class RandomKind : std::uint8_t;  // backend.hpp

class Generator {
public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream() const { return stream_; }
  void set_stream(std::uint64_t stream) { stream_ = stream; }

  // U[lo, hi), each value rounded to dtype and kept in [lo, hi). lo == hi gives lo everywhere (as
  // in NumPy and PyTorch) and, like every draw, takes a stream. Refused: bounds that are not finite,
  // lo > hi, hi - lo past the largest double, and in f32 bounds past its range or no f32 value in [lo, hi).
  Tensor uniform(const Shape& shape, double lo = 0.0, double hi = 1.0, DType dtype = DType::f32,
                 Device device = default_device());
  // N(mean, std^2). Refused: mean or std not finite, std < 0, and |mean| + 8.57 std past dtype's
  // largest finite value (8.57: the largest |z| these draws reach), where draws would overflow.
  Tensor normal(const Shape& shape, double mean = 0.0, double std = 1.0, DType dtype = DType::f32,
                Device device = default_device());
  // +1 or -1 with equal probability
  Tensor rademacher(const Shape& shape, DType dtype = DType::f32, Device device = default_device());

private:
  Tensor draw(RandomKind kind, const Shape& shape, double a, double b, DType dtype, Device device);
  std::uint64_t seed_;
  std::uint64_t stream_ = 0;
};

}  // namespace tide
