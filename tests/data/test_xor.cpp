#include "data_test_util.hpp"
#include "tide/data/xor.hpp"

using namespace tide;
using namespace tide::data;

namespace {

// The bits of each event-coded sequence, decoded: each valid event repeats its bit dt * 32 times.
std::vector<int> decode_events(const SequenceSet& s, std::int64_t i) {
  const auto x = s.x.to_vector(), dt = s.dt.to_vector(), mask = s.mask.to_vector();
  std::vector<int> bits;
  for (std::int64_t t = 0; t < s.steps(); ++t) {
    const auto k = static_cast<std::size_t>(i * s.steps() + t);
    if (mask[k] == 0) break;
    const double run = dt[k] * 32;
    REQUIRE(run == std::round(run));
    REQUIRE(run >= 1);
    for (int r = 0; r < static_cast<int>(run); ++r) bits.push_back(static_cast<int>(x[k]));
  }
  return bits;
}

}  // namespace

TEST_CASE("xor dense: 32 bits, dt 1, label = parity of the bits") {
  const SequenceSet s = xor_bitstream(500, 11, XorEncoding::dense);
  s.validate();
  CHECK(s.x.shape() == Shape{500, 32, 1});
  CHECK(s.classes == 2);
  CHECK_FALSE(s.per_step);
  const auto x = s.x.to_vector(), dt = s.dt.to_vector(), mask = s.mask.to_vector();
  const auto y = s.y.to_indices();
  std::int64_t ones = 0, odd = 0;
  for (std::int64_t i = 0; i < 500; ++i) {
    int parity = 0;
    for (std::int64_t b = 0; b < 32; ++b) {
      const double bit = x[static_cast<std::size_t>(i * 32 + b)];
      REQUIRE((bit == 0.0 || bit == 1.0));
      parity ^= static_cast<int>(bit);
      ones += static_cast<std::int64_t>(bit);
      CHECK(dt[static_cast<std::size_t>(i * 32 + b)] == 1.0);
      CHECK(mask[static_cast<std::size_t>(i * 32 + b)] == 1.0);
    }
    CHECK(y[static_cast<std::size_t>(i)] == parity);
    odd += parity;
  }
  CHECK(ones > 500 * 16 - 400);  // fair bits: 8000 +- 4.5 sigma
  CHECK(ones < 500 * 16 + 400);
  CHECK(odd > 180);
  CHECK(odd < 320);
}

TEST_CASE("xor event coding decodes back to the same bits as the dense coding") {
  const SequenceSet dense = xor_bitstream(300, 5, XorEncoding::dense);
  const SequenceSet event = xor_bitstream(300, 5, XorEncoding::event);
  event.validate();
  CHECK(event.x.shape() == Shape{300, 32, 1});
  CHECK(event.y.to_indices() == dense.y.to_indices());
  const auto bits = dense.x.to_vector();
  const auto x = event.x.to_vector();
  const auto mask = event.mask.to_vector();
  for (std::int64_t i = 0; i < 300; ++i) {
    const std::vector<int> decoded = decode_events(event, i);
    REQUIRE(decoded.size() == 32);  // the runs last exactly 1 time unit
    for (std::size_t b = 0; b < 32; ++b) CHECK(decoded[b] == static_cast<int>(bits[static_cast<std::size_t>(i) * 32 + b]));
    // consecutive events alternate (a run is maximal), padding is zero
    for (std::int64_t t = 1; t < 32; ++t) {
      const auto k = static_cast<std::size_t>(i * 32 + t);
      if (mask[k] == 1.0) CHECK(x[k] != x[k - 1]);
      else CHECK(x[k] == 0.0);
    }
  }
}

TEST_CASE("xor streams are seeded: same seed and stream repeat, others differ") {
  const auto a = xor_bitstream(64, 1, XorEncoding::dense).x.to_vector();
  CHECK(xor_bitstream(64, 1, XorEncoding::dense).x.to_vector() == a);
  CHECK(xor_bitstream(64, 2, XorEncoding::dense).x.to_vector() != a);
  CHECK(xor_bitstream(64, 1, XorEncoding::dense, 1).x.to_vector() != a);
  CHECK_ERROR_NAMES(xor_bitstream(-1, 1, XorEncoding::dense), "n = -1");
}

TEST_CASE("xor_paper has the paper's sizes, test drawn apart from train") {
  const Split s = xor_paper(3, XorEncoding::event);
  CHECK(s.train.size() == 100000);
  CHECK(s.test.size() == 10000);
  CHECK(s.val.size() == 10000);
  s.train.validate();
  CHECK(s.test.x.to_vector() != s.train.slice(0, 10000).x.to_vector());
  CHECK(s.test.x.to_vector() == xor_bitstream(10000, 3, XorEncoding::event, 1).x.to_vector());
}
