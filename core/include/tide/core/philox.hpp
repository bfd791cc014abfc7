// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the
// conversions from its 32-bit words to uniform, normal and Rademacher samples. Header-only and free
// of host-only calls so that a device backend can produce bit-identical numbers.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#ifdef __CUDACC__
#define TIDE_HOST_DEVICE __host__ __device__
#else
#define TIDE_HOST_DEVICE
#endif

namespace tide::philox {

struct Words { std::uint32_t w[4]; };

TIDE_HOST_DEVICE inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                     std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

// Ten rounds of Philox-4x32 on counter (c0..c3) under key (k0, k1).
TIDE_HOST_DEVICE inline Words philox4x32(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                         std::uint32_t c3, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// The four words for element `index` of draw `stream` under `seed`.
TIDE_HOST_DEVICE inline Words element_words(std::uint64_t seed, std::uint64_t stream,
                                            std::uint64_t index) {
  return philox4x32(static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                    static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32),
                    static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 53 random bits, and in (0, 1] (safe for log).
TIDE_HOST_DEVICE inline double unit_open_above(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
TIDE_HOST_DEVICE inline double unit_open_below(std::uint32_t hi, std::uint32_t lo) {
  return 1.0 - unit_open_above(hi, lo);
}

// a + b * c with the product rounded before the sum, as the CPU computes it. nvcc contracts
// a + b * c into one FMA (one rounding) by default, which changes the last bit of most draws;
// the _rn intrinsics are never contracted.
TIDE_HOST_DEVICE inline double add_product(double a, double b, double c) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, __dmul_rn(b, c));
#else
  return a + b * c;
#endif
}

// One sample as double; the backend rounds it to the output dtype.
TIDE_HOST_DEVICE inline double sample(int kind, std::uint64_t seed, std::uint64_t stream,
                                      std::uint64_t index, double a, double b) {
  const Words r = element_words(seed, stream, index);
  if (kind == 0) return add_product(a, b - a, unit_open_above(r.w[0], r.w[1]));  // uniform [a, b)
  if (kind == 1) {  // normal(a, b^2) by Box-Muller
    const double u1 = unit_open_below(r.w[0], r.w[1]), u2 = unit_open_above(r.w[2], r.w[3]);
    return add_product(a, b * std::sqrt(-2.0 * std::log(u1)), std::cos(6.283185307179586 * u2));
  }
  return (r.w[0] & 1u) ? 1.0 : -1.0;  // Rademacher
}

// What a uniform draw in [lo, hi) rounded to T keeps to: the smallest T value >= lo and the
// largest T value < hi (for f64, lo and the double below hi). Host side: the generator checks that
// the first is not above the second, and the backends clamp each uniform draw to [first, second].
template <class T> inline T smallest_at_least(double lo) {
  const T t = static_cast<T>(lo);
  return static_cast<double>(t) < lo ? std::nextafter(t, std::numeric_limits<T>::infinity()) : t;
}
template <class T> inline T largest_below(double hi) {
  const T t = static_cast<T>(hi);
  return static_cast<double>(t) >= hi ? std::nextafter(t, -std::numeric_limits<T>::infinity()) : t;
}

}  // namespace tide::philox
