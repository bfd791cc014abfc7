// The appendix (B.1) differs from the authors' public code (ode-lstms xor_task.py), which draws
// blocks of random length below a pad size of 24 and emits an event only when the bit changes;
// here we follow the appendix: fixed 32-bit blocks, every run becomes one event (1,1,1,1 -> (1, t=4)),
// and time is normalised so that 32 bits last exactly 1 unit.
#include "tide/data/xor.hpp"
#include "tide/core/error.hpp"
#include "tide/core/random.hpp"
#include "windows.hpp"

namespace tide::data {

SequenceSet xor_bitstream(std::int64_t n, std::uint64_t seed, XorEncoding encoding, std::uint64_t stream) {
  if (n < 0) fail("xor_bitstream: n = {} is negative", n);
  Generator generator(seed);
  generator.set_stream(stream);
  const std::vector<double> u =
      generator.uniform(Shape{n, xor_bits}, 0.0, 1.0, DType::f64, Device::cpu()).to_vector();
  const bool dense = encoding == XorEncoding::dense;
  SequenceSet set = detail::zero_set(dense ? "xor-dense" : "xor-event", Task::classification, false, 2, n,
                                     xor_bits, 1);
  float* x = set.x.data<float>();
  float* dt = set.dt.data<float>();
  float* mask = set.mask.data<float>();
  std::int64_t* y = set.y.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    int bits[xor_bits];
    std::int64_t parity = 0;
    for (std::int64_t b = 0; b < xor_bits; ++b) {
      bits[b] = u[static_cast<std::size_t>(i * xor_bits + b)] < 0.5 ? 1 : 0;
      parity ^= bits[b];
    }
    y[i] = parity;
    float* xi = x + i * xor_bits;
    float* dti = dt + i * xor_bits;
    float* mi = mask + i * xor_bits;
    if (dense) {
      for (std::int64_t b = 0; b < xor_bits; ++b) xi[b] = static_cast<float>(bits[b]), dti[b] = 1.0f, mi[b] = 1.0f;
      continue;
    }
    std::int64_t events = 0;
    for (std::int64_t b = 0; b < xor_bits;) {
      std::int64_t run = 1;
      while (b + run < xor_bits && bits[b + run] == bits[b]) ++run;
      xi[events] = static_cast<float>(bits[b]);
      dti[events] = static_cast<float>(run) / static_cast<float>(xor_bits);  // exact: run / 2^5
      mi[events] = 1.0f;
      ++events;
      b += run;
    }
  }
  return set;
}

Split xor_paper(std::uint64_t seed, XorEncoding encoding) {
  Split out{xor_bitstream(100000, seed, encoding, 0), xor_bitstream(10000, seed, encoding, 2),
            xor_bitstream(10000, seed, encoding, 1)};
  out.train.name += "/train";
  out.val.name += "/val";
  out.test.name += "/test";
  return out;
}

}  // namespace tide::data
