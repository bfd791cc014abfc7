// The appendix (B.1) differs from the authors' public code (ode-lstms xor_task.py), which draws
// blocks of random length below a pad size of 24 and emits an event only when the bit changes;
// here we follow the appendix: fixed 32-bit blocks, every run becomes one event (1,1,1,1 -> (1, t=4)),
// and time is normalised so that 32 bits last exactly 1 unit.
#include "tide/data/xor.hpp"
#include "tide/core/error.hpp"
#include "tide/core/random.hpp"
#include "windows.hpp"
#include <vector>

namespace tide::data {

SequenceSet xor_bitstream(std::int64_t n, std::uint64_t seed, XorEncoding encoding, std::uint64_t stream,
                          std::int64_t block) {
  if (n < 0) fail("xor_bitstream: n = {} is negative", n);
  if (block < 1 || block > 4096) fail("xor_bitstream: block = {} bits, expected 1 to 4096", block);
  const std::int64_t len = block;  // bits per block: the paper's 32 unless asked otherwise
  Generator generator(seed);
  generator.set_stream(stream);
  const std::vector<double> u =
      generator.uniform(Shape{n, len}, 0.0, 1.0, DType::f64, Device::cpu()).to_vector();
  const bool dense = encoding == XorEncoding::dense;
  SequenceSet set = detail::zero_set(dense ? "xor-dense" : "xor-event", Task::classification, false, 2, n,
                                     len, 1);
  float* x = set.x.data<float>();
  float* dt = set.dt.data<float>();
  float* mask = set.mask.data<float>();
  std::int64_t* y = set.y.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<int> bits(static_cast<std::size_t>(len));
    std::int64_t parity = 0;
    for (std::int64_t b = 0; b < len; ++b) {
      bits[b] = u[static_cast<std::size_t>(i * len + b)] < 0.5 ? 1 : 0;
      parity ^= bits[b];
    }
    y[i] = parity;
    float* xi = x + i * len;
    float* dti = dt + i * len;
    float* mi = mask + i * len;
    if (dense) {
      for (std::int64_t b = 0; b < len; ++b) xi[b] = static_cast<float>(bits[b]), dti[b] = 1.0f, mi[b] = 1.0f;
      continue;
    }
    std::int64_t events = 0;
    for (std::int64_t b = 0; b < len;) {
      std::int64_t run = 1;
      while (b + run < len && bits[b + run] == bits[b]) ++run;
      xi[events] = static_cast<float>(bits[b]);
      dti[events] = static_cast<float>(run) / static_cast<float>(len);  // exact for 32 bits: run / 2^5
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
